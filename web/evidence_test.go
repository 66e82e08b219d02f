package web

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/store"
)

func lastMail(sum desk.Summary) desk.MailSummary {
	if len(sum.Mail) == 0 {
		return desk.MailSummary{}
	}
	return sum.Mail[len(sum.Mail)-1]
}

func TestAskAgain(t *testing.T) {
	f := newFixture(t, nil)
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindLostEmail, Contact: "new@elsewhere.example"}, identityJPEG())
	f.setState(t, s.Ref, recoverybot.StateReadyForReview)
	a := f.login(t, "alice", alicePassword)
	caseURL := "/cases/" + s.Ref
	docs := section(t, f.get(t, a, caseURL).Body.String(), "documents")
	for _, r := range recoverybot.AskReasons {
		if !strings.Contains(docs, `<option value="`+string(r)+`">`) {
			t.Errorf("the ask-again form lacks %s", r)
		}
	}
	if !strings.Contains(docs, `name="document" value="`+sha(jpeg)+`"`) {
		t.Error("no ask-again form for the document")
	}
	if got := f.flashOf(t, a, f.post(t, a, caseURL+"/ask", url.Values{"reason": {"blurry"}, "document": {sha(jpeg)}})); !strings.Contains(got, "Choisissez un motif") {
		t.Errorf("a reason not in the list: flash %q", got)
	}
	if got := f.flashOf(t, a, f.post(t, a, caseURL+"/ask", url.Values{"reason": {"cropped"}, "document": {"company_registration"}})); !strings.Contains(got, "pas demandé") {
		t.Errorf("a Kbis of an individual: flash %q", got)
	}
	if got := f.flashOf(t, a, f.post(t, a, caseURL+"/ask", url.Values{"reason": {"cropped"}, "document": {"0123456789abcdef"}})); !strings.Contains(got, "pas ce document") {
		t.Errorf("an unknown document: flash %q", got)
	}
	w := f.post(t, a, caseURL+"/ask", url.Values{"reason": {"cropped"}, "document": {sha(jpeg)}, "note": {"the bottom is cut"}})
	if got := f.flashOf(t, a, w); !strings.Contains(got, "redemandée") {
		t.Errorf("ask: flash %q", got)
	}
	got, _ := f.desk.Show(t.Context(), s.Ref)
	if got.State != recoverybot.StateAwaitingEvidence {
		t.Errorf("the case does not wait for the document: %s", got.State)
	}
	if m := lastMail(got); m.Template != "ask_again" || m.To != "new@elsewhere.example" || m.State != "pending" {
		t.Errorf("no ask_again mail queued: %+v", m)
	}
	if d := got.Documents[0]; d.Verdict != recoverybot.VerdictRefused || d.VerdictBy != "alice" {
		t.Errorf("the document asked again is not refused: %+v", d)
	}
	// The page now offers to ask for the missing identity document, and
	// says who refused the one sent.
	page := f.get(t, a, caseURL).Body.String()
	docs = section(t, page, "documents")
	if !strings.Contains(docs, `name="document" value="identity_document"`) || !strings.Contains(docs, "Manque : carte d'identité ou passeport.") {
		t.Errorf("no form for the missing document:\n%s", docs)
	}
	if !strings.Contains(docs, `class="badge verdict-refused"`) || !strings.Contains(docs, "par alice — cropped: the bottom is cut") {
		t.Errorf("the refusal is not shown:\n%s", docs)
	}
	if !strings.Contains(section(t, page, "timeline"), "Pièce redemandée") {
		t.Error("the timeline does not show the ask")
	}
	f.post(t, a, caseURL+"/ask", url.Values{"reason": {"expired"}, "document": {"identity_document"}})
	got, _ = f.desk.Show(t.Context(), s.Ref)
	if n := count(templatesOf(got), "ask_again"); n != 2 {
		t.Errorf("%d ask_again mails, want 2", n)
	}
}

func templatesOf(sum desk.Summary) []string {
	var out []string
	for _, m := range sum.Mail {
		out = append(out, m.Template)
	}
	return out
}

func TestJudgeDocuments(t *testing.T) {
	f := newFixture(t, nil)
	scan := []byte("\xff\xd8\xff\xe0 a scan nobody recognised")
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindLostEmail, Contact: "new@elsewhere.example"},
		map[*recoverybot.Document][]byte{{Type: recoverybot.DocOther, Filename: "scan.jpg", MediaType: "image/jpeg"}: scan})
	a := f.login(t, "alice", alicePassword)
	caseURL := "/cases/" + s.Ref
	judge := caseURL + "/documents/" + sha(scan) + "/judge"
	page := f.get(t, a, caseURL).Body.String()
	if !strings.Contains(section(t, page, "documents"), `action="`+judge+`"`) {
		t.Fatal("no verdict forms on the document")
	}
	if !strings.Contains(section(t, page, "checklist"), `class="todo"`) {
		t.Error("the identity document is not missing")
	}
	// Refusing needs a reason.
	if got := f.flashOf(t, a, f.post(t, a, judge, url.Values{"verdict": {"refused"}, "reason": {" "}})); !strings.Contains(got, "motif") {
		t.Errorf("refuse without a reason: flash %q", got)
	}
	if got, _ := f.desk.Show(t.Context(), s.Ref); got.Documents[0].Verdict != "" {
		t.Fatalf("refused without a reason: %+v", got.Documents[0])
	}
	if got := f.flashOf(t, a, f.post(t, a, judge, url.Values{"verdict": {"maybe"}})); !strings.Contains(got, "Acceptez ou refusez") {
		t.Errorf("a bad verdict: flash %q", got)
	}
	if got := f.flashOf(t, a, f.post(t, a, judge, url.Values{"verdict": {"refused"}, "reason": {"blurred"}})); got != "Document refusé." {
		t.Errorf("refuse: flash %q", got)
	}
	docs := section(t, f.get(t, a, caseURL).Body.String(), "documents")
	if !strings.Contains(docs, `<span class="badge verdict-refused">refusé</span> par alice — blurred`) {
		t.Errorf("the refusal is not shown:\n%s", docs)
	}
	// Accepting it as the identity document it is completes the case.
	if got := f.flashOf(t, a, f.post(t, a, judge, url.Values{"verdict": {"accepted"}, "type": {"identity_document"}})); got != "Document accepté." {
		t.Errorf("accept: flash %q", got)
	}
	got, _ := f.desk.Show(t.Context(), s.Ref)
	if d := got.Documents[0]; d.Type != recoverybot.DocIdentity || d.Verdict != recoverybot.VerdictAccepted || !d.Counts {
		t.Errorf("accepted as an identity document: %+v", d)
	}
	if got.State != recoverybot.StateReadyForReview {
		t.Errorf("state %s, want ready for review", got.State)
	}
	check := section(t, f.get(t, a, caseURL).Body.String(), "checklist")
	if !strings.Contains(check, `<li class="done">`) || !strings.Contains(check, "scan.jpg (image/jpeg") || !strings.Contains(check, "accepté par alice") {
		t.Errorf("the checklist does not tick the document with its evidence:\n%s", check)
	}
	for _, want := range []string{"alice:document_refused", "alice:document_accepted"} {
		if count(actions(f, t, s.Ref), want) != 1 {
			t.Errorf("%s not audited once: %v", want, actions(f, t, s.Ref))
		}
	}
}

// addMessage ties a message to the case as intake does: a ledger row,
// its evidence and the audit event.
func (f *fixture) addMessage(t *testing.T, ref string, uid uint32, sender string, status recoverybot.SenderStatus, detail string, code recoverybot.CodeResult) {
	t.Helper()
	err := f.st.Update(context.Background(), func(tx *store.Tx) error {
		c, err := tx.CaseByRef(ref)
		if err != nil {
			return err
		}
		e := store.Entry{Mailbox: "INBOX", UIDValidity: 1, UID: uid, MessageID: fmt.Sprintf("m%d@example.org", uid), Size: 2048}
		if err := tx.Record(&e, nil); err != nil {
			return err
		}
		if err := tx.Decide(e.ID, store.Decided{Status: store.LedgerProcessed, CaseID: c.ID, Sender: sender,
			Date: time.Date(2026, 3, 2, 8, 59, 0, 0, time.UTC)}); err != nil {
			return err
		}
		if err := tx.AddEvidence(store.Evidence{CaseID: c.ID, MessageID: e.ID, Sender: sender, SenderStatus: string(status),
			SenderDetail: detail, CodeResult: string(code)}); err != nil {
			return err
		}
		details := map[string]string{"message": fmt.Sprint(e.ID), "outcome": "apply", "sender": sender,
			"sender_status": string(status), "sender_detail": detail}
		if code != "" {
			details["code"] = string(code)
		}
		return tx.Audit(c.ID, recoverybot.SystemActor, "message_apply", details)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMessagesOnTheCasePage(t *testing.T) {
	f := newFixture(t, nil)
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-co", Kind: recoverybot.KindTOTPLockout}, identityJPEG())
	const failed = "mx.hosting.example; dmarc=fail header.from=acme.example"
	const passed = "mx.hosting.example; dkim=pass header.d=acme.example; dmarc=pass header.from=acme.example"
	f.clock.Advance(time.Minute)
	f.addMessage(t, s.Ref, 7, "gerant@acme.example", recoverybot.SenderFailed, failed, recoverybot.CodeMismatch)
	f.clock.Advance(time.Minute)
	f.addMessage(t, s.Ref, 8, "gerant@acme.example", recoverybot.SenderVerified, passed, recoverybot.CodeMatch)
	err := f.st.Update(t.Context(), func(tx *store.Tx) error {
		c, err := tx.CaseByRef(s.Ref)
		if err != nil {
			return err
		}
		c.SenderStatus, c.CodeVerified = recoverybot.SenderVerified, true
		return tx.UpdateCase(c)
	})
	if err != nil {
		t.Fatal(err)
	}
	a := f.login(t, "alice", alicePassword)
	page := f.get(t, a, "/cases/"+s.Ref).Body.String()
	msgs := section(t, page, "messages")
	for _, want := range []string{failed, passed, `<span class="badge sender-failed">en échec</span>`,
		`<span class="badge sender-verified">vérifié</span>`, "code erroné", "bon code", "UID 7", "daté du 2026-03-02 08:59 UTC"} {
		if !strings.Contains(msgs, want) {
			t.Errorf("the messages do not show %q:\n%s", want, msgs)
		}
	}
	if strings.Contains(page, "style=") {
		t.Error("inline style on the case page")
	}
	timeline := section(t, page, "timeline")
	if !strings.Contains(timeline, passed) || !strings.Contains(timeline, `badge sender-verified`) || strings.Count(timeline, "gerant@acme.example") < 2 {
		t.Errorf("the timeline does not show the messages' verdicts:\n%s", timeline)
	}
	// The checklist: one line per required document, the sender, the
	// code, each with what satisfies it.
	check := section(t, page, "checklist")
	for _, want := range []string{"carte d'identité ou passeport", "cni.jpg (image/jpeg", "extrait Kbis", "expéditeur authentifié",
		"gerant@acme.example : vérifié — " + passed, "code de vérification", "code vérifié : message du 2026-03-02 09:02 UTC"} {
		if !strings.Contains(check, want) {
			t.Errorf("the checklist does not say %q:\n%s", want, check)
		}
	}
	if n := strings.Count(check, `<li class="done">`); n != 3 {
		t.Errorf("%d items done, want 3 (identity, sender, code):\n%s", n, check)
	}
	if n := strings.Count(check, `<li class="todo">`); n != 1 {
		t.Errorf("%d items to do, want 1 (the Kbis):\n%s", n, check)
	}
	if strings.Contains(check, failed) {
		t.Error("the failed message is given as evidence of the sender")
	}
}
