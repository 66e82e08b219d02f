package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Navigate loads url in the tab, waits until the page has loaded (its
// images included) and returns the HTTP status of the document.
func (b *Browser) Navigate(url string) int {
	b.t.Helper()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(url))
	if err != nil {
		b.fatalf("navigate to %s: %v", url, b.explain(err))
	}
	return status(resp)
}

// Location returns the address of the page in the tab.
func (b *Browser) Location() string {
	b.t.Helper()
	url, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.fatalf("read the location: %v", b.explain(err))
	}
	return url
}

// Fill sets the value of the first form field matching the CSS selector sel:
// an input, a textarea, or a select (whose value is then that of one of its
// options).
func (b *Browser) Fill(sel, value string) {
	b.t.Helper()
	b.mustFind("fill", sel)
	if err := chromedp.Do(b.ctx, chromedp.SetValue(chromedp.CSS(sel), value)); err != nil {
		b.fatalf("fill %q on %s: %v", sel, b.where(), b.explain(err))
	}
}

// Click clicks, with the mouse, the first element matching the CSS selector
// sel, once it is visible (a checkbox, a radio button, a disclosure). It
// does not wait for a page to load: use Submit for a click that leads to
// another page.
func (b *Browser) Click(sel string) {
	b.t.Helper()
	b.mustFind("click", sel)
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.fatalf("click %q on %s: %v", sel, b.where(), b.explain(err))
	}
}

// Submit clicks the first element matching the CSS selector sel (a submit
// button, or a link), waits for the page that the click leads to, redirects
// followed, to load, and returns its HTTP status.
func (b *Browser) Submit(sel string) int {
	b.t.Helper()
	from := b.where()
	b.mustFind("submit", sel)
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.fatalf("submit %q on %s: %v", sel, from, b.explain(err))
	}
	return status(resp)
}

// WaitVisible waits until an element matching the CSS selector sel is in the
// page and visible.
func (b *Browser) WaitVisible(sel string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		b.fatalf("wait for %q on %s: %v", sel, b.where(), b.explain(err))
	}
}

// Text returns the text, as rendered, of the first element matching the CSS
// selector sel, without leading and trailing white space.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(query[string](b, "read the text of", sel, `e => e.innerText`))
}

// Texts returns the rendered text of every element matching the CSS selector
// sel, in document order, each without leading and trailing white space: the
// rows of a table, say. It is empty when none matches.
func (b *Browser) Texts(sel string) []string {
	b.t.Helper()
	texts := b.eval("read the texts of", sel, fmt.Sprintf(
		`Array.from(document.querySelectorAll(%s), e => e.innerText.trim())`, jsString(sel)))
	var out []string
	if err := json.Unmarshal(texts, &out); err != nil {
		b.fatalf("read the texts of %q on %s: %v", sel, b.where(), err)
	}
	return out
}

// Count returns how many elements match the CSS selector sel.
func (b *Browser) Count(sel string) int {
	b.t.Helper()
	n := b.eval("count", sel, fmt.Sprintf(`document.querySelectorAll(%s).length`, jsString(sel)))
	var out int
	if err := json.Unmarshal(n, &out); err != nil {
		b.fatalf("count %q on %s: %v", sel, b.where(), err)
	}
	return out
}

// Exists reports whether an element matches the CSS selector sel.
func (b *Browser) Exists(sel string) bool {
	b.t.Helper()
	return b.Count(sel) > 0
}

// Attr returns the value of the attribute name of the first element matching
// the CSS selector sel, and "" when it has none.
func (b *Browser) Attr(sel, name string) string {
	b.t.Helper()
	return query[string](b, "read "+name+" of", sel,
		fmt.Sprintf(`e => e.getAttribute(%s) ?? ""`, jsString(name)))
}

// ImageWidth returns the natural width in pixels of the first <img> matching
// the CSS selector sel, once the browser has loaded it or given up: more than
// zero proves that the image was fetched and decoded, zero that it is broken.
func (b *Browser) ImageWidth(sel string) int {
	b.t.Helper()
	w := query[int](b, "measure the image", sel, `e => {
		if (!(e instanceof HTMLImageElement)) return -1;
		if (e.complete) return e.naturalWidth;
		return new Promise(done => {
			e.addEventListener("load", () => done(e.naturalWidth));
			e.addEventListener("error", () => done(0));
		});
	}`)
	if w < 0 {
		b.fatalf("measure the image %q on %s: not an <img>", sel, b.where())
	}
	return w
}

// Cookies returns the cookies that the browser would send to the page in
// the tab, HttpOnly ones included, with their attributes.
func (b *Browser) Cookies() []*network.Cookie {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		b.fatalf("read the cookies of %s: %v", b.where(), b.explain(err))
	}
	return res.Cookies
}

// Screenshot writes a PNG of the whole page to name.png in t.ArtifactDir
// (kept by `go test -artifacts`) and returns its path, for a person to look
// at what the test saw.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fatalf("screenshot of %s: %v", b.where(), b.explain(err))
	}
	path := filepath.Join(b.t.ArtifactDir(), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.fatalf("screenshot of %s: %v", b.where(), err)
	}
	return path
}

// query runs the JavaScript function fn on the first element matching the
// CSS selector sel and returns its result, awaited when it is a promise. It
// fails the test when no element matches: the page is read as it is, never
// waited on.
func query[T any](b *Browser, what, sel, fn string) T {
	b.t.Helper()
	raw := b.eval(what, sel, fmt.Sprintf(`(async s => {
		const e = document.querySelector(s);
		return e === null ? {found: false} : {found: true, value: await (%s)(e)};
	})(%s)`, fn, jsString(sel)))
	var res struct {
		Found bool `json:"found"`
		Value T    `json:"value"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		b.fatalf("%s %q on %s: %v", what, sel, b.where(), err)
	}
	if !res.Found {
		b.fatalf("%s %q on %s: no element matches", what, sel, b.where())
	}
	return res.Value
}

// mustFind fails the test when no element matches sel, so that a wrong
// selector fails at once rather than when the hang guard runs out.
func (b *Browser) mustFind(what, sel string) {
	b.t.Helper()
	if !b.Exists(sel) {
		b.fatalf("%s %q on %s: no element matches", what, sel, b.where())
	}
}

// eval evaluates the expression in the page and returns its value as JSON.
// DevTools evaluation is not subject to the page's CSP, so it adds no
// violation.
func (b *Browser) eval(what, sel, expr string) []byte {
	b.t.Helper()
	raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fatalf("%s %q on %s: %v", what, sel, b.where(), b.explain(err))
	}
	return raw
}

// where names the page in the tab for a failure message, without failing.
func (b *Browser) where() string {
	url, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		return "the page"
	}
	return url
}

func (b *Browser) fatalf(format string, args ...any) {
	b.t.Helper()
	b.t.Fatalf("browsertest: "+format, args...)
}

// explain says when an error is the hang guard running out, which otherwise
// reads as a bare "context deadline exceeded".
func (b *Browser) explain(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (the test's %v hang guard ran out)", err, hangGuard)
	}
	return err
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

func status(resp *network.Response) int {
	if resp == nil {
		return 0
	}
	return int(resp.Status)
}
