package intake_test

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/store"
)

// dsn is a delivery status notification about the mail whose Message-ID
// is id, as a remote MTA returns it.
func dsn(id string) []byte {
	return []byte("From: MAILER-DAEMON@mx.example.org\r\nTo: contact@hosting.example\r\nSubject: Undelivered Mail Returned to Sender\r\n" +
		"Date: Tue, 3 Mar 2026 10:00:00 +0000\r\nMessage-ID: <" + id + ".dsn@mx.example.org>\r\nAuto-Submitted: auto-replied\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=r\r\n\r\n" +
		"--r\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n" +
		"--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n" +
		"Final-Recipient: rfc822; jean@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
		"--r\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: contact@hosting.example\r\nTo: jean@example.org\r\nMessage-ID: <" + id + ">\r\n" +
		"--r--\r\n")
}

// unkeyedMessageID is how the Message-ID of our mail was made before it
// was keyed: from the case reference alone, so anyone could compute it.
func unkeyedMessageID(ref, event, domain string) string {
	sum := sha256.Sum256([]byte("recoverybot message-id v1\x00" + ref + "\x00" + event + "\x00" + domain))
	hash := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:5]))
	return strings.ToLower(ref) + "." + event + "." + hash + "@" + domain
}

// TestForgedBounce: a bounce counts for a case only when it names a
// Message-ID we sent, and ours cannot be computed from a reference.
func TestForgedBounce(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	s, err := w.desk.Open(ctx, desk.OpenRequest{ProfileID: "p-1", Kind: recoverybot.KindTOTPLockout, By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	var sent string
	w.st.View(ctx, func(tx *store.Tx) error {
		c, _ := tx.CaseByRef(s.Ref)
		mail, _ := tx.Outbox(store.OutboxFilter{CaseID: c.ID})
		if len(mail) != 1 || mail[0].Template != "instructions" {
			t.Fatalf("outbox: %+v", mail)
		}
		sent = mail[0].MessageID
		return nil
	})
	forged := unkeyedMessageID(s.Ref, "instructions-1", "hosting.example")
	if forged == sent {
		t.Errorf("our Message-ID %s is computed from the reference alone", sent)
	}
	flagged := func() bool {
		got, err := w.desk.Show(ctx, s.Ref)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Contains(got.Flags, "code email bounced")
	}

	user := w.dovecot.User()
	for _, id := range []string{forged, strings.Replace(sent, "@", "x@", 1), fmt.Sprintf("%s.instructions-1.aaaaaaaaaaaaaaaa@hosting.example", strings.ToLower(s.Ref))} {
		w.dovecot.Deliver(user, dsn(id))
	}
	if _, err := w.pipeline.Drain(ctx, w.conn()); err != nil {
		t.Fatal(err)
	}
	if flagged() {
		t.Fatal("a bounce naming a Message-ID we never sent flagged the case")
	}

	w.dovecot.Deliver(user, dsn(sent))
	if _, err := w.pipeline.Drain(ctx, w.conn()); err != nil {
		t.Fatal(err)
	}
	if !flagged() {
		t.Error("the bounce of our code mail did not flag the case")
	}
}
