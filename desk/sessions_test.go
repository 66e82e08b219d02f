package desk

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/store"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func sessionFixture(t *testing.T) (*fixture, *testClock) {
	t.Helper()
	clk := &testClock{t: time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)}
	f := newFixtureWith(t, clk.now, nil)
	if _, err := f.desk.AddAgent(context.Background(), "alice", "a long secret phrase"); err != nil {
		t.Fatal(err)
	}
	return f, clk
}

func TestLoginSessionLogout(t *testing.T) {
	f, clk := sessionFixture(t)
	ctx := context.Background()
	s, token, err := f.desk.Login(ctx, "alice", "a long secret phrase", "192.0.2.1:5555")
	if err != nil {
		t.Fatal(err)
	}
	if s.Agent != "alice" || len(s.CSRF) < 40 || s.Lang != "" || s.Via != ViaPassword ||
		!s.ExpiresAt.Equal(clk.now().Add(SessionIdle)) {
		t.Errorf("session %+v", s)
	}
	// The store holds the token's hash only.
	db, err := sql.Open("sqlite3", "file:"+f.path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sessions WHERE instr(token_hash, ?) > 0 OR instr(csrf, ?) > 0`, token, token).Scan(&n); err != nil || n != 0 {
		t.Errorf("the token is stored (%d rows, %v)", n, err)
	}
	got, err := f.desk.Session(ctx, token)
	if err != nil || got.Agent != "alice" || got.CSRF != s.CSRF {
		t.Fatalf("Session = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "x", token[:len(token)-2] + "AA", strings.Repeat("A", 43)} {
		if _, err := f.desk.Session(ctx, bad); !errors.Is(err, ErrSessionExpired) {
			t.Errorf("Session(%q): %v", bad, err)
		}
	}
	if err := f.desk.SetLanguage(ctx, "alice", "en"); err != nil {
		t.Fatal(err)
	}
	if err := f.desk.SetLanguage(ctx, "alice", "de"); !errors.Is(err, ErrBadLanguage) {
		t.Errorf("SetLanguage de: %v", err)
	}
	if got, _ := f.desk.Session(ctx, token); got.Lang != "en" {
		t.Errorf("lang %q", got.Lang)
	}
	if err := f.desk.Logout(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, err := f.desk.Session(ctx, token); !errors.Is(err, ErrSessionExpired) {
		t.Errorf("after logout: %v", err)
	}
	if err := f.desk.Logout(ctx, token); err != nil {
		t.Errorf("second logout: %v", err)
	}
	var acts []string
	events, _ := f.auditOfNoCase(t)
	for _, e := range events {
		if e.Actor == "alice" && strings.HasPrefix(e.Action, "log") {
			acts = append(acts, e.Action+":"+e.Details["remote_addr"])
		}
	}
	if strings.Join(acts, " ") != "login:192.0.2.1 logout:" {
		t.Errorf("audited %v", acts)
	}
}

func (f *fixture) auditOfNoCase(t *testing.T) ([]recoverybot.AuditEvent, error) {
	t.Helper()
	var out []recoverybot.AuditEvent
	if _, err := f.desk.store.VerifyAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", "file:"+f.path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT actor, action, details FROM audit_events WHERE case_id IS NULL ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var e recoverybot.AuditEvent
		var details string
		if err := rows.Scan(&e.Actor, &e.Action, &details); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func TestSessionExpiry(t *testing.T) {
	f, clk := sessionFixture(t)
	ctx := context.Background()
	_, token, err := f.desk.Login(ctx, "alice", "a long secret phrase", "192.0.2.1:1")
	if err != nil {
		t.Fatal(err)
	}
	// Used every 29 minutes, it lives until the absolute limit.
	var lived time.Duration
	for lived+29*time.Minute < SessionMax {
		clk.advance(29 * time.Minute)
		lived += 29 * time.Minute
		if _, err := f.desk.Session(ctx, token); err != nil {
			t.Fatalf("after %v: %v", lived, err)
		}
	}
	clk.advance(SessionMax - lived)
	if _, err := f.desk.Session(ctx, token); !errors.Is(err, ErrSessionExpired) {
		t.Errorf("past the absolute limit: %v", err)
	}
	// Idle.
	_, token, err = f.desk.Login(ctx, "alice", "a long secret phrase", "192.0.2.1:1")
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(SessionIdle - time.Second)
	if _, err := f.desk.Session(ctx, token); err != nil {
		t.Fatalf("just within the idle limit: %v", err)
	}
	clk.advance(SessionIdle)
	if _, err := f.desk.Session(ctx, token); !errors.Is(err, ErrSessionExpired) {
		t.Errorf("idle: %v", err)
	}
	// Use within a minute is not written: the idle limit counts from the
	// last write.
	_, token, _ = f.desk.Login(ctx, "alice", "a long secret phrase", "192.0.2.1:1")
	clk.advance(30 * time.Second)
	f.desk.Session(ctx, token)
	clk.advance(SessionIdle - 30*time.Second)
	if _, err := f.desk.Session(ctx, token); !errors.Is(err, ErrSessionExpired) {
		t.Errorf("a use within the touch step extended the session: %v", err)
	}
	// Disabled, even by a writer that leaves the sessions in place (an
	// older binary).
	_, token, _ = f.desk.Login(ctx, "alice", "a long secret phrase", "192.0.2.1:1")
	if err := f.st.Update(ctx, func(tx *store.Tx) error { _, err := tx.DisableAgent("alice"); return err }); err != nil {
		t.Fatal(err)
	}
	if _, err := f.desk.Session(ctx, token); !errors.Is(err, ErrSessionExpired) {
		t.Errorf("disabled agent: %v", err)
	}
}

func TestLoginThrottle(t *testing.T) {
	f, clk := sessionFixture(t)
	ctx := context.Background()
	for i := range LoginMaxFailures {
		if _, _, err := f.desk.Login(ctx, "Alice", "wrong wrong wrong", "192.0.2.1:1"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
		clk.advance(time.Minute)
	}
	// Locked for the name, whatever its case and address.
	if _, _, err := f.desk.Login(ctx, "alice", "a long secret phrase", "198.51.100.1:1"); !errors.Is(err, ErrThrottled) {
		t.Errorf("throttled name: %v", err)
	}
	// The lockout began with the last failure, a minute ago.
	clk.advance(LoginLockout - time.Minute - time.Second)
	if _, _, err := f.desk.Login(ctx, "alice", "a long secret phrase", "198.51.100.1:1"); !errors.Is(err, ErrThrottled) {
		t.Errorf("just before the end of the lockout: %v", err)
	}
	clk.advance(time.Second)
	if _, _, err := f.desk.Login(ctx, "alice", "a long secret phrase", "198.51.100.1:1"); err != nil {
		t.Errorf("after the lockout: %v", err)
	}
	// Failures spread wider than the window never lock.
	for range LoginMaxFailures * 2 {
		if _, _, err := f.desk.Login(ctx, "alice", "wrong wrong wrong", "203.0.113.1:1"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("spread failures: %v", err)
		}
		clk.advance(LoginFailureWindow / 4)
	}
	if _, _, err := f.desk.Login(ctx, "alice", "a long secret phrase", "203.0.113.1:1"); err != nil {
		t.Errorf("after spread failures: %v", err)
	}
}

func TestThrottleAddress(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:5555":              "192.0.2.1",
		"[::ffff:192.0.2.1]:5555":     "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:5555": "2001:db8:1:2::/64",
		"2001:db8::1":                 "2001:db8::/64",
		"junk":                        "junk",
	} {
		if got := throttleAddress(in); got != want {
			t.Errorf("throttleAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestParallelGuessesAreThrottled: guesses sent all at once get no more
// tries than guesses sent one by one.
func TestParallelGuessesAreThrottled(t *testing.T) {
	f, _ := sessionFixture(t)
	ctx := context.Background()
	const n = 4 * LoginMaxFailures
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, _, errs[i] = f.desk.Login(ctx, "alice", fmt.Sprintf("wrong guess %d", i), fmt.Sprintf("192.0.2.%d:1", i))
		})
	}
	wg.Wait()
	checked := 0
	for _, err := range errs {
		switch {
		case errors.Is(err, ErrBadCredentials):
			checked++
		case !errors.Is(err, ErrThrottled):
			t.Fatalf("guess: %v", err)
		}
	}
	if checked != LoginMaxFailures {
		t.Errorf("%d parallel guesses were checked, want %d", checked, LoginMaxFailures)
	}
}
