package intake_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/intake"
	"github.com/recoverybot/recoverybot/internal/testfiles"
	"github.com/recoverybot/recoverybot/store"
)

// openLost opens a lost-email case for p-1, written from newAddr.
func (w *world) openLost(newAddr string) desk.Summary {
	w.t.Helper()
	s, err := w.desk.Open(context.Background(), desk.OpenRequest{ProfileID: "p-1", Kind: recoverybot.KindLostEmail, Contact: newAddr, By: "alice"})
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

func (w *world) drain() intake.Stats {
	w.t.Helper()
	stats, err := w.pipeline.Drain(context.Background(), w.conn())
	if err != nil {
		w.t.Fatal(err)
	}
	return stats
}

func (w *world) show(ref string) desk.Summary {
	w.t.Helper()
	s, err := w.desk.Show(context.Background(), ref)
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// outboxCount is how many mails are queued or sent about the case.
func (w *world) outboxCount(ref string) int {
	w.t.Helper()
	var n int
	w.st.View(context.Background(), func(tx *store.Tx) error {
		c, err := tx.CaseByRef(ref)
		if err != nil {
			w.t.Fatal(err)
		}
		mail, err := tx.Outbox(store.OutboxFilter{CaseID: c.ID})
		n = len(mail)
		return err
	})
	return n
}

// TestDocumentsThatDoNotCount: a text file named cni.jpg and a PDF with
// JavaScript are recorded and listed with their findings, and do not
// complete the case; a real photo does. The same photo sent again is one
// document, listed with both messages.
func TestDocumentsThatDoNotCount(t *testing.T) {
	w := newWorld(t)
	contact := "jean.new@elsewhere.example"
	s := w.openLost(contact)
	user := w.dovecot.User()
	active := bytes.Replace(testfiles.PDF("Carte nationale d'identité"), []byte("/Type /Catalog"),
		[]byte("/Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert) >>"), 1)
	w.dovecot.Deliver(user, customerMail(contact, "Re: ["+s.Ref+"] mes documents", "Voici ma carte d'identité.", "",
		map[string][]byte{"cni.jpg": []byte("a text file, not a photo of anything\n"), "passeport.pdf": active}))
	w.drain()
	got := w.show(s.Ref)
	if got.State != recoverybot.StateAwaitingEvidence || !slices.Equal(got.Missing, []recoverybot.Requirement{recoverybot.Requirement(recoverybot.DocIdentity)}) {
		t.Errorf("after a text named cni.jpg and an active PDF: %s, missing %v", got.State, got.Missing)
	}
	if len(got.Documents) != 2 {
		t.Fatalf("%d documents listed, want both", len(got.Documents))
	}
	for _, d := range got.Documents {
		switch d.Filename {
		case "cni.jpg":
			if d.Type != recoverybot.DocOther || d.Counts {
				t.Errorf("text named cni.jpg: %s, counts %v", d.Type, d.Counts)
			}
		case "passeport.pdf":
			if d.Counts || !slices.ContainsFunc(d.Findings, func(f string) bool { return strings.HasPrefix(f, "active_content") }) {
				t.Errorf("active PDF: counts %v, findings %q", d.Counts, d.Findings)
			}
		}
	}

	photo := testfiles.JPEG([]byte("jean's card"))
	w.dovecot.Deliver(user, customerMail(contact, "Re: ["+s.Ref+"] la photo", "La photo de ma carte.", "", map[string][]byte{"cni.jpg": photo}))
	w.drain()
	if got := w.show(s.Ref); got.State != recoverybot.StateReadyForReview {
		t.Fatalf("after a real photo: %s, missing %v", got.State, got.Missing)
	}
	w.dovecot.Deliver(user, customerMail(contact, "Re: ["+s.Ref+"] encore", "Je la renvoie.", "", map[string][]byte{"carte.jpg": photo}))
	w.drain()
	got = w.show(s.Ref)
	var photos []desk.DocumentSummary
	for _, d := range got.Documents {
		if d.MediaType == "image/jpeg" {
			photos = append(photos, d)
		}
	}
	if len(got.Documents) != 3 || len(photos) != 1 || len(photos[0].Messages) != 2 || !photos[0].Counts {
		t.Errorf("the same photo twice: %d documents, photos %+v", len(got.Documents), photos)
	}
}

// TestDocumentBounds: a message with more documents than
// max_documents_per_message, or that would take its case beyond
// max_documents_per_case, goes to review and adds nothing.
func TestDocumentBounds(t *testing.T) {
	w := newWorldWith(t, func(o *intake.Options) { o.Policy.MaxDocumentsPerMessage, o.Policy.MaxDocumentsPerCase = 2, 3 })
	contact := "jean.new@elsewhere.example"
	s := w.openLost(contact)
	user := w.dovecot.User()
	files := func(names ...string) map[string][]byte {
		m := map[string][]byte{}
		for _, n := range names {
			m[n] = testfiles.JPEG([]byte(n))
		}
		return m
	}
	w.dovecot.Deliver(user, customerMail(contact, "Re: ["+s.Ref+"] trois", "Trois photos.", "", files("cni-1.jpg", "cni-2.jpg", "cni-3.jpg")))
	stats := w.drain()
	got := w.show(s.Ref)
	if stats.Review != 1 || len(got.Documents) != 0 || got.State != recoverybot.StateAwaitingEvidence {
		t.Errorf("3 documents over a bound of 2: %+v, %d documents, %s", stats, len(got.Documents), got.State)
	}
	if !slices.ContainsFunc(got.Events, func(e recoverybot.AuditEvent) bool {
		return e.Action == "message_review" && strings.Contains(e.Details["reason"], "3 documents in one message, more than 2")
	}) {
		t.Error("no review event with the reason")
	}
	w.dovecot.Deliver(user, customerMail(contact, "Re: ["+s.Ref+"] deux", "Deux photos.", "", files("a.jpg", "b.jpg")))
	w.dovecot.Deliver(user, customerMail(contact, "Re: ["+s.Ref+"] deux autres", "Deux autres.", "", files("c.jpg", "d.jpg")))
	stats = w.drain()
	if got := w.show(s.Ref); stats.Processed != 1 || stats.Review != 1 || len(got.Documents) != 2 {
		t.Errorf("2 then 2 documents, case bound 3: %+v, %d documents", stats, len(got.Documents))
	}
	if n, _ := w.dovecot.Count(user, "Recovery.Review"); n != 2 {
		t.Errorf("%d messages in review, want 2", n)
	}
}

// TestMailAboutClosedCases: mail about an expired or a cancelled case is
// recorded (processed folder) and changes nothing: no document counted,
// no code attempt, no reply.
func TestMailAboutClosedCases(t *testing.T) {
	ctx := context.Background()
	for _, state := range []recoverybot.State{recoverybot.StateExpired, recoverybot.StateCancelled} {
		t.Run(string(state), func(t *testing.T) {
			w := newWorld(t)
			s, err := w.desk.Open(ctx, desk.OpenRequest{ProfileID: "p-1", Kind: recoverybot.KindTOTPLockout, By: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			code := w.code(s.Ref)
			switch state {
			case recoverybot.StateCancelled:
				if _, err := w.desk.Cancel(ctx, s.Ref, "alice", "asked by phone"); err != nil {
					t.Fatal(err)
				}
			case recoverybot.StateExpired:
				err := w.st.Update(ctx, func(tx *store.Tx) error {
					c, err := tx.CaseByRef(s.Ref)
					if err != nil {
						return err
					}
					c.State, _ = recoverybot.Transition(c.State, recoverybot.EventExpire)
					return tx.UpdateCase(c)
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			before, mails := w.show(s.Ref), w.outboxCount(s.Ref)
			user := w.dovecot.User()
			auth := trustedID + "; spf=pass smtp.mailfrom=example.org; dmarc=pass header.from=example.org"
			w.dovecot.Deliver(user, customerMail("jean@example.org", "Re: ["+s.Ref+"] le code "+code, "Le code "+code, auth,
				map[string][]byte{"cni.jpg": testfiles.JPEG(nil)}))
			w.dovecot.Deliver(user, customerMail("jean@example.org", "Re: ["+s.Ref+"] code", "mon code AAAA-2222", auth, nil))
			stats := w.drain()
			after := w.show(s.Ref)
			if stats.Processed != 2 || stats.Review != 0 {
				t.Errorf("stats %+v, want both recorded", stats)
			}
			if after.State != state || after.CodeVerified || after.FailedCodeAttempts != 0 || len(after.Documents) != 0 ||
				after.SenderStatus != before.SenderStatus || !slices.Equal(after.Missing, before.Missing) {
				t.Errorf("mail changed the %s case: %+v", state, after)
			}
			if n := w.outboxCount(s.Ref); n != mails {
				t.Errorf("%d mails queued about the %s case", n-mails, state)
			}
			if n, _ := w.dovecot.Count(user, "Recovery.Processed"); n != 2 {
				t.Errorf("%d messages in the processed folder, want 2", n)
			}
		})
	}
}

// TestManyCodeCandidates: a message listing 50 codes, the right one among
// them, verifies nothing and is one failed attempt; the right code alone
// then still works.
func TestManyCodeCandidates(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	s, err := w.desk.Open(ctx, desk.OpenRequest{ProfileID: "p-1", Kind: recoverybot.KindTOTPLockout, By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	code := w.code(s.Ref)
	var body strings.Builder
	for i := range 50 {
		c := code
		if i != 25 {
			var err error
			if c, err = recoverybot.NewCode(); err != nil {
				t.Fatal(err)
			}
		}
		body.WriteString("code : " + c + "\r\n")
	}
	auth := trustedID + "; spf=pass smtp.mailfrom=example.org; dmarc=pass header.from=example.org"
	w.dovecot.Deliver(w.dovecot.User(), customerMail("jean@example.org", "Re: ["+s.Ref+"] codes", body.String(), auth,
		map[string][]byte{"cni.jpg": testfiles.JPEG(nil)}))
	w.drain()
	got := w.show(s.Ref)
	if got.CodeVerified || got.FailedCodeAttempts != 1 {
		t.Fatalf("50 candidates with the right one: verified %v, %d failed attempts; want not verified, 1", got.CodeVerified, got.FailedCodeAttempts)
	}
	w.dovecot.Deliver(w.dovecot.User(), customerMail("jean@example.org", "Re: ["+s.Ref+"] le code", "Le code : "+code, auth, nil))
	w.drain()
	if got := w.show(s.Ref); !got.CodeVerified || got.State != recoverybot.StateReadyForReview {
		t.Errorf("the right code alone: verified %v, %s", got.CodeVerified, got.State)
	}
}
