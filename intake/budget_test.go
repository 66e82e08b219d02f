package intake_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot/intake"
	"github.com/recoverybot/recoverybot/store"
)

func bomb(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "bombs", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reasons returns the ledger's status and reason of each message.
func reasons(t *testing.T, st *store.Store) map[string]store.Entry {
	t.Helper()
	out := map[string]store.Entry{}
	for _, e := range ledger(t, st) {
		out[e.MessageID] = e
	}
	return out
}

// The bombs through the pipeline: a CMap bomb from a case's contact
// address (no reference anywhere), a Flate bomb naming its case, each
// stops at its work budget and goes to review with the reason; a bomb
// about no case is recorded and left alone (the quick scan shows it is
// about no case: it is not parsed at all); the genuine message queued
// behind them is processed.
func TestBombsGoToReview(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cases := openLostEmail(t, w.desk, w.st, "bomb", 3)
	c := newCorpus("bombs")
	user := w.dovecot.User()
	byID := c.nextID()
	bySender := mail{MessageID: byID, Case: cases[0].Ref, Raw: compose(byID, "Client <"+cases[0].Contact+">", "mes documents",
		"Bonjour,\r\nvoici mon extrait Kbis.", map[string][]byte{"kbis.pdf": bomb(t, "cmap.pdf")})}
	refID := c.nextID()
	byRef := mail{MessageID: refID, Case: cases[1].Ref, Raw: compose(refID, "Helper <helper@elsewhere.example>", "["+cases[1].Ref+"] documents",
		"Bonjour,\r\nle document demandé.", map[string][]byte{"cni.pdf": bomb(t, "flate.pdf")})}
	strayID := c.nextID()
	stray := mail{MessageID: strayID, Raw: compose(strayID, "Someone <someone@support.example>", "invoice",
		"Hello,\r\nmy invoice.", map[string][]byte{"invoice.pdf": bomb(t, "cmap.pdf")})}
	genuine := c.caseMail(cases[2], 3000)
	for _, m := range []mail{bySender, byRef, stray, genuine} {
		if err := w.dovecot.Deliver(user, m.Raw); err != nil {
			t.Fatal(err)
		}
	}
	stats, err := w.pipeline.Drain(context.Background(), w.conn())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Review != 2 || stats.Processed != 1 || stats.Ignored != 1 {
		t.Errorf("stats %+v, want 2 to review, 1 processed, 1 ignored", stats)
	}
	got := reasons(t, w.st)
	for m, want := range map[string]string{bySender.MessageID: "kbis.pdf (part 2): PDF not read to the end: work budget spent",
		byRef.MessageID: "cni.pdf (part 2): PDF not read to the end"} {
		if e := got[m]; !strings.Contains(e.Reason, want) {
			t.Errorf("message %s: %s, reason %q; want %q", m, e.Status, e.Reason, want)
		}
	}
	checkExactlyOnce(t, w.dovecot, w.st, expectation{user: user, cases: cases,
		tied: []mail{genuine}, review: []mail{bySender, byRef}, ignored: []mail{stray}})
}

// A message whose parse is stopped by its deadline (already past here:
// a deterministic stop) is tied to its case by its sender alone, as the
// quick scan reads it, and goes to review with the reason; before, the
// parse returned nothing, and the message was ignored, left in INBOX.
func TestStoppedParseTiedBySender(t *testing.T) {
	t.Parallel()
	w := newWorldWith(t, func(o *intake.Options) { o.MessageTimeout = time.Nanosecond })
	cases := openLostEmail(t, w.desk, w.st, "stopped", 1)
	c := newCorpus("stopped")
	user := w.dovecot.User()
	id := c.nextID()
	bySender := mail{MessageID: id, Case: cases[0].Ref, Raw: compose(id, "Client <"+cases[0].Contact+">", "mes documents",
		"Bonjour,\r\nvoici ma carte.", map[string][]byte{"cni.pdf": bomb(t, "cmap.pdf")})}
	ordinary := c.supportMail(2000, false)
	for _, m := range []mail{bySender, ordinary} {
		if err := w.dovecot.Deliver(user, m.Raw); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.pipeline.Drain(context.Background(), w.conn()); err != nil {
		t.Fatal(err)
	}
	if e := reasons(t, w.st)[bySender.MessageID]; !strings.Contains(e.Reason, "stopped: parsing took longer than 1ns") {
		t.Errorf("status %s, reason %q; want the parse stopped by its deadline", e.Status, e.Reason)
	}
	checkExactlyOnce(t, w.dovecot, w.st, expectation{user: user, cases: cases, review: []mail{bySender}, ignored: []mail{ordinary}})
}

// A message whose own reading spends the work budget (set tiny here) is
// stopped: tied to its case, it goes to review with the reason.
func TestWorkBudgetSpentGoesToReview(t *testing.T) {
	t.Parallel()
	w := newWorldWith(t, func(o *intake.Options) { o.Parse.MaxWork = 100 })
	cases := openLostEmail(t, w.desk, w.st, "spent", 1)
	c := newCorpus("spent")
	m := c.caseMail(cases[0], 3000)
	if err := w.dovecot.Deliver(w.dovecot.User(), m.Raw); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pipeline.Drain(context.Background(), w.conn()); err != nil {
		t.Fatal(err)
	}
	if e := reasons(t, w.st)[m.MessageID]; !strings.Contains(e.Reason, "parser: stopped: work budget spent") {
		t.Errorf("status %s, reason %q; want the work budget as the reason", e.Status, e.Reason)
	}
	checkExactlyOnce(t, w.dovecot, w.st, expectation{user: w.dovecot.User(), cases: cases, review: []mail{m}})
}
