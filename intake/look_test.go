package intake_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/store"
)

// Ordinary mail, attachments and all, is looked at and never downloaded:
// the client fetches a small part of its bytes, and every ordinary
// message is left unseen and unmoved in INBOX with no copy of it kept.
func TestOrdinaryMailIsNeverDownloaded(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cases := openLostEmail(t, w.desk, w.st, "glance", 1)
	c := newCorpus("glance")
	var ignored []mail
	ordinaryBytes := 0
	for i := range 30 {
		m := c.supportMail(200<<10, i%2 == 0)
		ignored = append(ignored, m)
		ordinaryBytes += len(m.Raw)
	}
	tied := []mail{c.caseMail(cases[0], 3000)}
	user := w.dovecot.User()
	if err := w.dovecot.SaveMany(user, "INBOX", raws(append(ignored[:15:15], append(tied, ignored[15:]...)...))); err != nil {
		t.Fatal(err)
	}
	conn := w.conn()
	stats, err := w.pipeline.Drain(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Fetched != 31 || stats.Processed != 1 || stats.Ignored != 30 || stats.Moved != 1 {
		t.Errorf("stats = %+v, want 31 fetched, 1 processed and moved, 30 ignored", stats)
	}
	// The case message whole, and of each ordinary one its header and the
	// first 16 KiB of its text at most.
	got := conn.Stats().Message
	if limit := int64(len(tied[0].Raw) + 30*(16<<10+4<<10)); got > limit {
		t.Errorf("fetched %d bytes of messages, want at most %d: the %d bytes of ordinary mail were downloaded", got, limit, ordinaryBytes)
	}
	checkExactlyOnce(t, w.dovecot, w.st, expectation{user: user, cases: cases, tied: tied, ignored: ignored})
	for _, e := range ledger(t, w.st) {
		if e.MessageID != tied[0].MessageID && (e.Status != store.LedgerIgnored || e.HasRaw || e.Sender == "") {
			t.Errorf("ordinary message %s: %s, raw kept %v, sender %q; want ignored, no copy, its sender recorded",
				e.MessageID, e.Status, e.HasRaw, e.Sender)
		}
	}
	if n := spoolRows(t, w.dbFile); n != 0 {
		t.Errorf("%d messages left in the spool", n)
	}
}

// A case message whose only reference is in a forwarded message's
// subject, in an HTML-only body, or whose only tie is a References header
// naming our mail, is found by the look and downloaded; and a message
// whose outline the server cannot give (here, a header longer than a look
// fetches) is downloaded and judged whole.
func TestLookFindsCaseMailEverywhere(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	cases := openLostEmail(t, w.desk, w.st, "where", 4)
	var ours string // the Message-ID of the instructions of cases[2]
	if err := w.st.View(ctx, func(tx *store.Tx) error {
		mail, err := tx.Outbox(store.OutboxFilter{CaseID: cases[2].ID})
		if err == nil && len(mail) > 0 {
			ours = mail[0].MessageID
		}
		return err
	}); err != nil || ours == "" {
		t.Fatalf("the instructions of %s: %q, %v", cases[2].Ref, ours, err)
	}
	c := newCorpus("where")
	from := "Someone <someone@elsewhere.example>" // no case's contact: the sender pulls nothing
	head := func(id, subject, extra string) string {
		return fmt.Sprintf("From: %s\r\nTo: contact@hosting.example\r\nSubject: %s\r\nMessage-ID: <%s>\r\n%sMIME-Version: 1.0\r\n",
			from, subject, id, extra)
	}
	id := c.nextID()
	forwarded := mail{MessageID: id, Case: cases[0].Ref, Raw: []byte(head(id, "Fwd: a mail for you", "") +
		"Content-Type: multipart/mixed; boundary=f\r\n\r\n--f\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n" +
		"--f\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@elsewhere.example\r\nSubject: =?utf-8?q?R=C3=A9cup=C3=A9ration_" + cases[0].Ref + "?=\r\n" +
		"Message-ID: <inner." + id + ">\r\n\r\nThe forwarded text.\r\n--f--\r\n")}
	id = c.nextID()
	html := mail{MessageID: id, Case: cases[1].Ref, Raw: []byte(head(id, "Bonjour", "") +
		"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"<html><body><p>Mon dossier&nbsp;: <b>" + cases[1].Ref + "</b></p></body></html>\r\n")}
	id = c.nextID()
	thread := mail{MessageID: id, Case: cases[2].Ref, Raw: []byte(head(id, "Re: your mail", "References: <"+ours+">\r\n") +
		"Content-Type: text/plain\r\n\r\nHere it is.\r\n")}
	id = c.nextID()
	undescribed := mail{MessageID: id, Case: cases[3].Ref, Raw: overLook([]byte(head(id, "About "+cases[3].Ref, "") +
		"Content-Type: text/plain\r\n\r\nHello.\r\n"))}
	ordinary := c.supportMail(2000, false)
	all := []mail{ordinary, forwarded, html, thread, undescribed}
	user := w.dovecot.User()
	if err := w.dovecot.SaveMany(user, "INBOX", raws(all)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pipeline.Drain(ctx, w.conn()); err != nil {
		t.Fatal(err)
	}
	byID := map[string]store.Entry{}
	for _, e := range ledger(t, w.st) {
		byID[e.MessageID] = e
	}
	for name, m := range map[string]mail{"forwarded subject": forwarded, "HTML only": html, "References": thread, "no outline": undescribed} {
		var want lostCase
		for _, lc := range cases {
			if lc.Ref == m.Case {
				want = lc
			}
		}
		e := byID[m.MessageID]
		if e.CaseID != want.ID || e.Status == store.LedgerIgnored || e.MoveTo == "" {
			t.Errorf("%s: %s, case #%d, move to %q (%s); want tied to %s (#%d) and moved", name, e.Status, e.CaseID, e.MoveTo, e.Reason, want.Ref, want.ID)
		}
	}
	if e := byID[ordinary.MessageID]; e.Status != store.LedgerIgnored || e.HasRaw {
		t.Errorf("the ordinary message: %s, raw kept %v", e.Status, e.HasRaw)
	}
}

// A message passed over by its look, whose case an agent opens before
// the pass is committed, is queued for its case's look-back, which
// downloads it and ties it to the case.
func TestPassedOverBeforeItsCaseIsLookedBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	cases := openLostEmail(t, w.desk, w.st, "early", 1)
	importLate(t, w.desk, "early")
	c := newCorpus("early")
	first := c.caseMail(cases[0], 2000)
	lateID := c.nextID()
	late := mail{MessageID: lateID, Raw: compose(lateID, "Client <early@new.example>", "Mes papiers",
		"Bonjour,\r\nvoici ma carte d'identité.\r\n", map[string][]byte{"cni.jpg": jpeg})}
	user := w.dovecot.User()
	if err := w.dovecot.SaveMany(user, "INBOX", raws([]mail{first, late})); err != nil {
		t.Fatal(err)
	}
	var lateCase desk.Summary
	var once sync.Once
	w.pipeline.SetParseHook(func([]byte) {
		// The case mail's parse: the late message was passed over already.
		once.Do(func() {
			var err error
			lateCase, err = w.desk.Open(ctx, desk.OpenRequest{ProfileID: "early", Kind: recoverybot.KindLostEmail,
				Contact: "early@new.example", By: "alice"})
			if err != nil {
				t.Error(err)
			}
		})
	})
	conn := w.conn()
	stats, err := w.pipeline.Drain(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Processed != 1 || stats.Ignored != 1 {
		t.Errorf("drain: %+v, want the case mail processed and the late one passed over", stats)
	}
	if lateCase.Ref == "" {
		t.Fatal("the late case was not opened during the drain")
	}
	stats, err = w.pipeline.Lookback(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Processed != 1 || stats.Moved != 1 {
		t.Errorf("look-back: %+v, want the late message processed and moved", stats)
	}
	cases = append(cases, caseOf(t, w.st, lateCase.Ref))
	late.Case = lateCase.Ref
	checkExactlyOnce(t, w.dovecot, w.st, expectation{user: user, cases: cases, tied: []mail{first, late}})
}
