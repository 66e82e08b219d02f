package desk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/store"
)

func (f *fixture) templates(t *testing.T, ref string) []string {
	t.Helper()
	var out []string
	for _, m := range f.mail(t, ref) {
		out = append(out, m.Template+">"+m.To)
	}
	return out
}

func TestApprovalWaitsForTheHook(t *testing.T) {
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	f := newFixtureWith(t, func() time.Time { return now }, func(o *Options) {
		o.ActionHook, o.ActionDelay = true, time.Hour
	})
	ctx := context.Background()
	ref := f.open(t, "p-ind", recoverybot.KindTOTPLockout, "")
	f.setState(t, ref, recoverybot.StateReadyForReview, 0)
	if _, err := f.desk.Approve(ctx, ApproveRequest{Ref: ref, By: "bob", Note: "ok"}); err != nil {
		t.Fatal(err)
	}
	// The owner is told at once; the customer, not before the hook says yes.
	if got := strings.Join(f.templates(t, ref), " "); got != "instructions>jean@example.org approval_notice>jean@example.org" {
		t.Fatalf("mail after approval: %s", got)
	}
	var call recoverybot.ActionCall
	f.st.View(ctx, func(tx *store.Tx) error {
		c, _ := tx.CaseByRef(ref)
		calls, err := tx.ActionCalls(c.ID)
		if err != nil || len(calls) != 1 {
			t.Fatalf("action calls: %v, %v", calls, err)
		}
		call = calls[0]
		return nil
	})
	if call.Action != recoverybot.ActionDisableTOTP || !call.NotBefore.Equal(now.Add(time.Hour)) ||
		len(call.Approvers) != 1 || call.Approvers[0] != "bob" {
		t.Fatalf("queued call: %+v", call)
	}
	// The admin system says yes: now the customer hears of it.
	err := f.st.Update(ctx, func(tx *store.Tx) error {
		call.State, call.Result = recoverybot.ActionDone, "totp disabled"
		return f.desk.ActionDone(tx, call)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.templates(t, ref); len(got) != 3 || got[2] != "approved>jean@example.org" {
		t.Fatalf("mail after the hook: %v", got)
	}
	if len(f.events(t, ref, "action_done")) != 1 {
		t.Error("the hook's yes is not audited")
	}
}

func TestStopActionDuringTheDelay(t *testing.T) {
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	f := newFixtureWith(t, func() time.Time { return now }, func(o *Options) { o.ActionHook, o.ActionDelay = true, 24*time.Hour })
	ctx := context.Background()
	ref := f.open(t, "p-ind", recoverybot.KindIPLockout, "")
	f.setState(t, ref, recoverybot.StateReadyForReview, 0)
	if _, err := f.desk.Approve(ctx, ApproveRequest{Ref: ref, By: "bob"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.desk.StopAction(ctx, ref, "carol", ""); !errors.Is(err, ErrNeedsReason) {
		t.Errorf("stop without a reason: %v", err)
	}
	s, err := f.desk.StopAction(ctx, ref, "carol", "the owner objected")
	if err != nil || s.State != recoverybot.StateCancelled {
		t.Fatalf("stop = %s, %v", s.State, err)
	}
	if _, err := f.desk.StopAction(ctx, ref, "carol", "again"); !errors.Is(err, ErrNoAction) {
		t.Errorf("second stop: %v", err)
	}
	// Once sent, it is too late.
	ref2 := f.open(t, "p-co", recoverybot.KindIPLockout, "")
	f.setState(t, ref2, recoverybot.StateReadyForReview, 0)
	f.desk.Approve(ctx, ApproveRequest{Ref: ref2, By: "bob"})
	now = now.Add(25 * time.Hour)
	err = f.st.Update(ctx, func(tx *store.Tx) error {
		c, _ := tx.CaseByRef(ref2)
		calls, _ := tx.ActionCalls(c.ID)
		_, err := tx.ClaimAction(calls[0].ID) // a courier sends it
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.desk.StopAction(ctx, ref2, "carol", "late"); !errors.Is(err, ErrActionStarted) {
		t.Errorf("stop after sending: %v", err)
	}
}

func TestFailedActionFlagsTheCase(t *testing.T) {
	f := newFixtureWith(t, nil, func(o *Options) { o.ActionHook = true })
	ctx := context.Background()
	ref := f.open(t, "p-ind", recoverybot.KindTOTPLockout, "")
	f.setState(t, ref, recoverybot.StateReadyForReview, 0)
	f.desk.Approve(ctx, ApproveRequest{Ref: ref, By: "bob"})
	err := f.st.Update(ctx, func(tx *store.Tx) error {
		c, _ := tx.CaseByRef(ref)
		calls, _ := tx.ActionCalls(c.ID)
		call := calls[0]
		call.State, call.LastError = recoverybot.ActionFailed, "HTTP 400"
		return f.desk.ActionResult(tx, call)
	})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := f.desk.Show(ctx, ref)
	if !contains(s.Flags, ActionFailedFlag) {
		t.Errorf("flags = %v", s.Flags)
	}
	for _, m := range f.templates(t, ref) {
		if strings.HasPrefix(m, "approved") || strings.HasPrefix(m, "approval_notice") {
			t.Errorf("someone was told of an approval the admin system refused (no waiting period): %v", m)
		}
	}
}

func TestAskAgainForADocument(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ref := f.open(t, "p-ind", recoverybot.KindLostEmail, "new@elsewhere.example")
	data := []byte("\xff\xd8\xff blurred scan")
	sum := sha256.Sum256(data)
	f.addDocument(t, ref, recoverybot.Document{Type: recoverybot.DocIdentity, Filename: "cni.jpg", MediaType: "image/jpeg",
		SHA256: hex.EncodeToString(sum[:])}, data)
	f.setState(t, ref, recoverybot.StateReadyForReview, 0)

	if _, err := f.desk.Ask(ctx, AskRequest{Ref: ref, By: "bob", Reason: "smudged"}); !errors.Is(err, recoverybot.ErrUnknownReason) {
		t.Errorf("unknown reason: %v", err)
	}
	if _, err := f.desk.Ask(ctx, AskRequest{Ref: ref, By: "bob", Reason: recoverybot.AskUnreadable, Document: "company_registration"}); !errors.Is(err, ErrBadDocType) {
		t.Errorf("asking an individual for a KBIS: %v", err)
	}
	s, err := f.desk.Ask(ctx, AskRequest{Ref: ref, By: "bob", Reason: recoverybot.AskUnreadable, Note: "too dark"})
	if err != nil {
		t.Fatal(err)
	}
	if s.State != recoverybot.StateAwaitingEvidence || s.Documents[0].Verdict != recoverybot.VerdictRefused ||
		len(s.Missing) != 1 || s.Missing[0] != recoverybot.Requirement(recoverybot.DocIdentity) {
		t.Fatalf("after asking: %s, missing %v, %+v", s.State, s.Missing, s.Documents[0])
	}
	mail := f.mail(t, ref)
	last := mail[len(mail)-1]
	text, _ := bodyText(t, last.Raw)
	if last.Template != "ask_again" || last.To != "new@elsewhere.example" || !strings.Contains(text, "too dark") {
		t.Errorf("ask-again mail: %s to %s:\n%s", last.Template, last.To, text)
	}
	// Asking twice sends two mails (two events), each audited.
	if _, err := f.desk.Ask(ctx, AskRequest{Ref: ref, By: "bob", Reason: recoverybot.AskCropped}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.events(t, ref, "document_requested")); n != 2 {
		t.Errorf("%d document_requested events, want 2", n)
	}
}

func TestRejectWithAReasonFromTheList(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ref := f.open(t, "p-asso", recoverybot.KindIPLockout, "")
	if _, err := f.desk.RejectWith(ctx, RejectRequest{Ref: ref, By: "bob", Reason: recoverybot.RejectOther}); !errors.Is(err, ErrNeedsReason) {
		t.Errorf("other without text: %v", err)
	}
	s, err := f.desk.RejectWith(ctx, RejectRequest{Ref: ref, By: "bob", Reason: recoverybot.RejectForged})
	if err != nil || s.State != recoverybot.StateRejected {
		t.Fatalf("reject = %s, %v", s.State, err)
	}
	mail := f.mail(t, ref)
	text, _ := bodyText(t, mail[len(mail)-1].Raw)
	if mail[len(mail)-1].Template != "rejected" || !strings.Contains(text, "appears to have been altered") {
		t.Errorf("rejection mail (the profile is in English):\n%s", text)
	}
	if ev := f.events(t, ref, "case_rejected"); len(ev) != 1 || ev[0].Details["reason_code"] != "forged" {
		t.Errorf("rejection audited as %+v", ev)
	}
}
