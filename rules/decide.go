package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/parser"
)

// CaseFile is what the store knows of a case that a message may be about.
type CaseFile struct {
	Case    recoverybot.Case
	Profile recoverybot.Profile
	Code    *recoverybot.IssuedCode // the current code; nil for lost-email
	// Documents are the case's documents so far, each SHA-256 once,
	// with their media types and findings.
	Documents []recoverybot.Document
	// LastAutoReply is when we last replied automatically about the case.
	LastAutoReply time.Time
	// Via says how the intake found it: "ref", "sender", "thread" (our
	// Message-ID in In-Reply-To/References) or "bounce".
	Via string
}

// Policy is the configuration the rules depend on.
type Policy struct {
	TrustedAuthservIDs         []string
	RequireAuthenticatedSender bool
	ReplyInterval              time.Duration
	CodeKey                    recoverybot.CodeKey
	// MaxCodeCandidates is the most distinct code candidates a message
	// may carry and still be checked (SPEC §3); 0 means
	// DefaultMaxCodeCandidates.
	MaxCodeCandidates int
	// MaxDocumentsPerMessage and MaxDocumentsPerCase bound the distinct
	// documents (by SHA-256) of a message and of a case; a message beyond
	// either goes to review and adds nothing. 0 means the defaults.
	MaxDocumentsPerMessage int
	MaxDocumentsPerCase    int
}

// The defaults of the document bounds.
const (
	DefaultMaxDocumentsPerMessage = 20
	DefaultMaxDocumentsPerCase    = 50
)

// DefaultMaxCodeCandidates is Policy.MaxCodeCandidates' default.
const DefaultMaxCodeCandidates = 3

// DateSkew is how far a message's Date may be before the code was
// issued and still be checked: the customer's clock may be slow.
const DateSkew = 10 * time.Minute

// Input is everything Decide looks at.
type Input struct {
	Message *parser.Message
	// Candidates are the cases the intake found for the message, by
	// reference, by sender or by thread. Decide picks one or none.
	Candidates []CaseFile
	// BouncedTemplate is the template of our mail a bounce reports, as
	// the outbox records it (a recoverybot.Template's name), when the
	// intake matched it.
	BouncedTemplate string
	Now             time.Time
	Policy          Policy
}

// Outcome is what happens to the message as a whole.
type Outcome string

// The outcomes.
const (
	// Ignore: not about any case. The message stays where it is, untouched.
	Ignore Outcome = "ignore"
	// Apply: its evidence is added to the case; the message goes to the
	// processed folder.
	Apply Outcome = "apply"
	// Record: tied to a case but changes nothing (a closed case, an
	// automatic reply, a bounce); it goes to the processed folder.
	Record Outcome = "record"
	// Review: tied to a case (or several) but unusable; it goes to the
	// review folder with the reason.
	Review Outcome = "review"
)

// Reply is a mail to send about the case.
type Reply struct {
	Template recoverybot.Template
	To       string
}

// Cause is why a message goes to review, in a word: one of a fixed set,
// for counting (metrics, the log), where a Decision's Reason is the
// sentence for people, with the addresses and references it names.
type Cause string

// The causes of a review.
const (
	CauseSeveralRefs      Cause = "several_refs"       // several case references
	CauseRefDisagrees     Cause = "ref_disagrees"      // the reference disagrees with the sender's open case
	CauseSeveralCases     Cause = "several_cases"      // several open cases for the sender
	CauseRepeatedHeader   Cause = "repeated_header"    // two Subjects, Froms… (SPEC §4)
	CauseNoSender         Cause = "no_sender"          // no sender address to check
	CauseOtherAddress     Cause = "other_address"      // sent from another address than the profile's
	CauseSenderFailed     Cause = "sender_failed"      // a trusted header says the sender's domain failed
	CauseUnauthenticated  Cause = "unauthenticated"    // nothing vouches for the sender, and the policy requires it
	CauseTooManyDocuments Cause = "too_many_documents" // beyond the documents' bounds
	CauseUnreadable       Cause = "unreadable"         // the message could not be read (the intake says so)
	CauseTooLarge         Cause = "too_large"          // too large to download (the intake says so)
	CauseDecisionFailed   Cause = "decision_failed"    // the decision itself failed (the intake says so)
)

// Causes lists every Cause.
var Causes = []Cause{CauseSeveralRefs, CauseRefDisagrees, CauseSeveralCases, CauseRepeatedHeader, CauseNoSender,
	CauseOtherAddress, CauseSenderFailed, CauseUnauthenticated, CauseTooManyDocuments, CauseUnreadable, CauseTooLarge,
	CauseDecisionFailed}

// Decision is what Decide concluded.
type Decision struct {
	Outcome Outcome
	Reason  string
	// Cause is why the message goes to review (Review only).
	Cause Cause
	// Case is the case the message is about (nil for Ignore, and for a
	// Review between several cases).
	Case   *CaseFile
	Sender SenderCheck
	// Documents to add to the case (Apply only).
	Documents []parser.Document
	// Code is the result of the code check; "" when none was made.
	Code recoverybot.CodeResult
	// FailedAttempt is set when the message counts as a wrong code.
	FailedAttempt bool
	// After is the case as it must be stored (Apply and Record).
	After recoverybot.Case
	// Events are audit actions to record, beside the message's own.
	Events []Event
	// Missing is what the case still lacks once the message is taken
	// into account (Apply and Record): what the reply lists and the
	// report shows, computed once here.
	Missing []recoverybot.Requirement
	Reply   *Reply
}

// Event is an audit event the decision causes.
type Event struct {
	Action  string
	Details map[string]string
}

// Decide is the decision at the heart of recoverybot: which case a message
// is about, whether its sender may speak for it, whether its code
// matches, what the case still lacks and what to tell the customer.
func Decide(in Input) Decision {
	m := in.Message
	sender := CheckSender(m, in.Policy.TrustedAuthservIDs)
	d := Decision{Outcome: Ignore, Sender: sender}

	cf, reason, cause := pick(in, sender)
	if cf == nil {
		if reason != "" {
			d.Outcome, d.Reason, d.Cause = Review, reason, cause
		}
		return d
	}
	d.Case = cf
	c := cf.Case
	d.After = c

	// Two Subjects, Message-IDs, Froms…: we read one, a DKIM verifier
	// or the agent's mail client may have read the other (SPEC §4). Such
	// a message changes nothing, whatever case it is about.
	if len(m.RepeatedHeaders) > 0 {
		d.Outcome, d.Reason, d.Cause = Review, "repeated header: "+strings.Join(m.RepeatedHeaders, ", ")+" (RFC 5322 §3.6 allows one of each)", CauseRepeatedHeader
		return d
	}

	if m.Bounce != nil || cf.Via == "bounce" {
		d.Outcome, d.Reason = Record, "delivery status notification"
		if cf.Via == "bounce" {
			flag := "our mail bounced"
			if recoverybot.Template(in.BouncedTemplate) == recoverybot.TemplateInstructions {
				flag = "code email bounced"
			}
			if !slices.Contains(d.After.Flags, flag) {
				d.After.Flags = append(slices.Clone(d.After.Flags), flag)
				d.After.UpdatedAt = in.Now
				d.Events = append(d.Events, Event{Action: "mail_bounced", Details: map[string]string{"flag": flag}})
			}
		}
		return d
	}
	if !c.State.Open() {
		d.Outcome, d.Reason = Record, "the case is "+string(c.State)
		return d
	}
	if m.Automatic {
		d.Outcome, d.Reason = Record, "automatic mail ("+strings.Join(m.AutomaticSignals, ", ")+")"
		return d
	}

	// Who may speak for the case (SPEC §4).
	if c.Kind.NeedsProfileAddress() {
		switch {
		case sender.Address == "":
			d.Outcome, d.Reason, d.Cause = Review, "sender check failed: "+sender.Detail, CauseNoSender
			return d
		case sender.Address != c.Contact:
			d.Outcome, d.Reason, d.Cause = Review, fmt.Sprintf("sender check failed: sent from %s, not from the profile's address", sender.Address), CauseOtherAddress
			return d
		case sender.Status == recoverybot.SenderFailed:
			d.Outcome, d.Reason, d.Cause = Review, "sender check failed: "+sender.Detail, CauseSenderFailed
			return d
		case sender.Status == recoverybot.SenderUnverified && in.Policy.RequireAuthenticatedSender:
			d.Outcome, d.Reason, d.Cause = Review, "sender not authenticated: "+sender.Detail, CauseUnauthenticated
			return d
		}
	} else if sender.Status == recoverybot.SenderFailed {
		d.Outcome, d.Reason, d.Cause = Review, "sender check failed: "+sender.Detail, CauseSenderFailed
		return d
	}

	if reason := overDocumentBounds(in.Policy, cf, m.Documents); reason != "" {
		d.Outcome, d.Reason, d.Cause = Review, reason, CauseTooManyDocuments
		return d
	}

	d.Outcome = Apply
	d.After.UpdatedAt = in.Now
	if rank(sender.Status) > rank(d.After.SenderStatus) && (c.Kind.NeedsProfileAddress() || sender.Address == c.Contact) {
		d.After.SenderStatus = sender.Status
	}
	d.Documents = m.Documents
	docs := slices.Clone(cf.Documents)
	for _, doc := range m.Documents {
		docs = append(docs, DocumentOf(doc))
	}

	if c.Kind.NeedsCode() && !c.CodeVerified && c.State == recoverybot.StateAwaitingEvidence {
		var note string
		d.Code, d.FailedAttempt, note = checkCodes(in, cf, sender)
		if note != "" && !d.FailedAttempt {
			d.Events = append(d.Events, Event{Action: "code_not_checked", Details: map[string]string{"reason": note}})
		}
		switch {
		case d.Code == recoverybot.CodeMatch:
			d.After.CodeVerified = true
			d.Events = append(d.Events, Event{Action: "code_verified"})
		case d.FailedAttempt:
			d.After.FailedCodeAttempts++
			details := map[string]string{"failed_code_attempts": fmt.Sprint(d.After.FailedCodeAttempts)}
			if note != "" {
				details["reason"] = note
			}
			d.Events = append(d.Events, Event{Action: "code_rejected", Details: details})
		case d.Code == recoverybot.CodeExpired:
			d.Events = append(d.Events, Event{Action: "code_expired"})
		}
	}

	d.Missing = recoverybot.Missing(c.Kind, cf.Profile.HolderKind, recoverybot.Progress{
		Documents: docs, SenderStatus: d.After.SenderStatus, CodeVerified: d.After.CodeVerified,
		UnverifiedSenderCounts: !in.Policy.RequireAuthenticatedSender,
	})
	switch {
	case d.After.FailedCodeAttempts >= recoverybot.MaxCodeAttempts && c.State == recoverybot.StateAwaitingEvidence:
		d.After.State, _ = recoverybot.Transition(c.State, recoverybot.EventLock)
		d.Events = append(d.Events, Event{Action: "case_locked", Details: map[string]string{
			"failed_code_attempts": fmt.Sprint(d.After.FailedCodeAttempts)}})
	case len(d.Missing) == 0 && c.State == recoverybot.StateAwaitingEvidence:
		d.After.State, _ = recoverybot.Transition(c.State, recoverybot.EventEvidenceComplete)
		d.Events = append(d.Events, Event{Action: "evidence_complete"})
	}

	d.Reply = reply(in, cf, d)
	return d
}

// DocumentOf is what the domain knows of a document the parser found: what
// recoverybot.Document.Satisfies looks at.
func DocumentOf(d parser.Document) recoverybot.Document {
	return recoverybot.Document{Type: d.Type, Filename: d.Filename, DeclaredType: d.DeclaredType, MediaType: d.MediaType,
		Size: d.Size, SHA256: d.SHA256, Signals: d.Signals, Findings: d.Findings}
}

// overDocumentBounds says why a message's documents would take it or its
// case beyond the policy's bounds, "" when they do not. Documents count by
// SHA-256: the same bytes sent twice count once.
func overDocumentBounds(p Policy, cf *CaseFile, docs []parser.Document) string {
	perMessage, perCase := p.MaxDocumentsPerMessage, p.MaxDocumentsPerCase
	if perMessage <= 0 {
		perMessage = DefaultMaxDocumentsPerMessage
	}
	if perCase <= 0 {
		perCase = DefaultMaxDocumentsPerCase
	}
	inCase := map[string]bool{}
	for _, d := range cf.Documents {
		inCase[d.SHA256] = true
	}
	inMessage := map[string]bool{}
	added := 0
	for _, d := range docs {
		if inMessage[d.SHA256] {
			continue
		}
		inMessage[d.SHA256] = true
		if !inCase[d.SHA256] {
			added++
		}
	}
	switch {
	case len(inMessage) > perMessage:
		return fmt.Sprintf("%d documents in one message, more than %d: none added", len(inMessage), perMessage)
	case added > 0 && len(inCase)+added > perCase:
		return fmt.Sprintf("%d new documents would bring the case to %d, more than %d: none added", added, len(inCase)+added, perCase)
	}
	return ""
}

// pick chooses the case a message is about, or explains why it cannot.
// A reference wins over the sender; two references, or a reference that
// disagrees with the sender's own open case, are never guessed between.
func pick(in Input, sender SenderCheck) (*CaseFile, string, Cause) {
	var byRef, bySender, other []*CaseFile
	for i := range in.Candidates {
		cf := &in.Candidates[i]
		switch cf.Via {
		case "ref":
			byRef = append(byRef, cf)
		case "sender":
			bySender = append(bySender, cf)
		default:
			other = append(other, cf)
		}
	}
	switch {
	case len(byRef) > 1:
		return nil, "several case references: " + refs(byRef), CauseSeveralRefs
	case len(byRef) == 1:
		// The reference names a case the sender does not write for,
		// while the sender has an open case of its own: never guess.
		if byRef[0].Case.Contact != sender.Address {
			for _, s := range bySender {
				if s.Case.Ref != byRef[0].Case.Ref && s.Case.State.Open() {
					return nil, fmt.Sprintf("the reference %s disagrees with the sender's open case %s", byRef[0].Case.Ref, s.Case.Ref),
						CauseRefDisagrees
				}
			}
		}
		return byRef[0], "", ""
	case len(other) > 0:
		return other[0], "", ""
	}
	var open []*CaseFile
	for _, s := range bySender {
		if s.Case.State.Open() {
			open = append(open, s)
		}
	}
	switch len(open) {
	case 0:
		return nil, "", ""
	case 1:
		return open[0], "", ""
	}
	return nil, "several open cases for this sender: " + refs(open), CauseSeveralCases
}

func refs(cs []*CaseFile) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Case.Ref)
	}
	return strings.Join(s, ", ")
}

func rank(s recoverybot.SenderStatus) int {
	switch s {
	case recoverybot.SenderVerified:
		return 3
	case recoverybot.SenderUnverified:
		return 2
	case recoverybot.SenderFailed:
		return 1
	}
	return 0
}

// checkCodes compares the candidates of a message with the case's code
// and says whether the message is a failed attempt (SPEC §3). note, when
// set, says why the code was not checked or counted as it might seem.
//
//   - Only mail dated after the code was issued (DateSkew allowed) is
//     checked at all: a message with no Date, or dated before, neither
//     matches nor fails, so an older message, or an old code quoted,
//     never counts against the customer, and the Date an attacker
//     writes buys no free guess. A Date in the future is not believed
//     and changes nothing: the message is checked as if dated now.
//   - A message with more distinct candidates than the policy allows
//     (new, quoted and forwarded text together) matches none of them,
//     and is one failed attempt when any was in its new text: the lock
//     after MaxCodeAttempts failures bounds the guesses.
//   - Otherwise a match anywhere wins (a quoted reply to our mail
//     counts, and so does our mail forwarded back); a wrong candidate
//     fails only in the new text (subject, plain or HTML body; not a
//     quote nor a forwarded message), and only from a sender that may
//     speak for the case: verified, or unverified when the policy
//     allows it, never failed.
func checkCodes(in Input, cf *CaseFile, sender SenderCheck) (_ recoverybot.CodeResult, failed bool, note string) {
	if cf.Code == nil {
		return "", false, ""
	}
	date := in.Message.Date
	switch {
	case date.IsZero():
		return "", false, "the message has no Date: codes not checked"
	case date.Before(cf.Code.IssuedAt.Add(-DateSkew)):
		return "", false, "the message is dated before the code was issued: codes not checked"
	}
	mayFail := sender.Status == recoverybot.SenderVerified ||
		(sender.Status == recoverybot.SenderUnverified && !in.Policy.RequireAuthenticatedSender)

	limit := in.Policy.MaxCodeCandidates
	if limit <= 0 {
		limit = DefaultMaxCodeCandidates
	}
	distinct := map[string]bool{}
	inNewText := false
	for _, f := range in.Message.Codes {
		switch f.Where {
		case parser.WhereSubject, parser.WhereBody, parser.WhereHTML:
			inNewText = true
		}
		distinct[f.Value] = true
	}
	if len(distinct) > limit {
		note = fmt.Sprintf("%d distinct code candidates, more than %d: none checked", len(distinct), limit)
		if inNewText && mayFail {
			return recoverybot.CodeMismatch, true, note
		}
		return "", false, note
	}

	var result recoverybot.CodeResult
	wrong := false
	for _, f := range in.Message.Codes {
		switch r := in.Policy.CodeKey.Check(*cf.Code, cf.Case.Ref, f.Value, in.Now); r {
		case recoverybot.CodeMatch:
			return r, false, ""
		case recoverybot.CodeExpired, recoverybot.CodeUsed:
			result = r
		case recoverybot.CodeMismatch:
			switch f.Where {
			case parser.WhereSubject, parser.WhereBody, parser.WhereHTML:
				wrong = true
			}
		}
	}
	switch {
	case result != "":
		return result, false, ""
	case wrong && mayFail:
		return recoverybot.CodeMismatch, true, ""
	case wrong:
		return "", false, "the sender may not speak for the case: its codes are not counted"
	}
	return "", false, ""
}

// reply says what to tell the customer: nothing to a sender that failed
// the check (no backscatter), nothing to automatic mail, at most one
// automatic reply per case per interval, and only to the case's contact
// address or the profile's address.
func reply(in Input, cf *CaseFile, d Decision) *Reply {
	to := cf.Case.CustomerAddress(cf.Profile)
	if to == "" {
		return nil
	}
	// The notice that a case is complete goes out whatever the limit: it
	// happens once per case, so it cannot feed a loop.
	if d.After.State == recoverybot.StateReadyForReview && cf.Case.State != recoverybot.StateReadyForReview {
		return &Reply{Template: recoverybot.TemplateUnderReview, To: to}
	}
	if !cf.LastAutoReply.IsZero() && in.Now.Sub(cf.LastAutoReply) < in.Policy.ReplyInterval {
		return nil
	}
	switch {
	case d.After.State == recoverybot.StateAwaitingEvidence:
		return &Reply{Template: recoverybot.TemplateAcknowledgement, To: to}
	}
	return nil
}
