package recoverybot

import (
	"slices"
	"time"
)

// Profile is an account as the provider's admin system knows it (SPEC §2).
type Profile struct {
	ID             string     `json:"id"`
	Email          string     `json:"email"`
	Phone          string     `json:"phone"`
	HolderKind     HolderKind `json:"holder_kind"`
	HolderName     string     `json:"holder_name"`
	Representative string     `json:"representative"` // gérant or président; empty for an individual
	SIREN          string     `json:"siren"`          // optional, companies
	RNA            string     `json:"rna"`            // optional, associations
	Locale         string     `json:"locale"`         // "fr" (default) or "en"
}

// SenderStatus is the result of the sender check of SPEC §4 for the
// address a case requires. SenderNone means no message has been tied to
// the case yet; the zero value reads as SenderNone.
type SenderStatus string

// The sender check results.
const (
	SenderNone       SenderStatus = "none"
	SenderVerified   SenderStatus = "verified"   // a trusted Authentication-Results header vouches for the From domain
	SenderUnverified SenderStatus = "unverified" // nothing trusted says either way
	SenderFailed     SenderStatus = "failed"     // a trusted header says the From domain failed
)

// Case is one recovery case (SPEC §2).
type Case struct {
	ID        int64  `json:"-"`
	Ref       string `json:"ref"`
	ProfileID string `json:"profile"`
	Kind      Kind   `json:"kind"`
	// Contact is the address the customer writes from: the new address
	// for a lost-email case, the profile's address for the code kinds.
	Contact string `json:"contact"`
	State   State  `json:"state"`

	OpenedBy  string    `json:"opened_by"`
	OpenedAt  time.Time `json:"opened_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// DecidedBy and DecidedAt are set once a case is closed, by an agent
	// or by the system (expiry).
	DecidedBy string     `json:"decided_by,omitempty"`
	DecidedAt *time.Time `json:"decided_at,omitempty"`
	Note      string     `json:"note,omitempty"`   // the agent's note on approval
	Reason    string     `json:"reason,omitempty"` // the reason of a rejection or cancellation
	NewEmail  string     `json:"new_email,omitempty"`

	SenderStatus       SenderStatus `json:"sender_status"`
	CodeVerified       bool         `json:"code_verified"`
	FailedCodeAttempts int          `json:"failed_code_attempts"`
	// Flags are notable facts an agent should see at a glance, such as
	// "code email bounced".
	Flags []string `json:"flags,omitempty"`
	// LastAutoReplyAt is when recoverybot last replied automatically to
	// incoming mail about the case (the per-case reply limit).
	LastAutoReplyAt *time.Time `json:"-"`

	// ClaimedBy is the agent who works the case; empty: nobody. Only the
	// holder decides it.
	ClaimedBy string     `json:"claimed_by,omitempty"`
	ClaimedAt *time.Time `json:"claimed_at,omitempty"`
	// PendingApproval is a first approval waiting for a second agent
	// ([policy] second_approval); nil: none.
	PendingApproval *Approval `json:"pending_approval,omitempty"`
	// Approvers are the agents who approved the case, the first first.
	Approvers []string `json:"approvers,omitempty"`
}

// CustomerAddress is where mail to the customer about the case goes, the
// one place that says it: the contact address of a lost-email case (the
// profile's address is the one lost), the profile's own address for the
// code kinds. Nothing about a case is ever sent anywhere else.
func (c Case) CustomerAddress(p Profile) string {
	if c.Kind.NeedsProfileAddress() {
		return p.Email
	}
	return c.Contact
}

// Approval is an agent's approval of a case, kept while it waits for a
// second agent's.
type Approval struct {
	By       string    `json:"by"`
	At       time.Time `json:"at"`
	Note     string    `json:"note,omitempty"`
	NewEmail string    `json:"new_email,omitempty"`
}

// Document is a file a customer sent: an attachment, an inline image, a
// file inside a forwarded message or a winmail.dat (SPEC §6).
type Document struct {
	ID           int64        `json:"-"`
	Type         DocumentType `json:"type"`
	Filename     string       `json:"filename"`
	DeclaredType string       `json:"declared_type,omitempty"` // the Content-Type the sender wrote
	MediaType    string       `json:"media_type"`              // sniffed from the bytes
	Size         int64        `json:"size"`
	SHA256       string       `json:"sha256"`
	Signals      []string     `json:"signals,omitempty"`  // why it was classified so
	Findings     []string     `json:"findings,omitempty"` // what is wrong with it
	MessageID    int64        `json:"-"`                  // the ledger message it came from (the first, in a listing)
	// Messages are the ledger messages that carried the same bytes, in
	// order, when the document comes from a case's listing.
	Messages   []int64   `json:"messages,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	// Purged is set once the retention sweep has removed the bytes; the
	// metadata stays.
	Purged bool `json:"purged,omitempty"`
	// Verdict is an agent's judgement of the document, which overrides
	// recoverybot's own (Satisfies); empty: none yet.
	Verdict       Verdict `json:"verdict,omitempty"`
	VerdictReason string  `json:"verdict_reason,omitempty"`
	VerdictBy     string  `json:"verdict_by,omitempty"`
}

// Verdict is an agent's judgement of one document.
type Verdict string

// The verdicts.
const (
	VerdictNone     Verdict = ""
	VerdictAccepted Verdict = "accepted" // it proves what its type says, whatever recoverybot found
	VerdictRefused  Verdict = "refused"  // it does not count; the customer is asked again
)

// AuditEvent is one line of the append-only audit log.
type AuditEvent struct {
	ID      int64             `json:"id"`
	CaseRef string            `json:"case,omitempty"`
	Actor   string            `json:"actor"`
	Action  string            `json:"action"`
	At      time.Time         `json:"at"`
	Details map[string]string `json:"details,omitempty"`
}

// SystemActor is the actor recorded for what recoverybot does by itself.
const SystemActor = "recoverybot"

// Progress is what a case has gathered so far, the input of Missing.
type Progress struct {
	// Documents are the case's documents, with their media types and
	// findings: only those that Satisfy count.
	Documents    []Document
	SenderStatus SenderStatus
	CodeVerified bool
	// UnverifiedSenderCounts is the configuration's
	// require_authenticated_sender = false: an unverified sender then
	// satisfies the sender requirement (and is shown as unverified).
	UnverifiedSenderCounts bool
}

// Missing lists what a case of kind k for a holder of kind h still lacks,
// in a stable order: the documents of the requirement table, then the
// authenticated sender and the code for the code kinds. An empty result
// means the case is complete. A document meets a requirement of its type
// only when it Satisfies.
func Missing(k Kind, h HolderKind, p Progress) []Requirement {
	missing := []Requirement{}
	for _, need := range RequiredDocuments(h) {
		if !slices.ContainsFunc(p.Documents, func(d Document) bool { return d.Type == need && d.Satisfies() }) {
			missing = append(missing, Requirement(need))
		}
	}
	if k.NeedsProfileAddress() {
		ok := p.SenderStatus == SenderVerified ||
			(p.UnverifiedSenderCounts && p.SenderStatus == SenderUnverified)
		if !ok {
			missing = append(missing, NeedAuthenticatedSender)
		}
	}
	if k.NeedsCode() && !p.CodeVerified {
		missing = append(missing, NeedCode)
	}
	return missing
}

// OperatorActor is the actor recorded for what an operator does on the
// command line outside any agent's name (managing agents' logins).
const OperatorActor = "operator"

// Agent is a support agent who logs in to the dashboard. Their password
// is kept only as an argon2id hash, in the store.
type Agent struct {
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
}

// Active reports whether the agent may log in.
func (a Agent) Active() bool { return a.DisabledAt == nil }
