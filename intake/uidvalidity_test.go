package intake_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"github.com/recoverybot/recoverybot/store"
)

// The server renumbers INBOX under a new UIDVALIDITY (RFC 3501 section
// 2.3.1.1: an index rebuild, a migration) while it holds ordinary mail
// already seen, mail not seen yet, and a message about a case whose move
// was committed but never done. Every message is met again under a new
// UID: none is counted twice, the ordinary mail stays untouched, the
// pending message still reaches the processed folder, and the change is
// in the audit log.
func TestUIDValidityChangeCountsNothingTwice(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cases := openLostEmail(t, w.desk, w.st, "uidv", 6)
	c := newCorpus("uidv")
	user := w.dovecot.User()
	var tied, ignored []mail
	for i := range 40 {
		if i%4 == 0 {
			tied = append(tied, c.caseMail(cases[i%len(cases)], 6000))
		} else {
			ignored = append(ignored, c.supportMail(2000+i*100, i%3 == 0))
		}
	}
	if err := w.dovecot.SaveMany(user, "INBOX", raws(append(append([]mail{}, tied...), ignored...))); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := w.pipeline.Drain(ctx, w.conn()); err != nil {
		t.Fatal(err)
	}
	before, err := w.dovecot.UIDValidity(user, "INBOX")
	if err != nil {
		t.Fatal(err)
	}

	// A crash between the commit of one message and its move: the
	// message is back in INBOX and its move still pending.
	pending := tied[0]
	if _, err := w.dovecot.Doveadm("move", "-u", user, "INBOX", "mailbox", "Recovery.Processed", "header", "Message-ID", pending.MessageID); err != nil {
		t.Fatal(err)
	}
	unmove(t, w.dbFile, pending.MessageID)

	// New mail arrives that nobody has seen yet.
	var fresh []mail
	for i := range 10 {
		if i%2 == 0 {
			m := c.caseMail(cases[i%len(cases)], 6000)
			tied, fresh = append(tied, m), append(fresh, m)
		} else {
			m := c.supportMail(3000, false)
			ignored, fresh = append(ignored, m), append(fresh, m)
		}
	}
	if err := w.dovecot.SaveMany(user, "INBOX", raws(fresh)); err != nil {
		t.Fatal(err)
	}
	if err := w.dovecot.RecreateMailbox(user, "INBOX"); err != nil {
		t.Fatal(err)
	}
	after, _ := w.dovecot.UIDValidity(user, "INBOX")

	stats, err := w.pipeline.Drain(ctx, w.conn())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("UIDVALIDITY %d -> %d; drain after the change: %+v", before, after, stats)
	// Met again: the 30 ordinary messages seen before and the pending one.
	dups := map[string]int{pending.MessageID: 1}
	for _, m := range ignored[:30] {
		dups[m.MessageID] = 1
	}
	if stats.Duplicates != len(dups) || stats.Processed != 5 || stats.Moved != 6 {
		t.Errorf("drain after the change: %+v, want %d duplicates, 5 processed, 6 moved", stats, len(dups))
	}
	checkExactlyOnce(t, w.dovecot, w.st, expectation{user: user, cases: cases, tied: tied, ignored: ignored, duplicates: dups})

	n := 0
	if err := w.st.View(ctx, func(tx *store.Tx) error {
		evs, err := tx.AuditEvents(store.AuditFilter{})
		for _, e := range evs {
			if e.Action == "uidvalidity_changed" {
				n++
				if e.Details["old"] != fmt.Sprint(before) || e.Details["new"] != fmt.Sprint(after) {
					t.Errorf("uidvalidity_changed details %v, want old %d new %d", e.Details, before, after)
				}
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d uidvalidity_changed events, want 1", n)
	}
	// Nothing left to do.
	if stats, err := w.pipeline.Drain(ctx, w.conn()); err != nil || stats.Fetched != 0 || stats.Moved != 0 {
		t.Errorf("drain after that: %+v, %v; want nothing", stats, err)
	}
}

// unmove makes the ledger forget that a message was moved, as a crash
// between the commit and the move leaves it. The store rightly has no API
// for such an undoing: the test writes the row directly.
func unmove(t *testing.T, dbFile, messageID string) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+dbFile+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(`UPDATE messages SET moved_at = NULL WHERE message_id = ? AND moved_at IS NOT NULL`, messageID)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("unmove %s: %d rows", messageID, n)
	}
}
