package desk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jhillyerd/enmime/v2"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

type fixture struct {
	st   *store.Store
	desk *Desk
	key  recoverybot.CodeKey
	path string
}

var testProfiles = []recoverybot.Profile{
	{ID: "p-ind", Email: "jean@example.org", HolderKind: recoverybot.HolderIndividual, HolderName: "Jean Dupont", Locale: "fr"},
	{ID: "p-co", Email: "gerant@acme.example", HolderKind: recoverybot.HolderCompany, HolderName: "ACME SARL",
		Representative: "Marie Curie", SIREN: "732829320", Locale: "fr"},
	{ID: "p-asso", Email: "bureau@club.example", HolderKind: recoverybot.HolderAssociation, HolderName: "Club de Voile",
		Representative: "Paul Martin", RNA: "W751234567", Locale: "en"},
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, nil, nil)
}

// newFixtureWith is newFixture with the store on the clock now (nil: the
// real one) and the desk's options changed by tweak (nil: none).
func newFixtureWith(t *testing.T, now func() time.Time, tweak func(*Options)) *fixture {
	t.Helper()
	dir := t.TempDir()
	v, err := vault.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "recoverybot.db")
	st, err := store.Open(context.Background(), path, v, store.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, err := recoverybot.NewCodeKey(v.CodeKey())
	if err != nil {
		t.Fatal(err)
	}
	o := Options{From: "contact@hosting.example", FromName: "Support", Provider: "Hosting",
		MessageIDKey: v.Key(vault.PurposeMessageID)}
	if tweak != nil {
		tweak(&o)
	}
	d := New(st, key, o)
	if _, err := d.ImportProfiles(context.Background(), testProfiles, "test", "alice"); err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, desk: d, key: key, path: path}
}

// mail returns the outbox of a case with the bytes opened.
func (f *fixture) mail(t *testing.T, ref string) []store.OutgoingMail {
	t.Helper()
	var out []store.OutgoingMail
	err := f.st.View(context.Background(), func(tx *store.Tx) error {
		c, err := tx.CaseByRef(ref)
		if err != nil {
			return err
		}
		out, err = tx.Outbox(store.OutboxFilter{CaseID: c.ID, WithRaw: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// setState forces a case into a state, standing for what intake does.
func (f *fixture) setState(t *testing.T, ref string, s recoverybot.State, attempts int) {
	t.Helper()
	err := f.st.Update(context.Background(), func(tx *store.Tx) error {
		c, err := tx.CaseByRef(ref)
		if err != nil {
			return err
		}
		c.State, c.FailedCodeAttempts = s, attempts
		return tx.UpdateCase(c)
	})
	if err != nil {
		t.Fatal(err)
	}
}

var codeInMail = regexp.MustCompile(`\b[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b`)

func bodyText(t *testing.T, raw []byte) (string, *enmime.Envelope) {
	t.Helper()
	env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return env.Text, env
}

func TestOpenEveryKindForEveryHolder(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, p := range testProfiles {
		for _, k := range recoverybot.Kinds {
			req := OpenRequest{ProfileID: p.ID, Kind: k, By: "alice"}
			if k == recoverybot.KindLostEmail {
				req.Contact = "New.Address@Elsewhere.example"
			}
			s, err := f.desk.Open(ctx, req)
			if err != nil {
				t.Fatalf("%s %s: %v", p.ID, k, err)
			}
			if s.State != recoverybot.StateAwaitingEvidence || s.OpenedBy != "alice" || s.Kind != k || s.Profile != p.ID {
				t.Errorf("%s %s: summary %+v", p.ID, k, s)
			}
			var wantMissing []recoverybot.Requirement
			for _, d := range recoverybot.RequiredDocuments(p.HolderKind) {
				wantMissing = append(wantMissing, recoverybot.Requirement(d))
			}
			mail := f.mail(t, s.Ref)
			if k.NeedsCode() {
				wantMissing = append(wantMissing, recoverybot.NeedAuthenticatedSender, recoverybot.NeedCode)
				if s.Contact != p.Email {
					t.Errorf("%s: contact %q, want the profile address", k, s.Contact)
				}
				if len(mail) != 1 || mail[0].To != p.Email || mail[0].Template != "instructions" {
					t.Fatalf("%s %s: outbox %+v", p.ID, k, mail)
				}
				text, env := bodyText(t, mail[0].Raw)
				code := codeInMail.FindString(text)
				if code == "" {
					t.Fatalf("%s %s: no code in the code mail:\n%s", p.ID, k, text)
				}
				if !strings.Contains(env.GetHeader("Subject"), s.Ref) {
					t.Errorf("subject %q lacks the reference", env.GetHeader("Subject"))
				}
				// The code mailed is the code stored, bound to this case.
				f.st.View(ctx, func(tx *store.Tx) error {
					c, _ := tx.CaseByRef(s.Ref)
					issued, err := tx.CurrentCode(c.ID)
					if err != nil {
						t.Fatal(err)
					}
					if got := f.key.Check(issued, s.Ref, code, issued.IssuedAt); got != recoverybot.CodeMatch {
						t.Errorf("mailed code checks as %s", got)
					}
					return nil
				})
				if strings.Contains(fmt.Sprintf("%+v", s), code) {
					t.Error("the summary shows the code")
				}
			} else {
				if s.Contact != "new.address@elsewhere.example" {
					t.Errorf("contact = %q, want it normalised", s.Contact)
				}
				if len(mail) != 2 || mail[0].To != s.Contact || mail[1].To != p.Email || mail[1].Template != "owner_notice" {
					t.Fatalf("lost-email outbox: %+v", mail)
				}
				for _, m := range mail {
					if text, _ := bodyText(t, m.Raw); codeInMail.MatchString(text) {
						t.Errorf("a lost-email mail carries something code-shaped:\n%s", text)
					}
				}
				notice, _ := bodyText(t, mail[1].Raw)
				if strings.Contains(notice, s.Contact) {
					t.Error("the owner notice reveals the contact address in full")
				}
			}
			if fmt.Sprint(s.Missing) != fmt.Sprint(wantMissing) {
				t.Errorf("%s %s: missing %v, want %v", p.ID, k, s.Missing, wantMissing)
			}
		}
	}
	list, err := f.desk.List(ctx, "")
	if err != nil || len(list) != 9 {
		t.Fatalf("List = %d cases, %v", len(list), err)
	}
}

func TestCodesNeverStoredInClear(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s, err := f.desk.Open(ctx, OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindTOTPLockout, By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	text, _ := bodyText(t, f.mail(t, s.Ref)[0].Raw)
	code := codeInMail.FindString(text)
	f.st.Close()
	for _, suffix := range []string{"", "-wal"} {
		data, _ := os.ReadFile(f.path + suffix)
		for _, form := range []string{code, strings.ReplaceAll(code, "-", "")} {
			if bytes.Contains(data, []byte(form)) {
				t.Errorf("the code %s is in %s in clear", form, filepath.Base(f.path+suffix))
			}
		}
	}
}

func TestOpenRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.desk.Open(ctx, OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindTOTPLockout, By: "alice"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  OpenRequest
		want error
	}{
		{"second open case", OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindTOTPLockout, By: "bob"}, store.ErrOpenCase},
		{"unknown profile", OpenRequest{ProfileID: "p-none", Kind: recoverybot.KindIPLockout, By: "bob"}, store.ErrNotFound},
		{"no agent", OpenRequest{ProfileID: "p-co", Kind: recoverybot.KindIPLockout}, ErrNoAgent},
		{"contact on a code kind", OpenRequest{ProfileID: "p-co", Kind: recoverybot.KindIPLockout, Contact: "x@y.example", By: "b"}, ErrBadContact},
		{"bad contact", OpenRequest{ProfileID: "p-co", Kind: recoverybot.KindLostEmail, Contact: "not an address", By: "b"}, ErrBadContact},
	}
	for _, tt := range tests {
		if _, err := f.desk.Open(ctx, tt.req); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	list, _ := f.desk.List(ctx, "")
	if len(list) != 1 {
		t.Errorf("refused opens left %d cases", len(list))
	}
}

func TestApproveAndRejectRules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s, err := f.desk.Open(ctx, OpenRequest{ProfileID: "p-co", Kind: recoverybot.KindLostEmail, Contact: "new@acme.example", By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.desk.Approve(ctx, ApproveRequest{Ref: s.Ref, By: "bob"}); !errors.Is(err, recoverybot.ErrIllegalTransition) {
		t.Fatalf("approve while awaiting evidence: %v", err)
	}
	f.setState(t, s.Ref, recoverybot.StateReadyForReview, 0)
	if _, err := f.desk.Approve(ctx, ApproveRequest{Ref: s.Ref}); !errors.Is(err, ErrNoAgent) {
		t.Fatalf("approve without agent: %v", err)
	}
	a, err := f.desk.Approve(ctx, ApproveRequest{Ref: s.Ref, By: "bob", Note: "called back", NewEmail: "new@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	if a.State != recoverybot.StateApproved || a.DecidedBy != "bob" || a.DecidedAt == nil || a.NewEmail != "new@acme.example" {
		t.Errorf("approved summary %+v", a)
	}
	mail := f.mail(t, s.Ref)
	last := mail[len(mail)-1]
	text, _ := bodyText(t, last.Raw)
	if last.Template != "approved" || last.To != "new@acme.example" || !strings.Contains(text, "gerant@acme.example") {
		t.Errorf("approval mail to %s (%s) does not reveal the profile address:\n%s", last.To, last.Template, text)
	}
	f.st.View(ctx, func(tx *store.Tx) error {
		p, _ := tx.Profile("p-co")
		if p.Email != "new@acme.example" {
			t.Errorf("profile email = %s, want it changed", p.Email)
		}
		return nil
	})
	// Closed: nothing more happens.
	if _, err := f.desk.Reject(ctx, s.Ref, "carol", "too late"); !errors.Is(err, recoverybot.ErrIllegalTransition) {
		t.Errorf("reject after approval: %v", err)
	}
	shown, err := f.desk.Show(ctx, s.Ref)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range shown.Events {
		actions = append(actions, e.Actor+":"+e.Action)
	}
	if strings.Join(actions, " ") != "alice:case_opened bob:case_claimed bob:case_approved" {
		t.Errorf("audit trail = %v", actions)
	}

	// Reject from every open state, with a reason told to the customer.
	for _, st := range recoverybot.OpenStates {
		s, err := f.desk.Open(ctx, OpenRequest{ProfileID: "p-asso", Kind: recoverybot.KindIPLockout, By: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		f.setState(t, s.Ref, st, 0)
		if _, err := f.desk.Reject(ctx, s.Ref, "bob", " "); !errors.Is(err, ErrNeedsReason) {
			t.Errorf("reject without reason: %v", err)
		}
		r, err := f.desk.Reject(ctx, s.Ref, "bob", "ID copy unreadable")
		if err != nil || r.State != recoverybot.StateRejected || r.Reason != "ID copy unreadable" {
			t.Fatalf("reject from %s: %+v, %v", st, r, err)
		}
		mail := f.mail(t, s.Ref)
		text, _ := bodyText(t, mail[len(mail)-1].Raw)
		if mail[len(mail)-1].Template != "rejected" || !strings.Contains(text, "ID copy unreadable") {
			t.Errorf("rejection mail lacks the reason:\n%s", text)
		}
	}
}

func TestResendCodeKeepsFailures(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s, err := f.desk.Open(ctx, OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindIPLockout, By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	first := codeInMail.FindString(must(bodyText(t, f.mail(t, s.Ref)[0].Raw)))
	f.setState(t, s.Ref, recoverybot.StateAwaitingEvidence, 3)
	r, err := f.desk.ResendCode(ctx, s.Ref, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if r.FailedCodeAttempts != 3 {
		t.Errorf("failed attempts after resend = %d, want 3 kept", r.FailedCodeAttempts)
	}
	mail := f.mail(t, s.Ref)
	if len(mail) != 2 || mail[0].MessageID == mail[1].MessageID {
		t.Fatalf("outbox after resend: %+v", mail)
	}
	second := codeInMail.FindString(must(bodyText(t, mail[1].Raw)))
	f.st.View(ctx, func(tx *store.Tx) error {
		c, _ := tx.CaseByRef(s.Ref)
		issued, _ := tx.CurrentCode(c.ID)
		if f.key.Check(issued, s.Ref, second, issued.IssuedAt) != recoverybot.CodeMatch {
			t.Error("the new code does not match")
		}
		if first != second && f.key.Check(issued, s.Ref, first, issued.IssuedAt) == recoverybot.CodeMatch {
			t.Error("the superseded code still matches")
		}
		return nil
	})
	lost, _ := f.desk.Open(ctx, OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindLostEmail, Contact: "a@b.example", By: "a"})
	if _, err := f.desk.ResendCode(ctx, lost.Ref, "bob"); !errors.Is(err, ErrNoCode) {
		t.Errorf("resend on lost-email: %v", err)
	}
	f.setState(t, s.Ref, recoverybot.StateLocked, 5)
	if _, err := f.desk.ResendCode(ctx, s.Ref, "bob"); !errors.Is(err, ErrNotAwaiting) {
		t.Errorf("resend on a locked case: %v", err)
	}
	o, err := f.desk.Reopen(ctx, s.Ref, "bob") // bob holds it since his resend
	if err != nil || o.State != recoverybot.StateAwaitingEvidence || o.FailedCodeAttempts != 0 {
		t.Errorf("reopen = %+v, %v", o, err)
	}
	if _, err := f.desk.Reopen(ctx, s.Ref, "bob"); !errors.Is(err, recoverybot.ErrIllegalTransition) {
		t.Errorf("reopen of an open case: %v", err)
	}
	shown, _ := f.desk.Show(ctx, s.Ref)
	last := shown.Events[len(shown.Events)-1]
	if last.Action != "case_reopened" || last.Actor != "bob" || last.Details["failed_code_attempts_before"] != "5" {
		t.Errorf("reopen audit = %+v", last)
	}
}

func must(s string, _ *enmime.Envelope) string { return s }

// TestConcurrentAgents runs eight agents opening and deciding cases at
// once: no "database is locked", no lost update.
func TestConcurrentAgents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var profiles []recoverybot.Profile
	for i := 0; i < 8; i++ {
		profiles = append(profiles, recoverybot.Profile{ID: fmt.Sprintf("c-%d", i), Email: fmt.Sprintf("c%d@example.org", i),
			HolderKind: recoverybot.HolderIndividual, HolderName: "C", Locale: "en"})
	}
	if _, err := f.desk.ImportProfiles(ctx, profiles, "test", ""); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			agent := fmt.Sprintf("agent-%d", i)
			for round := 0; round < 5; round++ {
				s, err := f.desk.Open(ctx, OpenRequest{ProfileID: fmt.Sprintf("c-%d", i), Kind: recoverybot.KindTOTPLockout, By: agent})
				if err != nil {
					errs <- err
					return
				}
				if _, err := f.desk.ResendCode(ctx, s.Ref, agent); err != nil {
					errs <- err
					return
				}
				if _, err := f.desk.Reject(ctx, s.Ref, agent, "test"); err != nil {
					errs <- err
					return
				}
				if _, err := f.desk.List(ctx, recoverybot.StateRejected); err != nil {
					errs <- err
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent agent: %v", err)
	}
	list, _ := f.desk.List(ctx, recoverybot.StateRejected)
	if len(list) != 40 {
		t.Errorf("%d rejected cases, want 40", len(list))
	}
}

// TestConfiguredCodeTTL: the code a case opens with, and a resent one,
// expire after Options.CodeTTL, not the default.
func TestConfiguredCodeTTL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	v, err := vault.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	st, err := store.Open(ctx, filepath.Join(dir, "recoverybot.db"), v, store.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key, err := recoverybot.NewCodeKey(v.CodeKey())
	if err != nil {
		t.Fatal(err)
	}
	const ttl = 150 * time.Minute
	d := New(st, key, Options{CodeTTL: ttl, From: "contact@hosting.example", Provider: "Hosting",
		MessageIDKey: v.Key(vault.PurposeMessageID)})
	if _, err := d.ImportProfiles(ctx, testProfiles, "test", "alice"); err != nil {
		t.Fatal(err)
	}
	s, err := d.Open(ctx, OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindTOTPLockout, By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	stored := func() recoverybot.IssuedCode {
		var code recoverybot.IssuedCode
		if err := st.View(ctx, func(tx *store.Tx) error {
			c, err := tx.CaseByRef(s.Ref)
			if err != nil {
				return err
			}
			code, err = tx.CurrentCode(c.ID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return code
	}
	if s.CodeExpiresAt == nil || !s.CodeExpiresAt.Equal(now.Add(ttl)) || !stored().ExpiresAt.Equal(now.Add(ttl)) {
		t.Errorf("code expires at %v (stored %v), want %v", s.CodeExpiresAt, stored().ExpiresAt, now.Add(ttl))
	}
	now = now.Add(time.Hour)
	if _, err := d.ResendCode(ctx, s.Ref, "bob"); err != nil {
		t.Fatal(err)
	}
	if got := stored().ExpiresAt; !got.Equal(now.Add(ttl)) {
		t.Errorf("resent code expires at %v, want %v", got, now.Add(ttl))
	}
}

// TestDocumentNeedsAgent: reading a document is audited under the
// agent's name; without one it is refused, and nothing is recorded.
func TestDocumentNeedsAgent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s, err := f.desk.Open(ctx, OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindTOTPLockout, By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	doc := recoverybot.Document{Type: recoverybot.DocIdentity, Filename: "cni.jpg", MediaType: "image/jpeg"}
	if err := f.st.Update(ctx, func(tx *store.Tx) error {
		c, err := tx.CaseByRef(s.Ref)
		if err != nil {
			return err
		}
		return tx.AddDocument(c.ID, 0, 1, &doc, []byte("\xff\xd8\xff scan"))
	}); err != nil {
		t.Fatal(err)
	}
	events := func() int {
		shown, err := f.desk.Show(ctx, s.Ref)
		if err != nil {
			t.Fatal(err)
		}
		return len(shown.Events)
	}
	before := events()
	for _, by := range []string{"", "  "} {
		if _, _, err := f.desk.DownloadDocument(ctx, s.Ref, doc.SHA256, by); !errors.Is(err, ErrNoAgent) {
			t.Errorf("Document by %q: err = %v, want ErrNoAgent", by, err)
		}
	}
	if strings.Contains(ErrNoAgent.Error(), "--by") {
		t.Errorf("ErrNoAgent speaks of a flag: %q", ErrNoAgent)
	}
	if events() != before {
		t.Error("a refused reading was recorded")
	}
	if _, data, err := f.desk.DownloadDocument(ctx, s.Ref, doc.SHA256, "bob"); err != nil || string(data) != "\xff\xd8\xff scan" || events() != before+1 {
		t.Errorf("Document by bob = %q, %v (events %d, was %d)", data, err, events(), before)
	}
}
