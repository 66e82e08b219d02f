package desk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"testing"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/store"
)

// addDocument stands for the intake: it gives case ref a document.
func (f *fixture) addDocument(t *testing.T, ref string, doc recoverybot.Document, data []byte) {
	t.Helper()
	err := f.st.Update(context.Background(), func(tx *store.Tx) error {
		c, err := tx.CaseByRef(ref)
		if err != nil {
			return err
		}
		return tx.AddDocument(c.ID, 0, 1, &doc, data)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) profile(t *testing.T, id string) recoverybot.Profile {
	t.Helper()
	var p recoverybot.Profile
	err := f.st.View(context.Background(), func(tx *store.Tx) (err error) {
		p, err = tx.Profile(id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClaimIsExclusive(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ref := f.open(t, "p-ind", recoverybot.KindTOTPLockout, "")

	// Two agents claim at once: exactly one wins, the other is told who.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, who := range []string{"bob", "carol"} {
		wg.Go(func() { _, errs[i] = f.desk.Claim(ctx, ref, who) })
	}
	wg.Wait()
	won := 0
	var holder string
	for _, err := range errs {
		var ce *ClaimedError
		switch {
		case err == nil:
			won++
		case errors.As(err, &ce) && errors.Is(err, ErrClaimed):
			holder = ce.Holder
		default:
			t.Fatalf("claim: %v", err)
		}
	}
	if won != 1 || holder == "" {
		t.Fatalf("claims: %d won, loser told the holder is %q", won, holder)
	}
	loser := map[string]string{"bob": "carol", "carol": "bob"}[holder]

	// The holder decides; the other may not, even to resend the code.
	if _, err := f.desk.ResendCode(ctx, ref, loser); !errors.Is(err, ErrClaimed) {
		t.Errorf("resend by the non-holder: %v", err)
	}
	if _, err := f.desk.Release(ctx, ref, loser, ""); !errors.Is(err, ErrNotHolder) {
		t.Errorf("release by the non-holder: %v", err)
	}
	if _, err := f.desk.ResendCode(ctx, ref, holder); err != nil {
		t.Errorf("resend by the holder: %v", err)
	}
	// Release, then the other claims; reassign needs a reason.
	if s, err := f.desk.Release(ctx, ref, holder, "end of shift"); err != nil || s.ClaimedBy != "" {
		t.Fatalf("release = %q, %v", s.ClaimedBy, err)
	}
	if s, err := f.desk.Claim(ctx, ref, loser); err != nil || s.ClaimedBy != loser {
		t.Fatalf("claim after release = %q, %v", s.ClaimedBy, err)
	}
	if _, err := f.desk.Reassign(ctx, ref, holder, holder, ""); !errors.Is(err, ErrNeedsReason) {
		t.Errorf("reassign without a reason: %v", err)
	}
	if s, err := f.desk.Reassign(ctx, ref, holder, holder, "on holiday"); err != nil || s.ClaimedBy != holder {
		t.Fatalf("reassign = %q, %v", s.ClaimedBy, err)
	}
	var trail []string
	shown, err := f.desk.Show(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range shown.Events {
		if e.Action == "case_claimed" || e.Action == "case_released" || e.Action == "case_reassigned" {
			trail = append(trail, e.Actor+":"+e.Action+":"+e.Details["reason"])
		}
	}
	want := []string{holder + ":case_claimed:", holder + ":case_released:end of shift", loser + ":case_claimed:",
		holder + ":case_reassigned:on holiday"}
	if len(trail) != len(want) {
		t.Fatalf("claims audited: %q, want %q", trail, want)
	}
	for i := range want {
		if trail[i] != want[i] {
			t.Errorf("claims audited: %q, want %q", trail, want)
			break
		}
	}
}

func TestDecidingAnUnclaimedCaseClaimsIt(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ref := f.open(t, "p-ind", recoverybot.KindTOTPLockout, "")
	f.setState(t, ref, recoverybot.StateReadyForReview, 0)
	s, err := f.desk.Approve(ctx, ApproveRequest{Ref: ref, By: "bob"})
	if err != nil || s.ClaimedBy != "bob" || s.State != recoverybot.StateApproved {
		t.Fatalf("approve = %s held by %q, %v", s.State, s.ClaimedBy, err)
	}
	if ev := f.events(t, ref, "case_claimed"); len(ev) != 1 || ev[0].Details["via"] != "decision" {
		t.Errorf("claim by decision audited as %+v", ev)
	}
}

func TestEmailChangeNeedsASecondAgent(t *testing.T) {
	f := newFixtureWith(t, nil, func(o *Options) { o.SecondApproval = []recoverybot.Action{recoverybot.ActionChangeEmail} })
	ctx := context.Background()
	ref := f.open(t, "p-ind", recoverybot.KindLostEmail, "new@elsewhere.example")
	f.setState(t, ref, recoverybot.StateReadyForReview, 0)

	s, err := f.desk.Approve(ctx, ApproveRequest{Ref: ref, By: "bob", Note: "ID matches", NewEmail: "new@elsewhere.example"})
	if err != nil {
		t.Fatal(err)
	}
	if s.State != recoverybot.StateReadyForReview || s.PendingApproval == nil || s.PendingApproval.By != "bob" {
		t.Fatalf("first approval: %s, pending %+v", s.State, s.PendingApproval)
	}
	if p := f.profile(t, "p-ind"); p.Email != "jean@example.org" {
		t.Errorf("the address changed on the first approval: %s", p.Email)
	}
	// The first approver cannot approve again, under any spelling.
	if _, err := f.desk.Approve(ctx, ApproveRequest{Ref: ref, By: " bob "}); !errors.Is(err, ErrSameApprover) {
		t.Fatalf("second approval by the first approver: %v", err)
	}
	// A second agent, who does not hold the case, confirms it as made.
	s, err = f.desk.Approve(ctx, ApproveRequest{Ref: ref, By: "carol", NewEmail: "other@attacker.example"})
	if err != nil {
		t.Fatal(err)
	}
	if s.State != recoverybot.StateApproved || len(s.Approvers) != 2 || s.Approvers[0] != "bob" || s.Approvers[1] != "carol" ||
		s.NewEmail != "new@elsewhere.example" || s.PendingApproval != nil {
		t.Fatalf("second approval: %s by %v to %q, pending %+v", s.State, s.Approvers, s.NewEmail, s.PendingApproval)
	}
	if p := f.profile(t, "p-ind"); p.Email != "new@elsewhere.example" {
		t.Errorf("after two approvals the address is %s", p.Email)
	}

	// Telling the customer the address needs only one agent.
	f2 := newFixtureWith(t, nil, func(o *Options) { o.SecondApproval = []recoverybot.Action{recoverybot.ActionChangeEmail} })
	ref2 := f2.open(t, "p-ind", recoverybot.KindLostEmail, "new@elsewhere.example")
	f2.setState(t, ref2, recoverybot.StateReadyForReview, 0)
	if s, err := f2.desk.Approve(ctx, ApproveRequest{Ref: ref2, By: "bob"}); err != nil || s.State != recoverybot.StateApproved {
		t.Fatalf("tell-email approval: %s, %v", s.State, err)
	}
}

func TestDocumentVerdictsMoveTheCase(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ref := f.open(t, "p-ind", recoverybot.KindLostEmail, "new@elsewhere.example")
	// A scan recoverybot found something wrong with does not count...
	data := []byte("%PDF-1.4 scan")
	sum := sha256.Sum256(data)
	scan := recoverybot.Document{Type: recoverybot.DocIdentity, Filename: "cni.pdf", MediaType: "application/pdf",
		SHA256: hex.EncodeToString(sum[:]), Findings: []string{"pdf: javascript"}}
	f.addDocument(t, ref, scan, data)
	if s, _ := f.desk.Show(ctx, ref); len(s.Missing) != 1 {
		t.Fatalf("before the verdict: missing %v", s.Missing)
	}
	// ... until an agent accepts it: then the case is complete.
	s, err := f.desk.JudgeDocument(ctx, JudgeRequest{Ref: ref, By: "bob", SHA256: scan.SHA256[:8], Verdict: recoverybot.VerdictAccepted})
	if err != nil {
		t.Fatal(err)
	}
	if s.State != recoverybot.StateReadyForReview || len(s.Missing) != 0 || s.Documents[0].Verdict != recoverybot.VerdictAccepted {
		t.Fatalf("accepted: %s, missing %v, %+v", s.State, s.Missing, s.Documents[0])
	}
	// Refusing needs a reason, and sends the case back.
	if _, err := f.desk.JudgeDocument(ctx, JudgeRequest{Ref: ref, By: "bob", SHA256: scan.SHA256, Verdict: recoverybot.VerdictRefused}); !errors.Is(err, ErrNeedsReason) {
		t.Errorf("refuse without reason: %v", err)
	}
	s, err = f.desk.JudgeDocument(ctx, JudgeRequest{Ref: ref, By: "bob", SHA256: scan.SHA256, Verdict: recoverybot.VerdictRefused, Reason: "someone else's ID"})
	if err != nil {
		t.Fatal(err)
	}
	if s.State != recoverybot.StateAwaitingEvidence || len(s.Missing) != 1 || s.Documents[0].VerdictReason != "someone else's ID" {
		t.Fatalf("refused: %s, missing %v, %+v", s.State, s.Missing, s.Documents[0])
	}
	if _, err := f.desk.JudgeDocument(ctx, JudgeRequest{Ref: ref, By: "bob", SHA256: "00000000", Verdict: recoverybot.VerdictAccepted}); !errors.Is(err, ErrNoDocument) {
		t.Errorf("unknown document: %v", err)
	}
	if _, err := f.desk.JudgeDocument(ctx, JudgeRequest{Ref: ref, By: "carol", SHA256: scan.SHA256, Verdict: recoverybot.VerdictAccepted}); !errors.Is(err, ErrClaimed) {
		t.Errorf("verdict by a non-holder: %v", err)
	}
	if ev := f.events(t, ref, "document_refused"); len(ev) != 1 || ev[0].Actor != "bob" {
		t.Errorf("refusal audited as %+v", ev)
	}
}

func TestConfirmationIsOfTheApprovalSeen(t *testing.T) {
	f := newFixtureWith(t, nil, func(o *Options) { o.SecondApproval = []recoverybot.Action{recoverybot.ActionChangeEmail} })
	ctx := context.Background()
	ref := f.open(t, "p-ind", recoverybot.KindLostEmail, "new@elsewhere.example")
	data := []byte("\xff\xd8\xff the scan")
	sum := sha256.Sum256(data)
	f.addDocument(t, ref, recoverybot.Document{Type: recoverybot.DocIdentity, Filename: "cni.jpg", MediaType: "image/jpeg",
		SHA256: hex.EncodeToString(sum[:])}, data)
	f.setState(t, ref, recoverybot.StateReadyForReview, 0)
	s, err := f.desk.Approve(ctx, ApproveRequest{Ref: ref, By: "bob", NewEmail: "new@elsewhere.example"})
	if err != nil || s.PendingApproval == nil {
		t.Fatalf("first approval: %+v, %v", s.PendingApproval, err)
	}
	seen := PendingToken(*s.PendingApproval)
	// bob then touches the evidence: his approval lapses...
	s, err = f.desk.JudgeDocument(ctx, JudgeRequest{Ref: ref, By: "bob", SHA256: hex.EncodeToString(sum[:]), Verdict: recoverybot.VerdictAccepted})
	if err != nil || s.PendingApproval != nil {
		t.Fatalf("after a verdict the first approval still waits: %+v, %v", s.PendingApproval, err)
	}
	// ... and a new one is not what carol reviewed.
	if _, err := f.desk.Approve(ctx, ApproveRequest{Ref: ref, By: "bob", NewEmail: "new@elsewhere.example"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.desk.Approve(ctx, ApproveRequest{Ref: ref, By: "carol", Confirms: seen}); !errors.Is(err, ErrApprovalChanged) {
		t.Fatalf("confirming a replaced approval: %v", err)
	}
	now, _ := f.desk.Show(ctx, ref)
	if s, err := f.desk.Approve(ctx, ApproveRequest{Ref: ref, By: "carol", Confirms: PendingToken(*now.PendingApproval)}); err != nil || s.State != recoverybot.StateApproved {
		t.Fatalf("confirming the approval seen: %s, %v", s.State, err)
	}
}
