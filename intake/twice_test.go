package intake_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/recoverybot/recoverybot/intake"
	"github.com/recoverybot/recoverybot/mailbox"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

// Two pipelines on one data directory, each with its own store handle
// and IMAP connection (two processes, the instance lock bypassed), drain
// one mailbox at once: each message is still decided once, by one of
// them, and moved once.
func TestTwoPipelinesDecideEachMessageOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	st2 := secondHandle(t, w)
	pipelines := [2]*intake.Pipeline{w.pipeline, intake.New(st2, w.opts)}
	conns := [2]*mailbox.Conn{w.conn(), w.conn()}
	cases := openLostEmail(t, w.desk, w.st, "twice", 12)
	c := newCorpus("twice")
	user := w.dovecot.User()
	var tied, ignored []mail
	for round := range 8 {
		var batch []mail
		for i := range 12 {
			m := c.caseMail(cases[(round*5+i)%len(cases)], 2000)
			o := c.supportMail(900, false)
			tied, ignored = append(tied, m), append(ignored, o)
			batch = append(batch, m, o)
		}
		if err := w.dovecot.SaveMany(user, "INBOX", raws(batch)); err != nil {
			t.Fatal(err)
		}
		// Neither commits before both have recorded the messages and
		// begun parsing them: both hold the same messages undecided,
		// and the moves one of them decides are not pending yet when
		// the other reads those left by an earlier run.
		var arrived atomic.Int32
		both, over := make(chan struct{}), make(chan struct{})
		for _, p := range pipelines {
			var once sync.Once
			p.SetParseHook(func([]byte) {
				once.Do(func() {
					if arrived.Add(1) == 2 {
						close(both)
					}
					select {
					case <-both:
					case <-over: // the other one returned: it parses nothing more
					}
				})
			})
		}
		errs := make(chan error, 2)
		for i := range pipelines {
			go func() {
				_, err := pipelines[i].Drain(ctx, conns[i])
				errs <- err
			}()
		}
		for i := range 2 {
			if err := <-errs; err != nil {
				t.Errorf("round %d: a drain: %v", round, err)
			}
			if i == 0 {
				close(over)
			}
		}
		if arrived.Load() != 2 {
			t.Fatalf("round %d: %d of the 2 pipelines parsed a message; want both", round, arrived.Load())
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	checkExactlyOnce(t, w.dovecot, w.st, expectation{user: user, cases: cases, tied: tied, ignored: ignored})
	// Replies: a case gets at most one automatic reply within the
	// reply interval, however many pipelines decided its messages.
	if err := w.st.View(ctx, func(tx *store.Tx) error {
		for _, lc := range cases {
			mail, err := tx.Outbox(store.OutboxFilter{CaseID: lc.ID})
			if err != nil {
				return err
			}
			replies := 0
			for _, m := range mail {
				if m.Automatic {
					replies++
				}
			}
			if replies > 1 {
				t.Errorf("case %s: %d automatic replies, want at most 1", lc.Ref, replies)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// A pipeline without the data directory's lock (Shared) makes only the
// moves it decided: those another pipeline committed and has not made
// yet are left to it, or both would move the same messages at once (and
// a server without an atomic MOVE would keep two copies).
func TestSharedPipelineLeavesAnothersMoves(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	st2 := secondHandle(t, w)
	cases := openLostEmail(t, w.desk, w.st, "shared", 1)
	c := newCorpus("shared")
	tied := []mail{c.caseMail(cases[0], 2000)}
	user := w.dovecot.User()
	if err := w.dovecot.SaveMany(user, "INBOX", raws(tied)); err != nil {
		t.Fatal(err)
	}

	committed, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	optsA := w.opts
	optsA.Shared = true
	optsA.AfterCommit = func() { once.Do(func() { close(committed); <-release }) }
	optsB := w.opts
	optsB.Shared = true
	a, b := intake.New(w.st, optsA), intake.New(st2, optsB)
	errA := make(chan error, 1)
	go func() {
		_, err := a.Drain(ctx, w.conn())
		errA <- err
	}()
	<-committed // a decided the message and has not moved it
	stats, err := b.Drain(ctx, w.conn())
	close(release)
	if err != nil {
		t.Fatalf("the second pipeline: %v", err)
	}
	if stats.Moved != 0 || stats.Fetched != 0 {
		t.Errorf("the second pipeline moved %d and fetched %d messages; the first had decided the one there is", stats.Moved, stats.Fetched)
	}
	if err := <-errA; err != nil {
		t.Fatalf("the first pipeline: %v", err)
	}
	checkExactlyOnce(t, w.dovecot, w.st, expectation{user: user, cases: cases, tied: tied})
}

// secondHandle opens the world's database a second time, as another
// process on the same data directory would.
func secondHandle(t *testing.T, w *world) *store.Store {
	t.Helper()
	v, err := vault.Open(filepath.Dir(w.dbFile))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), w.dbFile, v, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
