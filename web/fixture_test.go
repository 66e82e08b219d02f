package web

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

// clock is a settable clock shared by the store and the server.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	st      *store.Store
	desk    *desk.Desk
	srv     *Server
	clock   *clock
	preview *fakePreviewer
}

const (
	alicePassword = "correct horse battery"
	bobPassword   = "another long passphrase"
)

var testProfiles = []recoverybot.Profile{
	{ID: "p-ind", Email: "jean@example.org", HolderKind: recoverybot.HolderIndividual, HolderName: "Jean Dupont", Locale: "fr"},
	{ID: "p-co", Email: "gerant@acme.example", HolderKind: recoverybot.HolderCompany, HolderName: "ACME SARL",
		Representative: "Marie Curie", SIREN: "732829320", Locale: "en"},
}

// fakePreviewer renders anything as one or more fake PNG pages and counts
// its calls.
type fakePreviewer struct {
	mu    sync.Mutex
	calls int
	pages int
}

var pngMagic = []byte("\x89PNG\r\n\x1a\nfake page")

func (p *fakePreviewer) Render(ctx context.Context, data []byte) ([][]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	n := max(p.pages, 1)
	out := make([][]byte, n)
	for i := range out {
		out[i] = append([]byte{}, pngMagic...)
	}
	return out, nil
}

func (p *fakePreviewer) Calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// newFixture builds a store in t.TempDir() on a settable clock, a desk
// with two profiles and two agents (alice, bob), and a server; tweak
// changes its options (nil: none).
func newFixture(t *testing.T, tweak func(*Options)) *fixture {
	t.Helper()
	return newFixtureWith(t, nil, tweak)
}

// newFixtureWith is newFixture with the desk's options changed by
// deskTweak (nil: none).
func newFixtureWith(t *testing.T, deskTweak func(*desk.Options), tweak func(*Options)) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	v, err := vault.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	st, err := store.Open(ctx, filepath.Join(dir, "recoverybot.db"), v, store.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, err := recoverybot.NewCodeKey(v.CodeKey())
	if err != nil {
		t.Fatal(err)
	}
	do := desk.Options{From: "contact@hosting.example", FromName: "Support", Provider: "Hosting",
		MessageIDKey: v.Key(vault.PurposeMessageID)}
	if deskTweak != nil {
		deskTweak(&do)
	}
	d := desk.New(st, key, do)
	if _, err := d.ImportProfiles(ctx, testProfiles, "test", "alice"); err != nil {
		t.Fatal(err)
	}
	for name, pw := range map[string]string{"alice": alicePassword, "bob": bobPassword} {
		if _, err := d.AddAgent(ctx, name, pw); err != nil {
			t.Fatal(err)
		}
	}
	pv := &fakePreviewer{}
	o := Options{Desk: d, Previews: pv, Now: clk.Now}
	if tweak != nil {
		tweak(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, desk: d, srv: srv, clock: clk, preview: pv}
}

// openCase opens a case and, with docs, gives it those documents as
// intake would.
func (f *fixture) openCase(t *testing.T, req desk.OpenRequest, docs map[*recoverybot.Document][]byte) desk.Summary {
	t.Helper()
	ctx := context.Background()
	if req.By == "" {
		req.By = "alice"
	}
	s, err := f.desk.Open(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	err = f.st.Update(ctx, func(tx *store.Tx) error {
		c, err := tx.CaseByRef(s.Ref)
		if err != nil {
			return err
		}
		for d, data := range docs {
			if err := tx.AddDocument(c.ID, 0, 1, d, data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// setState forces a case into a state, standing for what intake does.
func (f *fixture) setState(t *testing.T, ref string, s recoverybot.State) {
	t.Helper()
	err := f.st.Update(context.Background(), func(tx *store.Tx) error {
		c, err := tx.CaseByRef(ref)
		if err != nil {
			return err
		}
		c.State = s
		return tx.UpdateCase(c)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// events returns the audit actions of a case (ref) or of no case ("").
func (f *fixture) events(t *testing.T, ref string) []recoverybot.AuditEvent {
	t.Helper()
	var out []recoverybot.AuditEvent
	err := f.st.View(context.Background(), func(tx *store.Tx) error {
		var filter store.AuditFilter
		if ref != "" {
			c, err := tx.CaseByRef(ref)
			if err != nil {
				return err
			}
			filter.CaseID = c.ID
		}
		var err error
		out, err = tx.AuditEvents(filter)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// req is one request to the server.
type req struct {
	method, path string
	form         url.Values
	cookies      []*http.Cookie
	header       map[string]string
	remote       string // "ip:port"; "" is httptest's
}

func (f *fixture) do(t *testing.T, r req) *httptest.ResponseRecorder {
	t.Helper()
	var hr *http.Request
	if r.form != nil {
		hr = httptest.NewRequest(r.method, r.path, strings.NewReader(r.form.Encode()))
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		hr = httptest.NewRequest(r.method, r.path, nil)
	}
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	for _, c := range r.cookies {
		hr.AddCookie(c)
	}
	w := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(w, hr)
	return w
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// formToken is the csrf field of a page.
func formToken(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf field in the page:\n%s", body)
	}
	return html.UnescapeString(m[1])
}

func cookie(w *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// agent is a logged-in browser.
type agent struct {
	session *http.Cookie
	csrf    string
}

// tryLogin goes through the login form from remote; it returns the
// response of the POST.
func (f *fixture) tryLogin(t *testing.T, name, password, remote string) *httptest.ResponseRecorder {
	t.Helper()
	page := f.do(t, req{method: "GET", path: "/login", remote: remote})
	c := cookie(page, f.srv.cookies.loginCSRF)
	if c == nil {
		t.Fatal("the login page sets no login-CSRF cookie")
	}
	form := url.Values{"name": {name}, "password": {password}, "csrf": {formToken(t, page.Body.String())}}
	return f.do(t, req{method: "POST", path: "/login", form: form, cookies: []*http.Cookie{c}, remote: remote})
}

// login logs name in and returns their browser.
func (f *fixture) login(t *testing.T, name, password string) agent {
	t.Helper()
	w := f.tryLogin(t, name, password, "")
	if w.Code != http.StatusSeeOther {
		t.Fatalf("login %s: status %d\n%s", name, w.Code, w.Body)
	}
	c := cookie(w, f.srv.cookies.session)
	if c == nil {
		t.Fatal("no session cookie after login")
	}
	a := agent{session: c}
	page := f.get(t, a, "/")
	if page.Code != http.StatusOK {
		t.Fatalf("queue after login: %d", page.Code)
	}
	a.csrf = formToken(t, page.Body.String())
	return a
}

func (f *fixture) get(t *testing.T, a agent, path string) *httptest.ResponseRecorder {
	t.Helper()
	var cs []*http.Cookie
	if a.session != nil {
		cs = append(cs, a.session)
	}
	return f.do(t, req{method: "GET", path: path, cookies: cs})
}

// post submits a form as a, with its token.
func (f *fixture) post(t *testing.T, a agent, path string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", a.csrf)
	return f.do(t, req{method: "POST", path: path, form: form, cookies: []*http.Cookie{a.session}})
}

func mustPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
