package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
)

var jpeg = []byte("\xff\xd8\xff\xe0 a scan of an ID card")

func identityJPEG() map[*recoverybot.Document][]byte {
	return map[*recoverybot.Document][]byte{
		{Type: recoverybot.DocIdentity, Filename: "cni.jpg", MediaType: "image/jpeg"}: jpeg,
	}
}

func sha(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// TestNothingWithoutSession: no page of the dashboard tells anything
// about a case or a document without a session.
func TestNothingWithoutSession(t *testing.T) {
	f := newFixture(t, nil)
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindTOTPLockout}, identityJPEG())
	doc := "/cases/" + s.Ref + "/documents/" + sha(jpeg)
	for _, path := range []string{"/", "/?queue=closed", "/?q=jean", "/cases/" + s.Ref, doc, doc + "/preview/1",
		"/cases/RC-AAAAAA", "/no/such/page", "/metrics"} {
		w := f.do(t, req{method: "GET", path: path})
		if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login") {
			t.Errorf("GET %s without a session: %d, Location %q", path, w.Code, w.Header().Get("Location"))
		}
		if strings.Contains(w.Body.String(), s.Ref) && !strings.Contains(w.Header().Get("Location"), s.Ref) {
			t.Errorf("GET %s without a session shows the case", path)
		}
	}
	// With a token from the login page but no session: 401, never the bytes.
	page := f.do(t, req{method: "GET", path: "/login"})
	c := cookie(page, f.srv.cookies.loginCSRF)
	tok := formToken(t, page.Body.String())
	for _, path := range []string{doc + "/download", "/cases/" + s.Ref + "/approve", "/cases/" + s.Ref + "/reject",
		"/cases/" + s.Ref + "/cancel", "/cases/" + s.Ref + "/resend-code", "/cases/" + s.Ref + "/reopen", "/logout"} {
		w := f.do(t, req{method: "POST", path: path, form: url.Values{"csrf": {tok}, "reason": {"x"}},
			cookies: []*http.Cookie{c}})
		if w.Code != http.StatusUnauthorized {
			t.Errorf("POST %s without a session: %d", path, w.Code)
		}
		if strings.Contains(w.Body.String(), string(jpeg)) {
			t.Errorf("POST %s without a session gave the document", path)
		}
	}
	if f.preview.Calls() != 0 {
		t.Error("a preview was rendered without a session")
	}
	for _, e := range f.events(t, s.Ref) {
		if strings.HasPrefix(e.Action, "document_") || e.Action == "case_approved" {
			t.Errorf("without a session: %s", e.Action)
		}
	}
	// What is open to all.
	for _, path := range []string{"/login", "/healthz", "/readyz", "/static/app.css", "/static/app.js"} {
		if w := f.do(t, req{method: "GET", path: path}); w.Code != http.StatusOK {
			t.Errorf("GET %s: %d", path, w.Code)
		}
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t, nil)
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindTOTPLockout}, nil)
	a := f.login(t, "alice", alicePassword)
	path := "/cases/" + s.Ref + "/cancel"
	cases := []struct {
		name   string
		form   url.Values
		header map[string]string
	}{
		{"no token", url.Values{"reason": {"test"}}, nil},
		{"wrong token", url.Values{"reason": {"test"}, "csrf": {otherToken(a.csrf)}}, nil},
		{"another session's token", url.Values{"reason": {"test"}, "csrf": {f.login(t, "bob", bobPassword).csrf}}, nil},
		{"cross-site fetch", url.Values{"reason": {"test"}, "csrf": {a.csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"foreign origin", url.Values{"reason": {"test"}, "csrf": {a.csrf}}, map[string]string{"Origin": "https://evil.example"}},
	}
	for _, c := range cases {
		w := f.do(t, req{method: "POST", path: path, form: c.form, cookies: []*http.Cookie{a.session}, header: c.header})
		if w.Code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", c.name, w.Code)
		}
	}
	if got, _ := f.desk.Show(t.Context(), s.Ref); got.State != recoverybot.StateAwaitingEvidence {
		t.Fatalf("a refused form changed the case: %s", got.State)
	}
	// The login form and the language form need their token too.
	if w := f.do(t, req{method: "POST", path: "/login", form: url.Values{"name": {"alice"}, "password": {alicePassword}}}); w.Code != http.StatusForbidden {
		t.Errorf("login without token: %d", w.Code)
	}
	if w := f.do(t, req{method: "POST", path: "/lang", form: url.Values{"lang": {"en"}}}); w.Code != http.StatusForbidden {
		t.Errorf("language without token: %d", w.Code)
	}
	// Same origin, with the token: done.
	w := f.do(t, req{method: "POST", path: path, form: url.Values{"reason": {"test"}, "csrf": {a.csrf}},
		cookies: []*http.Cookie{a.session}, header: map[string]string{"Sec-Fetch-Site": "same-origin"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("a good form: %d", w.Code)
	}
	if got, _ := f.desk.Show(t.Context(), s.Ref); got.State != recoverybot.StateCancelled {
		t.Errorf("state %s, want cancelled", got.State)
	}
}

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t, nil)
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindTOTPLockout}, identityJPEG())
	a := f.login(t, "alice", alicePassword)
	const csp = "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	check := func(name string, h http.Header, wantCSP, wantCache string) {
		t.Helper()
		if got := h.Get("Content-Security-Policy"); got != wantCSP {
			t.Errorf("%s: CSP %q", name, got)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", name, h)
		}
		if got := h.Get("Cache-Control"); got != wantCache {
			t.Errorf("%s: Cache-Control %q, want %q", name, got, wantCache)
		}
	}
	for _, path := range []string{"/", "/cases/" + s.Ref, "/?queue=attention", "/cases/RC-AAAAAA", "/nope"} {
		w := f.get(t, a, path)
		check(path, w.Header(), csp, "no-store")
		if strings.Contains(w.Body.String(), "<script>") || strings.Contains(w.Body.String(), "style=") {
			t.Errorf("%s: inline script or style", path)
		}
	}
	check("login", f.do(t, req{method: "GET", path: "/login"}).Header(), csp, "no-store")
	check("static", f.do(t, req{method: "GET", path: "/static/app.css"}).Header(), csp, "public, max-age=86400")
	w := f.get(t, a, "/cases/"+s.Ref+"/documents/"+sha(jpeg)+"/preview/1")
	check("preview", w.Header(), "default-src 'none'; sandbox", "no-store")
	if w := f.do(t, req{method: "GET", path: "/static/"}); w.Code != http.StatusNotFound {
		t.Errorf("/static/ lists: %d", w.Code)
	}
}

func TestCookieFlags(t *testing.T) {
	for _, secure := range []bool{false, true} {
		f := newFixture(t, func(o *Options) { o.Secure = secure })
		w := f.tryLogin(t, "alice", alicePassword, "")
		name := "recoverybot-session"
		if secure {
			name = "__Host-recoverybot-session"
		}
		c := cookie(w, name)
		if c == nil {
			t.Fatalf("secure=%v: no cookie %s in %v", secure, name, w.Result().Cookies())
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" || c.Secure != secure {
			t.Errorf("secure=%v: cookie %+v", secure, c)
		}
		if len(c.Value) < 43 {
			t.Errorf("session token %q: too short", c.Value)
		}
	}
}

func TestHealth(t *testing.T) {
	failing := []string{"imap", "outbox"}
	f := newFixture(t, func(o *Options) {
		o.Ready = func(context.Context) []string { return failing }
		o.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("up 1\n")) })
	})
	if w := f.do(t, req{method: "GET", path: "/healthz"}); w.Code != 200 || w.Body.String() != "ok\n" {
		t.Errorf("healthz: %d %q", w.Code, w.Body)
	}
	if w := f.do(t, req{method: "GET", path: "/readyz"}); w.Code != http.StatusServiceUnavailable || w.Body.String() != "not ready: imap, outbox\n" {
		t.Errorf("readyz not ready: %d %q", w.Code, w.Body)
	}
	failing = nil
	if w := f.do(t, req{method: "GET", path: "/readyz"}); w.Code != 200 || w.Body.String() != "ready\n" {
		t.Errorf("readyz: %d %q", w.Code, w.Body)
	}
	if w := f.do(t, req{method: "GET", path: "/metrics"}); w.Code != 200 || w.Body.String() != "up 1\n" {
		t.Errorf("metrics: %d %q", w.Code, w.Body)
	}
}

// otherToken is a token one character away from tok, never tok itself.
func otherToken(tok string) string {
	if tok[0] == 'x' {
		return "y" + tok[1:]
	}
	return "x" + tok[1:]
}
