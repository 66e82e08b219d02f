package web

import (
	"html"
	"io/fs"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
)

// flashOf follows a decision's redirect and returns the page's flash,
// unescaped.
func (f *fixture) flashOf(t *testing.T, a agent, w interface{ Result() *http.Response }) string {
	t.Helper()
	res := w.Result()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("decision: status %d", res.StatusCode)
	}
	var cs []*http.Cookie
	cs = append(cs, a.session)
	for _, c := range res.Cookies() {
		if c.Name == f.srv.cookies.flash {
			cs = append(cs, c)
		}
	}
	page := f.do(t, req{method: "GET", path: res.Header.Get("Location"), cookies: cs}).Body.String()
	m := regexp.MustCompile(`<p class="flash[^"]*" role="status">([^<]*)</p>`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func TestApproveLostEmail(t *testing.T) {
	f := newFixture(t, nil)
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindLostEmail, Contact: "new@elsewhere.example"}, identityJPEG())
	a := f.login(t, "alice", alicePassword)
	// Not ready yet: the form is not shown, and a forced one is refused
	// with words, not an error page.
	page := f.get(t, a, "/cases/"+s.Ref).Body.String()
	if strings.Contains(page, "/approve") {
		t.Error("approve form on a case awaiting evidence")
	}
	w := f.post(t, a, "/cases/"+s.Ref+"/approve", url.Values{"note": {"ok"}})
	if got := f.flashOf(t, a, w); !strings.Contains(got, "rechargez") {
		t.Errorf("flash %q", got)
	}
	f.setState(t, s.Ref, recoverybot.StateReadyForReview)
	page = f.get(t, a, "/cases/"+s.Ref).Body.String()
	if !strings.Contains(page, `name="change_email" value="yes">`) || strings.Contains(page, "checked") {
		t.Error("the change-email box is missing or ticked")
	}
	w = f.post(t, a, "/cases/"+s.Ref+"/approve", url.Values{"note": {"ID matches"}})
	if got := f.flashOf(t, a, w); !strings.Contains(got, "approuvé") {
		t.Errorf("flash %q", got)
	}
	got, _ := f.desk.Show(t.Context(), s.Ref)
	if got.State != recoverybot.StateApproved || got.DecidedBy != "alice" || got.NewEmail != "" || got.Note != "ID matches" {
		t.Errorf("approved case: %+v", got)
	}
}

func TestApproveChangingTheEmail(t *testing.T) {
	f := newFixture(t, nil)
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindLostEmail, Contact: "new@elsewhere.example"}, identityJPEG())
	f.setState(t, s.Ref, recoverybot.StateReadyForReview)
	a := f.login(t, "bob", bobPassword)
	f.post(t, a, "/cases/"+s.Ref+"/approve", url.Values{"change_email": {"yes"}})
	got, _ := f.desk.Show(t.Context(), s.Ref)
	if got.State != recoverybot.StateApproved || got.NewEmail != "new@elsewhere.example" || got.DecidedBy != "bob" {
		t.Errorf("approved case: %+v", got)
	}
}

func TestRejectWithAReason(t *testing.T) {
	f := newFixture(t, nil)
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-co", Kind: recoverybot.KindTOTPLockout}, nil)
	a := f.login(t, "alice", alicePassword)
	if got := f.flashOf(t, a, f.post(t, a, "/cases/"+s.Ref+"/reject", url.Values{"reason": {"other"}})); !strings.Contains(got, "motif") {
		t.Errorf("other without words: flash %q", got)
	}
	if got := f.flashOf(t, a, f.post(t, a, "/cases/"+s.Ref+"/reject", url.Values{"reason": {"made up"}})); !strings.Contains(got, "motif") {
		t.Errorf("a reason not in the list: flash %q", got)
	}
	// The form offers the list of recoverybot.RejectReasons, nothing else.
	page := f.get(t, a, "/cases/"+s.Ref).Body.String()
	for _, rr := range recoverybot.RejectReasons {
		if !strings.Contains(page, `<option value="`+string(rr)+`">`) {
			t.Errorf("the reject form lacks %s", rr)
		}
	}
	if strings.Contains(page, `<option value="expired">Le`) {
		t.Error("the reject form offers a reason of its own")
	}
	f.post(t, a, "/cases/"+s.Ref+"/reject", url.Values{"reason": {"forged"}, "text": {"The photo was pasted on."}})
	got, _ := f.desk.Show(t.Context(), s.Ref)
	if got.State != recoverybot.StateRejected || got.Reason != "forged: The photo was pasted on." {
		t.Errorf("rejected case: %s %q", got.State, got.Reason)
	}
	if n := len(got.Mail); n == 0 || got.Mail[n-1].Template != "rejected" {
		t.Errorf("no rejection mail: %+v", got.Mail)
	}
}

func TestResendReopenCancel(t *testing.T) {
	f := newFixture(t, nil)
	s := f.openCase(t, desk.OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindTOTPLockout}, nil)
	a := f.login(t, "alice", alicePassword)
	if got := f.flashOf(t, a, f.post(t, a, "/cases/"+s.Ref+"/resend-code", nil)); !strings.Contains(got, "nouveau code") {
		t.Errorf("resend: flash %q", got)
	}
	if got := f.flashOf(t, a, f.post(t, a, "/cases/"+s.Ref+"/reopen", nil)); !strings.Contains(got, "rechargez") {
		t.Errorf("reopen of an open case: flash %q", got)
	}
	f.setState(t, s.Ref, recoverybot.StateLocked)
	if w := f.get(t, a, "/?queue=attention"); !strings.Contains(w.Body.String(), s.Ref) {
		t.Error("a locked case is not in Needs attention")
	}
	f.post(t, a, "/cases/"+s.Ref+"/reopen", nil)
	if got, _ := f.desk.Show(t.Context(), s.Ref); got.State != recoverybot.StateAwaitingEvidence {
		t.Errorf("reopened: %s", got.State)
	}
	if got := f.flashOf(t, a, f.post(t, a, "/cases/"+s.Ref+"/cancel", url.Values{"reason": {" "}})); !strings.Contains(got, "motif") {
		t.Errorf("cancel without reason: flash %q", got)
	}
	f.post(t, a, "/cases/"+s.Ref+"/cancel", url.Values{"reason": {"opened by mistake"}})
	got, _ := f.desk.Show(t.Context(), s.Ref)
	if got.State != recoverybot.StateCancelled || got.Reason != "opened by mistake" {
		t.Errorf("cancelled: %s %q", got.State, got.Reason)
	}
	for _, want := range []string{"alice:code_reissued", "alice:case_reopened", "alice:case_cancelled"} {
		if !slices.Contains(actions(f, t, s.Ref), want) {
			t.Errorf("no %s in the audit log", want)
		}
	}
}

func TestQueuesAndSearch(t *testing.T) {
	f := newFixture(t, nil)
	older := f.openCase(t, desk.OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindTOTPLockout}, identityJPEG())
	f.clock.Advance(3 * 3600e9)
	newer := f.openCase(t, desk.OpenRequest{ProfileID: "p-co", Kind: recoverybot.KindLostEmail, Contact: "boss@acme-new.example"}, nil)
	waiting := f.openCase(t, desk.OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindIPLockout}, nil)
	f.setState(t, older.Ref, recoverybot.StateReadyForReview)
	f.setState(t, newer.Ref, recoverybot.StateReadyForReview)
	a := f.login(t, "alice", alicePassword)
	body := f.get(t, a, "/").Body.String()
	i, j := strings.Index(body, older.Ref), strings.Index(body, newer.Ref)
	if i < 0 || j < 0 || i > j || strings.Contains(body, waiting.Ref) {
		t.Errorf("ready queue: oldest first, without the waiting case")
	}
	if !strings.Contains(body, "3 h") {
		t.Error("no age shown")
	}
	body = f.get(t, a, "/?queue=waiting").Body.String()
	if !strings.Contains(body, waiting.Ref) || strings.Contains(body, older.Ref) {
		t.Error("waiting queue")
	}
	if !strings.Contains(body, "code de vérification") {
		t.Error("waiting queue: what is missing is not shown")
	}
	for q, want := range map[string]string{"acme-new": newer.Ref, "gerant@acme": newer.Ref, "p-co": newer.Ref,
		strings.ToLower(older.Ref): older.Ref} {
		body := f.get(t, a, "/?q="+url.QueryEscape(q)).Body.String()
		if !strings.Contains(body, want) {
			t.Errorf("search %q does not find %s", q, want)
		}
		if want == newer.Ref && (strings.Contains(body, older.Ref) || strings.Contains(body, waiting.Ref)) {
			t.Errorf("search %q finds too much", q)
		}
	}
	if w := f.get(t, a, "/?queue=bogus"); w.Code != http.StatusNotFound {
		t.Errorf("unknown queue: %d", w.Code)
	}
}

// TestCataloguesNameEveryMail: the case view names every mail a case
// can have in words, in both languages.
func TestCataloguesNameEveryMail(t *testing.T) {
	c := newCatalog()
	for lang, m := range c.langs {
		for _, tmpl := range recoverybot.Templates {
			if _, ok := m["template."+string(tmpl)]; !ok {
				t.Errorf("%s catalogue has no words for the mail %q", lang, tmpl)
			}
		}
	}
}

// TestCatalogues: both languages say the same things, and every key a
// template names exists.
func TestCatalogues(t *testing.T) {
	c := newCatalog()
	en, fr := c.langs["en"], c.langs["fr"]
	for k := range en {
		if _, ok := fr[k]; !ok {
			t.Errorf("French lacks %q", k)
		}
	}
	for k := range fr {
		if _, ok := en[k]; !ok {
			t.Errorf("English lacks %q", k)
		}
	}
	use := regexp.MustCompile(`\.T\.[SF] "([^"]+)"`)
	err := fs.WalkDir(templateFiles, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(templateFiles, p)
		for _, m := range use.FindAllStringSubmatch(string(b), -1) {
			if _, ok := en[m[1]]; !ok {
				t.Errorf("%s: no message %q", p, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"kind.", "holder.", "state.", "queue.", "reject.", "ask.", "hook.", "hookstate.",
		"verdict.", "doctype.", "req.", "sender.", "attention."} {
		var names []string
		switch prefix {
		case "kind.":
			for _, k := range recoverybot.Kinds {
				names = append(names, string(k))
			}
		case "holder.":
			for _, h := range recoverybot.HolderKinds {
				names = append(names, string(h))
			}
		case "state.":
			for _, s := range recoverybot.States {
				names = append(names, string(s))
			}
		case "queue.":
			for _, q := range desk.Queues() {
				names = append(names, string(q))
			}
		case "reject.":
			for _, r := range recoverybot.RejectReasons {
				names = append(names, string(r))
			}
		case "ask.":
			for _, r := range recoverybot.AskReasons {
				names = append(names, string(r))
			}
		case "hook.":
			for _, a := range recoverybot.Actions {
				names = append(names, string(a))
			}
		case "hookstate.":
			names = []string{string(recoverybot.ActionPending), string(recoverybot.ActionCalling), string(recoverybot.ActionDone),
				string(recoverybot.ActionFailed), string(recoverybot.ActionStopped)}
		case "verdict.":
			names = []string{string(recoverybot.VerdictAccepted), string(recoverybot.VerdictRefused)}
		case "doctype.":
			for _, d := range documentTypes() {
				names = append(names, string(d))
			}
		case "req.":
			names = []string{string(recoverybot.NeedCode), string(recoverybot.NeedAuthenticatedSender),
				string(recoverybot.DocIdentity), string(recoverybot.DocCompanyRegistration), string(recoverybot.DocAssociationStatutes)}
		case "sender.":
			names = []string{string(recoverybot.SenderNone), string(recoverybot.SenderVerified),
				string(recoverybot.SenderUnverified), string(recoverybot.SenderFailed)}
		case "attention.":
			names = []string{desk.AttentionLocked, desk.AttentionBounced, desk.AttentionMailFailed, desk.AttentionReview,
				desk.AttentionActionFailed}
		}
		for _, n := range names {
			if _, ok := en[prefix+n]; !ok {
				t.Errorf("no message %q", prefix+n)
			}
		}
	}
}
