package web

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot/desk"
)

func loggedOut(w interface {
	Header() http.Header
}, code int) bool {
	return code == http.StatusSeeOther && strings.HasPrefix(w.Header().Get("Location"), "/login")
}

func TestLogoutEndsTheSession(t *testing.T) {
	f := newFixture(t, nil)
	a := f.login(t, "alice", alicePassword)
	w := f.post(t, a, "/logout", nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login" {
		t.Fatalf("logout: %d %s", w.Code, w.Header().Get("Location"))
	}
	if c := cookie(w, f.srv.cookies.session); c == nil || c.MaxAge >= 0 {
		t.Errorf("logout does not delete the cookie: %+v", c)
	}
	// The old cookie, replayed, no longer works: the server forgot it.
	if w := f.get(t, a, "/"); !loggedOut(w, w.Code) {
		t.Errorf("old cookie after logout: %d", w.Code)
	}
	var actions []string
	for _, e := range f.events(t, "") {
		if e.Actor == "alice" && strings.HasPrefix(e.Action, "log") {
			actions = append(actions, e.Action)
		}
	}
	if strings.Join(actions, " ") != "login logout" {
		t.Errorf("alice's events: %v", actions)
	}
}

func TestIdleExpiry(t *testing.T) {
	f := newFixture(t, nil)
	a := f.login(t, "alice", alicePassword)
	// Used every 20 minutes, it lives on.
	for range 3 {
		f.clock.Advance(20 * time.Minute)
		if w := f.get(t, a, "/"); w.Code != http.StatusOK {
			t.Fatalf("session used within the idle limit: %d", w.Code)
		}
	}
	f.clock.Advance(desk.SessionIdle)
	if w := f.get(t, a, "/"); !loggedOut(w, w.Code) {
		t.Errorf("idle session: %d", w.Code)
	}
	// Gone for good, even if the clock went back.
	f.clock.Advance(-desk.SessionIdle)
	if w := f.get(t, a, "/"); !loggedOut(w, w.Code) {
		t.Errorf("idle session, replayed: %d", w.Code)
	}
}

func TestAbsoluteExpiry(t *testing.T) {
	f := newFixture(t, nil)
	a := f.login(t, "alice", alicePassword)
	used := time.Duration(0)
	for used+20*time.Minute < desk.SessionMax {
		f.clock.Advance(20 * time.Minute)
		used += 20 * time.Minute
		if w := f.get(t, a, "/"); w.Code != http.StatusOK {
			t.Fatalf("busy session after %v: %d", used, w.Code)
		}
	}
	f.clock.Advance(desk.SessionMax - used)
	if w := f.get(t, a, "/"); !loggedOut(w, w.Code) {
		t.Errorf("session past its absolute limit: %d", w.Code)
	}
}

func TestDisabledAgentStopsAtOnce(t *testing.T) {
	f := newFixture(t, nil)
	a := f.login(t, "alice", alicePassword)
	if err := f.desk.DisableAgent(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	if w := f.get(t, a, "/"); !loggedOut(w, w.Code) {
		t.Errorf("disabled agent's session: %d", w.Code)
	}
}

func TestThrottlePerUser(t *testing.T) {
	f := newFixture(t, nil)
	for i := range desk.LoginMaxFailures {
		remote := "198.51.100." + string(rune('1'+i)) + ":4000" // each from another address
		if w := f.tryLogin(t, "alice", "wrong password!", remote); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, w.Code)
		}
	}
	w := f.tryLogin(t, "alice", alicePassword, "203.0.113.9:4000")
	if w.Code != http.StatusTooManyRequests || cookie(w, f.srv.cookies.session) != nil {
		t.Fatalf("the right password while throttled: %d", w.Code)
	}
	// Another agent is not affected; alice is again after the lockout.
	if w := f.tryLogin(t, "bob", bobPassword, "203.0.113.9:4000"); w.Code != http.StatusSeeOther {
		t.Errorf("bob while alice is throttled: %d", w.Code)
	}
	f.clock.Advance(desk.LoginLockout)
	if w := f.tryLogin(t, "alice", alicePassword, "203.0.113.9:4000"); w.Code != http.StatusSeeOther {
		t.Errorf("alice after the lockout: %d", w.Code)
	}
	n := 0
	for _, e := range f.events(t, "") {
		if e.Action == "login_failed" {
			n++
			if strings.Contains(strings.Join(mapValues(e.Details), " "), "wrong password!") {
				t.Error("the audit log holds a password")
			}
		}
	}
	if n != desk.LoginMaxFailures {
		t.Errorf("%d login_failed events, want %d", n, desk.LoginMaxFailures)
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestThrottlePerAddress(t *testing.T) {
	f := newFixture(t, nil)
	const from = "2001:db8:1:2::10"
	for i := range desk.LoginMaxFailures {
		name := "guess" + string(rune('a'+i))
		if w := f.tryLogin(t, name, "whatever password", "["+from+"]:5000"); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, w.Code)
		}
	}
	// Another address in the same /64 is the same line.
	if w := f.tryLogin(t, "bob", bobPassword, "[2001:db8:1:2::99]:5000"); w.Code != http.StatusTooManyRequests {
		t.Errorf("the right password from a throttled address: %d", w.Code)
	}
	if w := f.tryLogin(t, "bob", bobPassword, "[2001:db8:1:3::10]:5000"); w.Code != http.StatusSeeOther {
		t.Errorf("from another address: %d", w.Code)
	}
}

func TestThrottleBehindTrustedProxy(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.TrustedProxies = []netip.Prefix{mustPrefix(t, "10.0.0.0/8")} })
	// The proxy's address is not throttled as a whole: the client's is.
	for i := range desk.LoginMaxFailures {
		page := f.do(t, req{method: "GET", path: "/login", remote: "10.0.0.2:1"})
		form := url.Values{"name": {"alice"}, "password": {"nope nope nope"}, "csrf": {formToken(t, page.Body.String())}}
		w := f.do(t, req{method: "POST", path: "/login", form: form, remote: "10.0.0.2:1",
			cookies: []*http.Cookie{cookie(page, f.srv.cookies.loginCSRF)},
			header:  map[string]string{"X-Forwarded-For": "6.6.6.6, 192.0.2.77"}})
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, w.Code)
		}
	}
	found := false
	for _, e := range f.events(t, "") {
		if e.Action == "login_throttled" && e.Details["scope"] == "address" {
			found = e.Details["remote_addr"] == "192.0.2.77"
		}
	}
	if !found {
		t.Error("the client's address behind the proxy was not the one throttled")
	}
}

func TestProxyUserHeader(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.TrustedProxies = []netip.Prefix{mustPrefix(t, "10.0.0.0/8")}
		o.ProxyUserHeader = "X-Remote-User"
	})
	sso := func(remote, user string) *httptestResponse {
		w := f.do(t, req{method: "GET", path: "/", remote: remote, header: map[string]string{"X-Remote-User": user}})
		return &httptestResponse{code: w.Code, loc: w.Header().Get("Location"), body: w.Body.String(),
			session: cookie(w, f.srv.cookies.session)}
	}
	if r := sso("192.0.2.5:999", "alice"); r.code != http.StatusSeeOther || !strings.HasPrefix(r.loc, "/login") || r.session != nil {
		t.Errorf("header from an untrusted peer: %d %s", r.code, r.loc)
	}
	r := sso("10.1.2.3:999", "alice")
	if r.code != http.StatusOK || !strings.Contains(r.body, `class="who">alice<`) || r.session == nil {
		t.Fatalf("header from a trusted proxy: %d", r.code)
	}
	// The session it opened carries a form token like any other.
	a := agent{session: r.session, csrf: formToken(t, r.body)}
	if w := f.post(t, a, "/lang", url.Values{"lang": {"en"}, "back": {"/"}}); w.Code != http.StatusSeeOther {
		t.Errorf("a form in a proxy session: %d", w.Code)
	}
	if r := sso("10.1.2.3:999", "mallory"); r.code != http.StatusSeeOther || r.session != nil {
		t.Errorf("a proxy naming no agent: %d", r.code)
	}
	if err := f.desk.DisableAgent(t.Context(), "bob"); err != nil {
		t.Fatal(err)
	}
	if r := sso("10.1.2.3:999", "bob"); r.code != http.StatusSeeOther || r.session != nil {
		t.Errorf("a proxy naming a disabled agent: %d", r.code)
	}
	var via []string
	for _, e := range f.events(t, "") {
		if e.Action == "login" || e.Action == "login_failed" {
			via = append(via, e.Actor+":"+e.Action+":"+e.Details["via"])
		}
	}
	if got := strings.Join(via, " "); got != "alice:login:proxy mallory:login_failed:proxy bob:login_failed:proxy" {
		t.Errorf("audited: %s", got)
	}
}

type httptestResponse struct {
	code      int
	loc, body string
	session   *http.Cookie
}

func TestLanguage(t *testing.T) {
	f := newFixture(t, nil)
	w := f.do(t, req{method: "GET", path: "/login", header: map[string]string{"Accept-Language": "en-GB,en;q=0.9"}})
	if !strings.Contains(w.Body.String(), `<html lang="en">`) || !strings.Contains(w.Body.String(), "Password") {
		t.Errorf("Accept-Language en: not English")
	}
	if w := f.do(t, req{method: "GET", path: "/login"}); !strings.Contains(w.Body.String(), "Mot de passe") {
		t.Errorf("by default: not French")
	}
	a := f.login(t, "alice", alicePassword)
	if w := f.post(t, a, "/lang", url.Values{"lang": {"en"}, "back": {"//evil.example/"}}); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
		t.Errorf("lang: %d %s", w.Code, w.Header().Get("Location"))
	}
	// Remembered for alice, in a new session without the cookie.
	b := f.login(t, "alice", alicePassword)
	if w := f.get(t, b, "/"); !strings.Contains(w.Body.String(), "Ready for review") {
		t.Errorf("alice's language is not remembered")
	}
}

func TestLoginGoesBackOnlyWithinTheSite(t *testing.T) {
	f := newFixture(t, nil)
	for next, want := range map[string]string{"/cases/RC-AAAAAA": "/cases/RC-AAAAAA", "//evil.example/": "/",
		"https://evil.example/": "/", `/\evil.example`: "/", `/a/../\evil.example`: "/", "/\t/evil.example": "/",
		"/\n/evil.example": "/", "/a/..//evil.example": "/evil.example", "/?queue=mine&q=RC": "/?queue=mine&q=RC"} {
		page := f.do(t, req{method: "GET", path: "/login?next=" + url.QueryEscape(next)})
		form := url.Values{"name": {"alice"}, "password": {alicePassword}, "csrf": {formToken(t, page.Body.String())}, "next": {next}}
		w := f.do(t, req{method: "POST", path: "/login", form: form, cookies: []*http.Cookie{cookie(page, f.srv.cookies.loginCSRF)}})
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != want {
			t.Errorf("next %q: %d to %q, want %q", next, w.Code, w.Header().Get("Location"), want)
		}
	}
}
