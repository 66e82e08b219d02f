package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/recoverybot/recoverybot"
)

// The action calls (issue 16) follow the outbox's guarantees, with one
// difference that the idempotency key allows. A call is queued in the
// approval's transaction, so it is never lost; it is taken for sending
// (ClaimAction) in the writer's transaction only while it is pending and
// due, so two couriers, in one process or two, never both send it; and
// its outcome is recorded with the attempt that produced it, so a late
// answer never overwrites a newer one. A call whose sending a crash cut
// short stays 'calling': ResumeActions, at the next start, puts it back
// to pending and it is sent again with the same Key. Whether the first
// attempt reached the admin system cannot be known, so the receiver must
// dedupe on the key (the Idempotency-Key header): that is how a call is
// never lost and never applied twice across a crash.

// Errors of the action calls, tested with errors.Is.
var (
	// ErrActionStarted: the call has already been sent (it is being
	// sent, was sent and is waiting for a retry, is done or failed), so
	// it cannot be stopped.
	ErrActionStarted = errors.New("store: the action has already been sent")
	// ErrActionStopped: the call was already stopped.
	ErrActionStopped = errors.New("store: the action has already been stopped")
	// ErrActionNotDue: the call is no longer pending and due (another
	// courier took it), or no longer in the attempt an outcome is about.
	ErrActionNotDue = errors.New("store: action not due")
)

// QueueAction records a call of the action hook for an approved case,
// due at c.NotBefore (the approval plus [policy] action_delay; zero: now).
// It sets c.ID, c.State (pending), c.NextAttemptAt, c.CreatedAt and, when
// empty, c.Key. A case has one action: a second is ErrDuplicateRow.
func (t *Tx) QueueAction(c *recoverybot.ActionCall) error {
	if a, err := recoverybot.ParseAction(string(c.Action)); err != nil || a != c.Action {
		return fmt.Errorf("queue action for case %s: %w %q", c.CaseRef, recoverybot.ErrUnknownAction, c.Action)
	}
	if c.Action == recoverybot.ActionChangeEmail && c.NewEmail == "" {
		return fmt.Errorf("queue action for case %s: change_email without a new address", c.CaseRef)
	}
	if c.CaseID == 0 || c.CaseRef == "" || c.ProfileID == "" {
		return fmt.Errorf("queue action %s: no case or profile", c.Action)
	}
	if c.Key == "" {
		k, err := recoverybot.NewActionKey()
		if err != nil {
			return fmt.Errorf("queue action for case %s: %w", c.CaseRef, err)
		}
		c.Key = k
	}
	if c.ApprovedAt.IsZero() {
		c.ApprovedAt = t.now
	}
	if c.NotBefore.IsZero() {
		c.NotBefore = t.now
	}
	approvers, err := json.Marshal(nonNil(c.Approvers))
	if err != nil {
		return fmt.Errorf("queue action for case %s: %w", c.CaseRef, err)
	}
	res, err := t.tx.Exec(`INSERT INTO action_calls (case_id, case_ref, profile_id, action, new_email, approvers, approved_at,
		idem_key, not_before, state, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
		c.CaseID, c.CaseRef, c.ProfileID, string(c.Action), c.NewEmail, string(approvers), ts(c.ApprovedAt),
		c.Key, ts(c.NotBefore), ts(c.NotBefore), ts(t.now))
	if isUnique(err) {
		return fmt.Errorf("action for case %s: %w", c.CaseRef, ErrDuplicateRow)
	}
	if err != nil {
		return fmt.Errorf("queue action for case %s: %w", c.CaseRef, err)
	}
	if c.ID, err = res.LastInsertId(); err != nil {
		return fmt.Errorf("queue action for case %s: %w", c.CaseRef, err)
	}
	c.State, c.Attempts, c.NextAttemptAt, c.CreatedAt = recoverybot.ActionPending, 0, c.NotBefore, t.now
	c.LastError, c.Result, c.StoppedBy, c.StopReason, c.DoneAt = "", "", "", "", nil
	c.NotBefore, c.ApprovedAt = c.NotBefore.UTC(), c.ApprovedAt.UTC()
	return nil
}

const actionColumns = `id, case_id, case_ref, profile_id, action, new_email, approvers, approved_at, idem_key, not_before,
	state, attempts, next_attempt_at, last_error, result, stopped_by, stop_reason, created_at, done_at`

func scanAction(row interface{ Scan(...any) error }) (recoverybot.ActionCall, error) {
	var c recoverybot.ActionCall
	var action, approvers, approved, notBefore, state, next, created string
	var done sql.NullString
	err := row.Scan(&c.ID, &c.CaseID, &c.CaseRef, &c.ProfileID, &action, &c.NewEmail, &approvers, &approved, &c.Key,
		&notBefore, &state, &c.Attempts, &next, &c.LastError, &c.Result, &c.StoppedBy, &c.StopReason, &created, &done)
	if err != nil {
		return c, err
	}
	c.Action, c.State = recoverybot.Action(action), recoverybot.ActionState(state)
	if err := json.Unmarshal([]byte(approvers), &c.Approvers); err != nil {
		return c, fmt.Errorf("store: bad approvers %q: %w", approvers, err)
	}
	for _, f := range []struct {
		dst *time.Time
		s   string
	}{{&c.ApprovedAt, approved}, {&c.NotBefore, notBefore}, {&c.NextAttemptAt, next}, {&c.CreatedAt, created}} {
		if *f.dst, err = parseTS(f.s); err != nil {
			return c, err
		}
	}
	if c.DoneAt, err = parseNullTS(done); err != nil {
		return c, err
	}
	return c, nil
}

func (t *Tx) queryActions(what, where string, args ...any) ([]recoverybot.ActionCall, error) {
	rows, err := t.tx.Query(`SELECT `+actionColumns+` FROM action_calls WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []recoverybot.ActionCall
	for rows.Next() {
		c, err := scanAction(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return nonNil(out), nil
}

// ActionCalls returns the action calls of a case, oldest first: none, or
// the one its approval queued.
func (t *Tx) ActionCalls(caseID int64) ([]recoverybot.ActionCall, error) {
	return t.queryActions(fmt.Sprintf("list actions of case %d", caseID), `case_id = ? ORDER BY id`, caseID)
}

// ActionCall returns one action call by its ID, or ErrNotFound.
func (t *Tx) ActionCall(id int64) (recoverybot.ActionCall, error) {
	c, err := scanAction(t.tx.QueryRow(`SELECT `+actionColumns+` FROM action_calls WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("action call %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("read action call %d: %w", id, err)
	}
	return c, nil
}

// ActionsIn returns the action calls in a state, oldest first (the
// failed ones need an agent); limit 0: all.
func (t *Tx) ActionsIn(state recoverybot.ActionState, limit int) ([]recoverybot.ActionCall, error) {
	return t.queryActions("list actions "+string(state), `state = ? ORDER BY id LIMIT ?`, string(state), limitOrAll(limit))
}

// DueActions returns the pending calls whose attempt is due, the most
// overdue first; limit 0: all. Listing takes nothing: ClaimAction does.
func (t *Tx) DueActions(limit int) ([]recoverybot.ActionCall, error) {
	return t.queryActions("list due actions", `state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`,
		ts(t.now), limitOrAll(limit))
}

func limitOrAll(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}

// ClaimAction takes a call for sending: it becomes 'calling', its
// attempts grow by one and its NextAttemptAt is the time of the claim.
// It takes only a pending call whose attempt is due, in the writer's
// transaction: of two couriers that listed it, one takes it and the
// other gets ErrActionNotDue. It returns the call as claimed; its
// Attempts number the attempt that MarkActionDone, MarkActionRetry and
// MarkActionFailed then settle.
func (t *Tx) ClaimAction(id int64) (recoverybot.ActionCall, error) {
	res, err := t.tx.Exec(`UPDATE action_calls SET state = 'calling', attempts = attempts + 1, next_attempt_at = ?
		WHERE id = ? AND state = 'pending' AND next_attempt_at <= ?`, ts(t.now), id, ts(t.now))
	if err != nil {
		return recoverybot.ActionCall{}, fmt.Errorf("claim action call %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return recoverybot.ActionCall{}, fmt.Errorf("action call %d: %w", id, ErrActionNotDue)
	}
	return t.ActionCall(id)
}

// MarkActionDone records that the admin system did what attempt asked,
// with its answer (one line, cut to recoverybot.ActionResultMax bytes),
// and returns the call as recorded. ErrActionNotDue: the call is no
// longer in that attempt (ResumeActions in another process put it back
// and another courier has it): its outcome is that courier's to record.
func (t *Tx) MarkActionDone(id int64, attempt int, result string) (recoverybot.ActionCall, error) {
	return t.settleAction(id, attempt, `state = 'done', result = ?, last_error = '', done_at = ?`,
		recoverybot.OneLine(result, recoverybot.ActionResultMax), ts(t.now))
}

// MarkActionRetry records a temporary failure of attempt; the call is
// due again at next. ErrActionNotDue as for MarkActionDone.
func (t *Tx) MarkActionRetry(id int64, attempt int, next time.Time, reason string) (recoverybot.ActionCall, error) {
	return t.settleAction(id, attempt, `state = 'pending', next_attempt_at = ?, last_error = ?`,
		ts(next), recoverybot.OneLine(reason, recoverybot.ActionResultMax))
}

// MarkActionFailed records that attempt failed for good (refused by the
// admin system, or given up), shown to the agent. ErrActionNotDue as for
// MarkActionDone.
func (t *Tx) MarkActionFailed(id int64, attempt int, reason string) (recoverybot.ActionCall, error) {
	return t.settleAction(id, attempt, `state = 'failed', last_error = ?, done_at = ?`,
		recoverybot.OneLine(reason, recoverybot.ActionResultMax), ts(t.now))
}

func (t *Tx) settleAction(id int64, attempt int, set string, args ...any) (recoverybot.ActionCall, error) {
	res, err := t.tx.Exec(`UPDATE action_calls SET `+set+` WHERE id = ? AND state = 'calling' AND attempts = ?`,
		append(args, id, attempt)...)
	if err != nil {
		return recoverybot.ActionCall{}, fmt.Errorf("update action call %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		if _, err := t.ActionCall(id); err != nil {
			return recoverybot.ActionCall{}, err
		}
		return recoverybot.ActionCall{}, fmt.Errorf("action call %d attempt %d: %w", id, attempt, ErrActionNotDue)
	}
	return t.ActionCall(id)
}

// ResumeActions puts back to pending, due now, the calls left 'calling'
// by a process that died while sending them, and returns how many. The
// daemon runs it when it starts. They are sent again with the same
// idempotency key: the first attempt may have reached the admin system,
// which dedupes on the key, so the action is applied once. Their
// attempts are kept: the attempt cut short counts.
func (t *Tx) ResumeActions() (int64, error) {
	return t.resumeActions(`state = 'calling'`)
}

// ResumeStaleActions is ResumeActions for the calls taken for sending
// before claimedBefore only: those whose attempt has lasted far longer
// than any hook's timeout, so their process has died, while another
// process may still be sending the recent ones.
func (t *Tx) ResumeStaleActions(claimedBefore time.Time) (int64, error) {
	return t.resumeActions(`state = 'calling' AND next_attempt_at < ?`, ts(claimedBefore))
}

func (t *Tx) resumeActions(where string, args ...any) (int64, error) {
	res, err := t.tx.Exec(`UPDATE action_calls SET state = 'pending', next_attempt_at = ?,
		last_error = 'interrupted while being sent: sent again with the same idempotency key' WHERE `+where,
		append([]any{ts(t.now)}, args...)...)
	if err != nil {
		return 0, fmt.Errorf("resume action calls: %w", err)
	}
	return res.RowsAffected()
}

// StopAction stops the action of a case during its waiting period, for
// the agent by and with their reason, and returns it as recorded. Only a
// call that was never sent can be stopped: once sent, even if it failed
// and waits for a retry, the admin system may have applied it, and that
// is ErrActionStarted. A call stopped already is ErrActionStopped; a
// case without an action, ErrNotFound.
func (t *Tx) StopAction(caseID int64, by, reason string) (recoverybot.ActionCall, error) {
	res, err := t.tx.Exec(`UPDATE action_calls SET state = 'stopped', stopped_by = ?, stop_reason = ?, done_at = ?
		WHERE case_id = ? AND state = 'pending' AND attempts = 0`, by, reason, ts(t.now), caseID)
	if err != nil {
		return recoverybot.ActionCall{}, fmt.Errorf("stop the action of case %d: %w", caseID, err)
	}
	calls, err := t.ActionCalls(caseID)
	if err != nil {
		return recoverybot.ActionCall{}, err
	}
	if len(calls) == 0 {
		return recoverybot.ActionCall{}, fmt.Errorf("action of case %d: %w", caseID, ErrNotFound)
	}
	c := calls[len(calls)-1]
	if n, _ := res.RowsAffected(); n == 1 {
		return c, nil
	}
	if c.State == recoverybot.ActionStopped {
		return c, fmt.Errorf("action of case %s: %w", c.CaseRef, ErrActionStopped)
	}
	return c, fmt.Errorf("action of case %s (%s): %w", c.CaseRef, c.State, ErrActionStarted)
}
