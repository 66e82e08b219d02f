package intake_test

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/intake"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

// writerFree reports whether no connection holds the database's writer:
// a write transaction begun with no busy timeout gets it at once.
func writerFree(t *testing.T, dbFile string) bool {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+dbFile+"?_busy_timeout=0&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		return false
	}
	tx.Rollback()
	return true
}

// overLook gives a message a header longer than a look fetches
// (mailbox.GlimpseHeaderMax): it is downloaded whole and checked against
// the cases by the quick scan, as mail about no case until its case is
// opened.
func overLook(raw []byte) []byte {
	pad := "X-Padding: " + strings.Repeat("padding padding padding padding padding padding padding padding\r\n ", 5000) + "end\r\n"
	return append([]byte(pad), raw...)
}

// caseOf is the case of a reference, as the expectations name it.
func caseOf(t *testing.T, st *store.Store, ref string) lostCase {
	t.Helper()
	lc := lostCase{Ref: ref}
	if err := st.View(context.Background(), func(tx *store.Tx) error {
		c, err := tx.CaseByRef(ref)
		lc.ID = c.ID
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return lc
}

// importLate imports the profile of a customer who writes before their
// case is opened, from ID@new.example.
func importLate(t *testing.T, d *desk.Desk, id string) {
	t.Helper()
	if _, err := d.ImportProfiles(context.Background(), []recoverybot.Profile{{ID: id, Email: id + "@old.example",
		HolderKind: recoverybot.HolderIndividual, HolderName: "Late", Locale: "fr"}}, "test", "t"); err != nil {
		t.Fatal(err)
	}
}

// A message checked against the cases as ordinary mail, whose case an
// agent opens before its decision is committed, needs its full parse
// then: it is parsed outside the writer's transaction, the messages
// before it committed first, and it is tied to its new case.
func TestNoParseWhileHoldingTheWriter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	cases := openLostEmail(t, w.desk, w.st, "held", 1)
	importLate(t, w.desk, "late")
	c := newCorpus("held")
	first := c.caseMail(cases[0], 2000)
	lateID := c.nextID()
	late := mail{MessageID: lateID, Raw: overLook(compose(lateID, "Client <late@new.example>", "Mes papiers",
		"Bonjour,\r\nvoici ma carte d'identité.\r\n", map[string][]byte{"cni.jpg": jpeg}))}
	after := c.supportMail(900, false)
	user := w.dovecot.User()
	if err := w.dovecot.SaveMany(user, "INBOX", raws([]mail{first, late, after})); err != nil {
		t.Fatal(err)
	}
	var lateCase desk.Summary
	var parses, held atomic.Int32
	var once sync.Once
	w.pipeline.SetParseHook(func(raw []byte) {
		parses.Add(1)
		if !writerFree(t, w.dbFile) {
			held.Add(1)
		}
		// The first parse is the case mail's: the late message was
		// checked already, as mail about no case.
		once.Do(func() {
			var err error
			lateCase, err = w.desk.Open(ctx, desk.OpenRequest{ProfileID: "late", Kind: recoverybot.KindLostEmail,
				Contact: "late@new.example", By: "alice"})
			if err != nil {
				t.Error(err)
			}
		})
	})
	stats, err := w.pipeline.Drain(ctx, w.conn())
	if err != nil {
		t.Fatal(err)
	}
	if held.Load() != 0 {
		t.Errorf("%d of %d parses ran while the writer was held", held.Load(), parses.Load())
	}
	if parses.Load() != 2 {
		t.Errorf("%d full parses, want 2 (the case mail, then the late message once its case was open)", parses.Load())
	}
	if stats.Processed != 2 || stats.Ignored != 1 || stats.Moved != 2 {
		t.Errorf("stats = %+v, want 2 processed and moved, 1 ignored", stats)
	}
	cases = append(cases, caseOf(t, w.st, lateCase.Ref))
	late.Case = lateCase.Ref
	checkExactlyOnce(t, w.dovecot, w.st, expectation{user: user, cases: cases, tied: []mail{first, late}, ignored: []mail{after}})
	if got := position(t, w.st); got != 3 {
		t.Errorf("mailbox position %d after the drain, want 3", got)
	}
}

// The agents' commands go on while the intake drains a 10,000-message
// backlog: each waits at most for one of its commits, never for a
// message being parsed, and none fails with "database is locked". One
// message needs its full parse at its commit (its case is opened during
// the drain), and its parse lasts until the agents have acted.
func TestAgentsActDuringALargeDrain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := 10000
	if testing.Short() {
		n = 2000
	}
	w := newWorld(t)
	cases := openLostEmail(t, w.desk, w.st, "drain", 20)
	importLate(t, w.desk, "late")
	var agents []recoverybot.Profile
	for _, id := range []string{"agent-0", "agent-1", "agent-2", "agent-3"} {
		agents = append(agents, recoverybot.Profile{ID: id, Email: id + "@old.example", HolderKind: recoverybot.HolderIndividual,
			HolderName: id, Locale: "fr"})
	}
	if _, err := w.desk.ImportProfiles(ctx, agents, "test", "t"); err != nil {
		t.Fatal(err)
	}

	// The agents' side: another process, with the command line's busy
	// timeout at its shortest that still allows for a commit of the
	// intake's under load.
	v, err := vault.Open(filepath.Dir(w.dbFile))
	if err != nil {
		t.Fatal(err)
	}
	st2, err := store.Open(ctx, w.dbFile, v, store.Options{BusyTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	agentDesk := desk.New(st2, w.key, desk.Options{From: w.letters.From, Provider: w.letters.Provider, MessageIDKey: w.letters.MessageIDKey})

	c := newCorpus("drain")
	lateID := c.nextID()
	late := mail{MessageID: lateID, Raw: overLook(compose(lateID, "Client <late@new.example>", "Mes papiers",
		"Bonjour,\r\nvoici ma carte d'identité.\r\n", map[string][]byte{"cni.jpg": jpeg}))}
	var tied, ignored, all []mail
	for i := range n {
		var m mail
		switch {
		case i == 8:
			m = late
		case i%100 == 7:
			m = c.caseMail(cases[(i/100)%len(cases)], 3000)
			tied = append(tied, m)
		default:
			m = c.supportMail(700+(i*389)%1500, false)
			ignored = append(ignored, m)
		}
		all = append(all, m)
	}
	user := w.dovecot.User()
	if err := w.dovecot.SaveMany(user, "INBOX", raws(all)); err != nil {
		t.Fatal(err)
	}

	// The agents act once after each of the intake's commits (an
	// agent's command comes between two of them), and when the late
	// message's parse asks (during it).
	committed := make(chan struct{}, 1)
	w.pipeline = intake.New(w.st, func() intake.Options {
		o := w.opts
		o.AfterCommit = func() {
			select {
			case committed <- struct{}{}:
			default:
			}
		}
		return o
	}())
	asked := make(chan chan struct{})
	stop := make(chan struct{})
	var acted int
	var failures []error
	var wg sync.WaitGroup
	wg.Go(func() {
		var ref string
		for step := 0; ; {
			var done chan struct{}
			select {
			case <-stop:
				return
			case <-committed:
			case done = <-asked:
			}
			agent := agents[acted%len(agents)].ID
			var err error
			switch step {
			case 0:
				var s desk.Summary
				s, err = agentDesk.Open(ctx, desk.OpenRequest{ProfileID: agent, Kind: recoverybot.KindLostEmail,
					Contact: agent + "@nowhere.example", By: "bob"})
				ref = s.Ref
			case 1:
				_, err = agentDesk.Claim(ctx, ref, "bob")
			case 2:
				_, err = agentDesk.Release(ctx, ref, "bob", "")
			case 3:
				_, err = agentDesk.Cancel(ctx, ref, "bob", "opened by mistake")
			}
			acted++
			if err != nil {
				failures = append(failures, err)
			} else {
				step = (step + 1) % 4
			}
			if done != nil {
				close(done)
			}
		}
	})

	var lateCase desk.Summary
	var opened, waited sync.Once
	w.pipeline.SetParseHook(func(raw []byte) {
		// The first case mail's parse: the late message, behind it in
		// the batch, was checked as mail about no case.
		opened.Do(func() {
			var err error
			lateCase, err = agentDesk.Open(ctx, desk.OpenRequest{ProfileID: "late", Kind: recoverybot.KindLostEmail,
				Contact: "late@new.example", By: "alice"})
			if err != nil {
				t.Error(err)
			}
		})
		if !bytes.Contains(raw, []byte(lateID)) {
			return
		}
		// The late message, parsed at its commit: two of the agents'
		// commands run during its parse.
		waited.Do(func() {
			for range 2 {
				done := make(chan struct{})
				asked <- done
				<-done
			}
		})
	})
	start := time.Now()
	stats, err := w.pipeline.Drain(ctx, w.conn())
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("drained %d messages in %v; the agents' commands ran %d times meanwhile", n, time.Since(start).Round(time.Millisecond), acted)
	if acted < n/200 {
		t.Errorf("the agents' commands ran %d times, want one after each commit of the intake's", acted)
	}
	for _, err := range failures {
		t.Errorf("an agent's command failed during the drain: %v", err)
	}
	if stats.Fetched != n || stats.Processed != len(tied)+1 || stats.Ignored != len(ignored) {
		t.Errorf("stats = %+v, want %d fetched, %d processed, %d ignored", stats, n, len(tied)+1, len(ignored))
	}
	late.Case = lateCase.Ref
	lc := lostCase{Ref: lateCase.Ref}
	if err := w.st.View(ctx, func(tx *store.Tx) error {
		c, err := tx.CaseByRef(lateCase.Ref)
		lc.ID = c.ID
		return err
	}); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, w.dovecot, w.st, expectation{user: user, cases: append(cases, lc), tied: append(tied, late), ignored: ignored})
}
