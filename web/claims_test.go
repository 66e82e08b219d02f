package web

import (
	"encoding/base64"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
)

// section is the HTML of the page's <section class="name">, its
// character references unescaped.
func section(t *testing.T, page, name string) string {
	t.Helper()
	i := strings.Index(page, `<section class="`+name+`"`)
	if i < 0 {
		t.Fatalf("no section %s in the page", name)
	}
	j := strings.Index(page[i:], "</section>")
	return html.UnescapeString(page[i : i+j])
}

func TestClaimIsExclusive(t *testing.T) {
	f := newFixture(t, nil)
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindLostEmail, Contact: "new@elsewhere.example"}, identityJPEG())
	f.setState(t, s.Ref, recoverybot.StateReadyForReview)
	alice, bob := f.login(t, "alice", alicePassword), f.login(t, "bob", bobPassword)
	caseURL := "/cases/" + s.Ref

	claim := section(t, f.get(t, alice, caseURL).Body.String(), "claim")
	if !strings.Contains(claim, "Personne n'a pris ce dossier") || !strings.Contains(claim, caseURL+"/claim") {
		t.Errorf("an unclaimed case offers no claim:\n%s", claim)
	}
	if got := f.flashOf(t, alice, f.post(t, alice, caseURL+"/claim", nil)); got != "Vous avez pris le dossier." {
		t.Errorf("claim: flash %q", got)
	}
	// The second claim fails and says who holds the case.
	if got := f.flashOf(t, bob, f.post(t, bob, caseURL+"/claim", nil)); !strings.Contains(got, "Pris par alice") {
		t.Errorf("second claim: flash %q", got)
	}
	page := f.get(t, bob, caseURL).Body.String()
	claim = section(t, page, "claim")
	if !strings.Contains(claim, "Pris par alice") || strings.Contains(claim, caseURL+"/claim\"") ||
		strings.Contains(claim, caseURL+"/release") {
		t.Errorf("bob's view of alice's case:\n%s", claim)
	}
	if strings.Contains(section(t, page, "decisions"), caseURL+"/approve") {
		t.Error("bob is offered to approve alice's case")
	}
	// Only the holder decides: bob's approve, forced, is refused.
	if got := f.flashOf(t, bob, f.post(t, bob, caseURL+"/approve", url.Values{"note": {"mine"}})); !strings.Contains(got, "Pris par alice") {
		t.Errorf("bob's approve: flash %q", got)
	}
	if got, _ := f.desk.Show(t.Context(), s.Ref); got.State != recoverybot.StateReadyForReview || got.ClaimedBy != "alice" {
		t.Fatalf("after bob's approve: %s, held by %q", got.State, got.ClaimedBy)
	}
	// Nor does bob release it.
	if got := f.flashOf(t, bob, f.post(t, bob, caseURL+"/release", nil)); !strings.Contains(got, "Pris par alice : seul") {
		t.Errorf("bob's release: flash %q", got)
	}
	// The holder's view: release and reassign.
	claim = section(t, f.get(t, alice, caseURL).Body.String(), "claim")
	if !strings.Contains(claim, "Vous avez pris ce dossier") || !strings.Contains(claim, caseURL+"/release") ||
		!strings.Contains(claim, `<option value="bob">bob</option>`) || strings.Contains(claim, `<option value="alice">`) {
		t.Errorf("alice's view of her case:\n%s", claim)
	}
	if got := f.flashOf(t, alice, f.post(t, alice, caseURL+"/release", url.Values{"reason": {"lunch"}})); !strings.Contains(got, "libéré") {
		t.Errorf("release: flash %q", got)
	}
	if got := f.flashOf(t, alice, f.post(t, alice, caseURL+"/release", nil)); !strings.Contains(got, "Personne") {
		t.Errorf("release of an unclaimed case: flash %q", got)
	}
	// Deciding an unclaimed case claims it.
	f.post(t, bob, caseURL+"/reject", url.Values{"reason": {"forged"}, "text": {"pasted photo"}})
	got, _ := f.desk.Show(t.Context(), s.Ref)
	if got.State != recoverybot.StateRejected || got.ClaimedBy != "bob" {
		t.Errorf("bob's reject of the released case: %s, held by %q", got.State, got.ClaimedBy)
	}
	acts := actions(f, t, s.Ref)
	if count(acts, "alice:case_claimed") != 1 || count(acts, "alice:case_released") != 1 || count(acts, "bob:case_claimed") != 1 {
		t.Errorf("claims not audited once each: %v", acts)
	}
	for _, e := range f.events(t, s.Ref) {
		if e.Action == "case_released" && e.Details["reason"] != "lunch" {
			t.Errorf("release audited without its reason: %v", e.Details)
		}
		if e.Action == "case_claimed" && e.Actor == "bob" && e.Details["via"] != "decision" {
			t.Errorf("the claim by decision: %v", e.Details)
		}
	}
}

func TestReassign(t *testing.T) {
	f := newFixture(t, nil)
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindTOTPLockout}, nil)
	alice, bob := f.login(t, "alice", alicePassword), f.login(t, "bob", bobPassword)
	caseURL := "/cases/" + s.Ref
	f.post(t, alice, caseURL+"/claim", nil)
	// Alice is away; bob takes the case over, with a reason.
	if got := f.flashOf(t, bob, f.post(t, bob, caseURL+"/reassign", url.Values{"to": {"bob"}})); !strings.Contains(got, "motif") {
		t.Errorf("reassign without a reason: flash %q", got)
	}
	if got := f.flashOf(t, bob, f.post(t, bob, caseURL+"/reassign", url.Values{"to": {"mallory"}, "reason": {"x"}})); !strings.Contains(got, "Aucun agent") {
		t.Errorf("reassign to a stranger: flash %q", got)
	}
	if got := f.flashOf(t, bob, f.post(t, bob, caseURL+"/reassign", url.Values{"to": {"bob"}, "reason": {"alice is on leave"}})); got != "Dossier réattribué à bob." {
		t.Errorf("reassign: flash %q", got)
	}
	if got, _ := f.desk.Show(t.Context(), s.Ref); got.ClaimedBy != "bob" {
		t.Errorf("held by %q after the reassign", got.ClaimedBy)
	}
	var found bool
	for _, e := range f.events(t, s.Ref) {
		if e.Action == "case_reassigned" {
			found = e.Actor == "bob" && e.Details["from"] == "alice" && e.Details["to"] == "bob" && e.Details["reason"] == "alice is on leave"
		}
	}
	if !found {
		t.Errorf("the reassign is not audited as it was: %v", actions(f, t, s.Ref))
	}
	// Alice's page now says bob holds it, and the timeline says why.
	page := f.get(t, alice, caseURL).Body.String()
	if !strings.Contains(section(t, page, "claim"), "Pris par bob") || !strings.Contains(section(t, page, "timeline"), "alice is on leave") {
		t.Error("alice does not see the reassign")
	}
	if got := f.flashOf(t, alice, f.post(t, alice, caseURL+"/cancel", url.Values{"reason": {"dup"}})); !strings.Contains(got, "Pris par bob") {
		t.Errorf("alice's cancel of bob's case: flash %q", got)
	}
}

// TestFlashNamesOnlyAgents: a flash cookie naming someone who is not one
// of our agents shows nothing.
func TestFlashNamesOnlyAgents(t *testing.T) {
	f := newFixture(t, nil)
	a := f.login(t, "alice", alicePassword)
	for v, want := range map[string]string{
		"error:error.claimed|" + base64.RawURLEncoding.EncodeToString([]byte("bob")):               "Pris par bob",
		"error:error.claimed|" + base64.RawURLEncoding.EncodeToString([]byte("call 0800 scammer")): "",
		"error:error.claimed": "",
		"ok:flash.claimed|" + base64.RawURLEncoding.EncodeToString([]byte("x")): "Vous avez pris le dossier.",
	} {
		page := f.do(t, req{method: "GET", path: "/", cookies: []*http.Cookie{a.session, {Name: f.srv.cookies.flash, Value: v}}}).Body.String()
		got := ""
		if i := strings.Index(page, `role="status">`); i >= 0 {
			got = page[i+len(`role="status">`):]
			got = got[:strings.Index(got, "<")]
		}
		if !strings.HasPrefix(got, want) || (want == "" && got != "") || strings.Contains(got, "scammer") || strings.Contains(got, "%!") {
			t.Errorf("flash cookie %q shows %q", v, got)
		}
	}
}

// TestNewFormsNeedTheToken: every form of the claims, verdicts, asks and
// the action is refused without the session's token, and without a
// session.
func TestNewFormsNeedTheToken(t *testing.T) {
	f := newFixtureWith(t, func(o *desk.Options) { o.ActionHook = true }, nil)
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindLostEmail, Contact: "new@elsewhere.example"}, identityJPEG())
	f.setState(t, s.Ref, recoverybot.StateReadyForReview)
	a := f.login(t, "alice", alicePassword)
	before := len(f.events(t, s.Ref))
	base := "/cases/" + s.Ref
	forms := map[string]url.Values{
		base + "/claim":       {},
		base + "/release":     {"reason": {"x"}},
		base + "/reassign":    {"to": {"bob"}, "reason": {"x"}},
		base + "/ask":         {"reason": {"cropped"}, "document": {sha(jpeg)}},
		base + "/stop-action": {"reason": {"x"}},
		base + "/documents/" + sha(jpeg) + "/judge":      {"verdict": {"refused"}, "reason": {"x"}},
		base + "/documents/" + sha(jpeg)[:12] + "/judge": {"verdict": {"accepted"}},
	}
	login := f.do(t, req{method: "GET", path: "/login"})
	loginCookie, loginTok := cookie(login, f.srv.cookies.loginCSRF), formToken(t, login.Body.String())
	for path, form := range forms {
		w := f.do(t, req{method: "POST", path: path, form: form, cookies: []*http.Cookie{a.session}})
		if w.Code != http.StatusForbidden {
			t.Errorf("POST %s without the token: %d", path, w.Code)
		}
		withOther := url.Values{"csrf": {otherToken(a.csrf)}}
		for k, v := range form {
			withOther[k] = v
		}
		if w := f.do(t, req{method: "POST", path: path, form: withOther, cookies: []*http.Cookie{a.session}}); w.Code != http.StatusForbidden {
			t.Errorf("POST %s with a wrong token: %d", path, w.Code)
		}
		withLogin := url.Values{"csrf": {loginTok}}
		for k, v := range form {
			withLogin[k] = v
		}
		if w := f.do(t, req{method: "POST", path: path, form: withLogin, cookies: []*http.Cookie{loginCookie}}); w.Code != http.StatusUnauthorized {
			t.Errorf("POST %s without a session: %d", path, w.Code)
		}
	}
	if after := f.events(t, s.Ref); len(after) != before {
		t.Errorf("refused forms changed the case: %v", actions(f, t, s.Ref))
	}
	got, _ := f.desk.Show(t.Context(), s.Ref)
	if got.ClaimedBy != "" || got.State != recoverybot.StateReadyForReview || slices.ContainsFunc(got.Documents, func(d desk.DocumentSummary) bool { return d.Verdict != "" }) {
		t.Errorf("refused forms changed the case: %+v", got)
	}
}
