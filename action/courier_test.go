package action_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/action"
	"github.com/recoverybot/recoverybot/store"
)

// hooks counts the Courier's OnDone and OnResult calls.
type hooks struct {
	mu      sync.Mutex
	done    []recoverybot.ActionCall
	results []recoverybot.ActionCall
	doneErr error // returned by the next OnDone, then cleared
}

func (h *hooks) onDone(tx *store.Tx, c recoverybot.ActionCall) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.doneErr; err != nil {
		h.doneErr = nil
		return err
	}
	h.done = append(h.done, c)
	return nil
}

func (h *hooks) onResult(tx *store.Tx, c recoverybot.ActionCall) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.results = append(h.results, c)
	return nil
}

func (h *hooks) counts() (done, results int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.done), len(h.results)
}

func drain(t *testing.T, c *action.Courier, want action.Stats) {
	t.Helper()
	got, err := c.Drain(context.Background())
	if err != nil || got != want {
		t.Fatalf("Drain = %+v, %v; want %+v", got, err, want)
	}
}

// TestCourierRetries: a 503 is retried after the first delay, with the
// same key; the call is done once and OnDone runs once.
func TestCourierRetries(t *testing.T) {
	clk := newClock()
	st, _ := newStore(t, clk)
	admin, wh := startAdmin(t, clk, http.StatusServiceUnavailable, 0)
	h := &hooks{}
	var logs bytes.Buffer
	var told action.Stats
	c := &action.Courier{Store: st, Hook: wh, OnDone: h.onDone, OnResult: h.onResult,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnDrain: func(s action.Stats) {
			told.Done, told.Deferred, told.Failed = told.Done+s.Done, told.Deferred+s.Deferred, told.Failed+s.Failed
		}}
	call := queue(t, st, "P1", recoverybot.ActionDisableTOTP)

	drain(t, c, action.Stats{Deferred: 1})
	got := callOf(t, st, call.ID)
	if got.State != recoverybot.ActionPending || got.Attempts != 1 || !got.NextAttemptAt.Equal(clk.Now().Add(action.FirstRetry)) ||
		!strings.Contains(got.LastError, "503") {
		t.Fatalf("after a 503: %+v", got)
	}
	// Not before its delay.
	clk.Add(action.FirstRetry - time.Second)
	drain(t, c, action.Stats{})
	clk.Add(time.Second)
	drain(t, c, action.Stats{Done: 1})
	clk.Add(time.Hour)
	drain(t, c, action.Stats{})

	if told != (action.Stats{Done: 1, Deferred: 1}) {
		t.Errorf("OnDrain was told %+v in all, want one done and one deferred", told)
	}
	reqs := admin.requests()
	if len(reqs) != 2 || reqs[0].req.IdempotencyKey != call.Key || reqs[1].req.IdempotencyKey != call.Key {
		t.Fatalf("received %+v, want two requests with key %s", reqs, call.Key)
	}
	if reqs[0].timestamp == reqs[1].timestamp {
		t.Error("the retry was signed with the first attempt's timestamp")
	}
	got = callOf(t, st, call.ID)
	if got.State != recoverybot.ActionDone || got.Attempts != 2 || got.Result != "applied "+call.Key || got.LastError != "" || got.DoneAt == nil {
		t.Errorf("done call = %+v", got)
	}
	done, results := h.counts()
	if done != 1 || results != 2 {
		t.Errorf("OnDone ran %d times, OnResult %d; want 1 and 2", done, results)
	}
	if h.done[0].State != recoverybot.ActionDone || h.done[0].Result != got.Result {
		t.Errorf("OnDone was given %+v", h.done[0])
	}
	if h.results[0].State != recoverybot.ActionPending || h.results[1].State != recoverybot.ActionDone {
		t.Errorf("OnResult was given %+v", h.results)
	}
	if l := logs.String(); strings.Count(l, "action call deferred") != 1 || strings.Count(l, "action call done") != 1 ||
		!strings.Contains(l, "case="+call.CaseRef) || strings.Contains(l, string(secret)) {
		t.Errorf("logs:\n%s", l)
	}
}

// TestCourierRefused: a 400 fails the call at once, never retried.
func TestCourierRefused(t *testing.T) {
	clk := newClock()
	st, _ := newStore(t, clk)
	admin, wh := startAdmin(t, clk, http.StatusBadRequest)
	h := &hooks{}
	c := &action.Courier{Store: st, Hook: wh, OnDone: h.onDone, OnResult: h.onResult}
	call := queue(t, st, "P1", recoverybot.ActionClearIPAllowlist)
	drain(t, c, action.Stats{Failed: 1})
	clk.Add(24 * time.Hour)
	drain(t, c, action.Stats{})
	if n := len(admin.requests()); n != 1 {
		t.Errorf("received %d requests, want 1", n)
	}
	got := callOf(t, st, call.ID)
	if got.State != recoverybot.ActionFailed || !strings.Contains(got.LastError, "400") || got.DoneAt == nil {
		t.Errorf("refused call = %+v", got)
	}
	if done, results := h.counts(); done != 0 || results != 1 {
		t.Errorf("OnDone ran %d times, OnResult %d; want 0 and 1", done, results)
	}
}

// TestCourierGivesUp: a call that keeps failing temporarily is retried
// with growing delays, last at its deadline, then failed.
func TestCourierGivesUp(t *testing.T) {
	clk := newClock()
	st, _ := newStore(t, clk)
	admin, wh := startAdmin(t, clk, http.StatusBadGateway)
	c := &action.Courier{Store: st, Hook: wh, GiveUp: 10 * time.Minute}
	call := queue(t, st, "P1", recoverybot.ActionDisableTOTP)
	deadline := call.NotBefore.Add(10 * time.Minute)
	var delays []time.Duration
	for i := 0; i < 20; i++ {
		stats, err := c.Drain(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got := callOf(t, st, call.ID)
		if got.State == recoverybot.ActionFailed {
			if stats.Failed != 1 || !strings.Contains(got.LastError, "given up 10m after its time") || !strings.Contains(got.LastError, "502") {
				t.Errorf("given up: %+v, stats %+v", got, stats)
			}
			break
		}
		if stats.Deferred != 1 || got.NextAttemptAt.After(deadline) {
			t.Fatalf("attempt %d: %+v, stats %+v", i+1, got, stats)
		}
		delays = append(delays, got.NextAttemptAt.Sub(clk.Now()))
		clk.Add(got.NextAttemptAt.Sub(clk.Now()))
	}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 2*time.Minute + 30*time.Second}
	if len(delays) != len(want) {
		t.Fatalf("delays %v, want %v", delays, want)
	}
	for i := range want {
		if delays[i] != want[i] {
			t.Errorf("delays %v, want %v", delays, want)
			break
		}
	}
	if n := len(admin.requests()); n != len(want)+1 {
		t.Errorf("received %d requests, want %d", n, len(want)+1)
	}
}

// TestCourierDown: after a temporary failure the other due calls wait
// for the next drain rather than each try.
func TestCourierDown(t *testing.T) {
	clk := newClock()
	st, _ := newStore(t, clk)
	admin, wh := startAdmin(t, clk, http.StatusServiceUnavailable, 0)
	c := &action.Courier{Store: st, Hook: wh}
	a := queue(t, st, "P1", recoverybot.ActionDisableTOTP)
	b := queue(t, st, "P2", recoverybot.ActionDisableTOTP)
	drain(t, c, action.Stats{Deferred: 1})
	if got := callOf(t, st, b.ID); got.Attempts != 0 || got.State != recoverybot.ActionPending {
		t.Errorf("the second call was tried while the admin system was down: %+v", got)
	}
	drain(t, c, action.Stats{Done: 1}) // b, due since the start
	clk.Add(action.FirstRetry)
	drain(t, c, action.Stats{Done: 1}) // a, after its delay
	if n := len(admin.requests()); n != 3 {
		t.Errorf("received %d requests, want 3", n)
	}
	if got := callOf(t, st, a.ID); got.State != recoverybot.ActionDone || got.Attempts != 2 {
		t.Errorf("the first call after its retry: %+v", got)
	}
}

// TestCourierCrash: a call claimed when the process died is sent once
// more after the restart, with the same key, and done.
func TestCourierCrash(t *testing.T) {
	clk := newClock()
	st, path := newStore(t, clk)
	admin, wh := startAdmin(t, clk)
	call := queue(t, st, "P1", recoverybot.ActionChangeEmail)
	// The process takes it for sending, then dies before the answer is
	// recorded.
	if err := st.Update(context.Background(), func(tx *store.Tx) error { _, err := tx.ClaimAction(call.ID); return err }); err != nil {
		t.Fatal(err)
	}
	st.Close()

	clk.Add(time.Minute)
	st = openStore(t, path, clk)
	h := &hooks{}
	c := &action.Courier{Store: st, Hook: wh, OnDone: h.onDone}
	drain(t, c, action.Stats{}) // still being sent, as far as the store knows
	if n, err := c.Resume(context.Background()); n != 1 || err != nil {
		t.Fatalf("Resume = %d, %v; want 1", n, err)
	}
	drain(t, c, action.Stats{Done: 1})
	clk.Add(time.Hour)
	drain(t, c, action.Stats{})
	reqs := admin.requests()
	if len(reqs) != 1 || reqs[0].req.IdempotencyKey != call.Key || reqs[0].req.NewEmail != "new@example.org" {
		t.Fatalf("received %+v, want one request with key %s", reqs, call.Key)
	}
	got := callOf(t, st, call.ID)
	if got.State != recoverybot.ActionDone || got.Attempts != 2 || got.Key != call.Key {
		t.Errorf("after the restart: %+v", got)
	}
	if done, _ := h.counts(); done != 1 {
		t.Errorf("OnDone ran %d times, want 1", done)
	}
}

// TestCourierOnDoneFails: when the answer cannot be recorded, the call is
// asked again later with the same key, and OnDone then runs once.
func TestCourierOnDoneFails(t *testing.T) {
	clk := newClock()
	st, _ := newStore(t, clk)
	admin, wh := startAdmin(t, clk)
	h := &hooks{doneErr: errors.New("no template")}
	c := &action.Courier{Store: st, Hook: wh, OnDone: h.onDone}
	call := queue(t, st, "P1", recoverybot.ActionDisableTOTP)
	drain(t, c, action.Stats{Deferred: 1})
	got := callOf(t, st, call.ID)
	if got.State != recoverybot.ActionPending || !strings.Contains(got.LastError, "no template") {
		t.Fatalf("after OnDone failed: %+v", got)
	}
	clk.Add(action.FirstRetry)
	drain(t, c, action.Stats{Done: 1})
	reqs := admin.requests()
	if len(reqs) != 2 || reqs[1].req.IdempotencyKey != call.Key {
		t.Errorf("received %d requests, want 2 with the same key", len(reqs))
	}
	if done, _ := h.counts(); done != 1 {
		t.Errorf("OnDone ran %d times, want 1", done)
	}
}

// TestCourierTwoCouriers: two couriers on one store (two processes)
// send a call once.
func TestCourierTwoCouriers(t *testing.T) {
	clk := newClock()
	st, path := newStore(t, clk)
	other := openStore(t, path, clk)
	admin, wh := startAdmin(t, clk)
	for _, p := range []string{"P1", "P2", "P3", "P4", "P5", "P6"} {
		queue(t, st, p, recoverybot.ActionDisableTOTP)
	}
	var wg sync.WaitGroup
	var stats [2]action.Stats
	for i, s := range []*store.Store{st, other} {
		wg.Go(func() {
			c := &action.Courier{Store: s, Hook: wh}
			var err error
			if stats[i], err = c.Drain(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := stats[0].Done + stats[1].Done; n != 6 {
		t.Errorf("done %+v, want 6 in all", stats)
	}
	keys := map[string]int{}
	for _, r := range admin.requests() {
		keys[r.req.IdempotencyKey]++
	}
	for k, n := range keys {
		if n != 1 {
			t.Errorf("key %s received %d times", k, n)
		}
	}
	if len(keys) != 6 {
		t.Errorf("received %d keys, want 6", len(keys))
	}
}

// TestCourierRetryAfter: the admin system's Retry-After is honoured,
// within MaxRetry.
func TestCourierRetryAfter(t *testing.T) {
	clk := newClock()
	st, _ := newStore(t, clk)
	srv := &retryAfterServer{}
	admin := startServer(t, srv)
	wh, err := action.NewWebhook(action.WebhookOptions{URL: admin.URL, Secret: secret, Now: clk.Now,
		TLSConfig: admin.Client().Transport.(*http.Transport).TLSClientConfig})
	if err != nil {
		t.Fatal(err)
	}
	c := &action.Courier{Store: st, Hook: wh}
	call := queue(t, st, "P1", recoverybot.ActionDisableTOTP)
	drain(t, c, action.Stats{Deferred: 1})
	if got := callOf(t, st, call.ID); !got.NextAttemptAt.Equal(clk.Now().Add(10 * time.Minute)) {
		t.Errorf("next attempt at %v, want in 10 minutes (Retry-After: 600)", got.NextAttemptAt)
	}
}

type retryAfterServer struct{}

func (retryAfterServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "600")
	w.WriteHeader(http.StatusTooManyRequests)
}

// TestCourierStale: a call left being sent by a process that died is
// sent again by a Drain once it is Stale, without a restart.
func TestCourierStale(t *testing.T) {
	clk := newClock()
	st, _ := newStore(t, clk)
	admin, wh := startAdmin(t, clk)
	call := queue(t, st, "P1", recoverybot.ActionDisableTOTP)
	if err := st.Update(context.Background(), func(tx *store.Tx) error { _, err := tx.ClaimAction(call.ID); return err }); err != nil {
		t.Fatal(err)
	}
	c := &action.Courier{Store: st, Hook: wh, Stale: 10 * time.Minute}
	clk.Add(10*time.Minute - time.Second)
	drain(t, c, action.Stats{}) // perhaps still being sent elsewhere
	clk.Add(2 * time.Second)
	drain(t, c, action.Stats{Done: 1})
	if reqs := admin.requests(); len(reqs) != 1 || reqs[0].req.IdempotencyKey != call.Key {
		t.Errorf("received %+v", reqs)
	}
}
