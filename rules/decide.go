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
	Case      recoverybot.Case
	Profile   recoverybot.Profile
	Code      *recoverybot.IssuedCode // the current code; nil for lost-email
	Documents []recoverybot.DocumentType
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
}

// Input is everything Decide looks at.
type Input struct {
	Message *parser.Message
	// Candidates are the cases the intake found for the message, by
	// reference, by sender or by thread. Decide picks one or none.
	Candidates []CaseFile
	// BouncedTemplate is the template of our mail a bounce reports
	// ("instructions" …), when the intake matched it.
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
	Template string // outbound template name
	To       string
	Missing  []recoverybot.Requirement
}

// Decision is what Decide concluded.
type Decision struct {
	Outcome Outcome
	Reason  string
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
	Reply  *Reply
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

	cf, reason := pick(in, sender)
	if cf == nil {
		if reason != "" {
			d.Outcome, d.Reason = Review, reason
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
		d.Outcome, d.Reason = Review, "repeated header: "+strings.Join(m.RepeatedHeaders, ", ")+" (RFC 5322 §3.6 allows one of each)"
		return d
	}

	if m.Bounce != nil || cf.Via == "bounce" {
		d.Outcome, d.Reason = Record, "delivery status notification"
		if cf.Via == "bounce" {
			flag := "our mail bounced"
			if in.BouncedTemplate == "instructions" {
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
			d.Outcome, d.Reason = Review, "sender check failed: "+sender.Detail
			return d
		case sender.Address != c.Contact:
			d.Outcome, d.Reason = Review, fmt.Sprintf("sender check failed: sent from %s, not from the profile's address", sender.Address)
			return d
		case sender.Status == recoverybot.SenderFailed:
			d.Outcome, d.Reason = Review, "sender check failed: "+sender.Detail
			return d
		case sender.Status == recoverybot.SenderUnverified && in.Policy.RequireAuthenticatedSender:
			d.Outcome, d.Reason = Review, "sender not authenticated: "+sender.Detail
			return d
		}
	} else if sender.Status == recoverybot.SenderFailed {
		d.Outcome, d.Reason = Review, "sender check failed: "+sender.Detail
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
		docs = append(docs, doc.Type)
	}

	if c.Kind.NeedsCode() && !c.CodeVerified && c.State == recoverybot.StateAwaitingEvidence {
		d.Code, d.FailedAttempt = checkCodes(in, cf)
		switch {
		case d.Code == recoverybot.CodeMatch:
			d.After.CodeVerified = true
			d.Events = append(d.Events, Event{Action: "code_verified"})
		case d.FailedAttempt:
			d.After.FailedCodeAttempts++
			d.Events = append(d.Events, Event{Action: "code_rejected", Details: map[string]string{
				"failed_code_attempts": fmt.Sprint(d.After.FailedCodeAttempts)}})
		case d.Code == recoverybot.CodeExpired:
			d.Events = append(d.Events, Event{Action: "code_expired"})
		}
	}

	missing := recoverybot.Missing(c.Kind, cf.Profile.HolderKind, recoverybot.Progress{
		Documents: docs, SenderStatus: d.After.SenderStatus, CodeVerified: d.After.CodeVerified,
		UnverifiedSenderCounts: !in.Policy.RequireAuthenticatedSender,
	})
	switch {
	case d.After.FailedCodeAttempts >= recoverybot.MaxCodeAttempts && c.State == recoverybot.StateAwaitingEvidence:
		d.After.State, _ = recoverybot.Transition(c.State, recoverybot.EventLock)
		d.Events = append(d.Events, Event{Action: "case_locked", Details: map[string]string{
			"failed_code_attempts": fmt.Sprint(d.After.FailedCodeAttempts)}})
	case len(missing) == 0 && c.State == recoverybot.StateAwaitingEvidence:
		d.After.State, _ = recoverybot.Transition(c.State, recoverybot.EventEvidenceComplete)
		d.Events = append(d.Events, Event{Action: "evidence_complete"})
	}

	d.Reply = reply(in, cf, d, missing)
	return d
}

// pick chooses the case a message is about, or explains why it cannot.
// A reference wins over the sender; two references, or a reference that
// disagrees with the sender's own open case, are never guessed between.
func pick(in Input, sender SenderCheck) (*CaseFile, string) {
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
		return nil, "several case references: " + refs(byRef)
	case len(byRef) == 1:
		// The reference names a case the sender does not write for,
		// while the sender has an open case of its own: never guess.
		if byRef[0].Case.Contact != sender.Address {
			for _, s := range bySender {
				if s.Case.Ref != byRef[0].Case.Ref && s.Case.State.Open() {
					return nil, fmt.Sprintf("the reference %s disagrees with the sender's open case %s", byRef[0].Case.Ref, s.Case.Ref)
				}
			}
		}
		return byRef[0], ""
	case len(other) > 0:
		return other[0], ""
	}
	var open []*CaseFile
	for _, s := range bySender {
		if s.Case.State.Open() {
			open = append(open, s)
		}
	}
	switch len(open) {
	case 0:
		return nil, ""
	case 1:
		return open[0], ""
	}
	return nil, "several open cases for this sender: " + refs(open)
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

// checkCodes compares every candidate with the case's code. A match
// anywhere wins (a quoted reply to our mail counts, SPEC §3). A message
// whose new text (subject or body, not a quote nor a forwarded message)
// carries something code-shaped that does not match is one failed
// attempt, however many candidates it has.
func checkCodes(in Input, cf *CaseFile) (recoverybot.CodeResult, bool) {
	if cf.Code == nil {
		return "", false
	}
	var result recoverybot.CodeResult
	wrong := false
	for _, f := range in.Message.Codes {
		switch r := in.Policy.CodeKey.Check(*cf.Code, cf.Case.Ref, f.Value, in.Now); r {
		case recoverybot.CodeMatch:
			return r, false
		case recoverybot.CodeExpired, recoverybot.CodeUsed:
			result = r
		case recoverybot.CodeMismatch:
			// Only what the customer wrote this time counts against
			// them: not the quote of an earlier mail, nor a forwarded one.
			switch f.Where {
			case parser.WhereSubject, parser.WhereBody, parser.WhereHTML:
				wrong = true
			}
		}
	}
	if result != "" {
		return result, false
	}
	if wrong {
		return recoverybot.CodeMismatch, true
	}
	return "", false
}

// reply says what to tell the customer: nothing to a sender that failed
// the check (no backscatter), nothing to automatic mail, at most one
// automatic reply per case per interval, and only to the case's contact
// address or the profile's address.
func reply(in Input, cf *CaseFile, d Decision, missing []recoverybot.Requirement) *Reply {
	to := cf.Case.Contact
	if cf.Case.Kind.NeedsProfileAddress() {
		to = cf.Profile.Email
	}
	if to == "" {
		return nil
	}
	// The notice that a case is complete goes out whatever the limit: it
	// happens once per case, so it cannot feed a loop.
	if d.After.State == recoverybot.StateReadyForReview && cf.Case.State != recoverybot.StateReadyForReview {
		return &Reply{Template: "under_review", To: to}
	}
	if !cf.LastAutoReply.IsZero() && in.Now.Sub(cf.LastAutoReply) < in.Policy.ReplyInterval {
		return nil
	}
	switch {
	case d.After.State == recoverybot.StateAwaitingEvidence:
		return &Reply{Template: "acknowledgement", To: to, Missing: missing}
	}
	return nil
}
