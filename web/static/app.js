// Keyboard shortcuts of the queues: j/k move between cases, Enter opens
// one, / goes to the search box. Nothing else: the dashboard works
// without this file.
"use strict";
document.addEventListener("keydown", function (e) {
  var t = e.target;
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) return;
  if (e.key === "/") {
    var s = document.getElementById("search");
    if (s) { e.preventDefault(); s.focus(); }
    return;
  }
  var rows = Array.prototype.slice.call(document.querySelectorAll("table.queue tr.row"));
  if (rows.length === 0) return;
  var i = rows.findIndex(function (r) { return r.classList.contains("selected"); });
  if (e.key === "j" || e.key === "k") {
    if (i >= 0) rows[i].classList.remove("selected");
    i = e.key === "j" ? Math.min(rows.length - 1, i + 1) : Math.max(0, i - 1);
    rows[i].classList.add("selected");
    rows[i].scrollIntoView({ block: "nearest" });
  } else if (e.key === "Enter" && i >= 0) {
    var a = rows[i].querySelector("a.ref");
    if (a) a.click();
  }
});
