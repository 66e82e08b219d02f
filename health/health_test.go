package health_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot/health"
	"github.com/recoverybot/recoverybot/internal/fault"
	"github.com/recoverybot/recoverybot/outbound"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

// bench is a store with a clock the test moves.
type bench struct {
	t       *testing.T
	st      *store.Store
	letters outbound.Letters
	offset  atomic.Int64
	dir     string
}

func (b *bench) now() time.Time {
	return time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).Add(time.Duration(b.offset.Load()))
}

func (b *bench) advance(d time.Duration) { b.offset.Add(int64(d)) }

func newBench(t *testing.T) *bench {
	t.Helper()
	b := &bench{t: t, dir: t.TempDir()}
	v, err := vault.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if b.st, err = store.Open(context.Background(), filepath.Join(b.dir, "recoverybot.db"), v, store.Options{Now: b.now}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.st.Close() })
	b.letters = outbound.Letters{From: "contact@hosting.example", MessageIDKey: v.Key(vault.PurposeMessageID)}
	return b
}

// monitor is a Monitor of the bench's store, as the daemon makes one at
// each start.
func (b *bench) monitor() *health.Monitor {
	return health.New(health.Options{Store: b.st, Now: b.now, StaleAfter: 15 * time.Minute, DataDir: b.dir,
		SupportAddress: "support@hosting.example", Letters: b.letters})
}

// alerts returns the subjects of the alert mails queued, oldest first.
func (b *bench) alerts() []string {
	b.t.Helper()
	var subjects []string
	err := b.st.View(context.Background(), func(tx *store.Tx) error {
		mail, err := tx.Outbox(store.OutboxFilter{WithRaw: true})
		for _, m := range mail {
			if m.Template != string(outbound.NoticeAlert) {
				continue
			}
			if m.To != "support@hosting.example" {
				b.t.Errorf("alert to %s", m.To)
			}
			_, rest, _ := strings.Cut(string(m.Raw), "Subject: ")
			subject, _, _ := strings.Cut(rest, "\r\n")
			subjects = append(subjects, subject)
		}
		return err
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return subjects
}

func (b *bench) alert(m *health.Monitor) {
	b.t.Helper()
	if err := m.Alert(context.Background()); err != nil {
		b.t.Fatal(err)
	}
}

func checks(cs ...health.Check) []health.Check { return cs }

func TestReady(t *testing.T) {
	b := newBench(t)
	ctx := context.Background()
	m := b.monitor()
	ready := func(want []health.Check) {
		t.Helper()
		if got := m.Ready(ctx); !slices.Equal(got, want) {
			t.Errorf("Ready = %v, want %v", got, want)
		}
	}
	ready(checks(health.CheckIMAP)) // nothing fetched yet
	m.Fetched()
	ready(nil)
	unreachable := fault.Wrap(fault.Unreachable, errors.New("connect: refused"))
	m.FetchFailed(unreachable)
	b.advance(14 * time.Minute)
	m.FetchFailed(unreachable)
	ready(nil) // within stale_after of the last drain
	b.advance(2 * time.Minute)
	ready(checks(health.CheckIMAP))
	m.FetchFailed(fault.Wrap(fault.DiskFull, errors.New("commit: database or disk is full")))
	ready(checks(health.CheckStore, health.CheckIMAP))
	m.Fetched()
	ready(nil)

	// A mail still pending stale_after after it was queued, once an
	// attempt failed: the outbox is stuck.
	var id int64
	if err := b.st.Update(ctx, func(tx *store.Tx) error {
		var err error
		id, err = tx.Enqueue(store.OutgoingMail{Template: string(outbound.NoticeDigest), MessageID: "m1@hosting.example",
			From: "contact@hosting.example", To: "support@hosting.example", Raw: []byte("Subject: x\r\n\r\nx\r\n")})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	b.advance(20 * time.Minute)
	m.Fetched()
	ready(nil) // pending, never failed
	if err := b.st.Update(ctx, func(tx *store.Tx) error { return tx.MarkRetry(id, b.now().Add(time.Hour), "connect: refused") }); err != nil {
		t.Fatal(err)
	}
	ready(checks(health.CheckOutbox))
	if err := b.st.Update(ctx, func(tx *store.Tx) error { return tx.MarkSent(id) }); err != nil {
		t.Fatal(err)
	}
	ready(nil)

	// A job failing its last three runs.
	run := func(outcome string) {
		t.Helper()
		if _, err := b.st.RecordSweepRun(ctx, store.SweepRun{Job: "purge", StartedAt: b.now(), EndedAt: b.now(), Outcome: outcome}); err != nil {
			t.Fatal(err)
		}
	}
	run(store.RunFailed)
	run(store.RunFailed)
	ready(nil)
	run(store.RunFailed)
	ready(checks(health.CheckSweeps))
	run(store.RunOK)
	ready(nil)
}

// TestFetchAlertOncePerEpisode: fetching failing for longer than
// stale_after is mailed once, its recovery once, and a restart within
// the episode sends neither again.
func TestFetchAlertOncePerEpisode(t *testing.T) {
	b := newBench(t)
	m := b.monitor()
	m.Fetched()
	b.alert(m)
	lost := fault.Wrap(fault.Unreachable, io.EOF)
	b.advance(time.Minute)
	m.FetchFailed(lost)
	b.alert(m)
	b.advance(14 * time.Minute) // 15 min since the last drain: not more
	m.FetchFailed(lost)
	b.alert(m)
	if got := b.alerts(); len(got) != 0 {
		t.Fatalf("alerts within stale_after: %q", got)
	}
	b.advance(time.Minute)
	for range 3 {
		m.FetchFailed(lost)
		b.alert(m)
		b.advance(time.Minute)
	}
	got := b.alerts()
	if len(got) != 1 || !strings.Contains(got[0], "fetching mail has failed since 2026-03-02 09:00 UTC") {
		t.Fatalf("alerts = %q, want one saying since when fetching failed", got)
	}

	// A restart within the episode: the new Monitor knows nothing, the
	// store does.
	m = b.monitor()
	m.FetchFailed(lost)
	b.alert(m)
	b.advance(20 * time.Minute)
	m.FetchFailed(lost)
	b.alert(m)
	if got := b.alerts(); len(got) != 1 {
		t.Fatalf("after a restart within the episode: alerts = %q, want still one", got)
	}
	m.Fetched()
	b.alert(m)
	b.alert(m)
	m = b.monitor()
	m.Fetched()
	b.alert(m)
	got = b.alerts()
	if len(got) != 2 || !strings.Contains(got[1], "works again") {
		t.Fatalf("after recovery: alerts = %q, want one more saying it works again", got)
	}

	// A short failure is no episode worth a mail; a new long one is.
	m.FetchFailed(lost)
	b.alert(m)
	b.advance(5 * time.Minute)
	m.Fetched()
	b.alert(m)
	b.advance(time.Minute)
	m.FetchFailed(lost)
	b.advance(16 * time.Minute)
	b.alert(m)
	if got := b.alerts(); len(got) != 3 {
		t.Fatalf("a second long episode: alerts = %q, want a third", got)
	}
}

func TestTokenAlertOnce(t *testing.T) {
	b := newBench(t)
	m := b.monitor()
	token := fault.Wrap(fault.TokenFailed, errors.New("get token: read token: no such file"))
	for range 3 {
		m.FetchFailed(token)
		b.alert(m)
		b.advance(time.Minute)
	}
	m = b.monitor() // a restart
	m.FetchFailed(token)
	b.alert(m)
	got := b.alerts()
	if len(got) != 1 || !strings.Contains(got[0], "OAuth token") {
		t.Fatalf("alerts = %q, want one about the token", got)
	}
	m.Fetched()
	b.alert(m)
	m.FetchFailed(token)
	b.alert(m)
	if got := b.alerts(); len(got) != 2 {
		t.Fatalf("alerts = %q, want a second one for a second episode", got)
	}
}

func TestOutboxAlertOnce(t *testing.T) {
	b := newBench(t)
	ctx := context.Background()
	m := b.monitor()
	m.Fetched()
	var id int64
	if err := b.st.Update(ctx, func(tx *store.Tx) error {
		var err error
		if id, err = tx.Enqueue(store.OutgoingMail{Template: "approved", MessageID: "m1@hosting.example",
			From: "contact@hosting.example", To: "jean@example.org", Raw: []byte("Subject: x\r\n\r\nx\r\n")}); err != nil {
			return err
		}
		return tx.MarkRetry(id, b.now().Add(time.Minute), "outbound: smtp connect: refused (temporary)")
	}); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		b.advance(time.Minute)
		m.Fetched()
		b.alert(m)
	}
	got := b.alerts()
	if len(got) != 1 || !strings.Contains(got[0], "stuck in the outbox since 2026-03-02 09:00 UTC") {
		t.Fatalf("alerts = %q, want one about the outbox", got)
	}
	for _, s := range got {
		if strings.Contains(s, "jean@example.org") {
			t.Errorf("alert names a customer: %q", s)
		}
	}
	if err := b.st.Update(ctx, func(tx *store.Tx) error { return tx.MarkSent(id) }); err != nil {
		t.Fatal(err)
	}
	b.alert(m)
	if got := b.alerts(); len(got) != 1 {
		t.Fatalf("alerts = %q, want still one", got)
	}
}

func TestNoAlertsWithoutAnAddress(t *testing.T) {
	b := newBench(t)
	m := health.New(health.Options{Store: b.st, Now: b.now, Letters: b.letters})
	m.FetchFailed(fault.Wrap(fault.TokenFailed, errors.New("no token")))
	b.advance(time.Hour)
	b.alert(m)
	if got := b.alerts(); len(got) != 0 {
		t.Fatalf("alerts without [support] address: %q", got)
	}
}
