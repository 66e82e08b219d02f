package intake_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"

	"github.com/recoverybot/recoverybot/intake"
	"github.com/recoverybot/recoverybot/store"
)

// Reconcile finds a message delivered while nothing was watching: two
// messages (one about a case, one ordinary) that arrived while the
// ledger's position went past them. That is what a server that makes a
// message visible after a higher UID leaves behind (its UID given first,
// its delivery committed last), and what a ledger that lost its last rows
// does; the test makes it by moving the position on past them, as the
// commit of a later message would have. Drain, which lists what is above
// the position, does not see them; Reconcile takes both through the
// pipeline, the case message to the processed folder. Meanwhile support
// deleted an ordinary message recoverybot had recorded (vanished:
// reported, its row kept), and a crash came between a move and its
// record (the move is redone). New mail is taken as Drain would. A
// second run finds nothing.
func TestReconcileFindsMailDeliveredWhileNothingWatched(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	cases := openLostEmail(t, w.desk, w.st, "rec", 2)
	c := newCorpus("reconcile")
	user := w.dovecot.User()
	deliver := func(ms ...mail) {
		t.Helper()
		for _, m := range ms {
			if err := w.dovecot.Deliver(user, m.Raw); err != nil {
				t.Fatal(err)
			}
		}
	}
	deleted, earlier := c.supportMail(2000, false), c.caseMail(cases[1], 5000)
	deliver(deleted, earlier) // UIDs 1, 2
	conn := w.conn()
	if _, err := w.pipeline.Drain(ctx, conn); err != nil {
		t.Fatal(err)
	}

	missedCase, missedOrdinary := c.caseMail(cases[0], 5000), c.supportMail(2500, true)
	deliver(missedCase, missedOrdinary) // UIDs 3, 4
	setPosition(t, w.dbFile, 4)
	if stats, err := w.pipeline.Drain(ctx, conn); err != nil || stats.Fetched != 0 {
		t.Fatalf("Drain = %+v, %v; want it blind to what is below its position", stats, err)
	}

	unmove(t, w.dbFile, earlier.MessageID)
	if _, err := w.dovecot.Doveadm("expunge", "-u", user, "mailbox", "INBOX", "header", "Message-ID", deleted.MessageID); err != nil {
		t.Fatal(err)
	}
	fresh := c.supportMail(1800, false)
	deliver(fresh) // UID 5

	r, err := w.pipeline.Reconcile(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	want := intake.ReconcileReport{Missed: 2, Vanished: 1, MovesRedone: 1,
		Stats: intake.Stats{Fetched: 3, Processed: 1, Ignored: 2, Moved: 2}}
	if r != want {
		t.Errorf("Reconcile = %+v, want %+v", r, want)
	}
	if got := r.Counts(); got["missed"] != 2 || got["vanished"] != 1 || got["moves_redone"] != 1 || got["validity_changed"] != 0 || got["processed"] != 1 {
		t.Errorf("Counts = %v", got)
	}

	// The missed case message is processed, once, and moved; the
	// ordinary mail stays in INBOX as it was; the deleted message's row
	// is kept, marked.
	inFolder := func(folder string) []string {
		var ids []string
		for _, m := range folderContents(t, w.dovecot, user, folder) {
			if folder == "INBOX" && len(m.Flags) != 0 {
				t.Errorf("INBOX: %s has flags %v", m.MessageID, m.Flags)
			}
			ids = append(ids, m.MessageID)
		}
		slices.Sort(ids)
		return ids
	}
	if got, want := inFolder("Recovery.Processed"), sorted(earlier.MessageID, missedCase.MessageID); !slices.Equal(got, want) {
		t.Errorf("processed folder holds %v, want %v", got, want)
	}
	if got, want := inFolder("INBOX"), sorted(missedOrdinary.MessageID, fresh.MessageID); !slices.Equal(got, want) {
		t.Errorf("INBOX holds %v, want %v", got, want)
	}
	rows := map[string]store.Entry{}
	for _, e := range ledger(t, w.st) {
		rows[e.MessageID] = e
	}
	if e := rows[missedCase.MessageID]; e.Status != store.LedgerProcessed || e.MovedAt == nil || e.UID != 3 {
		t.Errorf("missed case message: %+v, want UID 3 processed and moved", e)
	}
	if e := rows[deleted.MessageID]; e.ID == 0 || e.Status != store.LedgerIgnored {
		t.Errorf("deleted message's row = %+v, want it kept", e)
	}
	if n := len(rows); n != 5 {
		t.Errorf("ledger holds %d messages, want 5", n)
	}
	if ev := auditCount(t, w.st, "message_apply"); ev[cases[0].Ref] != 1 {
		t.Errorf("message_apply events = %v, want one for %s", ev, cases[0].Ref)
	}
	if last := position(t, w.st); last != 5 {
		t.Errorf("position after Reconcile = %d, want 5 (never back)", last)
	}

	// Again: nothing new.
	r, err = w.pipeline.Reconcile(ctx, conn)
	if err != nil || r != (intake.ReconcileReport{}) {
		t.Errorf("second Reconcile = %+v, %v; want nothing", r, err)
	}
}

// A renumbered mailbox is reported: every message is met again (as a
// duplicate of itself) and nothing is counted missed or vanished.
func TestReconcileReportsAUIDValidityChange(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	c := newCorpus("recuidv")
	for _, m := range []mail{c.supportMail(2000, false), c.supportMail(3000, false)} {
		if err := w.dovecot.Deliver(w.dovecot.User(), m.Raw); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.pipeline.Drain(ctx, w.conn()); err != nil {
		t.Fatal(err)
	}
	if err := w.dovecot.RecreateMailbox(w.dovecot.User(), "INBOX"); err != nil {
		t.Fatal(err)
	}
	r, err := w.pipeline.Reconcile(ctx, w.conn())
	if err != nil {
		t.Fatal(err)
	}
	if !r.ValidityChanged || r.Missed != 0 || r.Vanished != 0 || r.Stats.Duplicates != 2 || r.Counts()["validity_changed"] != 1 {
		t.Errorf("Reconcile after a renumbering = %+v", r)
	}
	if r, err := w.pipeline.Reconcile(ctx, w.conn()); err != nil || r != (intake.ReconcileReport{}) {
		t.Errorf("second Reconcile = %+v, %v; want nothing", r, err)
	}
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

// setPosition moves the ledger's position in INBOX, as the commit of a
// message with that UID does. The store rightly has no API for it.
func setPosition(t *testing.T, dbFile string, uid uint32) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+dbFile+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE mailbox_state SET last_uid = ? WHERE mailbox = 'INBOX'`, uid); err != nil {
		t.Fatal(err)
	}
}

func position(t *testing.T, st *store.Store) uint32 {
	t.Helper()
	var last uint32
	if err := st.View(context.Background(), func(tx *store.Tx) error {
		_, l, found, err := tx.MailboxState("INBOX")
		if !found && err == nil {
			err = fmt.Errorf("no mailbox state")
		}
		last = l
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return last
}
