package daemon_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/config"
	"github.com/recoverybot/recoverybot/daemon"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

// TestServeRunsTheSchedule: `run --once` runs no scheduled job; `serve`
// schedules expire, remind, digest and outbox by their [schedule] specs, and the
// expire job, due every second, expires a case that outlived case_ttl on
// the daemon's clock and mails the customer, through the courier.
func TestServeRunsTheSchedule(t *testing.T) {
	e := start(t, func(c *config.Config) {
		c.Support.Address = "support@hosting.example"
		c.Schedule.Expire = "@every 1s"
	})
	s := e.open("p-ind", recoverybot.KindTOTPLockout, "")
	e.advance(e.cfg.Policy.CaseTTL.D())
	e.once()
	if got := e.show(s.Ref); got.State != recoverybot.StateAwaitingEvidence {
		t.Fatalf("run --once ran the expire job: %s", got.State)
	}
	if runs := e.runs(); len(runs) != 0 {
		t.Fatalf("run --once recorded sweep runs: %+v", runs)
	}

	v, err := vault.Open(e.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := recoverybot.NewCodeKey(v.CodeKey())
	swept := make(chan store.SweepRun, 16)
	d, err := daemon.New(daemon.Options{Config: e.cfg, Store: e.st, CodeKey: key, MessageIDKey: v.Key(vault.PurposeMessageID),
		Now: e.now, OutboxInterval: time.Hour, OnSweep: func(r store.SweepRun) { swept <- r }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx) }()
	<-d.Scheduler().Started()
	before := time.Now()
	specs := map[string]string{}
	for _, en := range d.Scheduler().Entries() {
		specs[en.Name] = en.Spec
		if en.Next.IsZero() {
			t.Errorf("%s is not scheduled", en.Name)
		}
	}
	if len(specs) != 6 || specs["expire"] != "@every 1s" || specs["remind"] != "@hourly" || specs["digest"] != "0 8 * * 1-5" ||
		specs["outbox"] != "@every 1m" || specs["purge"] != "@daily" || specs["reconcile"] != "@every 1h" {
		t.Errorf("scheduled jobs: %v", specs)
	}
	next, _ := d.Scheduler().Next("remind", before)
	if next.Minute() != 0 || next.Second() != 0 || !next.After(before) {
		t.Errorf("remind next at %v", next)
	}

	r := <-swept
	if r.Job != "expire" || r.Outcome != store.RunOK || r.Counts["expired"] != 1 {
		t.Errorf("first scheduled run: %+v", r)
	}
	// The courier is woken by the run and sends the expiry mail.
	for len(e.sentWith("jean@example.org", "expir")) == 0 {
		<-swept // each later run kicks the courier again
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if got := e.show(s.Ref); got.State != recoverybot.StateExpired || got.DecidedBy != recoverybot.SystemActor {
		t.Errorf("after serve: %s by %s", got.State, got.DecidedBy)
	}
	runs := e.runs()
	if len(runs) == 0 || runs[len(runs)-1].Counts["expired"] != 1 {
		t.Errorf("recorded runs: %+v", runs)
	}
	for _, r := range runs[:len(runs)-1] {
		if r.Counts["expired"] != 0 {
			t.Errorf("a later run expired again: %+v", r)
		}
	}
}

func (e *e2e) runs() []store.SweepRun {
	e.t.Helper()
	var out []store.SweepRun
	err := e.st.View(context.Background(), func(tx *store.Tx) (err error) {
		out, err = tx.SweepRuns(store.SweepRunFilter{})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// sentWith returns the mails to addr whose subject contains word.
func (e *e2e) sentWith(addr, word string) []string {
	var out []string
	for _, env := range e.sent(addr) {
		if s := env.GetHeader("Subject"); strings.Contains(strings.ToLower(s), word) {
			out = append(out, s)
		}
	}
	return out
}

// TestOutboxJobGivesUpByTheConfig: the daemon's outbox job drains its
// own courier, which gives up on a mail [policy] outbox_give_up after it
// was queued, on the daemon's clock.
func TestOutboxJobGivesUpByTheConfig(t *testing.T) {
	e := start(t, func(c *config.Config) { c.Policy.OutboxGiveUp = config.Duration(6 * time.Hour) })
	e.sink.RejectRecipient("jean@example.org", 451)
	s := e.open("p-ind", recoverybot.KindTOTPLockout, "")
	if r := e.once(); r.Sent != 0 || r.Failed != 0 {
		t.Fatalf("run --once: %+v", r)
	}
	ctx := context.Background()
	e.advance(6*time.Hour - time.Minute)
	r, err := e.d.Scheduler().Run(ctx, "outbox")
	if err != nil || r.Outcome != store.RunOK || r.Counts["failed"] != 0 || r.Counts["deferred"] != 1 {
		t.Fatalf("outbox job a minute before the give-up: %+v, %v", r, err)
	}
	e.advance(time.Minute)
	r, err = e.d.Scheduler().Run(ctx, "outbox")
	if err != nil || r.Outcome != store.RunOK || r.Counts["failed"] != 1 || r.Counts["sent"] != 0 {
		t.Fatalf("outbox job at the give-up: %+v, %v", r, err)
	}
	got := e.show(s.Ref)
	if len(got.Mail) != 1 || got.Mail[0].State != string(store.OutboxFailed) || !strings.HasPrefix(got.Mail[0].LastError, "given up 6h after it was queued: ") {
		t.Errorf("mail after the give-up: %+v", got.Mail)
	}
}
