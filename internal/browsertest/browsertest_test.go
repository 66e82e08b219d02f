package browsertest

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
)

// strictCSP is the dashboard's kind of policy: nothing inline, nothing from
// elsewhere.
const strictCSP = "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; form-action 'self'"

// site is a tiny application with the dashboard's shape: a login form that
// sets a __Host- session cookie, a page and an image only for a session, all
// under a strict CSP, over TLS.
type site struct {
	*httptest.Server

	mu       sync.Mutex
	sessions map[string]string // session id -> user
}

func newSite(t *testing.T) *site {
	t.Helper()
	s := &site{sessions: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", s.loginForm)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("GET /home", s.home)
	mux.HandleFunc("GET /photo.png", s.photo)
	mux.HandleFunc("GET /style.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		fmt.Fprint(w, "body { font-family: sans-serif } .error { color: #a00 }")
	})
	mux.HandleFunc("GET /inline", func(w http.ResponseWriter, r *http.Request) {
		page(w, http.StatusOK, `<p id="ran">no</p>
<script>document.getElementById("ran").textContent = "yes"</script>`)
	})
	mux.HandleFunc("GET /broken", func(w http.ResponseWriter, r *http.Request) {
		page(w, http.StatusOK, `<img id="photo" src="/missing.png" alt="missing">`)
	})
	s.Server = httptest.NewTLSServer(mux)
	t.Cleanup(s.Close)
	return s
}

// page writes an HTML page under the strict policy.
func page(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Security-Policy", strictCSP)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>site</title>
<link rel="stylesheet" href="/style.css"></head>
<body>%s</body></html>`, body)
}

func (s *site) loginForm(w http.ResponseWriter, r *http.Request) {
	s.writeLoginForm(w, http.StatusOK, "")
}

func (s *site) writeLoginForm(w http.ResponseWriter, status int, msg string) {
	if msg != "" {
		msg = `<p class="error" id="error">` + msg + `</p>`
	}
	page(w, status, msg+`<form method="post" action="/login">
<label>Name <input id="user" name="user" autocomplete="username"></label>
<label>Password <input id="password" name="password" type="password"></label>
<button id="login" type="submit">Log in</button>
</form>`)
}

func (s *site) login(w http.ResponseWriter, r *http.Request) {
	if r.FormValue("user") != "ada" || r.FormValue("password") != "correct horse" {
		s.writeLoginForm(w, http.StatusUnauthorized, "Wrong name or password.")
		return
	}
	id := rand.Text()
	s.mu.Lock()
	s.sessions[id] = "ada"
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: "__Host-session", Value: id, Path: "/",
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, "/home", http.StatusSeeOther)
}

// user returns the user of the request's session, "" when it has none.
func (s *site) user(r *http.Request) string {
	c, err := r.Cookie("__Host-session")
	if err != nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[c.Value]
}

func (s *site) home(w http.ResponseWriter, r *http.Request) {
	user := s.user(r)
	if user == "" {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	page(w, http.StatusOK, `<p id="who">Signed in as `+user+`</p>
<ul><li class="case">RB-1</li><li class="case">RB-2</li></ul>
<img id="photo" src="/photo.png" alt="ID photo">`)
}

// photo serves a 3×2 PNG, only to a session.
func (s *site) photo(w http.ResponseWriter, r *http.Request) {
	if s.user(r) == "" {
		http.Error(w, "no session", http.StatusForbidden)
		return
	}
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for x := range 3 {
		img.Set(x, 0, color.RGBA{R: 200, A: 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(buf.Bytes())
}

// An agent's path through a strict-CSP site: redirected to the login form,
// logged in, the session cookie kept and sent, the image shown, and not one
// violation on the way.
func TestLoginUnderStrictCSP(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	b := New(t)

	if got := b.Navigate(s.URL + "/home"); got != http.StatusOK {
		t.Fatalf("GET /home without a session: status %d, want 200 (the login form)", got)
	}
	if got := b.Location(); got != s.URL+"/login" {
		t.Fatalf("without a session at %s, want %s/login", got, s.URL)
	}

	b.Fill("#user", "ada")
	b.Fill("#password", "wrong")
	if got := b.Submit("#login"); got != http.StatusUnauthorized {
		t.Fatalf("log in with a wrong password: status %d, want 401", got)
	}
	if got := b.Text("#error"); got != "Wrong name or password." {
		t.Fatalf("error = %q", got)
	}

	b.Fill("#user", "ada")
	b.Fill("#password", "correct horse")
	if got := b.Submit("#login"); got != http.StatusOK {
		t.Fatalf("log in: status %d, want 200 after the redirect", got)
	}
	if got := b.Location(); got != s.URL+"/home" {
		t.Fatalf("after logging in at %s, want %s/home", got, s.URL)
	}
	if got := b.Text("#who"); got != "Signed in as ada" {
		t.Fatalf("#who = %q, want the session's user", got)
	}
	if got, want := b.Texts("li.case"), []string{"RB-1", "RB-2"}; !slices.Equal(got, want) {
		t.Fatalf("cases = %q, want %q", got, want)
	}
	if b.Exists("#login") {
		t.Fatal("the login button is still on the page")
	}
	if got := b.Attr("#photo", "alt"); got != "ID photo" {
		t.Fatalf("alt = %q", got)
	}
	if got := b.ImageWidth("#photo"); got != 3 {
		t.Fatalf("the photo's natural width = %d, want 3 (decoded)", got)
	}

	i := slices.IndexFunc(b.Cookies(), func(c *network.Cookie) bool { return c.Name == "__Host-session" })
	if i < 0 {
		t.Fatal("no __Host-session cookie in the browser")
	}
	c := b.Cookies()[i]
	if !c.HTTPOnly || !c.Secure || c.SameSite != network.CookieSameSiteStrict {
		t.Fatalf("session cookie: HttpOnly %v, Secure %v, SameSite %q; want HttpOnly, Secure, Strict", c.HTTPOnly, c.Secure, c.SameSite)
	}

	if v := b.Violations(); len(v) > 0 {
		t.Fatalf("CSP violations on a page that keeps its policy:\n%s", strings.Join(v, "\n"))
	}
	// The browser reports a page served with an error status, as the
	// wrong password's was, and nothing else went wrong.
	if e := b.ConsoleErrors(); len(e) != 1 || !strings.Contains(e[0], "401") {
		t.Fatalf("console errors = %q, want only the wrong password's 401", e)
	}
	if got := b.Screenshot("home"); !strings.HasSuffix(got, "home.png") {
		t.Fatalf("screenshot written to %s", got)
	}
}

// An inline script is blocked by the policy and recorded as a violation:
// Violations does see them.
func TestInlineScriptIsAViolation(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	b := New(t)

	b.Navigate(s.URL + "/inline")
	if got := b.Text("#ran"); got != "no" {
		t.Fatalf("#ran = %q: the inline script ran despite the policy", got)
	}
	v := b.Violations()
	if len(v) != 1 || !strings.Contains(v[0], "script-src") {
		t.Fatalf("violations = %q, want one, of script-src", v)
	}
	if e := b.ConsoleErrors(); !slices.Equal(e, v) {
		t.Fatalf("console errors = %q, want just the violation", e)
	}
}

// A broken image measures zero and its failed load is a console error, but
// no violation.
func TestBrokenImage(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	b := New(t)

	b.Navigate(s.URL + "/broken")
	if got := b.ImageWidth("#photo"); got != 0 {
		t.Fatalf("natural width of a 404 image = %d, want 0", got)
	}
	if e := b.ConsoleErrors(); len(e) != 1 || !strings.Contains(e[0], "404") {
		t.Fatalf("console errors = %q, want the image's 404", e)
	}
	if v := b.Violations(); len(v) > 0 {
		t.Fatalf("violations = %q, want none", v)
	}
}

// fatalTB records the failure of a helper instead of failing the test, and
// ends the goroutine as t.Fatal does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// failure runs f with a fatalTB over t and returns what it failed with, ""
// when it did not fail.
func failure(t *testing.T, f func(tb testing.TB)) string {
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(tb)
	}()
	<-done
	return tb.msg
}

// A selector that matches nothing fails the test at once with its name, it
// does not wait for the hang guard.
func TestMissingElementFails(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	b := New(t)
	b.Navigate(s.URL + "/login")

	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"Text", func() { b.Text("#nothing") }},
		{"Fill", func() { b.Fill("#nothing", "x") }},
		{"Click", func() { b.Click("#nothing") }},
		{"Submit", func() { b.Submit("#nothing") }},
		{"ImageWidth", func() { b.ImageWidth("#nothing") }},
	} {
		msg := failure(t, func(tb testing.TB) {
			b.t = tb
			defer func() { b.t = t }()
			tc.f()
		})
		if !strings.Contains(msg, `"#nothing"`) || !strings.Contains(msg, "no element matches") {
			t.Errorf("%s of a missing element failed with %q, want the selector and 'no element matches'", tc.name, msg)
		}
	}
	msg := failure(t, func(tb testing.TB) {
		b.t = tb
		defer func() { b.t = t }()
		b.ImageWidth("#user")
	})
	if !strings.Contains(msg, "not an <img>") {
		t.Errorf("ImageWidth of an input failed with %q, want 'not an <img>'", msg)
	}
}

// Without Chromium the test fails, naming the script that installs it; it
// is never skipped.
func TestNoChromiumFails(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	msg := failure(t, func(tb testing.TB) { New(tb) })
	if !strings.Contains(msg, "install chromium: scripts/test-deps.sh") {
		t.Fatalf("New without Chromium failed with %q, want it to name scripts/test-deps.sh", msg)
	}
	if t.Skipped() {
		t.Fatal("New without Chromium skipped the test")
	}
}
