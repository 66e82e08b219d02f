package rules

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/parser"
)

var (
	now     = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	codeKey = func() recoverybot.CodeKey { k, _ := recoverybot.NewCodeKey(bytes.Repeat([]byte{9}, 32)); return k }()
	policy  = Policy{TrustedAuthservIDs: []string{"mx.hosting.example"}, RequireAuthenticatedSender: true,
		ReplyInterval: time.Hour, CodeKey: codeKey}
	jean = recoverybot.Profile{ID: "p-1", Email: "jean@example.org", HolderKind: recoverybot.HolderIndividual, Locale: "fr"}
	acme = recoverybot.Profile{ID: "p-2", Email: "gerant@acme.example", HolderKind: recoverybot.HolderCompany, Locale: "fr"}
)

const theCode = "7KQ2-M9XA"

func codeCase(ref string, state recoverybot.State) CaseFile {
	h, _ := codeKey.Hash(ref, theCode)
	return CaseFile{
		Case:    recoverybot.Case{ID: 1, Ref: ref, ProfileID: jean.ID, Kind: recoverybot.KindTOTPLockout, Contact: jean.Email, State: state},
		Profile: jean, Via: "ref",
		Code: &recoverybot.IssuedCode{Hash: h, IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(23 * time.Hour)},
	}
}

func lostCase(ref string) CaseFile {
	return CaseFile{
		Case:    recoverybot.Case{ID: 2, Ref: ref, ProfileID: acme.ID, Kind: recoverybot.KindLostEmail, Contact: "new@acme.example", State: recoverybot.StateAwaitingEvidence},
		Profile: acme, Via: "ref",
	}
}

func msg(from string, auth ...parser.AuthResult) *parser.Message {
	return &parser.Message{From: []string{from}, Sender: from, AuthResults: auth, Subject: "Re: recovery", MessageID: "m1@example.org"}
}

var pass = ar("mx.hosting.example", dmarc("pass", "example.org"))

func id(name string) parser.Document {
	return parser.Document{Filename: name, Type: recoverybot.DocIdentity}
}

func code(v, where string) parser.Found {
	c, _ := recoverybot.NormalizeCode(v)
	return parser.Found{Value: c, Where: where}
}

func TestWhichCase(t *testing.T) {
	a, b := codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence), lostCase("RC-BBBBBB")
	bySender := func(cf CaseFile) CaseFile { cf.Via = "sender"; return cf }
	tests := []struct {
		name       string
		candidates []CaseFile
		outcome    Outcome
		ref        string
		reason     string
	}{
		{"nothing", nil, Ignore, "", ""},
		{"by reference", []CaseFile{a}, Apply, "RC-AAAAAA", ""},
		{"by sender", []CaseFile{bySender(a)}, Apply, "RC-AAAAAA", ""},
		{"two references", []CaseFile{a, b}, Review, "", "several case references"},
		{"reference disagrees with sender", []CaseFile{b, bySender(a)}, Review, "", "disagrees"},
		{"reference and sender agree", []CaseFile{a, bySender(a)}, Apply, "RC-AAAAAA", ""},
		{"reference to one of the sender's open cases", []CaseFile{a, bySender(a), bySender(codeCase("RC-CCCCCC", recoverybot.StateAwaitingEvidence))}, Apply, "RC-AAAAAA", ""},
		{"two open cases for the sender", []CaseFile{bySender(a), bySender(codeCase("RC-CCCCCC", recoverybot.StateAwaitingEvidence))}, Review, "", "several open cases"},
		{"sender's closed case is no candidate", []CaseFile{bySender(codeCase("RC-CCCCCC", recoverybot.StateApproved))}, Ignore, "", ""},
	}
	for _, tt := range tests {
		m := msg("jean@example.org", pass)
		m.Documents = []parser.Document{id("cni.jpg")}
		d := Decide(Input{Message: m, Candidates: tt.candidates, Now: now, Policy: policy})
		if d.Outcome != tt.outcome || !strings.Contains(d.Reason, tt.reason) {
			t.Errorf("%s: %s %q, want %s %q", tt.name, d.Outcome, d.Reason, tt.outcome, tt.reason)
		}
		if tt.ref != "" && (d.Case == nil || d.Case.Case.Ref != tt.ref) {
			t.Errorf("%s: case %v, want %s", tt.name, d.Case, tt.ref)
		}
	}
}

func TestSenderRequirements(t *testing.T) {
	untrusted := ar("mx.evil.example", dmarc("pass", "example.org"))
	fail := ar("mx.hosting.example", dmarc("fail", "example.org"))
	tests := []struct {
		name    string
		cf      CaseFile
		m       *parser.Message
		require bool
		outcome Outcome
		reason  string
	}{
		{"code kind, verified profile address", codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence), msg("jean@example.org", pass), true, Apply, ""},
		{"code kind, other address", codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence), msg("jean@evil.example", pass), true, Review, "not from the profile's address"},
		{"code kind, no Authentication-Results", codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence), msg("jean@example.org"), true, Review, "not authenticated"},
		{"code kind, untrusted header claiming pass", codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence), msg("jean@example.org", untrusted), true, Review, "not authenticated"},
		{"code kind, dmarc=fail", codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence), msg("jean@example.org", fail), true, Review, "sender check failed"},
		{"code kind, trusted fail below untrusted pass", codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence), msg("jean@example.org", untrusted, fail), true, Review, "sender check failed"},
		{"code kind, unverified allowed by policy", codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence), msg("jean@example.org"), false, Apply, ""},
		{"code kind, failed even when unverified is allowed", codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence), msg("jean@example.org", fail), false, Review, "sender check failed"},
		{"lost-email, unverified contact", lostCase("RC-BBBBBB"), msg("new@acme.example"), true, Apply, ""},
		{"lost-email, failed", lostCase("RC-BBBBBB"), msg("new@acme.example", ar("mx.hosting.example", dmarc("fail", "acme.example"))), true, Review, "sender check failed"},
	}
	for _, tt := range tests {
		p := policy
		p.RequireAuthenticatedSender = tt.require
		tt.m.Codes = []parser.Found{code("AAAA-1111", "body")}
		d := Decide(Input{Message: tt.m, Candidates: []CaseFile{tt.cf}, Now: now, Policy: p})
		if d.Outcome != tt.outcome || !strings.Contains(d.Reason, tt.reason) {
			t.Errorf("%s: %s %q, want %s %q", tt.name, d.Outcome, d.Reason, tt.outcome, tt.reason)
		}
		if d.Outcome == Review {
			if d.Reply != nil {
				t.Errorf("%s: a refused sender gets a reply", tt.name)
			}
			if d.FailedAttempt || d.After.FailedCodeAttempts != tt.cf.Case.FailedCodeAttempts {
				t.Errorf("%s: a refused sender's code counted against the customer", tt.name)
			}
		}
	}
}

func TestCodes(t *testing.T) {
	tests := []struct {
		name     string
		codes    []parser.Found
		attempts int
		at       time.Time
		result   recoverybot.CodeResult
		failed   bool
		state    recoverybot.State
	}{
		{"right code", []parser.Found{code(theCode, "body")}, 0, now, recoverybot.CodeMatch, false, recoverybot.StateReadyForReview},
		{"right code among wrong ones", []parser.Found{code("AAAA-1111", "body"), code(theCode, "quoted")}, 0, now, recoverybot.CodeMatch, false, recoverybot.StateReadyForReview},
		{"lower case with spaces", []parser.Found{code("7kq2 m9xa", "subject")}, 0, now, recoverybot.CodeMatch, false, recoverybot.StateReadyForReview},
		{"wrong code", []parser.Found{code("AAAA-1111", "body")}, 0, now, recoverybot.CodeMismatch, true, recoverybot.StateAwaitingEvidence},
		{"wrong code only in the quote", []parser.Found{code("AAAA-1111", "quoted")}, 0, now, "", false, recoverybot.StateAwaitingEvidence},
		{"wrong code only in a forwarded message", []parser.Found{code("AAAA-1111", "forwarded")}, 0, now, "", false, recoverybot.StateAwaitingEvidence},
		{"wrong code in the HTML body", []parser.Found{code("AAAA-1111", "html")}, 0, now, recoverybot.CodeMismatch, true, recoverybot.StateAwaitingEvidence},
		{"no code", nil, 0, now, "", false, recoverybot.StateAwaitingEvidence},
		{"fifth wrong code locks", []parser.Found{code("AAAA-1111", "body")}, 4, now, recoverybot.CodeMismatch, true, recoverybot.StateLocked},
		{"expired", []parser.Found{code(theCode, "body")}, 0, now.Add(24 * time.Hour), recoverybot.CodeExpired, false, recoverybot.StateAwaitingEvidence},
	}
	for _, tt := range tests {
		cf := codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence)
		cf.Case.FailedCodeAttempts = tt.attempts
		m := msg("jean@example.org", pass)
		m.Documents = []parser.Document{id("cni.jpg")}
		m.Codes = tt.codes
		d := Decide(Input{Message: m, Candidates: []CaseFile{cf}, Now: tt.at, Policy: policy})
		if d.Code != tt.result || d.FailedAttempt != tt.failed || d.After.State != tt.state {
			t.Errorf("%s: code %q failed %v state %s; want %q %v %s", tt.name, d.Code, d.FailedAttempt, d.After.State, tt.result, tt.failed, tt.state)
		}
		if tt.failed && d.After.FailedCodeAttempts != tt.attempts+1 {
			t.Errorf("%s: attempts %d", tt.name, d.After.FailedCodeAttempts)
		}
	}
}

func TestProgressAndReplies(t *testing.T) {
	// Documents over two messages: the first is acknowledged with what is
	// missing, the second completes the case.
	cf := lostCase("RC-BBBBBB")
	m := msg("new@acme.example")
	m.Documents = []parser.Document{id("cni.jpg")}
	d := Decide(Input{Message: m, Candidates: []CaseFile{cf}, Now: now, Policy: policy})
	if d.Outcome != Apply || d.After.State != recoverybot.StateAwaitingEvidence || d.Reply == nil ||
		d.Reply.Template != "acknowledgement" || d.Reply.To != "new@acme.example" ||
		!slices.Equal(d.Reply.Missing, []recoverybot.Requirement{"company_registration"}) {
		t.Fatalf("first message: %+v reply %+v", d, d.Reply)
	}
	cf.Documents = []recoverybot.DocumentType{recoverybot.DocIdentity}
	cf.LastAutoReply = now.Add(-time.Minute)
	m2 := msg("new@acme.example")
	m2.ReplyTo = []string{"attacker@evil.example"}
	m2.Documents = []parser.Document{{Filename: "kbis.pdf", Type: recoverybot.DocCompanyRegistration}}
	d = Decide(Input{Message: m2, Candidates: []CaseFile{cf}, Now: now, Policy: policy})
	if d.After.State != recoverybot.StateReadyForReview || d.Reply == nil || d.Reply.Template != "under_review" || d.Reply.To != "new@acme.example" {
		t.Fatalf("second message: state %s reply %+v", d.After.State, d.Reply)
	}
	// Within the reply interval, a further acknowledgement is held back.
	m3 := msg("new@acme.example")
	d = Decide(Input{Message: m3, Candidates: []CaseFile{lostCase("RC-BBBBBB")}, Now: now, Policy: policy})
	cf2 := lostCase("RC-BBBBBB")
	cf2.LastAutoReply = now.Add(-10 * time.Minute)
	d = Decide(Input{Message: m3, Candidates: []CaseFile{cf2}, Now: now, Policy: policy})
	if d.Reply != nil {
		t.Errorf("reply within the interval: %+v", d.Reply)
	}

	// Closed case and automatic mail: recorded, nothing changes, no reply.
	closed := codeCase("RC-AAAAAA", recoverybot.StateApproved)
	d = Decide(Input{Message: msg("jean@example.org", pass), Candidates: []CaseFile{closed}, Now: now, Policy: policy})
	if d.Outcome != Record || d.Reply != nil || d.After.State != recoverybot.StateApproved {
		t.Errorf("closed case: %+v", d)
	}
	auto := msg("jean@example.org", pass)
	auto.Automatic, auto.AutomaticSignals = true, []string{"Auto-Submitted: auto-replied"}
	auto.Codes = []parser.Found{code("AAAA-1111", "body")}
	d = Decide(Input{Message: auto, Candidates: []CaseFile{codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence)}, Now: now, Policy: policy})
	if d.Outcome != Record || d.Reply != nil || d.FailedAttempt {
		t.Errorf("automatic mail: %+v", d)
	}

	// A bounce of our code mail flags the case.
	bounce := &parser.Message{Bounce: &parser.Bounce{OriginalMessageID: "x"}, Automatic: true}
	bcf := codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence)
	bcf.Via = "bounce"
	d = Decide(Input{Message: bounce, Candidates: []CaseFile{bcf}, BouncedTemplate: "instructions", Now: now, Policy: policy})
	if d.Outcome != Record || !slices.Contains(d.After.Flags, "code email bounced") || d.Reply != nil {
		t.Errorf("bounce: %+v", d)
	}
}

// TestRepeatedHeadersGoToReview: a message that repeats a single-instance
// header (a genuine mail replayed with a new Subject and Message-ID on
// top) is tied to its case but changes nothing: no document, no code
// attempt, no reply; it goes to review naming the header.
func TestRepeatedHeadersGoToReview(t *testing.T) {
	closed := codeCase("RC-CCCCCC", recoverybot.StateApproved)
	tests := []struct {
		name      string
		cf        CaseFile
		automatic bool
		policy    Policy
	}{
		{"code case", codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence), false, policy},
		{"code case, sender authentication not required", codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence), false,
			Policy{TrustedAuthservIDs: policy.TrustedAuthservIDs, CodeKey: codeKey, ReplyInterval: time.Hour}},
		{"lost-email case", lostCase("RC-BBBBBB"), false, policy},
		{"closed case", closed, false, policy},
		{"automatic mail", codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence), true, policy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := msg(tt.cf.Case.Contact, ar("mx.hosting.example", dmarc("pass", domainOf(tt.cf.Case.Contact))))
			m.RepeatedHeaders = []string{"Subject", "Message-ID"}
			m.Documents = []parser.Document{id("cni.jpg")}
			m.Codes = []parser.Found{code("AAAA-2222", parser.WhereSubject)}
			m.Automatic = tt.automatic
			d := Decide(Input{Message: m, Candidates: []CaseFile{tt.cf}, Now: now, Policy: tt.policy})
			if d.Outcome != Review || !strings.Contains(d.Reason, "Subject") || !strings.Contains(d.Reason, "Message-ID") {
				t.Errorf("%s: %q", d.Outcome, d.Reason)
			}
			if d.Case == nil || d.Case.Case.Ref != tt.cf.Case.Ref {
				t.Errorf("not tied to its case: %+v", d.Case)
			}
			if len(d.Documents) != 0 || d.FailedAttempt || d.Code != "" || d.Reply != nil || len(d.Events) != 0 {
				t.Errorf("the message counted: %+v", d)
			}
			if d.Sender.Status == recoverybot.SenderVerified || !strings.Contains(d.Sender.Detail, "repeated") {
				t.Errorf("sender %+v", d.Sender)
			}
		})
	}
}

func domainOf(addr string) string { _, d, _ := strings.Cut(addr, "@"); return d }
