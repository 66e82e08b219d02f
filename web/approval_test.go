package web

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/store"
)

func (f *fixture) profileEmail(t *testing.T, ref string) string {
	t.Helper()
	p, err := f.desk.Profile(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return p.Email
}

// TestSecondApproval: changing a profile's email waits for a second
// agent, who is never the first; the email changes only then.
func TestSecondApproval(t *testing.T) {
	f := newFixtureWith(t, func(o *desk.Options) { o.SecondApproval = []recoverybot.Action{recoverybot.ActionChangeEmail} }, nil)
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindLostEmail, Contact: "new@elsewhere.example"}, identityJPEG())
	f.setState(t, s.Ref, recoverybot.StateReadyForReview)
	alice, bob := f.login(t, "alice", alicePassword), f.login(t, "bob", bobPassword)
	caseURL := "/cases/" + s.Ref

	w := f.post(t, alice, caseURL+"/approve", url.Values{"note": {"ID matches"}, "change_email": {"yes"}})
	if got := f.flashOf(t, alice, w); !strings.Contains(got, "second agent") {
		t.Errorf("first approval: flash %q", got)
	}
	got, _ := f.desk.Show(t.Context(), s.Ref)
	if got.State != recoverybot.StateReadyForReview || got.PendingApproval == nil || got.PendingApproval.By != "alice" {
		t.Fatalf("after the first approval: %s %+v", got.State, got.PendingApproval)
	}
	if e := f.profileEmail(t, s.Ref); e != "jean@example.org" {
		t.Fatalf("the email changed on the first approval: %s", e)
	}
	// The first approver sees that it waits, and cannot confirm.
	page := f.get(t, alice, caseURL).Body.String()
	pending := section(t, page, "pending")
	for _, want := range []string{"En attente de l'approbation d'un second agent", "Approuvé par alice le 2026-03-02 09:00 UTC",
		"ID matches", "new@elsewhere.example", "un autre agent doit confirmer"} {
		if !strings.Contains(pending, want) {
			t.Errorf("the pending approval does not say %q:\n%s", want, pending)
		}
	}
	decisions := section(t, page, "decisions")
	if strings.Contains(decisions, caseURL+"/approve") || !strings.Contains(decisions, "<button disabled") ||
		!strings.Contains(decisions, "Vous avez approuvé en premier") {
		t.Errorf("alice's approve button:\n%s", decisions)
	}
	if got := f.flashOf(t, alice, f.post(t, alice, caseURL+"/approve", nil)); !strings.Contains(got, "Vous avez approuvé en premier") {
		t.Errorf("alice's confirm: flash %q", got)
	}
	if got, _ := f.desk.Show(t.Context(), s.Ref); got.State != recoverybot.StateReadyForReview || f.profileEmail(t, s.Ref) != "jean@example.org" {
		t.Fatalf("alice confirmed her own approval: %s", got.State)
	}
	// Bob, who does not hold the case, confirms it.
	decisions = section(t, f.get(t, bob, caseURL).Body.String(), "decisions")
	if !strings.Contains(decisions, caseURL+"/approve") || !strings.Contains(decisions, "Confirmer l'approbation") ||
		strings.Contains(decisions, "change_email") {
		t.Errorf("bob's confirm form:\n%s", decisions)
	}
	if got := f.flashOf(t, bob, f.post(t, bob, caseURL+"/approve", nil)); !strings.Contains(got, "approuvé") {
		t.Errorf("bob's confirm: flash %q", got)
	}
	got, _ = f.desk.Show(t.Context(), s.Ref)
	if got.State != recoverybot.StateApproved || !slices.Equal(got.Approvers, []string{"alice", "bob"}) ||
		got.NewEmail != "new@elsewhere.example" || got.Note != "ID matches" {
		t.Fatalf("after bob's confirm: %s %v %q %q", got.State, got.Approvers, got.NewEmail, got.Note)
	}
	if e := f.profileEmail(t, s.Ref); e != "new@elsewhere.example" {
		t.Errorf("the email did not change on the second approval: %s", e)
	}
	page = f.get(t, alice, caseURL).Body.String()
	if d := section(t, page, "profile"); !strings.Contains(d, "<dt>Approuvé par</dt><dd>alice, bob</dd>") {
		t.Errorf("the approvers are not listed:\n%s", d)
	}
	if strings.Contains(page, `<section class="pending"`) {
		t.Error("an approved case still says it waits")
	}
}

// TestApproveWithoutTheBoxTellsTheEmail: unticked, the box sends no new
// email, and telling the email needs no second agent.
func TestApproveWithoutTheBoxTellsTheEmail(t *testing.T) {
	f := newFixtureWith(t, func(o *desk.Options) { o.SecondApproval = []recoverybot.Action{recoverybot.ActionChangeEmail} }, nil)
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindLostEmail, Contact: "new@elsewhere.example"}, identityJPEG())
	f.setState(t, s.Ref, recoverybot.StateReadyForReview)
	a := f.login(t, "alice", alicePassword)
	page := section(t, f.get(t, a, "/cases/"+s.Ref).Body.String(), "decisions")
	if !strings.Contains(page, `<input type="checkbox" name="change_email" value="yes">`) ||
		!strings.Contains(page, "Remplacer l'email du profil par l'adresse de contact (new@elsewhere.example)") {
		t.Errorf("the change-email box is missing or ticked:\n%s", page)
	}
	f.post(t, a, "/cases/"+s.Ref+"/approve", url.Values{"note": {"ok"}, "change_email": {""}})
	got, _ := f.desk.Show(t.Context(), s.Ref)
	if got.State != recoverybot.StateApproved || got.NewEmail != "" || !slices.Equal(got.Approvers, []string{"alice"}) {
		t.Errorf("approved without the box: %s %q %v", got.State, got.NewEmail, got.Approvers)
	}
	if e := f.profileEmail(t, s.Ref); e != "jean@example.org" {
		t.Errorf("the email changed without the box: %s", e)
	}
}

// actionCall returns the case's last call of the hook.
func (f *fixture) actionCall(t *testing.T, ref string) recoverybot.ActionCall {
	t.Helper()
	var call recoverybot.ActionCall
	err := f.st.View(context.Background(), func(tx *store.Tx) error {
		c, err := tx.CaseByRef(ref)
		if err != nil {
			return err
		}
		calls, err := tx.ActionCalls(c.ID)
		if err != nil {
			return err
		}
		if len(calls) == 0 {
			t.Fatal("no action call")
		}
		call = calls[len(calls)-1]
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return call
}

func TestStopTheAction(t *testing.T) {
	f := newFixtureWith(t, func(o *desk.Options) { o.ActionHook, o.ActionDelay = true, 24*time.Hour }, nil)
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindTOTPLockout}, identityJPEG())
	f.setState(t, s.Ref, recoverybot.StateReadyForReview)
	alice, bob := f.login(t, "alice", alicePassword), f.login(t, "bob", bobPassword)
	caseURL := "/cases/" + s.Ref
	if got := f.flashOf(t, alice, f.post(t, alice, caseURL+"/approve", url.Values{"note": {"ok"}})); !strings.Contains(got, "système d'administration sera appelé") {
		t.Errorf("approve with a hook: flash %q", got)
	}
	page := f.get(t, bob, caseURL).Body.String()
	hook := section(t, page, "action-hook")
	for _, want := range []string{"désactiver le second facteur", `class="badge hook-pending"`, "en attente", "2026-03-03 09:00 UTC",
		caseURL + "/stop-action", "Arrêter l'action"} {
		if !strings.Contains(hook, want) {
			t.Errorf("the action's box lacks %q:\n%s", want, hook)
		}
	}
	if !strings.Contains(section(t, page, "timeline"), "Action confiée au système d'administration") {
		t.Error("the timeline does not show the queued action")
	}
	if got := f.flashOf(t, bob, f.post(t, bob, caseURL+"/stop-action", url.Values{"reason": {" "}})); !strings.Contains(got, "motif") {
		t.Errorf("stop without a reason: flash %q", got)
	}
	// Any agent may stop it, holder or not.
	if got := f.flashOf(t, bob, f.post(t, bob, caseURL+"/stop-action", url.Values{"reason": {"the owner objected"}})); !strings.Contains(got, "arrêtée") {
		t.Errorf("stop: flash %q", got)
	}
	got, _ := f.desk.Show(t.Context(), s.Ref)
	if got.State != recoverybot.StateCancelled || got.Action == nil || got.Action.State != recoverybot.ActionStopped ||
		got.Action.StoppedBy != "bob" || got.Action.StopReason != "the owner objected" {
		t.Fatalf("after the stop: %s %+v", got.State, got.Action)
	}
	hook = section(t, f.get(t, alice, caseURL).Body.String(), "action-hook")
	if !strings.Contains(hook, "arrêtée") || !strings.Contains(hook, "the owner objected") || strings.Contains(hook, "/stop-action") {
		t.Errorf("the stopped action:\n%s", hook)
	}
	if got := f.flashOf(t, bob, f.post(t, bob, caseURL+"/stop-action", url.Values{"reason": {"again"}})); !strings.Contains(got, "pas d'action en attente") {
		t.Errorf("a second stop: flash %q", got)
	}
}

func TestStopTheActionTooLate(t *testing.T) {
	f := newFixtureWith(t, func(o *desk.Options) { o.ActionHook = true }, nil)
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindIPLockout}, identityJPEG())
	f.setState(t, s.Ref, recoverybot.StateReadyForReview)
	a := f.login(t, "alice", alicePassword)
	f.post(t, a, "/cases/"+s.Ref+"/approve", nil)
	call := f.actionCall(t, s.Ref)
	// The hook's worker takes it.
	err := f.st.Update(t.Context(), func(tx *store.Tx) error { _, err := tx.ClaimAction(call.ID); return err })
	if err != nil {
		t.Fatal(err)
	}
	hook := section(t, f.get(t, a, "/cases/"+s.Ref).Body.String(), "action-hook")
	if !strings.Contains(hook, "en cours d'envoi") || strings.Contains(hook, "/stop-action") {
		t.Errorf("an action being sent:\n%s", hook)
	}
	if got := f.flashOf(t, a, f.post(t, a, "/cases/"+s.Ref+"/stop-action", url.Values{"reason": {"late"}})); !strings.Contains(got, "Trop tard") {
		t.Errorf("stop once sent: flash %q", got)
	}
	if got, _ := f.desk.Show(t.Context(), s.Ref); got.State != recoverybot.StateApproved {
		t.Errorf("state %s", got.State)
	}
}
