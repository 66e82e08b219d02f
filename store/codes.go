package store

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/recoverybot/recoverybot"
)

// IssueCode stores a new code for a case and supersedes any earlier one:
// only the newest code is valid. The case's failure count is untouched.
func (t *Tx) IssueCode(caseID int64, c recoverybot.IssuedCode) error {
	if _, err := t.tx.Exec(`UPDATE codes SET superseded_at = ? WHERE case_id = ? AND superseded_at IS NULL`,
		ts(t.now), caseID); err != nil {
		return fmt.Errorf("supersede codes: %w", err)
	}
	if _, err := t.tx.Exec(`INSERT INTO codes (case_id, hash, issued_at, expires_at) VALUES (?, ?, ?, ?)`,
		caseID, c.Hash, ts(c.IssuedAt), ts(c.ExpiresAt)); err != nil {
		return fmt.Errorf("issue code: %w", err)
	}
	return nil
}

// CurrentCode returns the valid code of a case (the newest, not
// superseded), or ErrNotFound.
func (t *Tx) CurrentCode(caseID int64) (recoverybot.IssuedCode, error) {
	var c recoverybot.IssuedCode
	var issued, expires string
	var used sql.NullString
	err := t.tx.QueryRow(`SELECT hash, issued_at, expires_at, used_at FROM codes
		WHERE case_id = ? AND superseded_at IS NULL ORDER BY id DESC LIMIT 1`, caseID).
		Scan(&c.Hash, &issued, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("code of case #%d: %w", caseID, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("read code: %w", err)
	}
	if c.IssuedAt, err = parseTS(issued); err != nil {
		return c, err
	}
	if c.ExpiresAt, err = parseTS(expires); err != nil {
		return c, err
	}
	c.UsedAt, err = parseNullTS(used)
	return c, err
}

// UseCode marks the current code of a case as used: a code is accepted
// once.
func (t *Tx) UseCode(caseID int64) error {
	res, err := t.tx.Exec(`UPDATE codes SET used_at = ? WHERE case_id = ? AND superseded_at IS NULL AND used_at IS NULL`,
		ts(t.now), caseID)
	if err != nil {
		return fmt.Errorf("use code: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("unused code of case #%d: %w", caseID, ErrNotFound)
	}
	return nil
}

// CodeCount returns how many codes a case has been issued.
func (t *Tx) CodeCount(caseID int64) (int, error) {
	var n int
	if err := t.tx.QueryRow(`SELECT count(*) FROM codes WHERE case_id = ?`, caseID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count codes: %w", err)
	}
	return n, nil
}

// SupersedeCodes retires every code of a case, as when the case closes:
// none of them is the current code any more.
func (t *Tx) SupersedeCodes(caseID int64) error {
	if _, err := t.tx.Exec(`UPDATE codes SET superseded_at = ? WHERE case_id = ? AND superseded_at IS NULL`,
		ts(t.now), caseID); err != nil {
		return fmt.Errorf("supersede codes: %w", err)
	}
	return nil
}
