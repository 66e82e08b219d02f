package desk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/internal/mailaddr"
	"github.com/recoverybot/recoverybot/outbound"
	"github.com/recoverybot/recoverybot/store"
)

// Errors of agent actions, for errors.Is.
var (
	ErrNoAgent     = errors.New("desk: the agent is required")
	ErrBadAgent    = errors.New("desk: bad agent name")
	ErrNoCode      = errors.New("desk: this kind of case has no code")
	ErrNeedsReason = errors.New("desk: a reason is required")
	ErrBadContact  = errors.New("desk: bad contact address")
	ErrNotAwaiting = errors.New("desk: the case is not awaiting evidence")
	ErrClosed      = errors.New("desk: the case is closed")
	// ErrSameApprover: the second approval of an action that needs two
	// agents came from the first.
	ErrSameApprover = errors.New("desk: a second, different agent must approve")
	ErrBadNewEmail  = errors.New("desk: bad new address for the profile")
	ErrNewEmailKind = errors.New("desk: only a lost-email case changes the profile's address")
	// ErrApprovalChanged: the first approval a second agent meant to
	// confirm was withdrawn or replaced meanwhile.
	ErrApprovalChanged = errors.New("desk: the approval to confirm has changed; review the case again")
)

// Options configure a Desk.
type Options struct {
	CodeTTL time.Duration // 0: 24 h
	// UnverifiedSenderCounts is require_authenticated_sender = false.
	UnverifiedSenderCounts bool
	From                   string // our address: the sender of our mail, where customers write
	FromName               string
	Provider               string // the provider's name, in signatures
	// MessageIDKey keys the Message-IDs of our mail: the data
	// directory's vault.PurposeMessageID key (outbound.Letters).
	MessageIDKey []byte
	// Lookback: a case opened takes the mail from its address that
	// recoverybot left in the mailbox during this last stretch (SPEC §5;
	// [policy] lookback). 0: none.
	Lookback time.Duration
	// SecondApproval lists the actions an approval needs two agents for
	// ([policy] second_approval).
	SecondApproval []recoverybot.Action
	// ActionHook says that an admin system's hook takes approvals
	// ([action] webhook_url or command): the action is queued for it and
	// the customer told once it has said yes. Without one the customer is
	// told at approval and the agent applies the action by hand.
	ActionHook bool
	// ActionDelay holds the hook this long after approval ([policy]
	// action_delay), so that the account's owner can object.
	ActionDelay time.Duration
	Logger      *slog.Logger
}

// Desk performs agents' actions on the store.
type Desk struct {
	// logins runs one password login at a time, from the lockout check
	// to the failure's record: parallel guesses cannot all pass the check
	// before the first failure counts, and argon2id's memory is spent
	// for one attempt at a time.
	logins sync.Mutex

	store   *store.Store
	codes   recoverybot.CodeKey
	opts    Options
	letters outbound.Letters
	log     *slog.Logger
}

// New returns a Desk.
func New(s *store.Store, codes recoverybot.CodeKey, o Options) *Desk {
	if o.CodeTTL == 0 {
		o.CodeTTL = recoverybot.DefaultCodeTTL
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	letters := outbound.Letters{From: o.From, FromName: o.FromName, Provider: o.Provider, CodeTTL: o.CodeTTL,
		MessageIDKey: o.MessageIDKey}
	return &Desk{store: s, codes: codes, opts: o, letters: letters, log: o.Logger}
}

// CheckAgent validates the name an agent acts under.
func CheckAgent(by string) (string, error) {
	by = strings.TrimSpace(by)
	if by == "" {
		return "", ErrNoAgent
	}
	if len(by) > 64 || strings.IndexFunc(by, func(r rune) bool { return unicode.IsControl(r) }) >= 0 {
		return "", fmt.Errorf("%w %q", ErrBadAgent, by)
	}
	return by, nil
}

// OpenRequest is what `cases open` says.
type OpenRequest struct {
	ProfileID string
	Kind      recoverybot.Kind
	Contact   string // lost-email: the address the customer writes from
	By        string
}

// Open opens a case. For the code kinds it issues a code and queues the
// instructions with the code to the profile's address; for lost-email it
// queues the instructions to the contact address and a notice to the
// profile's address, so that a real owner can object. The mail the
// customer sent before, within the lookback, is queued for the intake,
// which takes it for the case; the summary's EarlierMessages counts it.
func (d *Desk) Open(ctx context.Context, req OpenRequest) (Summary, error) {
	by, err := CheckAgent(req.By)
	if err != nil {
		return Summary{}, err
	}
	var sum Summary
	err = d.store.Update(ctx, func(tx *store.Tx) error {
		p, err := tx.Profile(req.ProfileID)
		if err != nil {
			return err
		}
		contact, err := caseContact(req.Kind, p, req.Contact)
		if err != nil {
			return err
		}
		c := recoverybot.Case{
			ProfileID: p.ID, Kind: req.Kind, Contact: contact, State: recoverybot.StateAwaitingEvidence,
			OpenedBy: by, OpenedAt: tx.Now(), UpdatedAt: tx.Now(),
		}
		for attempt := 0; ; attempt++ {
			if c.Ref, err = recoverybot.NewRef(); err != nil {
				return err
			}
			err = tx.InsertCase(&c)
			if !errors.Is(err, store.ErrRefTaken) || attempt == 10 {
				break
			}
		}
		if err != nil {
			return err
		}
		earlier, err := d.queueEarlier(tx, c, p)
		if err != nil {
			return err
		}
		details := map[string]string{"kind": string(c.Kind), "profile": p.ID, "contact": c.Contact}
		if earlier > 0 {
			details["earlier_messages"] = fmt.Sprint(earlier)
		}
		if err := tx.Audit(c.ID, by, "case_opened", details); err != nil {
			return err
		}
		if c.Kind.NeedsCode() {
			if err := d.issueCode(tx, c, p, false); err != nil {
				return err
			}
		} else {
			if c.Contact != "" {
				if err := d.queue(tx, c, p, outbound.Instructions, c.Contact, "instructions", nil); err != nil {
					return err
				}
			}
			if c.Contact != p.Email {
				masked := outbound.MaskAddress(c.Contact)
				if err := d.queue(tx, c, p, outbound.OwnerNotice, p.Email, "owner-notice", func(data *outbound.Data) {
					data.MaskedContact = masked
				}); err != nil {
					return err
				}
			}
		}
		sum, err = d.summary(tx, c)
		sum.EarlierMessages = &earlier
		return err
	})
	if err != nil {
		return Summary{}, fmt.Errorf("open case: %w", err)
	}
	d.log.Info("case opened", "case", sum.Ref, "kind", sum.Kind, "profile", sum.Profile, "agent", by)
	return sum, nil
}

// queueEarlier queues for the new case c the mail that came before it
// from its contact address and, for the code kinds, the profile's
// address (the same address, as caseContact has it), and returns how
// many messages it queued.
func (d *Desk) queueEarlier(tx *store.Tx, c recoverybot.Case, p recoverybot.Profile) (int, error) {
	if d.opts.Lookback <= 0 {
		return 0, nil
	}
	senders := []string{c.Contact}
	if c.Kind.NeedsCode() {
		senders = append(senders, p.Email)
	}
	return tx.QueueLookbacks(c.ID, senders, tx.Now().Add(-d.opts.Lookback))
}

func caseContact(k recoverybot.Kind, p recoverybot.Profile, given string) (string, error) {
	if k.NeedsProfileAddress() {
		if given == "" {
			return p.Email, nil
		}
		addr, err := mailaddr.Normalize(given)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrBadContact, err)
		}
		if addr != p.Email {
			return "", fmt.Errorf("%w: a %s case is written from the profile's own address; leave --contact out", ErrBadContact, k)
		}
		return addr, nil
	}
	if given == "" {
		return "", nil
	}
	addr, err := mailaddr.Normalize(given)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadContact, err)
	}
	return addr, nil
}

// issueCode draws a code, stores its hash and queues the instructions
// that carry it: the one place a code exists in clear.
func (d *Desk) issueCode(tx *store.Tx, c recoverybot.Case, p recoverybot.Profile, reissued bool) error {
	code, err := recoverybot.NewCode()
	if err != nil {
		return err
	}
	h, err := d.codes.Hash(c.Ref, code)
	if err != nil {
		return err
	}
	if err := tx.IssueCode(c.ID, recoverybot.IssuedCode{Hash: h, IssuedAt: tx.Now(), ExpiresAt: tx.Now().Add(d.opts.CodeTTL)}); err != nil {
		return err
	}
	n, err := tx.CodeCount(c.ID)
	if err != nil {
		return err
	}
	return d.queue(tx, c, p, outbound.Instructions, c.CustomerAddress(p), fmt.Sprintf("instructions-%d", n), func(data *outbound.Data) {
		data.Code = code
		data.Reissued = reissued
	})
}

// queue renders a template for case c and puts the mail in the outbox.
// eventKey names the event that causes the mail: the Message-ID is
// derived from it, so the same event cannot queue two mails.
func (d *Desk) queue(tx *store.Tx, c recoverybot.Case, p recoverybot.Profile, t outbound.Template, to, eventKey string, fill func(*outbound.Data)) error {
	return d.letters.Queue(tx, c, p, outbound.Letter{Template: t, To: to, EventKey: eventKey, Fill: fill})
}

// actMode says what act asks of the agent's claim on the case.
type actMode int

const (
	// actHolder: the agent must hold the case; an unclaimed case is
	// claimed by acting on it.
	actHolder actMode = iota
	// actNoClaim: claims are not looked at (claiming, releasing).
	actNoClaim
	// actConfirm: like actHolder, except that a second agent may confirm
	// another's pending approval without holding the case.
	actConfirm
)

// act loads the case ref, checks the agent's claim as mode says, lets
// apply change it and writes it back, all in one transaction.
func (d *Desk) act(ctx context.Context, ref, by string, mode actMode,
	apply func(tx *store.Tx, c *recoverybot.Case, p recoverybot.Profile) error) (Summary, error) {
	by, err := CheckAgent(by)
	if err != nil {
		return Summary{}, err
	}
	ref, err = recoverybot.ParseRef(ref)
	if err != nil {
		return Summary{}, err
	}
	var sum Summary
	err = d.store.Update(ctx, func(tx *store.Tx) error {
		c, err := tx.CaseByRef(ref)
		if err != nil {
			return err
		}
		p, err := tx.Profile(c.ProfileID)
		if err != nil {
			return err
		}
		confirming := mode == actConfirm && c.PendingApproval != nil && c.PendingApproval.By != by
		if (mode == actHolder || mode == actConfirm) && !confirming && c.State.Open() {
			if err := d.claim(tx, &c, by, "decision"); err != nil {
				return err
			}
		}
		c.UpdatedAt = tx.Now()
		if err := apply(tx, &c, p); err != nil {
			return err
		}
		if err := tx.UpdateCase(c); err != nil {
			return err
		}
		sum, err = d.summary(tx, c)
		return err
	})
	if err != nil {
		return Summary{}, err
	}
	return sum, nil
}

// transition moves case c on event ev through the state machine and, when
// it closes, records by and now as its decision.
func transition(tx *store.Tx, c *recoverybot.Case, ev recoverybot.Event, by string) error {
	from := c.State
	to, err := recoverybot.Transition(c.State, ev)
	if err != nil {
		return err
	}
	c.State = to
	if !to.Open() && from.Open() {
		now := tx.Now()
		c.DecidedBy, c.DecidedAt = by, &now
	}
	return nil
}

// decide is act for an agent's decision: the event ev moves the case
// first, then apply fills in the rest.
func (d *Desk) decide(ctx context.Context, ref, by string, ev recoverybot.Event,
	apply func(tx *store.Tx, c *recoverybot.Case, p recoverybot.Profile) error) (Summary, error) {
	by = strings.TrimSpace(by)
	sum, err := d.act(ctx, ref, by, actHolder, func(tx *store.Tx, c *recoverybot.Case, p recoverybot.Profile) error {
		if ev != "" {
			if err := transition(tx, c, ev, by); err != nil {
				return err
			}
		}
		return apply(tx, c, p)
	})
	if err != nil {
		return Summary{}, err
	}
	d.log.Info("case "+strings.ReplaceAll(string(ev), "_", " "), "case", sum.Ref, "state", sum.State, "agent", by)
	return sum, nil
}

// ApproveRequest is what `cases approve` says.
type ApproveRequest struct {
	Ref  string
	By   string
	Note string
	// NewEmail, for lost-email: change the profile's address to this one
	// (the dashboard offers the contact address) instead of telling the
	// customer the current one.
	NewEmail string
	// Confirms, when not empty, is the PendingToken of the first approval
	// the second agent reviewed: the confirmation is refused
	// (ErrApprovalChanged) when another approval waits by then, or none.
	Confirms string
}

// PendingToken names one first approval, so that a confirmation applies
// to the approval its agent saw and not to one made since.
func PendingToken(a recoverybot.Approval) string {
	return fmt.Sprintf("%s@%d", a.By, a.At.UnixNano())
}

// ActionOf is what approving a case of kind k does in the admin system;
// changeEmail is a lost-email approval that changes the profile's address.
func ActionOf(k recoverybot.Kind, changeEmail bool) recoverybot.Action {
	switch {
	case k == recoverybot.KindTOTPLockout:
		return recoverybot.ActionDisableTOTP
	case k == recoverybot.KindIPLockout:
		return recoverybot.ActionClearIPAllowlist
	case changeEmail:
		return recoverybot.ActionChangeEmail
	}
	return recoverybot.ActionTellEmail
}

// Approve approves a case that is ready for review. When its action needs
// two agents ([policy] second_approval), the first approval waits on the
// case (Summary.PendingApproval) and a second, different agent's Approve
// confirms it; the second agent need not hold the case, and confirms the
// first approval as it was made. Once approved, the owner of the account
// is told at the profile's address, the action is handed to the admin
// system's hook and the customer is told once it has said yes; without a
// hook, the customer is told at once and the agent applies the action in
// the admin system by hand.
func (d *Desk) Approve(ctx context.Context, req ApproveRequest) (Summary, error) {
	by := strings.TrimSpace(req.By)
	sum, err := d.act(ctx, req.Ref, by, actConfirm, func(tx *store.Tx, c *recoverybot.Case, p recoverybot.Profile) error {
		if c.State != recoverybot.StateReadyForReview {
			return &recoverybot.TransitionError{From: c.State, Event: recoverybot.EventApprove}
		}
		if req.Confirms != "" && (c.PendingApproval == nil || PendingToken(*c.PendingApproval) != req.Confirms) {
			return ErrApprovalChanged
		}
		if pending := c.PendingApproval; pending != nil {
			if pending.By == by {
				return fmt.Errorf("%w (%s approved first)", ErrSameApprover, by)
			}
			approval := *pending
			c.PendingApproval = nil
			return d.approve(tx, c, p, approval, []string{approval.By, by})
		}
		approval := recoverybot.Approval{By: by, At: tx.Now(), Note: strings.TrimSpace(req.Note)}
		if req.NewEmail != "" {
			if c.Kind != recoverybot.KindLostEmail {
				return fmt.Errorf("%w (it is %s)", ErrNewEmailKind, c.Kind)
			}
			addr, err := mailaddr.Normalize(req.NewEmail)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrBadNewEmail, err)
			}
			approval.NewEmail = addr
		}
		action := ActionOf(c.Kind, approval.NewEmail != "")
		if slices.Contains(d.opts.SecondApproval, action) {
			c.PendingApproval = &approval
			details := map[string]string{"action": string(action), "note": approval.Note}
			if approval.NewEmail != "" {
				details["new_email"] = approval.NewEmail
			}
			return tx.Audit(c.ID, by, "approval_requested", details)
		}
		return d.approve(tx, c, p, approval, []string{by})
	})
	if err != nil {
		return Summary{}, fmt.Errorf("approve %s: %w", req.Ref, err)
	}
	d.log.Info("case approve", "case", sum.Ref, "state", sum.State, "agent", by)
	return sum, nil
}

// approve closes case c as approved by approvers, as the approval a says.
func (d *Desk) approve(tx *store.Tx, c *recoverybot.Case, p recoverybot.Profile, a recoverybot.Approval, approvers []string) error {
	if err := transition(tx, c, recoverybot.EventApprove, approvers[len(approvers)-1]); err != nil {
		return err
	}
	c.Note, c.NewEmail, c.Approvers = a.Note, a.NewEmail, approvers
	action := ActionOf(c.Kind, a.NewEmail != "")
	details := map[string]string{"note": c.Note, "action": string(action), "approvers": strings.Join(approvers, ", ")}
	switch action {
	case recoverybot.ActionTellEmail:
		details["effect"] = "profile email revealed to the contact address"
	case recoverybot.ActionChangeEmail:
		details["effect"] = "profile email changed"
		details["old_email"], details["new_email"] = p.Email, a.NewEmail
	case recoverybot.ActionDisableTOTP:
		details["effect"] = "TOTP disabled on the profile"
	case recoverybot.ActionClearIPAllowlist:
		details["effect"] = "allowed IP addresses removed from the profile"
	}
	if err := tx.Audit(c.ID, c.DecidedBy, "case_approved", details); err != nil {
		return err
	}
	effective := tx.Now()
	if d.opts.ActionHook {
		call, err := d.queueAction(tx, *c, action)
		if err != nil {
			return err
		}
		effective = call.NotBefore
	}
	// The owner of the account hears of it at the profile's address (the
	// old one, for an email change), so that they can object (NIST SP
	// 800-63B-4 §4.2.3): at approval when the hook waits (the notice says
	// when it will happen), or when it is done.
	if !d.opts.ActionHook {
		if err := d.queueNotice(tx, *c, p, effective, false); err != nil {
			return err
		}
		return d.applyApproval(tx, *c, p)
	}
	if d.opts.ActionDelay > 0 {
		return d.queueNotice(tx, *c, p, effective, true)
	}
	return nil
}

// queueNotice queues the owner's notice of case c's approval, effective
// at (delayed: it has not happened yet).
func (d *Desk) queueNotice(tx *store.Tx, c recoverybot.Case, p recoverybot.Profile, at time.Time, delayed bool) error {
	return d.queue(tx, c, p, outbound.ApprovalNotice, p.Email, "approval-notice", func(data *outbound.Data) {
		data.EffectiveAt, data.Delayed = at, delayed
		data.ProfileEmail, data.NewEmail = p.Email, c.NewEmail
		if c.Kind == recoverybot.KindLostEmail && c.NewEmail == "" && c.Contact != "" {
			data.MaskedContact = outbound.MaskAddress(c.Contact)
		}
	})
}

// applyApproval does what an approval does once its action is done: the
// profile's address changes, for an email change, and the customer is
// told.
func (d *Desk) applyApproval(tx *store.Tx, c recoverybot.Case, p recoverybot.Profile) error {
	oldEmail := p.Email
	if c.NewEmail != "" {
		if err := tx.SetProfileEmail(p.ID, c.NewEmail); err != nil {
			return err
		}
	}
	to := c.CustomerAddress(p)
	if to == "" {
		return nil
	}
	return d.queue(tx, c, p, outbound.Approved, to, "decision", func(data *outbound.Data) {
		data.ProfileEmail = oldEmail
		data.NewEmail = c.NewEmail
	})
}

// Reject rejects an open case with the agent's reason, told to the customer.
func (d *Desk) Reject(ctx context.Context, ref, by, reason string) (Summary, error) {
	return d.RejectWith(ctx, RejectRequest{Ref: ref, By: by, Text: reason})
}

// RejectRequest is a rejection: a reason from the list, worded to the
// customer in their language, and the agent's own text; one of the two at
// least, and the text for RejectOther.
type RejectRequest struct {
	Ref, By string
	Reason  recoverybot.RejectReason
	Text    string
}

// RejectWith rejects an open case as req says, told to the customer.
func (d *Desk) RejectWith(ctx context.Context, req RejectRequest) (Summary, error) {
	ref, text := req.Ref, strings.TrimSpace(req.Text)
	if req.Reason != "" {
		if _, err := recoverybot.ParseRejectReason(string(req.Reason)); err != nil {
			return Summary{}, fmt.Errorf("reject %s: %w", ref, err)
		}
	}
	if text == "" && (req.Reason == "" || req.Reason == recoverybot.RejectOther) {
		return Summary{}, fmt.Errorf("reject %s: %w", ref, ErrNeedsReason)
	}
	record := text
	if req.Reason != "" {
		record = strings.TrimSpace(string(req.Reason) + ": " + text)
		record = strings.TrimSuffix(record, ":")
	}
	sum, err := d.decide(ctx, ref, req.By, recoverybot.EventReject, func(tx *store.Tx, c *recoverybot.Case, p recoverybot.Profile) error {
		c.Reason, c.PendingApproval = record, nil
		details := map[string]string{"reason": record}
		if req.Reason != "" {
			details["reason_code"] = string(req.Reason)
		}
		if err := tx.Audit(c.ID, c.DecidedBy, "case_rejected", details); err != nil {
			return err
		}
		to := c.CustomerAddress(p)
		if to == "" {
			return nil
		}
		return d.queue(tx, *c, p, outbound.Rejected, to, "decision", func(data *outbound.Data) {
			data.Reason, data.RejectReason = text, req.Reason
		})
	})
	if err != nil {
		return Summary{}, fmt.Errorf("reject %s: %w", ref, err)
	}
	return sum, nil
}

// Cancel withdraws an open case (opened by mistake, resolved otherwise).
// No mail is sent.
func (d *Desk) Cancel(ctx context.Context, ref, by, reason string) (Summary, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Summary{}, fmt.Errorf("cancel %s: %w", ref, ErrNeedsReason)
	}
	sum, err := d.decide(ctx, ref, by, recoverybot.EventCancel, func(tx *store.Tx, c *recoverybot.Case, p recoverybot.Profile) error {
		c.Reason = reason
		return tx.Audit(c.ID, c.DecidedBy, "case_cancelled", map[string]string{"reason": reason})
	})
	if err != nil {
		return Summary{}, fmt.Errorf("cancel %s: %w", ref, err)
	}
	return sum, nil
}

// ResendCode issues a new code for a case awaiting evidence and mails it;
// the previous code stops working. The failure count is kept (SPEC §3).
func (d *Desk) ResendCode(ctx context.Context, ref, by string) (Summary, error) {
	sum, err := d.decide(ctx, ref, by, "", func(tx *store.Tx, c *recoverybot.Case, p recoverybot.Profile) error {
		if !c.Kind.NeedsCode() {
			return fmt.Errorf("%w: %s", ErrNoCode, c.Kind)
		}
		if c.State != recoverybot.StateAwaitingEvidence {
			return fmt.Errorf("%w (it is %s)", ErrNotAwaiting, c.State)
		}
		if err := tx.Audit(c.ID, by, "code_reissued", map[string]string{
			"failed_code_attempts": fmt.Sprint(c.FailedCodeAttempts)}); err != nil {
			return err
		}
		return d.issueCode(tx, *c, p, true)
	})
	if err != nil {
		return Summary{}, fmt.Errorf("resend code %s: %w", ref, err)
	}
	return sum, nil
}

// Reopen puts a locked case back to awaiting evidence. The wrong-code
// count starts again from zero: reopening is the agent's judgement that
// the customer deserves new attempts. The current code, if still valid,
// keeps working; `resend-code` issues a new one.
func (d *Desk) Reopen(ctx context.Context, ref, by string) (Summary, error) {
	sum, err := d.decide(ctx, ref, by, recoverybot.EventReopen, func(tx *store.Tx, c *recoverybot.Case, p recoverybot.Profile) error {
		prev := c.FailedCodeAttempts
		c.FailedCodeAttempts = 0
		return tx.Audit(c.ID, by, "case_reopened", map[string]string{"failed_code_attempts_before": fmt.Sprint(prev)})
	})
	if err != nil {
		return Summary{}, fmt.Errorf("reopen %s: %w", ref, err)
	}
	return sum, nil
}
