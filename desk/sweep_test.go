package desk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/outbound"
	"github.com/recoverybot/recoverybot/store"
)

// clock is a settable clock shared by the store and the jobs.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// newClockFixture is newFixture with the store on clk.
func newClockFixture(t *testing.T, clk *clock) *fixture {
	t.Helper()
	return newFixtureWith(t, clk.Now, nil)
}

// snapshot counts what a job can change: audit events and outbox rows,
// and the cases' states.
type snapshot struct {
	events, mail int
	states       string
}

func (f *fixture) snapshot(t *testing.T) snapshot {
	t.Helper()
	var s snapshot
	err := f.st.View(context.Background(), func(tx *store.Tx) error {
		ev, err := tx.AuditEvents(store.AuditFilter{})
		if err != nil {
			return err
		}
		mail, err := tx.Outbox(store.OutboxFilter{})
		if err != nil {
			return err
		}
		cases, err := tx.ListCases(store.CaseFilter{})
		if err != nil {
			return err
		}
		for _, c := range cases {
			s.states += c.Ref + "=" + string(c.State) + ";"
		}
		s.events, s.mail = len(ev), len(mail)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) open(t *testing.T, profile string, k recoverybot.Kind, contact string) string {
	t.Helper()
	sum, err := f.desk.Open(context.Background(), OpenRequest{ProfileID: profile, Kind: k, Contact: contact, By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	return sum.Ref
}

func (f *fixture) caseOf(t *testing.T, ref string) recoverybot.Case {
	t.Helper()
	var c recoverybot.Case
	err := f.st.View(context.Background(), func(tx *store.Tx) (err error) {
		c, err = tx.CaseByRef(ref)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) events(t *testing.T, ref, action string) []recoverybot.AuditEvent {
	t.Helper()
	c := f.caseOf(t, ref)
	var out []recoverybot.AuditEvent
	err := f.st.View(context.Background(), func(tx *store.Tx) error {
		ev, err := tx.AuditEvents(store.AuditFilter{CaseID: c.ID})
		for _, e := range ev {
			if e.Action == action {
				out = append(out, e)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mailOf(mail []store.OutgoingMail, template string) []store.OutgoingMail {
	var out []store.OutgoingMail
	for _, m := range mail {
		if m.Template == template {
			out = append(out, m)
		}
	}
	return out
}

func TestExpireSweep(t *testing.T) {
	clk := &clock{t: t0}
	f := newClockFixture(t, clk)
	ctx := context.Background()
	ttl := 720 * time.Hour
	totp := f.open(t, "p-ind", recoverybot.KindTOTPLockout, "")
	lost := f.open(t, "p-asso", recoverybot.KindLostEmail, "new.president@club2.example")
	clk.Set(t0.Add(time.Hour))
	later := f.open(t, "p-co", recoverybot.KindIPLockout, "")
	ready := f.open(t, "p-co", recoverybot.KindLostEmail, "x@acme2.example")
	f.setState(t, ready, recoverybot.StateReadyForReview, 0)

	clk.Set(t0.Add(ttl - time.Second))
	before := f.snapshot(t)
	counts, err := f.desk.Expire(ctx, clk.Now(), ttl)
	if err != nil || counts["expired"] != 0 || f.snapshot(t) != before {
		t.Fatalf("before the TTL: %v, %v", counts, err)
	}

	clk.Set(t0.Add(ttl))
	counts, err = f.desk.Expire(ctx, clk.Now(), ttl)
	if err != nil || counts["expired"] != 2 || counts["mailed"] != 2 {
		t.Fatalf("at the TTL: %v, %v", counts, err)
	}
	for ref, want := range map[string]recoverybot.State{totp: recoverybot.StateExpired, lost: recoverybot.StateExpired,
		later: recoverybot.StateAwaitingEvidence, ready: recoverybot.StateReadyForReview} {
		c := f.caseOf(t, ref)
		if c.State != want {
			t.Errorf("%s: state %s, want %s", ref, c.State, want)
		}
		if want == recoverybot.StateExpired {
			if c.DecidedBy != recoverybot.SystemActor || c.DecidedAt == nil || !c.DecidedAt.Equal(clk.Now()) {
				t.Errorf("%s decided by %q at %v", ref, c.DecidedBy, c.DecidedAt)
			}
			ev := f.events(t, ref, "case_expired")
			if len(ev) != 1 || ev[0].Actor != recoverybot.SystemActor {
				t.Errorf("%s: audit %+v", ref, ev)
			}
		}
	}
	// The expired code case's code no longer counts.
	err = f.st.View(ctx, func(tx *store.Tx) error {
		_, err := tx.CurrentCode(f.caseOf(t, totp).ID)
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired case's code: %v, want superseded", err)
	}
	// The customer is told, at the address mail about the case goes to,
	// in the profile's locale.
	for ref, want := range map[string]struct{ to, subject string }{
		totp: {"jean@example.org", "Votre demande a expiré"},
		lost: {"new.president@club2.example", "Your request has expired"},
	} {
		m := mailOf(f.mail(t, ref), "expired")
		if len(m) != 1 || m[0].To != want.to {
			t.Fatalf("%s: expired mail %+v", ref, m)
		}
		text, env := bodyText(t, m[0].Raw)
		if env.GetHeader("Subject") != "["+ref+"] "+want.subject || env.GetHeader("Auto-Submitted") != "auto-generated" {
			t.Errorf("%s: subject %q, Auto-Submitted %q", ref, env.GetHeader("Subject"), env.GetHeader("Auto-Submitted"))
		}
		if codeInMail.MatchString(text) {
			t.Errorf("%s: a code in the expiry mail:\n%s", ref, text)
		}
	}

	// Idempotent: again at the same instant, nothing more.
	after := f.snapshot(t)
	counts, err = f.desk.Expire(ctx, clk.Now(), ttl)
	if err != nil || counts["expired"] != 0 || f.snapshot(t) != after {
		t.Errorf("second run: %v, %v; %+v then %+v", counts, err, after, f.snapshot(t))
	}
}

func TestRemindSweep(t *testing.T) {
	clk := &clock{t: t0}
	f := newClockFixture(t, clk)
	ctx := context.Background()
	after := 72 * time.Hour
	totp := f.open(t, "p-ind", recoverybot.KindTOTPLockout, "")
	lost := f.open(t, "p-asso", recoverybot.KindLostEmail, "new.president@club2.example")
	bouncedRef := f.open(t, "p-co", recoverybot.KindIPLockout, "")
	err := f.st.Update(ctx, func(tx *store.Tx) error {
		c, err := tx.CaseByRef(bouncedRef)
		if err != nil {
			return err
		}
		c.Flags = []string{"code email bounced"}
		return tx.UpdateCase(c)
	})
	if err != nil {
		t.Fatal(err)
	}

	clk.Set(t0.Add(after - time.Minute))
	before := f.snapshot(t)
	counts, err := f.desk.Remind(ctx, clk.Now(), after)
	if err != nil || counts["reminded"] != 0 || f.snapshot(t) != before {
		t.Fatalf("too early: %v, %v", counts, err)
	}

	clk.Set(t0.Add(after))
	counts, err = f.desk.Remind(ctx, clk.Now(), after)
	if err != nil || counts["reminded"] != 2 || counts["skipped_bounced"] != 1 {
		t.Fatalf("remind: %v, %v", counts, err)
	}
	for ref, want := range map[string]struct {
		to    string
		words []string
	}{
		totp: {"jean@example.org", []string{"copie de la carte d'identité ou du passeport", "le code reçu par email"}},
		lost: {"new.president@club2.example", []string{"a copy of the president's ID card or passport", "the association's statutes"}},
	} {
		m := mailOf(f.mail(t, ref), "reminder")
		if len(m) != 1 || m[0].To != want.to {
			t.Fatalf("%s: reminders %+v", ref, m)
		}
		text, _ := bodyText(t, m[0].Raw)
		for _, w := range want.words {
			if !strings.Contains(text, w) {
				t.Errorf("%s: %q missing from the reminder:\n%s", ref, w, text)
			}
		}
		if codeInMail.MatchString(text) {
			t.Errorf("%s: a code in the reminder:\n%s", ref, text)
		}
		if ev := f.events(t, ref, "reminder_sent"); len(ev) != 1 || ev[0].Actor != recoverybot.SystemActor || ev[0].Details["missing"] == "" {
			t.Errorf("%s: audit %+v", ref, ev)
		}
	}
	if m := mailOf(f.mail(t, bouncedRef), "reminder"); len(m) != 0 {
		t.Errorf("reminder to a case whose mail bounced: %+v", m)
	}

	// Idempotent, at the same instant and later: one reminder per case.
	snap := f.snapshot(t)
	for _, at := range []time.Time{clk.Now(), clk.Now().Add(48 * time.Hour)} {
		clk.Set(at)
		counts, err = f.desk.Remind(ctx, at, after)
		if err != nil || counts["reminded"] != 0 || f.snapshot(t) != snap {
			t.Errorf("run at %v: %v, %v", at, counts, err)
		}
	}
}

func TestDigestSweep(t *testing.T) {
	clk := &clock{t: t0}
	f := newClockFixture(t, clk)
	ctx := context.Background()
	opts := DigestOptions{To: "support@hosting.example"}

	counts, err := f.desk.Digest(ctx, clk.Now(), opts)
	if err != nil || counts["mailed"] != 0 || len(mailOf(f.allMail(t), string(outbound.NoticeDigest))) != 0 {
		t.Fatalf("nothing to say: %v, %v", counts, err)
	}
	always := opts
	always.Always = true
	if counts, err := f.desk.Digest(ctx, clk.Now(), always); err != nil || counts["mailed"] != 1 {
		t.Fatalf("digest_always: %v, %v", counts, err)
	}

	old := f.open(t, "p-ind", recoverybot.KindTOTPLockout, "")
	clk.Set(t0.Add(26 * time.Hour))
	young := f.open(t, "p-co", recoverybot.KindLostEmail, "x@acme2.example")
	locked := f.open(t, "p-asso", recoverybot.KindTOTPLockout, "")
	f.setState(t, young, recoverybot.StateReadyForReview, 0)
	f.setState(t, old, recoverybot.StateReadyForReview, 0)
	f.setState(t, locked, recoverybot.StateLocked, 5)
	if _, err := f.st.RecordSweepRun(ctx, store.SweepRun{Job: "remind", StartedAt: clk.Now(), EndedAt: clk.Now(),
		Outcome: store.RunPanicked, Error: "panic: boom"}); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(28 * time.Hour))
	counts, err = f.desk.Digest(ctx, clk.Now(), opts)
	if err != nil || counts["mailed"] != 1 || counts["ready"] != 2 || counts["locked"] != 1 || counts["failed_runs"] != 1 {
		t.Fatalf("digest: %v, %v", counts, err)
	}
	digests := mailOf(f.allMail(t), string(outbound.NoticeDigest))
	if len(digests) != 2 || digests[1].To != opts.To {
		t.Fatalf("digests %+v", digests)
	}
	text, env := bodyText(t, digests[1].Raw)
	if env.GetHeader("Auto-Submitted") != "auto-generated" {
		t.Errorf("Auto-Submitted %q", env.GetHeader("Auto-Submitted"))
	}
	iOld, iYoung := strings.Index(text, old), strings.Index(text, young)
	if iOld < 0 || iYoung < 0 || iOld > iYoung {
		t.Errorf("ready cases not listed oldest first:\n%s", text)
	}
	for _, w := range []string{"totp-lockout", "lost-email", "opened 1d04h ago", locked + "  totp-lockout  locked", "sweep remind panicked", "panic: boom"} {
		if !strings.Contains(text, w) {
			t.Errorf("%q missing from the digest:\n%s", w, text)
		}
	}
	if codeInMail.MatchString(text) {
		t.Errorf("a code in the digest:\n%s", text)
	}

	// Idempotent at the same instant; the failed run is reported once.
	snap := f.snapshot(t)
	if counts, err := f.desk.Digest(ctx, clk.Now(), opts); err != nil || counts["mailed"] != 0 || f.snapshot(t) != snap {
		t.Errorf("second run: %v, %v", counts, err)
	}
	clk.Set(clk.Now().Add(24 * time.Hour))
	if counts, err := f.desk.Digest(ctx, clk.Now(), opts); err != nil || counts["failed_runs"] != 0 {
		t.Errorf("next day: %v, %v", counts, err)
	}
}

func (f *fixture) allMail(t *testing.T) []store.OutgoingMail {
	t.Helper()
	var out []store.OutgoingMail
	err := f.st.View(context.Background(), func(tx *store.Tx) (err error) {
		out, err = tx.Outbox(store.OutboxFilter{WithRaw: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// greylister refuses every mail for now.
type greylister struct{}

func (greylister) Send(ctx context.Context, from, to string, raw []byte) error {
	return &outbound.SendError{Stage: "rcpt", Code: 451, Temporary: true, Err: errors.New("451 4.7.1 greylisted, try later")}
}

// TestFailedMailShownToAgents: mail the courier gave up on is in the
// case's detail (state failed, its last error) and among the stuck
// cases of the digest.
func TestFailedMailShownToAgents(t *testing.T) {
	clk := &clock{t: t0}
	f := newClockFixture(t, clk)
	ctx := context.Background()
	ref := f.open(t, "p-ind", recoverybot.KindTOTPLockout, "")
	courier := &outbound.Courier{Store: f.st, Mailer: greylister{}, GiveUp: 48 * time.Hour}
	if got, err := courier.Drain(ctx); err != nil || got.Deferred == 0 || got.Failed != 0 {
		t.Fatalf("first drain: %+v, %v", got, err)
	}
	s, err := f.desk.Show(ctx, ref)
	if err != nil || len(s.Mail) == 0 || s.Mail[0].State != string(store.OutboxPending) {
		t.Fatalf("before giving up: %+v, %v", s.Mail, err)
	}
	clk.Set(t0.Add(48 * time.Hour))
	if got, err := courier.Drain(ctx); err != nil || got.Failed != len(s.Mail) {
		t.Fatalf("drain at the give-up: %+v, %v; want %d failed", got, err, len(s.Mail))
	}
	s, err = f.desk.Show(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range s.Mail {
		if m.State != string(store.OutboxFailed) || !strings.Contains(m.LastError, "given up 48h after it was queued") ||
			!strings.Contains(m.LastError, "greylisted") {
			t.Errorf("mail %s to %s: %s, %q", m.Template, m.To, m.State, m.LastError)
		}
	}
	counts, err := f.desk.Digest(ctx, clk.Now(), DigestOptions{To: "support@hosting.example"})
	if err != nil || counts["mailed"] != 1 || counts["failed_mail"] != len(s.Mail) {
		t.Fatalf("digest: %v, %v", counts, err)
	}
	digests := mailOf(f.allMail(t), string(outbound.NoticeDigest))
	if len(digests) != 1 {
		t.Fatalf("digests: %+v", digests)
	}
	text, env := bodyText(t, digests[0].Raw)
	want := ref + "  totp-lockout  mail failed: " + s.Mail[0].Template + " to jean@example.org: given up 48h after it was queued: outbound: smtp rcpt: 451 4.7.1 greylisted"
	if !strings.Contains(text, want) {
		t.Errorf("digest lacks %q:\n%s", want, text)
	}
	if subj := env.GetHeader("Subject"); !strings.Contains(subj, fmt.Sprintf("%d stuck", len(s.Mail))) {
		t.Errorf("digest subject %q", subj)
	}
}
