package outbound_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot/outbound"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

// busyMailer answers every mail with a temporary failure (a 451 to DATA,
// or, with down, a refused connection) and counts the attempts.
type busyMailer struct {
	down     bool
	mu       sync.Mutex
	attempts int
}

func (m *busyMailer) Send(ctx context.Context, from, to string, raw []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attempts++
	if m.down {
		return &outbound.SendError{Temporary: true, Stage: "connect", Err: errRefused}
	}
	return &outbound.SendError{Temporary: true, Code: 451, Stage: "data", Err: errBusy}
}

func (m *busyMailer) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.attempts
}

type busyError struct{}

func (busyError) Error() string { return "451 4.3.0 try again later" }

var (
	errBusy    = busyError{}
	errRefused = fmt.Errorf("dial tcp 192.0.2.25:587: connection refused")
)

// clock is a store clock the test moves by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func openClockStore(t *testing.T) (*store.Store, *clock) {
	t.Helper()
	clk := &clock{now: t0}
	v, _ := vault.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db"), v, store.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, clk
}

func outbox(t *testing.T, st *store.Store) []store.OutgoingMail {
	t.Helper()
	var rows []store.OutgoingMail
	err := st.View(context.Background(), func(tx *store.Tx) (err error) { rows, err = tx.Outbox(store.OutboxFilter{}); return err })
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestCourierGivesUpAfterGiveUp: a mail that keeps failing temporarily
// is retried after growing delays, never before its next attempt is due;
// its last attempt is made GiveUp (48h when 0) after it was queued, and
// that failure marks it failed with the last error. It is never tried
// again.
func TestCourierGivesUpAfterGiveUp(t *testing.T) {
	for _, tt := range []struct{ giveUp, want time.Duration }{{0, 48 * time.Hour}, {3 * time.Hour, 3 * time.Hour}} {
		ctx := context.Background()
		st, clk := openClockStore(t)
		queueMail(t, st, "busy@example.org", "busy@hosting.example")
		mailer := &busyMailer{}
		c := &outbound.Courier{Store: st, Mailer: mailer, GiveUp: tt.giveUp}
		deadline := t0.Add(tt.want)
		var delays []time.Duration
		at := t0
		for round := 0; ; round++ {
			if round > 100 {
				t.Fatalf("give up %s: still retried after %d rounds", tt.giveUp, round)
			}
			got, err := c.Drain(ctx)
			if err != nil {
				t.Fatalf("give up %s, round %d: %v", tt.giveUp, round, err)
			}
			if mailer.count() != round+1 {
				t.Fatalf("give up %s, round %d: %d attempts", tt.giveUp, round, mailer.count())
			}
			m := outbox(t, st)[0]
			if at.Equal(deadline) {
				if got != (outbound.Stats{Failed: 1}) || m.State != store.OutboxFailed {
					t.Fatalf("give up %s: the attempt at the deadline: %+v, mail %s", tt.giveUp, got, m.State)
				}
				want := "given up " + strings.TrimSuffix(strings.TrimSuffix(tt.want.String(), "0s"), "0m") + " after it was queued: "
				if !strings.HasPrefix(m.LastError, want) || !strings.Contains(m.LastError, errBusy.Error()) {
					t.Errorf("give up %s: error %q, want %q and the last error", tt.giveUp, m.LastError, want)
				}
				break
			}
			if got != (outbound.Stats{Deferred: 1}) || m.State != store.OutboxPending || !strings.Contains(m.LastError, errBusy.Error()) {
				t.Fatalf("give up %s, round %d at %s: %+v, mail %+v", tt.giveUp, round, at.Sub(t0), got, m)
			}
			if m.NextAttemptAt.After(deadline) || !m.NextAttemptAt.After(at) {
				t.Fatalf("give up %s, round %d: next attempt at %s, deadline %s", tt.giveUp, round, m.NextAttemptAt.Sub(t0), tt.want)
			}
			// Not due yet: nothing is tried.
			clk.Set(m.NextAttemptAt.Add(-time.Second))
			if got, err := c.Drain(ctx); got != (outbound.Stats{}) || err != nil || mailer.count() != round+1 {
				t.Fatalf("give up %s, round %d: a drain before the next attempt: %+v, %v, %d attempts", tt.giveUp, round, got, err, mailer.count())
			}
			delays = append(delays, m.NextAttemptAt.Sub(at))
			at = m.NextAttemptAt
			clk.Set(at)
		}
		// One minute, doubling (with jitter in its upper half) up to about
		// four hours.
		for i, d := range delays {
			// The last is cut short by the deadline: it may be any length.
			if (d < 30*time.Second && i < len(delays)-1) || d > 256*time.Minute {
				t.Errorf("give up %s: delay %d is %s", tt.giveUp, i, d)
			}
			if i > 0 && i < 8 && i < len(delays)-1 && d < delays[i-1] {
				t.Errorf("give up %s: delay %d (%s) shorter than the one before (%s)", tt.giveUp, i, d, delays[i-1])
			}
		}
		if len(delays) < 5 {
			t.Errorf("give up %s: only %d retries: %v", tt.giveUp, len(delays), delays)
		}
		// Given up: never tried again, however late.
		clk.Set(deadline.Add(30 * 24 * time.Hour))
		if got, err := c.Drain(ctx); got != (outbound.Stats{}) || err != nil {
			t.Errorf("give up %s: a drain after giving up: %+v, %v", tt.giveUp, got, err)
		}
		if n := mailer.count(); n != len(delays)+1 {
			t.Errorf("give up %s: %d attempts, want %d", tt.giveUp, n, len(delays)+1)
		}
	}
}

// TestCourierGivesUpWhileTheServerIsDown: while the server cannot be
// reached only one mail is tried; the others share its outcome untried,
// deferred, and, once past their give-up, marked failed with its error.
func TestCourierGivesUpWhileTheServerIsDown(t *testing.T) {
	ctx := context.Background()
	st, clk := openClockStore(t)
	queueMail(t, st, "a@example.org", "a@hosting.example")
	clk.Set(t0.Add(time.Hour))
	queueMail(t, st, "b@example.org", "b@hosting.example")
	mailer := &busyMailer{down: true}
	c := &outbound.Courier{Store: st, Mailer: mailer, GiveUp: 6 * time.Hour}
	if got, err := c.Drain(ctx); got != (outbound.Stats{Deferred: 2}) || err != nil || mailer.count() != 1 {
		t.Fatalf("Drain = %+v, %v after %d attempts", got, err, mailer.count())
	}
	// Six hours after a was queued, five after b was.
	clk.Set(t0.Add(6 * time.Hour))
	if got, err := c.Drain(ctx); got != (outbound.Stats{Deferred: 1, Failed: 1}) || err != nil || mailer.count() != 2 {
		t.Fatalf("Drain at a's give-up = %+v, %v after %d attempts", got, err, mailer.count())
	}
	clk.Set(t0.Add(7 * time.Hour))
	if got, err := c.Drain(ctx); got != (outbound.Stats{Failed: 1}) || err != nil || mailer.count() != 3 {
		t.Fatalf("Drain at b's give-up = %+v, %v after %d attempts", got, err, mailer.count())
	}
	for _, m := range outbox(t, st) {
		if m.State != store.OutboxFailed || !strings.HasPrefix(m.LastError, "given up 6h after it was queued: ") ||
			!strings.Contains(m.LastError, "connection refused") {
			t.Errorf("mail to %s: %s, %q", m.To, m.State, m.LastError)
		}
	}
	if got, err := c.Drain(ctx); got != (outbound.Stats{}) || err != nil || mailer.count() != 3 {
		t.Errorf("Drain after giving up = %+v, %v after %d attempts", got, err, mailer.count())
	}
}

// onceMailer accepts every mail and remembers how often each recipient
// got one, and whether two sends ever overlapped.
type onceMailer struct {
	mu       sync.Mutex
	got      map[string]int
	inFlight int
	overlap  bool
}

func (m *onceMailer) Send(ctx context.Context, from, to string, raw []byte) error {
	m.mu.Lock()
	m.inFlight++
	m.overlap = m.overlap || m.inFlight > 1
	m.got[to]++
	m.mu.Unlock()
	for range 50 {
		runtime.Gosched() // a session's round trips: room for another drain
	}
	m.mu.Lock()
	m.inFlight--
	m.mu.Unlock()
	return nil
}

// TestConcurrentDrainsSendEachMailOnce: drains of one Courier (the
// daemon's ticker and the scheduled job) take turns; two Couriers on one
// store (two processes) never take the same mail. Each mail goes once.
func TestConcurrentDrainsSendEachMailOnce(t *testing.T) {
	for _, couriers := range []int{1, 3} {
		st, _ := openClockStore(t)
		const n = 45
		for i := range n {
			queueMail(t, st, fmt.Sprintf("c%d@example.org", i), fmt.Sprintf("m%d@hosting.example", i))
		}
		mailer := &onceMailer{got: map[string]int{}}
		cs := make([]*outbound.Courier, couriers)
		for i := range cs {
			cs[i] = &outbound.Courier{Store: st, Mailer: mailer}
		}
		var mu sync.Mutex
		var total outbound.Stats
		var wg sync.WaitGroup
		for g := range 6 {
			wg.Go(func() {
				got, err := cs[g%couriers].Drain(context.Background())
				if err != nil {
					t.Errorf("%d couriers: Drain: %v", couriers, err)
				}
				mu.Lock()
				total.Sent += got.Sent
				total.Deferred += got.Deferred
				total.Failed += got.Failed
				mu.Unlock()
			})
		}
		wg.Wait()
		if total != (outbound.Stats{Sent: n}) {
			t.Errorf("%d couriers: drains counted %+v, want %d sent", couriers, total, n)
		}
		for i := range n {
			if to := fmt.Sprintf("c%d@example.org", i); mailer.got[to] != 1 {
				t.Errorf("%d couriers: %s got %d copies", couriers, to, mailer.got[to])
			}
		}
		if couriers == 1 && mailer.overlap {
			t.Errorf("two drains of one courier sent at once")
		}
		for _, m := range outbox(t, st) {
			if m.State != store.OutboxSent || m.Attempts != 1 {
				t.Errorf("%d couriers: mail to %s: %s after %d attempts", couriers, m.To, m.State, m.Attempts)
			}
		}
	}
}
