package intake_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/intake"
	"github.com/recoverybot/recoverybot/store"
)

// lookbackDesk is w's desk looking back two weeks, as the daemon's does.
func (w *world) lookbackDesk() *desk.Desk {
	return desk.New(w.st, w.key, desk.Options{From: w.letters.From, Provider: w.letters.Provider,
		MessageIDKey: w.letters.MessageIDKey, Lookback: 14 * 24 * time.Hour})
}

// entryOf returns the ledger row of a message by its Message-ID.
func entryOf(t *testing.T, st *store.Store, raw []byte) store.Entry {
	t.Helper()
	mid := messageIDOf(raw)
	for _, e := range ledger(t, st) {
		if e.MessageID == mid {
			return e
		}
	}
	t.Fatalf("no ledger row for %s", mid)
	return store.Entry{}
}

func messageIDOf(raw []byte) string {
	_, rest, _ := strings.Cut(string(raw), "Message-ID: <")
	mid, _, _ := strings.Cut(rest, ">")
	return mid
}

// The customer writes before the case is opened: the drain leaves the
// message alone, as it is about no case. Once the agent opens the case,
// Lookback takes the customer's earlier messages for it, in UID order:
// their evidence is recorded, they reach the processed folder with their
// raw copy kept, and nothing is taken twice. An unrelated earlier message
// is not touched.
func TestLookbackTakesEarlierMail(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	user := w.dovecot.User()
	auth := trustedID + "; spf=pass smtp.mailfrom=example.org; dmarc=pass header.from=example.org"
	first := customerMail("jean@example.org", "Je ne peux plus me connecter", "Bonjour, mon application TOTP est perdue.", auth, nil)
	stranger := customerMail("someone@else.example", "Question about my invoice", "Hello", "", nil)
	second := customerMail("jean@example.org", "Ma carte d'identité", "Voici ma carte d'identité.", auth,
		map[string][]byte{"cni.jpg": jpeg})
	// After the customer's last message, so that taking it again must not
	// move the mailbox position back.
	later := customerMail("other@else.example", "Domain renewal", "Hi", "", nil)
	for _, raw := range [][]byte{first, stranger, second, later} {
		if err := w.dovecot.Deliver(user, raw); err != nil {
			t.Fatal(err)
		}
	}
	stats, err := w.pipeline.Drain(ctx, w.conn())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Fetched != 4 || stats.Ignored != 4 || stats.Moved != 0 {
		t.Fatalf("drain before the case = %+v, want 4 fetched and ignored", stats)
	}

	s, err := w.lookbackDesk().Open(ctx, desk.OpenRequest{ProfileID: "p-1", Kind: recoverybot.KindTOTPLockout, By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if s.EarlierMessages == nil || *s.EarlierMessages != 2 {
		t.Fatalf("cases open found %v earlier messages, want 2", s.EarlierMessages)
	}
	if has, err := w.st.HasPendingLookbacks(ctx); err != nil || !has {
		t.Fatalf("HasPendingLookbacks = %v, %v; want true", has, err)
	}

	var reports []intake.Report
	opts := w.opts
	opts.OnMessage = func(r intake.Report) { reports = append(reports, r) }
	pipeline := intake.New(w.st, opts)
	stats, err = pipeline.Lookback(ctx, w.conn())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Fetched != 2 || stats.Processed != 2 || stats.Moved != 2 {
		t.Errorf("lookback = %+v, want 2 fetched, processed and moved", stats)
	}
	if len(reports) != 2 || reports[0].UID >= reports[1].UID || reports[0].CaseRef != s.Ref {
		t.Errorf("reports %+v, want the two messages for %s in UID order", reports, s.Ref)
	}

	got, err := w.desk.Show(ctx, s.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if !got.SenderVerified || len(got.Documents) != 1 || got.State != recoverybot.StateAwaitingEvidence ||
		len(got.Missing) != 1 || got.Missing[0] != recoverybot.NeedCode {
		t.Errorf("case after its earlier mail = %+v, want the sender verified, the identity card, the code missing", got)
	}
	var caseID int64
	for _, raw := range [][]byte{first, second} {
		e := entryOf(t, w.st, raw)
		if e.Status != store.LedgerProcessed || e.CaseID == 0 || e.MoveTo != "Recovery/Processed" || e.MovedAt == nil || !e.HasRaw {
			t.Errorf("earlier message %s: status %s (%s), case %d, move to %q, moved %v, raw %v; want processed, moved, raw kept",
				e.MessageID, e.Status, e.Reason, e.CaseID, e.MoveTo, e.MovedAt, e.HasRaw)
		}
		caseID = e.CaseID
		if err := w.st.View(ctx, func(tx *store.Tx) error {
			kept, err := tx.MessageRaw(e.ID)
			if err == nil && !bytes.Contains(kept, []byte(e.MessageID)) {
				t.Errorf("raw copy of %s is not the message", e.MessageID)
			}
			return err
		}); err != nil {
			t.Errorf("raw copy of %s: %v", e.MessageID, err)
		}
	}
	if err := w.st.View(ctx, func(tx *store.Tx) error {
		ev, err := tx.EvidenceOf(caseID)
		if len(ev) != 2 {
			t.Errorf("case %s: %d evidence rows, want 2", s.Ref, len(ev))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, raw := range [][]byte{stranger, later} {
		if e := entryOf(t, w.st, raw); e.Status != store.LedgerIgnored || e.CaseID != 0 || e.MoveTo != "" || e.HasRaw {
			t.Errorf("unrelated message: status %s, case %d, move to %q, raw %v; want it left alone", e.Status, e.CaseID, e.MoveTo, e.HasRaw)
		}
	}
	inbox := folderContents(t, w.dovecot, user, "INBOX")
	if len(inbox) != 2 || inbox[0].MessageID != messageIDOf(stranger) || inbox[1].MessageID != messageIDOf(later) ||
		len(inbox[0].Flags)+len(inbox[1].Flags) != 0 {
		t.Errorf("INBOX holds %+v, want the unrelated messages alone, unflagged", inbox)
	}
	if n, _ := w.dovecot.Count(user, "Recovery.Processed"); n != 2 {
		t.Errorf("processed folder holds %d messages, want 2", n)
	}

	// Exactly once: nothing is left to take, by Lookback or by Drain.
	if has, err := w.st.HasPendingLookbacks(ctx); err != nil || has {
		t.Errorf("HasPendingLookbacks after = %v, %v; want false", has, err)
	}
	if stats, err := pipeline.Lookback(ctx, w.conn()); err != nil || stats != (intake.Stats{}) {
		t.Errorf("second lookback = %+v, %v; want nothing", stats, err)
	}
	if stats, err := w.pipeline.Drain(ctx, w.conn()); err != nil || stats.Fetched != 0 || stats.Moved != 0 {
		t.Errorf("drain after = %+v, %v; want nothing", stats, err)
	}
	if n := auditCount(t, w.st, "message_apply")[s.Ref] + auditCount(t, w.st, "message_record")[s.Ref]; n != 2 {
		t.Errorf("%d message events for the case, want 2", n)
	}
}

// A queued message that left the mailbox before the lookback is only
// marked done, and the others are taken; under a new UIDVALIDITY nothing
// queued before is fetched.
func TestLookbackSkipsWhatChanged(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	user := w.dovecot.User()
	auth := trustedID + "; spf=pass smtp.mailfrom=example.org; dmarc=pass header.from=example.org"
	gone := customerMail("jean@example.org", "Bonjour", "Mon compte est bloqué.", auth, nil)
	kept := customerMail("jean@example.org", "Encore moi", "Toujours bloqué.", auth, nil)
	for _, raw := range [][]byte{gone, kept} {
		if err := w.dovecot.Deliver(user, raw); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.pipeline.Drain(ctx, w.conn()); err != nil {
		t.Fatal(err)
	}
	d := w.lookbackDesk()
	if s, err := d.Open(ctx, desk.OpenRequest{ProfileID: "p-1", Kind: recoverybot.KindTOTPLockout, By: "alice"}); err != nil || *s.EarlierMessages != 2 {
		t.Fatalf("open: %v, %v", s.EarlierMessages, err)
	}
	// Support deletes one before the daemon gets to it.
	if _, err := w.dovecot.Doveadm("expunge", "-u", user, "mailbox", "INBOX", "header", "Message-ID", messageIDOf(gone)); err != nil {
		t.Fatal(err)
	}
	stats, err := w.pipeline.Lookback(ctx, w.conn())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Fetched != 1 || stats.Processed != 1 || stats.Moved != 1 {
		t.Errorf("lookback = %+v, want the one message left fetched, processed and moved", stats)
	}
	if e := entryOf(t, w.st, gone); e.Status != store.LedgerIgnored || e.CaseID != 0 {
		t.Errorf("vanished message: status %s, case %d; want it as it was", e.Status, e.CaseID)
	}
	if has, err := w.st.HasPendingLookbacks(ctx); err != nil || has {
		t.Errorf("HasPendingLookbacks = %v, %v; want false", has, err)
	}

	// New mail from another customer, drained, then a case opened for
	// it; the server renumbers the mailbox before the lookback.
	late := customerMail("new@acme.example", "Lost access", "I no longer have the old address.", "", nil)
	if err := w.dovecot.Deliver(user, late); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pipeline.Drain(ctx, w.conn()); err != nil {
		t.Fatal(err)
	}
	if s, err := d.Open(ctx, desk.OpenRequest{ProfileID: "p-2", Kind: recoverybot.KindLostEmail, Contact: "new@acme.example", By: "alice"}); err != nil || *s.EarlierMessages != 1 {
		t.Fatalf("open: %v, %v", s.EarlierMessages, err)
	}
	if err := w.dovecot.RecreateMailbox(user, "INBOX"); err != nil {
		t.Fatal(err)
	}
	stats, err = w.pipeline.Lookback(ctx, w.conn())
	if err != nil || stats != (intake.Stats{}) {
		t.Errorf("lookback under a new UIDVALIDITY = %+v, %v; want nothing fetched", stats, err)
	}
	if has, err := w.st.HasPendingLookbacks(ctx); err != nil || has {
		t.Errorf("HasPendingLookbacks = %v, %v; want false", has, err)
	}
	if e := entryOf(t, w.st, late); e.Status != store.LedgerIgnored || e.CaseID != 0 || e.MovedAt != nil {
		t.Errorf("renumbered message: status %s, case %d, moved %v; want it as it was", e.Status, e.CaseID, e.MovedAt)
	}
}
