package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
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
	return &parser.Message{From: []string{from}, Sender: from, AuthResults: auth, Subject: "Re: recovery", MessageID: "m1@example.org", Date: now}
}

var pass = ar("mx.hosting.example", spf("pass", "example.org"), dmarc("pass", "example.org"))

func id(name string) parser.Document {
	return doc(name, recoverybot.DocIdentity, "image/jpeg")
}

// doc is a document of the given type and media type; its SHA-256 is its
// name's.
func doc(name string, t recoverybot.DocumentType, mediaType string, findings ...string) parser.Document {
	sum := sha256.Sum256([]byte(name))
	return parser.Document{Filename: name, Type: t, MediaType: mediaType, SHA256: hex.EncodeToString(sum[:]), Findings: findings}
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
		d.Reply.Template != recoverybot.TemplateAcknowledgement || d.Reply.To != "new@acme.example" ||
		!slices.Equal(d.Missing, []recoverybot.Requirement{"company_registration"}) {
		t.Fatalf("first message: %+v reply %+v", d, d.Reply)
	}
	cf.Documents = []recoverybot.Document{DocumentOf(id("cni.jpg"))}
	cf.LastAutoReply = now.Add(-time.Minute)
	m2 := msg("new@acme.example")
	m2.ReplyTo = []string{"attacker@evil.example"}
	m2.Documents = []parser.Document{doc("kbis.pdf", recoverybot.DocCompanyRegistration, "application/pdf")}
	d = Decide(Input{Message: m2, Candidates: []CaseFile{cf}, Now: now, Policy: policy})
	if d.After.State != recoverybot.StateReadyForReview || d.Reply == nil || d.Reply.Template != recoverybot.TemplateUnderReview || d.Reply.To != "new@acme.example" {
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
	d = Decide(Input{Message: bounce, Candidates: []CaseFile{bcf}, BouncedTemplate: string(recoverybot.TemplateInstructions), Now: now, Policy: policy})
	if d.Outcome != Record || !slices.Contains(d.After.Flags, "code email bounced") || d.Reply != nil {
		t.Errorf("bounce: %+v", d)
	}
	// A report that names none of our mail, tied by the reference it
	// quotes: recorded, no flag.
	rcf := codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence)
	d = Decide(Input{Message: bounce, Candidates: []CaseFile{rcf}, Now: now, Policy: policy})
	if d.Outcome != Record || len(d.After.Flags) != 0 || len(d.Events) != 0 {
		t.Errorf("bounce tied by reference: %+v", d)
	}
}

// TestCodeAttempts pins what may count as a guess at the code (SPEC §3):
// only a sender that may speak for the case, only its new text, only mail
// dated after the code was issued, and at most a few candidates a message.
func TestCodeAttempts(t *testing.T) {
	many := func(n int, right bool, where string) []parser.Found {
		var fs []parser.Found
		for i := range n {
			c, _ := recoverybot.NormalizeCode(fmt.Sprintf("AAAA-%04d", 2000+i))
			fs = append(fs, parser.Found{Value: c, Where: where})
		}
		if right {
			fs[n/2] = code(theCode, where)
		}
		return fs
	}
	issued := now.Add(-time.Hour) // codeCase's IssuedAt
	tests := []struct {
		name   string
		codes  []parser.Found
		date   time.Time
		result recoverybot.CodeResult
		failed bool
	}{
		{"50 candidates with the right one match none", many(50, true, "body"), now, recoverybot.CodeMismatch, true},
		{"4 candidates with the right one match none", many(4, true, "body"), now, recoverybot.CodeMismatch, true},
		{"4 candidates, the right one quoted, match none", append(many(3, false, "body"), code(theCode, "quoted")), now, recoverybot.CodeMismatch, true},
		{"4 wrong candidates in the quote alone: no attempt", many(4, false, "quoted"), now, "", false},
		{"50 candidates in a forwarded message with the right one", many(50, true, "forwarded"), now, "", false},
		{"3 candidates with the right one still match", many(3, true, "body"), now, recoverybot.CodeMatch, false},
		{"our mail forwarded back matches", []parser.Found{code(theCode, "forwarded")}, now, recoverybot.CodeMatch, false},
		{"a wrong code forwarded is no attempt", []parser.Found{code("AAAA-1111", "forwarded")}, now, "", false},
		{"the same candidate 5 times is one", []parser.Found{code("AAAA-1111", "body"), code("AAAA-1111", "subject"), code("AAAA-1111", "html"), code("AAAA-1111", "quoted"), code(theCode, "quoted")}, now, recoverybot.CodeMatch, false},
		{"wrong code dated before the code was issued", []parser.Found{code("AAAA-1111", "body")}, issued.Add(-time.Hour), "", false},
		{"right code dated before the code was issued", []parser.Found{code(theCode, "body")}, issued.Add(-time.Hour), "", false},
		{"wrong code with no Date", []parser.Found{code("AAAA-1111", "body")}, time.Time{}, "", false},
		{"right code with no Date", []parser.Found{code(theCode, "body")}, time.Time{}, "", false},
		{"wrong code dated a little before issue (clock skew)", []parser.Found{code("AAAA-1111", "body")}, issued.Add(-time.Minute), recoverybot.CodeMismatch, true},
		{"right code dated a little before issue (clock skew)", []parser.Found{code(theCode, "body")}, issued.Add(-time.Minute), recoverybot.CodeMatch, false},
		{"wrong code dated far in the future still fails", []parser.Found{code("AAAA-1111", "body")}, now.Add(24 * 365 * time.Hour), recoverybot.CodeMismatch, true},
		{"right code dated far in the future still matches", []parser.Found{code(theCode, "body")}, now.Add(24 * 365 * time.Hour), recoverybot.CodeMatch, false},
	}
	for _, tt := range tests {
		cf := codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence)
		m := msg("jean@example.org", pass)
		m.Date = tt.date
		m.Codes = tt.codes
		d := Decide(Input{Message: m, Candidates: []CaseFile{cf}, Now: now, Policy: policy})
		if d.Code != tt.result || d.FailedAttempt != tt.failed {
			t.Errorf("%s: code %q failed %v; want %q %v", tt.name, d.Code, d.FailedAttempt, tt.result, tt.failed)
		}
		if d.After.CodeVerified != (tt.result == recoverybot.CodeMatch) {
			t.Errorf("%s: code verified %v", tt.name, d.After.CodeVerified)
		}
	}
}

// TestCodeCandidateLimit: max_code_candidates is honoured, and the lock
// at 5 failed attempts bounds the guesses to 5 × the limit.
func TestCodeCandidateLimit(t *testing.T) {
	p := policy
	p.MaxCodeCandidates = 1
	cf := codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence)
	m := msg("jean@example.org", pass)
	m.Date = now
	m.Codes = []parser.Found{code("AAAA-1111", "body"), code(theCode, "body")}
	d := Decide(Input{Message: m, Candidates: []CaseFile{cf}, Now: now, Policy: p})
	if d.Code != recoverybot.CodeMismatch || !d.FailedAttempt || d.After.CodeVerified {
		t.Errorf("2 candidates over a limit of 1: code %q failed %v verified %v", d.Code, d.FailedAttempt, d.After.CodeVerified)
	}
	// 5 messages of 50 guesses each: locked after the fifth, 5 attempts.
	for i := range recoverybot.MaxCodeAttempts {
		m := msg("jean@example.org", pass)
		m.Date = now
		for j := range 50 {
			c, _ := recoverybot.NormalizeCode(fmt.Sprintf("BBBB-%04d", 2000+50*i+j))
			m.Codes = append(m.Codes, parser.Found{Value: c, Where: "body"})
		}
		d := Decide(Input{Message: m, Candidates: []CaseFile{cf}, Now: now, Policy: policy})
		cf.Case = d.After
	}
	if cf.Case.State != recoverybot.StateLocked || cf.Case.FailedCodeAttempts != recoverybot.MaxCodeAttempts {
		t.Errorf("after 5 messages of 50 guesses: %s, %d attempts", cf.Case.State, cf.Case.FailedCodeAttempts)
	}
}

// TestCodeSender: only a sender that may speak for the case can fail a
// code, whatever the path that brought its message to checkCodes.
func TestCodeSender(t *testing.T) {
	cf := codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence)
	tests := []struct {
		name    string
		status  recoverybot.SenderStatus
		require bool
		failed  bool
	}{
		{"verified", recoverybot.SenderVerified, true, true},
		{"unverified, authentication required", recoverybot.SenderUnverified, true, false},
		{"unverified, authentication not required", recoverybot.SenderUnverified, false, true},
		{"failed, authentication not required", recoverybot.SenderFailed, false, false},
		{"failed", recoverybot.SenderFailed, true, false},
		{"none", recoverybot.SenderNone, false, false},
	}
	for _, tt := range tests {
		p := policy
		p.RequireAuthenticatedSender = tt.require
		m := msg("jean@example.org", pass)
		m.Date = now
		m.Codes = []parser.Found{code("AAAA-1111", "body")}
		in := Input{Message: m, Candidates: []CaseFile{cf}, Now: now, Policy: p}
		_, failed, _ := checkCodes(in, &cf, SenderCheck{Address: "jean@example.org", Status: tt.status})
		if failed != tt.failed {
			t.Errorf("%s: failed attempt %v, want %v", tt.name, failed, tt.failed)
		}
	}
}

// TestDocumentsThatCount: a document meets a requirement only with bytes
// its type needs and no hostile finding; it is still added to the case,
// for the agent to see.
func TestDocumentsThatCount(t *testing.T) {
	tests := []struct {
		name     string
		doc      parser.Document
		complete bool
	}{
		{"JPEG identity document", doc("cni.jpg", recoverybot.DocIdentity, "image/jpeg"), true},
		{"PDF identity document", doc("cni.pdf", recoverybot.DocIdentity, "application/pdf"), true},
		{"text named cni.jpg", doc("cni.jpg", recoverybot.DocIdentity, "text/plain"), false},
		{"encrypted PDF", doc("cni.pdf", recoverybot.DocIdentity, "application/pdf", "encrypted"), false},
		{"PDF with JavaScript", doc("cni.pdf", recoverybot.DocIdentity, "application/pdf", "active_content: /JavaScript"), false},
		{"PNG named .jpg", doc("cni.jpg", recoverybot.DocIdentity, "image/png", "type_mismatch: name ends in .jpg, content is image/png"), false},
		{"truncated JPEG", doc("cni.jpg", recoverybot.DocIdentity, "image/jpeg", "truncated"), false},
		{"image bomb", doc("cni.png", recoverybot.DocIdentity, "image/png", "too_many_pixels: 50000×50000"), false},
		{"renamed", doc("cni.jpg", recoverybot.DocIdentity, "image/jpeg", "filename_changed: control characters removed"), true},
	}
	for _, tt := range tests {
		cf := lostCase("RC-BBBBBB")
		cf.Profile = jean
		m := msg("new@acme.example")
		m.Documents = []parser.Document{tt.doc}
		d := Decide(Input{Message: m, Candidates: []CaseFile{cf}, Now: now, Policy: policy})
		if d.Outcome != Apply || len(d.Documents) != 1 {
			t.Errorf("%s: %s %q, %d documents added", tt.name, d.Outcome, d.Reason, len(d.Documents))
		}
		if got := d.After.State == recoverybot.StateReadyForReview; got != tt.complete {
			t.Errorf("%s: complete %v, want %v (state %s)", tt.name, got, tt.complete, d.After.State)
		}
		if !tt.complete && (d.Reply == nil || !slices.Contains(d.Missing, "identity_document")) {
			t.Errorf("%s: the reply does not ask for the identity document again: %+v", tt.name, d.Reply)
		}
	}
	// A hostile copy already in the case does not count either.
	cf := lostCase("RC-BBBBBB")
	cf.Profile = jean
	cf.Documents = []recoverybot.Document{DocumentOf(doc("cni.pdf", recoverybot.DocIdentity, "application/pdf", "encrypted"))}
	d := Decide(Input{Message: msg("new@acme.example"), Candidates: []CaseFile{cf}, Now: now, Policy: policy})
	if d.After.State != recoverybot.StateAwaitingEvidence {
		t.Errorf("a stored encrypted PDF completed the case: %s", d.After.State)
	}
}

// TestDocumentBounds: a message with more documents than the policy
// allows, or one that would take its case beyond its bound, goes to
// review and adds nothing; the same bytes count once.
func TestDocumentBounds(t *testing.T) {
	docs := func(prefix string, n int) []parser.Document {
		var ds []parser.Document
		for i := range n {
			ds = append(ds, doc(fmt.Sprintf("%s-%d.jpg", prefix, i), recoverybot.DocIdentity, "image/jpeg"))
		}
		return ds
	}
	stored := func(n int) []recoverybot.Document {
		var ds []recoverybot.Document
		for _, d := range docs("old", n) {
			ds = append(ds, DocumentOf(d))
		}
		return ds
	}
	p := policy
	p.MaxDocumentsPerMessage, p.MaxDocumentsPerCase = 3, 5
	tests := []struct {
		name    string
		inCase  []recoverybot.Document
		docs    []parser.Document
		policy  Policy
		outcome Outcome
		reason  string
	}{
		{"within both bounds", stored(2), docs("new", 3), p, Apply, ""},
		{"one too many in the message", nil, docs("new", 4), p, Review, "4 documents in one message, more than 3"},
		{"the same bytes four times are one", nil, []parser.Document{id("a.jpg"), id("a.jpg"), id("a.jpg"), id("a.jpg")}, p, Apply, ""},
		{"one too many for the case", stored(3), docs("new", 3), p, Review, "would bring the case to 6, more than 5"},
		{"bytes the case has do not count again", stored(5), docs("old", 3), p, Apply, ""},
		{"a full case still takes mail without documents", stored(5), nil, p, Apply, ""},
		{"the default bound of a message", nil, docs("new", DefaultMaxDocumentsPerMessage+1), policy, Review, "more than 20"},
		{"the default bound of a case", stored(DefaultMaxDocumentsPerCase), docs("new", 1), policy, Review, "more than 50"},
	}
	for _, tt := range tests {
		cf := lostCase("RC-BBBBBB")
		cf.Documents = tt.inCase
		m := msg("new@acme.example")
		m.Documents = tt.docs
		m.Codes = []parser.Found{code("AAAA-1111", "body")}
		d := Decide(Input{Message: m, Candidates: []CaseFile{cf}, Now: now, Policy: tt.policy})
		if d.Outcome != tt.outcome || !strings.Contains(d.Reason, tt.reason) {
			t.Errorf("%s: %s %q, want %s %q", tt.name, d.Outcome, d.Reason, tt.outcome, tt.reason)
		}
		if d.Outcome == Review && (len(d.Documents) != 0 || d.Reply != nil || d.After.State != cf.Case.State) {
			t.Errorf("%s: a message over the bounds added %d documents, reply %v, state %s", tt.name, len(d.Documents), d.Reply, d.After.State)
		}
	}
	// Over the bound, a code case's wrong code does not count either.
	cf := codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence)
	m := msg("jean@example.org", pass)
	m.Documents = docs("new", 21)
	m.Codes = []parser.Found{code("AAAA-1111", "body")}
	if d := Decide(Input{Message: m, Candidates: []CaseFile{cf}, Now: now, Policy: policy}); d.Outcome != Review || d.FailedAttempt || d.After.FailedCodeAttempts != 0 {
		t.Errorf("code case over the bound: %s, failed %v", d.Outcome, d.FailedAttempt)
	}
}

// TestClosedCasesChangeNothing: mail about an expired or a cancelled
// case (or any closed one) is recorded and changes nothing: no document,
// no code checked or counted, no sender status, no reply.
func TestClosedCasesChangeNothing(t *testing.T) {
	for _, state := range []recoverybot.State{recoverybot.StateExpired, recoverybot.StateCancelled, recoverybot.StateApproved, recoverybot.StateRejected} {
		for _, via := range []string{"ref", "thread", "sender"} {
			cf := codeCase("RC-AAAAAA", state)
			cf.Via = via
			m := msg("jean@example.org", pass)
			m.Documents = []parser.Document{id("cni.jpg")}
			for _, c := range []string{theCode, "AAAA-1111"} {
				m.Codes = []parser.Found{code(c, "body")}
				d := Decide(Input{Message: m, Candidates: []CaseFile{cf}, Now: now, Policy: policy})
				if via == "sender" {
					// A closed case is no candidate by sender alone.
					if d.Outcome != Ignore {
						t.Errorf("%s by sender: %s", state, d.Outcome)
					}
					continue
				}
				if d.Outcome != Record || !strings.Contains(d.Reason, string(state)) {
					t.Errorf("%s by %s: %s %q", state, via, d.Outcome, d.Reason)
				}
				if len(d.Documents) != 0 || d.Code != "" || d.FailedAttempt || d.Reply != nil || len(d.Events) != 0 ||
					!reflect.DeepEqual(d.After, cf.Case) {
					t.Errorf("%s by %s: the decision changes the case: %+v", state, via, d)
				}
			}
		}
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

// TestReviewCauses: each way to review names its cause, one of Causes,
// and a decision that is no review names none.
func TestReviewCauses(t *testing.T) {
	a, b := codeCase("RC-AAAAAA", recoverybot.StateAwaitingEvidence), lostCase("RC-BBBBBB")
	bySender := func(cf CaseFile) CaseFile { cf.Via = "sender"; return cf }
	fail := ar("mx.hosting.example", dmarc("fail", "example.org"))
	many := func(m *parser.Message) *parser.Message {
		for i := range DefaultMaxDocumentsPerMessage + 1 {
			m.Documents = append(m.Documents, id(fmt.Sprintf("cni-%d.jpg", i)))
		}
		return m
	}
	repeated := msg("jean@example.org", pass)
	repeated.RepeatedHeaders = []string{"Subject"}
	noSender := msg("", pass)
	tests := []struct {
		name       string
		m          *parser.Message
		candidates []CaseFile
		cause      Cause
	}{
		{"applied", msg("jean@example.org", pass), []CaseFile{a}, ""},
		{"ignored", msg("jean@example.org", pass), nil, ""},
		{"two references", msg("jean@example.org", pass), []CaseFile{a, b}, CauseSeveralRefs},
		{"reference disagrees with sender", msg("jean@example.org", pass), []CaseFile{b, bySender(a)}, CauseRefDisagrees},
		{"two open cases", msg("jean@example.org", pass), []CaseFile{bySender(a), bySender(codeCase("RC-CCCCCC", recoverybot.StateAwaitingEvidence))}, CauseSeveralCases},
		{"repeated header", repeated, []CaseFile{a}, CauseRepeatedHeader},
		{"no sender", noSender, []CaseFile{a}, CauseNoSender},
		{"other address", msg("jean@evil.example", pass), []CaseFile{a}, CauseOtherAddress},
		{"dmarc=fail", msg("jean@example.org", fail), []CaseFile{a}, CauseSenderFailed},
		{"not authenticated", msg("jean@example.org"), []CaseFile{a}, CauseUnauthenticated},
		{"too many documents", many(msg("jean@example.org", pass)), []CaseFile{a}, CauseTooManyDocuments},
	}
	for _, tt := range tests {
		d := Decide(Input{Message: tt.m, Candidates: tt.candidates, Now: now, Policy: policy})
		if d.Cause != tt.cause {
			t.Errorf("%s: %s %q, cause %q, want %q", tt.name, d.Outcome, d.Reason, d.Cause, tt.cause)
		}
		if (d.Outcome == Review) != (d.Cause != "") || (d.Cause != "" && !slices.Contains(Causes, d.Cause)) {
			t.Errorf("%s: outcome %s with cause %q", tt.name, d.Outcome, d.Cause)
		}
	}
}
