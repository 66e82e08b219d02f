package intake_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/intake"
	"github.com/recoverybot/recoverybot/internal/dovecottest"
	"github.com/recoverybot/recoverybot/mailbox"
	"github.com/recoverybot/recoverybot/outbound"
	"github.com/recoverybot/recoverybot/rules"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

// clock is a settable time for the store, shared by every process of a
// test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// process is one run of recoverybot over a data directory: its own store
// handle, desk and pipeline, nothing kept in memory from an earlier one.
type process struct {
	st       *store.Store
	desk     *desk.Desk
	pipeline *intake.Pipeline
}

func startProcess(t *testing.T, dir string, clk *clock, tune func(*intake.Options)) *process {
	t.Helper()
	v, err := vault.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "recoverybot.db"), v, store.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, _ := recoverybot.NewCodeKey(v.CodeKey())
	letters := outbound.Letters{From: "contact@hosting.example", Provider: "Hosting", CodeTTL: 24 * time.Hour,
		MessageIDKey: v.Key(vault.PurposeMessageID)}
	opts := intake.Options{
		Mailbox: "INBOX", ProcessedFolder: "Recovery/Processed", ReviewFolder: "Recovery/Review",
		Policy:  rules.Policy{TrustedAuthservIDs: []string{trustedID}, RequireAuthenticatedSender: true, ReplyInterval: time.Hour, CodeKey: key},
		Letters: letters,
	}
	if tune != nil {
		tune(&opts)
	}
	return &process{st: st, desk: desk.New(st, key, desk.Options{From: letters.From, Provider: letters.Provider, MessageIDKey: letters.MessageIDKey}), pipeline: intake.New(st, opts)}
}

func dial(t *testing.T, dc *dovecottest.Server) *mailbox.Conn {
	t.Helper()
	c, err := mailbox.Dial(context.Background(), mailbox.Options{Address: dc.Addr(), Security: mailbox.SecurityNone,
		Username: dc.User(), Password: dc.Password(), CommandTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// templates lists the templates of a case's outbox, in order.
func templates(t *testing.T, st *store.Store, ref string) []string {
	t.Helper()
	var out []string
	if err := st.View(context.Background(), func(tx *store.Tx) error {
		c, err := tx.CaseByRef(ref)
		if err != nil {
			return err
		}
		mail, err := tx.Outbox(store.OutboxFilter{CaseID: c.ID})
		for _, m := range mail {
			out = append(out, m.Template)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

var profileJean = []recoverybot.Profile{{ID: "p-1", Email: "jean@example.org", HolderKind: recoverybot.HolderIndividual, HolderName: "Jean", Locale: "fr"}}

// TestReplyIntervalKeptAcrossProcesses: the time of the last automatic
// reply is stored with the case and read back, so that a second message
// within reply_interval gets no reply even when another process, with
// nothing in memory, handles it; one after the interval gets one.
func TestReplyIntervalKeptAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	dc := dovecottest.Start(t)
	dir := t.TempDir()
	clk := &clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	first := startProcess(t, dir, clk, nil)
	if _, err := first.desk.ImportProfiles(ctx, profileJean, "test", "t"); err != nil {
		t.Fatal(err)
	}
	s, err := first.desk.Open(ctx, desk.OpenRequest{ProfileID: "p-1", Kind: recoverybot.KindTOTPLockout, By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	verified := trustedID + "; spf=pass smtp.mailfrom=example.org; dmarc=pass header.from=example.org"
	send := func(p *process, body string) {
		t.Helper()
		dc.Deliver(dc.User(), customerMail("jean@example.org", "Re: ["+s.Ref+"] recovery", body, verified, nil))
		if st, err := p.pipeline.Drain(ctx, dial(t, dc)); err != nil || st.Processed != 1 {
			t.Fatalf("drain = %+v, %v", st, err)
		}
	}
	send(first, "Bonjour, je vous envoie ma carte bientôt.")
	if got := count(templates(t, first.st, s.Ref), string(outbound.Acknowledgement)); got != 1 {
		t.Fatalf("acknowledgements after the first message = %d, want 1", got)
	}
	var stored *time.Time
	first.st.View(ctx, func(tx *store.Tx) error {
		c, err := tx.CaseByRef(s.Ref)
		stored = c.LastAutoReplyAt
		return err
	})
	if stored == nil || !stored.Equal(clk.Now()) {
		t.Fatalf("last automatic reply stored as %v, want %v", stored, clk.Now())
	}
	first.st.Close()

	clk.advance(59 * time.Minute)
	second := startProcess(t, dir, clk, nil)
	send(second, "Toujours là ?")
	if got := count(templates(t, second.st, s.Ref), string(outbound.Acknowledgement)); got != 1 {
		t.Errorf("acknowledgements after a second message within the interval, in a new process = %d, want still 1", got)
	}
	second.st.Close()

	clk.advance(2 * time.Minute)
	third := startProcess(t, dir, clk, nil)
	send(third, "Et maintenant ?")
	if got := count(templates(t, third.st, s.Ref), string(outbound.Acknowledgement)); got != 2 {
		t.Errorf("acknowledgements after a message past the interval = %d, want 2", got)
	}
}

// TestCrashBetweenCommitAndMove: the connection is lost right after a
// message's decision is committed, before it is moved. The next Drain,
// on a new connection, makes the move, once, and processes nothing
// again: no second evidence, audit event or reply.
func TestCrashBetweenCommitAndMove(t *testing.T) {
	ctx := context.Background()
	dc := dovecottest.Start(t)
	dir := t.TempDir()
	clk := &clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	var lost *mailbox.Conn
	var commits int
	p := startProcess(t, dir, clk, func(o *intake.Options) {
		o.AfterCommit = func() {
			commits++
			if lost != nil {
				lost.Close() // the move that follows the commit fails
			}
		}
	})
	if _, err := p.desk.ImportProfiles(ctx, profileJean, "test", "t"); err != nil {
		t.Fatal(err)
	}
	s, err := p.desk.Open(ctx, desk.OpenRequest{ProfileID: "p-1", Kind: recoverybot.KindTOTPLockout, By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	user := dc.User()
	dc.Deliver(user, customerMail("jean@example.org", "Re: ["+s.Ref+"] recovery", "Ma carte d'identité",
		trustedID+"; spf=pass smtp.mailfrom=example.org; dmarc=pass header.from=example.org", map[string][]byte{"cni.jpg": jpeg}))

	lost = dial(t, dc)
	st, err := p.pipeline.Drain(ctx, lost)
	if err == nil || st.Processed != 1 || st.Moved != 0 || commits != 1 {
		t.Fatalf("drain over a connection lost after the commit = %+v, %v (commits %d); want an error, 1 processed, 0 moved", st, err, commits)
	}
	if n, _ := dc.Count(user, "INBOX"); n != 1 {
		t.Fatalf("INBOX has %d messages after the failed move, want 1", n)
	}
	type facts struct {
		evidence, events, docs int
		mail                   []string
	}
	read := func() facts {
		var f facts
		p.st.View(ctx, func(tx *store.Tx) error {
			c, err := tx.CaseByRef(s.Ref)
			if err != nil {
				return err
			}
			ev, _ := tx.EvidenceOf(c.ID)
			events, _ := tx.AuditEvents(store.AuditFilter{CaseID: c.ID})
			docs, _ := tx.Documents(c.ID)
			f.evidence, f.events, f.docs = len(ev), len(events), len(docs)
			return nil
		})
		f.mail = templates(t, p.st, s.Ref)
		return f
	}
	before := read()
	if before.evidence != 1 || before.docs != 1 {
		t.Fatalf("after the commit: %+v, want the message's evidence and document", before)
	}

	lost = nil
	st, err = p.pipeline.Drain(ctx, dial(t, dc))
	if err != nil || st.Moved != 1 || st.Processed != 0 || st.Fetched != 0 || st.Duplicates != 0 {
		t.Errorf("drain after the crash = %+v, %v; want the one move redone and nothing processed", st, err)
	}
	if n, _ := dc.Count(user, "INBOX"); n != 0 {
		t.Errorf("INBOX has %d messages, want 0", n)
	}
	if n, _ := dc.Count(user, "Recovery.Processed"); n != 1 {
		t.Errorf("processed folder has %d messages, want 1", n)
	}
	if after := read(); after.evidence != before.evidence || after.events != before.events || after.docs != before.docs ||
		len(after.mail) != len(before.mail) {
		t.Errorf("the redone drain changed the case: %+v, was %+v", after, before)
	}
	st, err = p.pipeline.Drain(ctx, dial(t, dc))
	if err != nil || st.Moved != 0 || st.Fetched != 0 {
		t.Errorf("third drain = %+v, %v; want nothing to do", st, err)
	}
	if n, _ := dc.Count(user, "Recovery.Processed"); n != 1 {
		t.Errorf("processed folder has %d messages after a third drain, want 1", n)
	}
}
