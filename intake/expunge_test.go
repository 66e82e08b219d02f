package intake_test

import (
	"bytes"
	"context"
	"database/sql"
	"strconv"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot/store"
)

// A purged case leaves nothing in clear on the server either: its
// messages, which recoverybot moved to the processed folder (a second
// delivery with them), are expunged from there, found by the UID the
// server gave them or, when it did not say, by Message-ID; the open
// case's message stays, as does the ordinary mail in INBOX, and a second
// run changes nothing.
func TestExpungeRemovesAPurgedCasesMessagesFromTheServer(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	cases := openLostEmail(t, w.desk, w.st, "exp", 2)
	c := newCorpus("expunge")
	purged, kept := c.caseMail(cases[0], 8000), c.caseMail(cases[1], 8000)
	ordinary := c.supportMail(3000, false)
	user := w.dovecot.User()
	for _, raw := range [][]byte{purged.Raw, ordinary.Raw, kept.Raw, trace("mx2", purged.Raw)} {
		if err := w.dovecot.Deliver(user, raw); err != nil {
			t.Fatal(err)
		}
	}
	conn := w.conn()
	stats, err := w.pipeline.Drain(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Processed != 2 || stats.Duplicates != 1 || stats.Moved != 3 {
		t.Fatalf("drain = %+v, want 2 processed, 1 duplicate, 3 moved", stats)
	}
	// Each move recorded where the message went (COPYUID).
	validity, err := w.dovecot.UIDValidity(user, "Recovery.Processed")
	if err != nil {
		t.Fatal(err)
	}
	onServer := map[uint32]string{}
	for _, m := range folderContents(t, w.dovecot, user, "Recovery.Processed") {
		onServer[m.UID] = m.MessageID
	}
	var duplicate int64
	for _, e := range ledger(t, w.st) {
		if e.MoveTo == "" {
			continue
		}
		if e.MovedFolder != "Recovery.Processed" || e.MovedUIDValidity != validity || onServer[e.MovedUID] != e.MessageID {
			t.Errorf("message %s moved to %q %d/%d; the server holds it in Recovery.Processed %d/?", e.MessageID,
				e.MovedFolder, e.MovedUIDValidity, e.MovedUID, validity)
		}
		if e.Status == store.LedgerDuplicate {
			duplicate = e.ID
		}
	}
	// As if the second copy had been moved by a server that did not
	// say where it went: it is found by its Message-ID.
	forgetUID(t, w.dbFile, duplicate)

	if n, err := w.pipeline.Expunge(ctx, conn); err != nil || n != 0 {
		t.Fatalf("Expunge before any purge = %d, %v; want nothing", n, err)
	}
	if _, err := w.desk.Reject(ctx, cases[0].Ref, "alice", "not the holder"); err != nil {
		t.Fatal(err)
	}
	counts, err := w.st.Purge(ctx, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if counts.Cases != 1 || counts.Expunges != 2 {
		t.Fatalf("Purge = %+v, want 1 case and its 2 moved messages queued", counts)
	}
	n, err := w.pipeline.Expunge(ctx, conn)
	if err != nil || n != 2 {
		t.Fatalf("Expunge = %d, %v; want 2", n, err)
	}

	// Only the open case's message is left in the processed folder; no
	// folder holds a byte of the purged message.
	if got := folderContents(t, w.dovecot, user, "Recovery.Processed"); len(got) != 1 || got[0].MessageID != kept.MessageID {
		t.Errorf("processed folder holds %+v, want the open case's message alone", got)
	}
	if got := folderContents(t, w.dovecot, user, "INBOX"); len(got) != 1 || got[0].MessageID != ordinary.MessageID || len(got[0].Flags) != 0 {
		t.Errorf("INBOX holds %+v, want the ordinary mail, untouched", got)
	}
	needles := map[string][]byte{"Message-ID": []byte(purged.MessageID), "attachment": base64Line(t, purged.Raw)}
	boxes, err := w.dovecot.Mailboxes(user)
	if err != nil {
		t.Fatal(err)
	}
	for _, box := range boxes {
		out, err := w.dovecot.Doveadm("fetch", "-u", user, "hdr body", "mailbox", box, "all")
		if err != nil {
			t.Fatal(err)
		}
		for what, needle := range needles {
			if bytes.Contains(out, needle) {
				t.Errorf("folder %s still holds the purged message's %s", box, what)
			}
		}
		if box == "Recovery.Processed" && !bytes.Contains(out, base64Line(t, kept.Raw)) {
			t.Errorf("folder %s lost the open case's attachment", box)
		}
	}
	// In the audit log: one event per folder and UIDVALIDITY looked in,
	// here two (by UID, by Message-ID), with the count.
	expunged := map[string]int{}
	if err := w.st.View(ctx, func(tx *store.Tx) error {
		evs, err := tx.AuditEvents(store.AuditFilter{})
		for _, e := range evs {
			if e.Action == "messages_expunged" {
				n, _ := strconv.Atoi(e.Details["messages"])
				expunged[e.CaseRef] += n
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if expunged[cases[0].Ref] != 2 || len(expunged) != 1 {
		t.Errorf("messages_expunged events count %v, want 2 messages of %s", expunged, cases[0].Ref)
	}

	// The connection is as Drain left it; a second run changes nothing.
	if stats, err := w.pipeline.Drain(ctx, conn); err != nil || stats.Fetched != 0 || stats.Moved != 0 {
		t.Errorf("drain after Expunge = %+v, %v; want nothing", stats, err)
	}
	if n, err := w.pipeline.Expunge(ctx, conn); err != nil || n != 0 {
		t.Errorf("second Expunge = %d, %v; want nothing", n, err)
	}
	if got := folderContents(t, w.dovecot, user, "Recovery.Processed"); len(got) != 1 {
		t.Errorf("processed folder holds %d messages after a second run, want 1", len(got))
	}
}

// base64Line returns a full line of the base64 attachment of a message.
func base64Line(t *testing.T, raw []byte) []byte {
	t.Helper()
	lines := bytes.Split(raw, []byte("\r\n"))
	for _, l := range lines[len(lines)/2:] {
		if len(l) == 76 && !bytes.ContainsAny(l, " :") {
			return l
		}
	}
	t.Fatal("no base64 line in the message")
	return nil
}

// forgetUID makes the ledger forget the UID a message got where it was
// moved, as a server without UIDPLUS leaves it.
func forgetUID(t *testing.T, dbFile string, id int64) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+dbFile+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(`UPDATE messages SET moved_validity = NULL, moved_uid = NULL WHERE id = ? AND moved_uid IS NOT NULL`, id)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("forget the UID of message #%d: %d rows", id, n)
	}
}
