package desk

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/store"
)

// ClaimedError names the agent who holds a case. A claim or decision on a
// case another agent holds returns it with errors.Is(err, ErrClaimed);
// a release by someone else, with errors.Is(err, ErrNotHolder).
type ClaimedError = store.ClaimedError

// Errors of claims, for errors.Is.
var (
	ErrClaimed   = errors.New("desk: the case is held by another agent")
	ErrNotHolder = errors.New("desk: only the agent who holds the case may do this")
	ErrUnclaimed = errors.New("desk: nobody holds the case")
)

// claimedError wraps a *ClaimedError so that both errors.As and
// errors.Is(err, ErrClaimed) hold.
func claimedError(err error) error {
	var ce *ClaimedError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: %w", ErrClaimed, err)
	}
	return err
}

// Claim gives the case to the agent, so that no other agent works it. A
// case another agent holds is a *ClaimedError naming them; claiming a
// case one holds already changes nothing. Claims are audited.
func (d *Desk) Claim(ctx context.Context, ref, by string) (Summary, error) {
	sum, err := d.act(ctx, ref, by, actNoClaim, func(tx *store.Tx, c *recoverybot.Case, p recoverybot.Profile) error {
		if !c.State.Open() {
			return fmt.Errorf("%w (it is %s)", ErrClosed, c.State)
		}
		return d.claim(tx, c, by, "")
	})
	if err != nil {
		return Summary{}, fmt.Errorf("claim %s: %w", ref, err)
	}
	return sum, nil
}

// claim gives case c to by within tx, auditing a new claim with how it
// came (empty: asked for).
func (d *Desk) claim(tx *store.Tx, c *recoverybot.Case, by, via string) error {
	isNew, err := tx.ClaimCase(*c, by)
	if err != nil {
		return claimedError(err)
	}
	if !isNew {
		return nil
	}
	now := tx.Now()
	c.ClaimedBy, c.ClaimedAt = by, &now
	details := map[string]string{}
	if via != "" {
		details["via"] = via
	}
	return tx.Audit(c.ID, by, "case_claimed", details)
}

// Release gives the case up: only its holder may, with an optional
// reason. The case waits unassigned for another agent.
func (d *Desk) Release(ctx context.Context, ref, by, reason string) (Summary, error) {
	reason = strings.TrimSpace(reason)
	sum, err := d.act(ctx, ref, by, actNoClaim, func(tx *store.Tx, c *recoverybot.Case, p recoverybot.Profile) error {
		switch c.ClaimedBy {
		case "":
			return ErrUnclaimed
		case by:
		default:
			return fmt.Errorf("%w: %w", ErrNotHolder, &ClaimedError{Ref: c.Ref, Holder: c.ClaimedBy})
		}
		if _, err := tx.ReleaseCase(*c); err != nil {
			return err
		}
		c.ClaimedBy, c.ClaimedAt = "", nil
		details := map[string]string{}
		if reason != "" {
			details["reason"] = reason
		}
		return tx.Audit(c.ID, by, "case_released", details)
	})
	if err != nil {
		return Summary{}, fmt.Errorf("release %s: %w", ref, err)
	}
	return sum, nil
}

// Reassign gives an open case to another agent, with a reason: for the
// case whose holder is away. Any agent may; the audit log says who did,
// from whom and why. The new holder must be an active agent when agents
// are registered (the dashboard's logins).
func (d *Desk) Reassign(ctx context.Context, ref, by, to, reason string) (Summary, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Summary{}, fmt.Errorf("reassign %s: %w", ref, ErrNeedsReason)
	}
	to, err := CheckAgent(to)
	if err != nil {
		return Summary{}, fmt.Errorf("reassign %s: %w", ref, err)
	}
	sum, err := d.act(ctx, ref, by, actNoClaim, func(tx *store.Tx, c *recoverybot.Case, p recoverybot.Profile) error {
		if !c.State.Open() {
			return fmt.Errorf("%w (it is %s)", ErrClosed, c.State)
		}
		if err := d.checkAgentExists(tx, to); err != nil {
			return err
		}
		from, err := tx.ReleaseCase(*c)
		if err != nil {
			return err
		}
		if _, err := tx.ClaimCase(*c, to); err != nil {
			return err
		}
		now := tx.Now()
		c.ClaimedBy, c.ClaimedAt = to, &now
		return tx.Audit(c.ID, by, "case_reassigned", map[string]string{"from": from, "to": to, "reason": reason})
	})
	if err != nil {
		return Summary{}, fmt.Errorf("reassign %s: %w", ref, err)
	}
	return sum, nil
}

// checkAgentExists refuses a name that is not an active agent, once any
// agent is registered: before that the desk is used from the command line
// only, under free names.
func (d *Desk) checkAgentExists(tx *store.Tx, name string) error {
	agents, err := tx.Agents()
	if err != nil {
		return err
	}
	if len(agents) == 0 {
		return nil
	}
	for _, a := range agents {
		if a.Name == name {
			if !a.Active() {
				return fmt.Errorf("%w: %s is disabled", ErrUnknownAgent, name)
			}
			return nil
		}
	}
	return fmt.Errorf("%w: %s", ErrUnknownAgent, name)
}
