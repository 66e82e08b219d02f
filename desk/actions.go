package desk

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/store"
)

// ActionFailedFlag marks a case whose action the admin system refused or
// never answered: an agent must see to it.
const ActionFailedFlag = "action failed"

// Errors of actions, for errors.Is.
var (
	ErrNoAction      = errors.New("desk: the case has no action waiting")
	ErrActionStarted = errors.New("desk: the action has already been sent to the admin system")
)

// queueAction hands the approved case c's action to the admin system's
// hook, due after [policy] action_delay.
func (d *Desk) queueAction(tx *store.Tx, c recoverybot.Case, action recoverybot.Action) (recoverybot.ActionCall, error) {
	now := tx.Now()
	call := recoverybot.ActionCall{CaseID: c.ID, CaseRef: c.Ref, ProfileID: c.ProfileID, Action: action,
		NewEmail: c.NewEmail, Approvers: c.Approvers, ApprovedAt: now, NotBefore: now.Add(d.opts.ActionDelay)}
	if err := tx.QueueAction(&call); err != nil {
		return call, err
	}
	return call, tx.Audit(c.ID, recoverybot.SystemActor, "action_queued", map[string]string{
		"action": string(action), "not_before": call.NotBefore.UTC().Format("2006-01-02 15:04 MST")})
}

// ActionDone is told, in the transaction that records it, that the admin
// system did an approved case's action: the profile's address changes
// (change_email), the customer is told and, when there was no waiting
// period, the account's owner too. The customer never hears of an
// approval before this.
func (d *Desk) ActionDone(tx *store.Tx, call recoverybot.ActionCall) error {
	c, err := tx.CaseByID(call.CaseID)
	if err != nil {
		return err
	}
	p, err := tx.Profile(c.ProfileID)
	if err != nil {
		return err
	}
	if err := tx.Audit(c.ID, recoverybot.SystemActor, "action_done", map[string]string{
		"action": string(call.Action), "result": call.Result, "attempts": fmt.Sprint(call.Attempts)}); err != nil {
		return err
	}
	if d.opts.ActionDelay <= 0 {
		// No waiting period: the owner is told now that it was done.
		if err := d.queueNotice(tx, c, p, tx.Now(), false); err != nil {
			return err
		}
	}
	return d.applyApproval(tx, c, p)
}

// ActionResult is told of every other outcome of a call: a call given up
// or refused for good flags its case for an agent.
func (d *Desk) ActionResult(tx *store.Tx, call recoverybot.ActionCall) error {
	if call.State != recoverybot.ActionFailed {
		return nil
	}
	c, err := tx.CaseByID(call.CaseID)
	if err != nil {
		return err
	}
	if !contains(c.Flags, ActionFailedFlag) {
		c.Flags = append(c.Flags, ActionFailedFlag)
		c.UpdatedAt = tx.Now()
		if err := tx.UpdateCase(c); err != nil {
			return err
		}
	}
	return tx.Audit(c.ID, recoverybot.SystemActor, "action_failed", map[string]string{
		"action": string(call.Action), "error": call.LastError, "attempts": fmt.Sprint(call.Attempts)})
}

// StopAction stops an approved case's action while it waits for [policy]
// action_delay (the owner objected, the agent thought again): the admin
// system is never called, and the case is cancelled with the reason. Any
// agent may, as the safe direction. Once the call was sent it is too
// late: ErrActionStarted.
func (d *Desk) StopAction(ctx context.Context, ref, by, reason string) (Summary, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Summary{}, fmt.Errorf("stop the action of %s: %w", ref, ErrNeedsReason)
	}
	by = strings.TrimSpace(by)
	sum, err := d.act(ctx, ref, by, actNoClaim, func(tx *store.Tx, c *recoverybot.Case, p recoverybot.Profile) error {
		call, err := tx.StopAction(c.ID, by, reason)
		switch {
		case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrActionStopped):
			return ErrNoAction
		case errors.Is(err, store.ErrActionStarted):
			return fmt.Errorf("%w (it is %s)", ErrActionStarted, call.State)
		case err != nil:
			return err
		}
		if err := transition(tx, c, recoverybot.EventStopAction, by); err != nil {
			return err
		}
		c.Reason = reason
		return tx.Audit(c.ID, by, "action_stopped", map[string]string{"action": string(call.Action), "reason": reason})
	})
	if err != nil {
		return Summary{}, fmt.Errorf("stop the action of %s: %w", ref, err)
	}
	return sum, nil
}
