package desk

import (
	"context"
	"fmt"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/store"
)

// Summary is a case as agents see it, and as `cases show --json`,
// `cases list --json` and `cases open --json` print it (SPEC §6).
type Summary struct {
	Ref                string                    `json:"ref"`
	Kind               recoverybot.Kind          `json:"kind"`
	State              recoverybot.State         `json:"state"`
	Profile            string                    `json:"profile"`
	HolderKind         recoverybot.HolderKind    `json:"holder_kind"`
	Contact            string                    `json:"contact"`
	SenderVerified     bool                      `json:"sender_verified"`
	SenderStatus       recoverybot.SenderStatus  `json:"sender_status"`
	CodeVerified       bool                      `json:"code_verified"`
	FailedCodeAttempts int                       `json:"failed_code_attempts"`
	CodeExpiresAt      *time.Time                `json:"code_expires_at,omitempty"`
	Missing            []recoverybot.Requirement `json:"missing"`
	Documents          []DocumentSummary         `json:"documents"`
	Flags              []string                  `json:"flags"`
	OpenedBy           string                    `json:"opened_by"`
	OpenedAt           time.Time                 `json:"opened_at"`
	UpdatedAt          time.Time                 `json:"updated_at"`
	DecidedBy          string                    `json:"decided_by,omitempty"`
	DecidedAt          *time.Time                `json:"decided_at,omitempty"`
	Note               string                    `json:"note,omitempty"`
	Reason             string                    `json:"reason,omitempty"`
	NewEmail           string                    `json:"new_email,omitempty"`
	// PurgedAt is when the case's documents and raw messages were
	// destroyed (store.Purge); nil: they were not. Their metadata stays.
	PurgedAt *time.Time `json:"purged_at,omitempty"`
	// ClaimedBy is the agent who holds the case; empty: nobody.
	ClaimedBy string     `json:"claimed_by,omitempty"`
	ClaimedAt *time.Time `json:"claimed_at,omitempty"`
	// PendingApproval is a first approval waiting for a second agent.
	PendingApproval *recoverybot.Approval `json:"pending_approval,omitempty"`
	// Approvers are the agents who approved the case.
	Approvers []string `json:"approvers,omitempty"`
	// Action is the call of the admin system's hook an approval made;
	// nil: none (not approved, or no hook).
	Action *ActionSummary `json:"action,omitempty"`
	// EarlierMessages, set by Open only, counts the messages the customer
	// sent before the case was opened, queued to be taken for it.
	EarlierMessages *int `json:"earlier_messages,omitempty"`

	// Detail, filled by Show only.
	Events   []recoverybot.AuditEvent `json:"events,omitempty"`
	Mail     []MailSummary            `json:"mail,omitempty"`
	Messages []MessageSummary         `json:"messages,omitempty"`
}

// ActionSummary is where an approval's call of the admin system's hook
// stands.
type ActionSummary struct {
	Action     recoverybot.Action      `json:"action"`
	State      recoverybot.ActionState `json:"state"`
	NewEmail   string                  `json:"new_email,omitempty"`
	Approvers  []string                `json:"approvers"`
	NotBefore  time.Time               `json:"not_before"`
	Attempts   int                     `json:"attempts"`
	NextAt     *time.Time              `json:"next_attempt_at,omitempty"`
	LastError  string                  `json:"last_error,omitempty"`
	Result     string                  `json:"result,omitempty"`
	StoppedBy  string                  `json:"stopped_by,omitempty"`
	StopReason string                  `json:"stop_reason,omitempty"`
	CreatedAt  time.Time               `json:"created_at"`
	DoneAt     *time.Time              `json:"done_at,omitempty"`
}

// MessageSummary is one message tied to a case: the sender verdict and
// what it rests on, and the code result (never the code).
type MessageSummary struct {
	ID           int64                    `json:"id"` // the ledger's, as DocumentSummary.Messages lists them
	UID          uint32                   `json:"uid"`
	MessageID    string                   `json:"message_id,omitempty"`
	Date         *time.Time               `json:"date,omitempty"`
	ReceivedAt   time.Time                `json:"received_at"`
	Sender       string                   `json:"sender"`
	SenderStatus recoverybot.SenderStatus `json:"sender_status"`
	// SenderDetail is the trusted Authentication-Results the verdict
	// rests on, or why none counted.
	SenderDetail string                 `json:"sender_detail,omitempty"`
	CodeResult   recoverybot.CodeResult `json:"code_result,omitempty"`
	Automatic    bool                   `json:"automatic,omitempty"`
	Status       string                 `json:"status"`
	Reason       string                 `json:"reason,omitempty"`
	Size         int64                  `json:"size"`
}

// DocumentSummary is one document of a case: the same bytes sent in
// several messages are one document.
type DocumentSummary struct {
	Type      recoverybot.DocumentType `json:"type"`
	Filename  string                   `json:"filename"`
	MediaType string                   `json:"media_type"`
	Size      int64                    `json:"size"`
	SHA256    string                   `json:"sha256"`
	Findings  []string                 `json:"findings"`
	// Counts says whether it meets the requirement of its type
	// (recoverybot.Document.Satisfies): false for a type its bytes do
	// not fit, or hostile findings.
	Counts bool `json:"counts"`
	// Messages are the ledger messages that carried it, in order.
	Messages   []int64   `json:"messages"`
	ReceivedAt time.Time `json:"received_at"`
	Purged     bool      `json:"purged,omitempty"`
	// DeclaredType is the Content-Type the sender wrote; Signals say why
	// the document was classified so.
	DeclaredType string   `json:"declared_type,omitempty"`
	Signals      []string `json:"signals,omitempty"`
	// Verdict is an agent's judgement, which overrides recoverybot's.
	Verdict       recoverybot.Verdict `json:"verdict,omitempty"`
	VerdictReason string              `json:"verdict_reason,omitempty"`
	VerdictBy     string              `json:"verdict_by,omitempty"`
}

// MailSummary is one mail we sent or will send about a case. It never
// holds the body: the code mail is nobody's to read back.
type MailSummary struct {
	Template  string     `json:"template"`
	To        string     `json:"to"`
	State     string     `json:"state"`
	Attempts  int        `json:"attempts"`
	LastError string     `json:"last_error,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
}

func (d *Desk) summary(tx *store.Tx, c recoverybot.Case) (Summary, error) {
	p, err := tx.Profile(c.ProfileID)
	if err != nil {
		return Summary{}, err
	}
	docs, err := tx.Documents(c.ID)
	if err != nil {
		return Summary{}, err
	}
	s := Summary{
		Ref: c.Ref, Kind: c.Kind, State: c.State, Profile: c.ProfileID, HolderKind: p.HolderKind, Contact: c.Contact,
		SenderVerified: c.SenderStatus == recoverybot.SenderVerified, SenderStatus: c.SenderStatus,
		CodeVerified: c.CodeVerified, FailedCodeAttempts: c.FailedCodeAttempts,
		Documents: []DocumentSummary{}, Flags: c.Flags, OpenedBy: c.OpenedBy, OpenedAt: c.OpenedAt,
		UpdatedAt: c.UpdatedAt, DecidedBy: c.DecidedBy, DecidedAt: c.DecidedAt, Note: c.Note, Reason: c.Reason,
		NewEmail: c.NewEmail, ClaimedBy: c.ClaimedBy, ClaimedAt: c.ClaimedAt, PendingApproval: c.PendingApproval,
		Approvers: c.Approvers,
	}
	if s.Flags == nil {
		s.Flags = []string{}
	}
	if s.PurgedAt, err = tx.PurgedAt(c.ID); err != nil {
		return Summary{}, err
	}
	for _, doc := range docs {
		findings := doc.Findings
		if findings == nil {
			findings = []string{}
		}
		s.Documents = append(s.Documents, DocumentSummary{Type: doc.Type, Filename: doc.Filename, MediaType: doc.MediaType,
			Size: doc.Size, SHA256: doc.SHA256, Findings: findings, Counts: doc.Satisfies(), Messages: nonNilIDs(doc.Messages),
			ReceivedAt: doc.ReceivedAt, Purged: doc.Purged, DeclaredType: doc.DeclaredType, Signals: doc.Signals,
			Verdict: doc.Verdict, VerdictReason: doc.VerdictReason, VerdictBy: doc.VerdictBy})
	}
	s.Missing = recoverybot.Missing(c.Kind, p.HolderKind, recoverybot.Progress{
		Documents: docs, SenderStatus: c.SenderStatus, CodeVerified: c.CodeVerified,
		UnverifiedSenderCounts: d.opts.UnverifiedSenderCounts,
	})
	calls, err := tx.ActionCalls(c.ID)
	if err != nil {
		return Summary{}, err
	}
	if n := len(calls); n > 0 {
		a := calls[n-1]
		s.Action = &ActionSummary{Action: a.Action, State: a.State, NewEmail: a.NewEmail, Approvers: a.Approvers,
			NotBefore: a.NotBefore, Attempts: a.Attempts, LastError: a.LastError, Result: a.Result,
			StoppedBy: a.StoppedBy, StopReason: a.StopReason, CreatedAt: a.CreatedAt, DoneAt: a.DoneAt}
		if a.State == recoverybot.ActionPending {
			next := a.NextAttemptAt
			s.Action.NextAt = &next
		}
	}
	if c.Kind.NeedsCode() && c.State.Open() && !c.CodeVerified {
		if code, err := tx.CurrentCode(c.ID); err == nil {
			s.CodeExpiresAt = &code.ExpiresAt
		}
	}
	return s, nil
}

func nonNilIDs(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

// Show returns one case with its history and its mail.
func (d *Desk) Show(ctx context.Context, ref string) (Summary, error) {
	ref, err := recoverybot.ParseRef(ref)
	if err != nil {
		return Summary{}, err
	}
	var s Summary
	err = d.store.View(ctx, func(tx *store.Tx) error {
		c, err := tx.CaseByRef(ref)
		if err != nil {
			return err
		}
		if s, err = d.summary(tx, c); err != nil {
			return err
		}
		if s.Events, err = tx.AuditEvents(store.AuditFilter{CaseID: c.ID}); err != nil {
			return err
		}
		msgs, err := tx.CaseMessages(c.ID)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			s.Messages = append(s.Messages, MessageSummary{ID: m.MessageID, UID: m.UID, MessageID: m.HeaderID, Date: m.Date,
				ReceivedAt: m.FetchedAt, Sender: m.Sender, SenderStatus: recoverybot.SenderStatus(m.SenderStatus),
				SenderDetail: m.SenderDetail, CodeResult: recoverybot.CodeResult(m.CodeResult), Automatic: m.Automatic,
				Status: string(m.Status), Reason: m.Reason, Size: m.Size})
		}
		mail, err := tx.Outbox(store.OutboxFilter{CaseID: c.ID})
		if err != nil {
			return err
		}
		for _, m := range mail {
			s.Mail = append(s.Mail, MailSummary{Template: m.Template, To: m.To, State: string(m.State),
				Attempts: m.Attempts, LastError: m.LastError, CreatedAt: m.CreatedAt, SentAt: m.SentAt})
		}
		return nil
	})
	if err != nil {
		return Summary{}, fmt.Errorf("show %s: %w", ref, err)
	}
	return s, nil
}

// List returns the cases in a state (all when state is empty), newest first.
func (d *Desk) List(ctx context.Context, state recoverybot.State) ([]Summary, error) {
	out := []Summary{}
	err := d.store.View(ctx, func(tx *store.Tx) error {
		cases, err := tx.ListCases(store.CaseFilter{State: state})
		if err != nil {
			return err
		}
		for _, c := range cases {
			s, err := d.summary(tx, c)
			if err != nil {
				return err
			}
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	return out, nil
}

// UnnamedActor is recorded for imports made without --by.
const UnnamedActor = "cli"
