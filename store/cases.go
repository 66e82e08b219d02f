package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/recoverybot/recoverybot"
)

const caseColumns = `c.id, c.ref, c.profile_id, c.kind, c.contact, c.state, c.opened_by, c.opened_at, c.updated_at,
	c.decided_by, c.decided_at, c.note, c.reason, c.new_email, c.sender_status, c.code_verified,
	c.failed_code_attempts, c.flags, c.last_auto_reply_at, c.claimed_by, c.claimed_at, c.pending_approval, c.approvers`

func scanCase(row interface{ Scan(...any) error }) (recoverybot.Case, error) {
	var c recoverybot.Case
	var kind, state, sender, openedAt, updatedAt, flags string
	var decidedAt, lastReply, claimedAt sql.NullString
	var pending, approvers string
	err := row.Scan(&c.ID, &c.Ref, &c.ProfileID, &kind, &c.Contact, &state, &c.OpenedBy, &openedAt, &updatedAt,
		&c.DecidedBy, &decidedAt, &c.Note, &c.Reason, &c.NewEmail, &sender, &c.CodeVerified,
		&c.FailedCodeAttempts, &flags, &lastReply, &c.ClaimedBy, &claimedAt, &pending, &approvers)
	if err != nil {
		return c, err
	}
	c.Kind, c.State, c.SenderStatus = recoverybot.Kind(kind), recoverybot.State(state), recoverybot.SenderStatus(sender)
	if c.OpenedAt, err = parseTS(openedAt); err != nil {
		return c, err
	}
	if c.UpdatedAt, err = parseTS(updatedAt); err != nil {
		return c, err
	}
	if c.DecidedAt, err = parseNullTS(decidedAt); err != nil {
		return c, err
	}
	if c.LastAutoReplyAt, err = parseNullTS(lastReply); err != nil {
		return c, err
	}
	if c.ClaimedAt, err = parseNullTS(claimedAt); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(flags), &c.Flags); err != nil {
		return c, fmt.Errorf("case %s flags: %w", c.Ref, err)
	}
	if pending != "" {
		c.PendingApproval = new(recoverybot.Approval)
		if err := json.Unmarshal([]byte(pending), c.PendingApproval); err != nil {
			return c, fmt.Errorf("case %s pending approval: %w", c.Ref, err)
		}
	}
	if err := json.Unmarshal([]byte(approvers), &c.Approvers); err != nil {
		return c, fmt.Errorf("case %s approvers: %w", c.Ref, err)
	}
	return c, nil
}

// InsertCase stores a new case and sets c.ID. It returns ErrRefTaken when
// the reference is in use (draw another) and ErrOpenCase when the profile
// already has an open case of that kind.
func (t *Tx) InsertCase(c *recoverybot.Case) error {
	if c.SenderStatus == "" {
		c.SenderStatus = recoverybot.SenderNone
	}
	flags, err := json.Marshal(nonNil(c.Flags))
	if err != nil {
		return err
	}
	res, err := t.tx.Exec(`INSERT INTO cases (ref, profile_id, kind, contact, state, opened_by, opened_at, updated_at,
		sender_status, code_verified, failed_code_attempts, flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Ref, c.ProfileID, string(c.Kind), c.Contact, string(c.State), c.OpenedBy, ts(c.OpenedAt), ts(c.UpdatedAt),
		string(c.SenderStatus), c.CodeVerified, c.FailedCodeAttempts, string(flags))
	if isUnique(err) {
		if strings.Contains(err.Error(), "cases.ref") {
			return fmt.Errorf("case %s: %w", c.Ref, ErrRefTaken)
		}
		return fmt.Errorf("profile %s, %s: %w", c.ProfileID, c.Kind, ErrOpenCase)
	}
	if err != nil {
		return fmt.Errorf("insert case %s: %w", c.Ref, err)
	}
	c.ID, err = res.LastInsertId()
	return err
}

// UpdateCase writes the mutable fields of c (state, decision, sender and
// code progress, flags, pending approval and approvers) and its
// UpdatedAt. The ref, profile, kind and opening are fixed at insertion;
// the claim changes only through ClaimCase and ReleaseCase.
func (t *Tx) UpdateCase(c recoverybot.Case) error {
	if c.SenderStatus == "" {
		c.SenderStatus = recoverybot.SenderNone
	}
	flags, err := json.Marshal(nonNil(c.Flags))
	if err != nil {
		return err
	}
	approvers, err := json.Marshal(nonNil(c.Approvers))
	if err != nil {
		return err
	}
	var pending []byte
	if c.PendingApproval != nil {
		if pending, err = json.Marshal(c.PendingApproval); err != nil {
			return err
		}
	}
	res, err := t.tx.Exec(`UPDATE cases SET contact = ?, state = ?, updated_at = ?, decided_by = ?, decided_at = ?,
		note = ?, reason = ?, new_email = ?, sender_status = ?, code_verified = ?, failed_code_attempts = ?, flags = ?,
		last_auto_reply_at = ?, pending_approval = ?, approvers = ? WHERE id = ?`,
		c.Contact, string(c.State), ts(c.UpdatedAt), c.DecidedBy, nullTS(c.DecidedAt), c.Note, c.Reason, c.NewEmail,
		string(c.SenderStatus), c.CodeVerified, c.FailedCodeAttempts, string(flags), nullTS(c.LastAutoReplyAt),
		string(pending), string(approvers), c.ID)
	if isUnique(err) {
		return fmt.Errorf("case %s: %w", c.Ref, ErrOpenCase)
	}
	if err != nil {
		return fmt.Errorf("update case %s: %w", c.Ref, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("case %s: %w", c.Ref, ErrNotFound)
	}
	return nil
}

// ClaimedError is returned when a case is held by another agent.
type ClaimedError struct {
	Ref, Holder string
}

func (e *ClaimedError) Error() string { return fmt.Sprintf("case %s is held by %s", e.Ref, e.Holder) }

// ClaimCase gives case id to agent by, unless another agent holds it
// (*ClaimedError naming them). It reports whether the claim is new: an
// agent claiming a case they hold changes nothing. The check and the
// write are one statement, so two claims never both succeed.
func (t *Tx) ClaimCase(c recoverybot.Case, by string) (bool, error) {
	res, err := t.tx.Exec(`UPDATE cases SET claimed_by = ?, claimed_at = ? WHERE id = ? AND claimed_by = ''`,
		by, ts(t.now), c.ID)
	if err != nil {
		return false, fmt.Errorf("claim case %s: %w", c.Ref, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, nil
	}
	var holder string
	if err := t.tx.QueryRow(`SELECT claimed_by FROM cases WHERE id = ?`, c.ID).Scan(&holder); err != nil {
		return false, fmt.Errorf("claim case %s: %w", c.Ref, err)
	}
	if holder == by {
		return false, nil
	}
	return false, &ClaimedError{Ref: c.Ref, Holder: holder}
}

// ReleaseCase ends the claim on case c, whoever holds it, and returns who
// did ("" when nobody).
func (t *Tx) ReleaseCase(c recoverybot.Case) (string, error) {
	var holder string
	if err := t.tx.QueryRow(`SELECT claimed_by FROM cases WHERE id = ?`, c.ID).Scan(&holder); err != nil {
		return "", fmt.Errorf("release case %s: %w", c.Ref, err)
	}
	if _, err := t.tx.Exec(`UPDATE cases SET claimed_by = '', claimed_at = NULL WHERE id = ?`, c.ID); err != nil {
		return "", fmt.Errorf("release case %s: %w", c.Ref, err)
	}
	return holder, nil
}

// CaseByRef returns the case with the given reference, or ErrNotFound.
func (t *Tx) CaseByRef(ref string) (recoverybot.Case, error) {
	c, err := scanCase(t.tx.QueryRow(`SELECT `+caseColumns+` FROM cases c WHERE c.ref = ?`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("case %s: %w", ref, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("read case %s: %w", ref, err)
	}
	return c, nil
}

// CaseByID returns the case with the given row ID, or ErrNotFound.
func (t *Tx) CaseByID(id int64) (recoverybot.Case, error) {
	c, err := scanCase(t.tx.QueryRow(`SELECT `+caseColumns+` FROM cases c WHERE c.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("case #%d: %w", id, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("read case #%d: %w", id, err)
	}
	return c, nil
}

// CaseFilter selects cases for ListCases. The zero value selects all.
type CaseFilter struct {
	State     recoverybot.State // only this state
	Open      bool              // only open cases
	ProfileID string
	Contact   string // only cases with this contact address
}

// ListCases returns the cases the filter selects, newest first.
func (t *Tx) ListCases(f CaseFilter) ([]recoverybot.Case, error) {
	q := `SELECT ` + caseColumns + ` FROM cases c WHERE 1 = 1`
	var args []any
	if f.State != "" {
		q += ` AND c.state = ?`
		args = append(args, string(f.State))
	}
	if f.Open {
		q += ` AND c.state IN ('awaiting_evidence', 'ready_for_review', 'locked')`
	}
	if f.ProfileID != "" {
		q += ` AND c.profile_id = ?`
		args = append(args, f.ProfileID)
	}
	if f.Contact != "" {
		q += ` AND c.contact = ?`
		args = append(args, f.Contact)
	}
	q += ` ORDER BY c.opened_at DESC, c.id DESC`
	rows, err := t.tx.Query(q, args...)
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	defer rows.Close()
	out := []recoverybot.Case{}
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, fmt.Errorf("list cases: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CountCases returns how many cases are in each state; a state no case
// is in is absent.
func (t *Tx) CountCases() (map[recoverybot.State]int, error) {
	rows, err := t.tx.Query(`SELECT state, COUNT(*) FROM cases GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("count cases: %w", err)
	}
	defer rows.Close()
	out := map[recoverybot.State]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("count cases: %w", err)
		}
		out[recoverybot.State(state)] = n
	}
	return out, rows.Err()
}

// HasOpenCase reports whether an open case has contact as its contact
// address: the cheap question asked of every message's sender before
// ListCases.
func (t *Tx) HasOpenCase(contact string) (bool, error) {
	var n int
	err := t.tx.QueryRow(`SELECT count(*) FROM (SELECT 1 FROM cases
		WHERE contact = ? AND state IN ('awaiting_evidence', 'ready_for_review', 'locked') LIMIT 1)`, contact).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("open case for %s: %w", contact, err)
	}
	return n > 0, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
