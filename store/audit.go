package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/recoverybot/recoverybot"
)

// The audit log is a hash chain. Each event's hash is
//
//	HMAC-SHA256(audit key, "recoverybot/audit/1" | previous hash | id |
//	            case id | actor | action | at | details)
//
// with integers as 8 bytes big-endian, strings (as stored) prefixed by
// their length, and 32 zero bytes before the first event. The head row
// holds the last event's ID with a MAC over it and that event's hash.
// The key is derived from the data directory's code key
// (vault.PurposeAudit): whoever can write the database file but not read
// the key can change nothing — rewrite an event, remove one (at the end
// too), insert or reorder — without VerifyAudit finding the first link
// that no longer holds. It does not stop someone who also holds the key,
// nor a whole database put back from an older copy with its head.
const (
	auditLinkContext = "recoverybot/audit/1"
	auditHeadContext = "recoverybot/audit-head/1"
)

// ErrAuditChain is wrapped by the *ChainError VerifyAudit returns.
var ErrAuditChain = errors.New("store: audit log does not verify")

// ChainError is the first broken link of the audit log.
type ChainError struct {
	// ID is the first event that does not verify; 0 when the events all
	// do but the head does not (events removed from the end).
	ID     int64
	Reason string
}

func (e *ChainError) Error() string {
	if e.ID == 0 {
		return "audit log: " + e.Reason
	}
	return fmt.Sprintf("audit log: event %d: %s", e.ID, e.Reason)
}

// Unwrap lets callers test for ErrAuditChain.
func (e *ChainError) Unwrap() error { return ErrAuditChain }

// auditRow is an event as stored, which is what its hash covers.
type auditRow struct {
	id                    int64
	caseID                sql.NullInt64
	actor, action, at, dt string
	hash                  []byte
}

func (s *Store) auditLink(prev []byte, r auditRow) []byte {
	m := hmac.New(sha256.New, s.auditKey)
	m.Write([]byte(auditLinkContext))
	m.Write(prev)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(r.id))
	m.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(r.caseID.Int64))
	m.Write(n[:])
	for _, f := range []string{r.actor, r.action, r.at, r.dt} {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		m.Write(n[:])
		m.Write([]byte(f))
	}
	return m.Sum(nil)
}

func (s *Store) auditHeadMAC(lastID int64, lastHash []byte) []byte {
	m := hmac.New(sha256.New, s.auditKey)
	m.Write([]byte(auditHeadContext))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(lastID))
	m.Write(n[:])
	m.Write(lastHash)
	return m.Sum(nil)
}

// querier is what both *sql.Tx and the migration's transaction offer.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// lastLink returns the last event's ID and hash (0 and zero bytes when
// there is none).
func lastLink(ctx context.Context, q querier) (int64, []byte, error) {
	var id int64
	var hash []byte
	err := q.QueryRowContext(ctx, `SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1`).Scan(&id, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, make([]byte, sha256.Size), nil
	}
	if err != nil {
		return 0, nil, err
	}
	if len(hash) != sha256.Size {
		return 0, nil, &ChainError{ID: id, Reason: "it has no hash"}
	}
	return id, hash, nil
}

func (s *Store) setHead(ctx context.Context, q querier, lastID int64, lastHash []byte) error {
	_, err := q.ExecContext(ctx, `INSERT INTO audit_head (id, last_id, mac) VALUES (1, ?, ?)
		ON CONFLICT (id) DO UPDATE SET last_id = excluded.last_id, mac = excluded.mac`,
		lastID, s.auditHeadMAC(lastID, lastHash))
	return err
}

// chainExistingEvents gives the events written before migration 6 their
// hashes, in the migration's transaction.
func (s *Store) chainExistingEvents(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, case_id, actor, action, at, details FROM audit_events ORDER BY id`)
	if err != nil {
		return fmt.Errorf("chain audit events: %w", err)
	}
	var all []auditRow
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.id, &r.caseID, &r.actor, &r.action, &r.at, &r.dt); err != nil {
			rows.Close()
			return fmt.Errorf("chain audit events: %w", err)
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("chain audit events: %w", err)
	}
	prev := make([]byte, sha256.Size)
	for _, r := range all {
		prev = s.auditLink(prev, r)
		if _, err := tx.ExecContext(ctx, `UPDATE audit_events SET hash = ? WHERE id = ?`, prev, r.id); err != nil {
			return fmt.Errorf("chain audit event %d: %w", r.id, err)
		}
	}
	if len(all) == 0 {
		return nil
	}
	if err := s.setHead(ctx, tx, all[len(all)-1].id, prev); err != nil {
		return fmt.Errorf("chain audit events: %w", err)
	}
	return nil
}

// Audit appends an event to the audit log, about the case with row ID
// caseID (0: no case), chained to the last one in the same transaction.
// The time is the transaction's. There is no way to change or delete an
// event: the schema's triggers refuse it, and VerifyAudit finds it when
// they were dropped.
func (t *Tx) Audit(caseID int64, actor, action string, details map[string]string) error {
	if actor == "" || action == "" {
		return fmt.Errorf("audit: actor and action are required")
	}
	d, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	if details == nil {
		d = []byte("{}")
	}
	ctx := context.Background()
	lastID, prev, err := lastLink(ctx, t.tx)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	r := auditRow{id: lastID + 1, actor: actor, action: action, at: ts(t.now), dt: string(d)}
	if caseID != 0 {
		r.caseID = sql.NullInt64{Int64: caseID, Valid: true}
	}
	r.hash = t.s.auditLink(prev, r)
	if _, err := t.tx.Exec(`INSERT INTO audit_events (id, case_id, actor, action, at, details, hash) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.id, r.caseID, r.actor, r.action, r.at, r.dt, r.hash); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	if err := t.s.setHead(ctx, t.tx, r.id, r.hash); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// VerifyAudit walks the audit log's chain in one read snapshot and
// returns the number of events, all verified, or a *ChainError naming the
// first link that does not hold.
func (s *Store) VerifyAudit(ctx context.Context) (int, error) {
	n := 0
	err := s.View(ctx, func(t *Tx) error {
		rows, err := t.tx.QueryContext(ctx, `SELECT id, case_id, actor, action, at, details, hash FROM audit_events ORDER BY id`)
		if err != nil {
			return fmt.Errorf("verify audit log: %w", err)
		}
		defer rows.Close()
		prev := make([]byte, sha256.Size)
		var lastID int64
		for rows.Next() {
			var r auditRow
			if err := rows.Scan(&r.id, &r.caseID, &r.actor, &r.action, &r.at, &r.dt, &r.hash); err != nil {
				return fmt.Errorf("verify audit log: %w", err)
			}
			if len(r.hash) == 0 {
				return &ChainError{ID: r.id, Reason: "it has no hash (inserted by hand?)"}
			}
			want := s.auditLink(prev, r)
			if !hmac.Equal(r.hash, want) {
				reason := "its hash does not match: it was changed, or an event before it was removed, inserted or moved"
				if r.id != lastID+1 {
					reason = fmt.Sprintf("it follows event %d and its hash does not match: events were removed, inserted or moved", lastID)
				}
				return &ChainError{ID: r.id, Reason: reason}
			}
			prev, lastID = r.hash, r.id
			n++
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("verify audit log: %w", err)
		}
		var headID int64
		var mac []byte
		err = t.tx.QueryRowContext(ctx, `SELECT last_id, mac FROM audit_head WHERE id = 1`).Scan(&headID, &mac)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if n > 0 {
				return &ChainError{Reason: fmt.Sprintf("the head of the chain is missing (%d events)", n)}
			}
			return nil
		case err != nil:
			return fmt.Errorf("verify audit log: %w", err)
		}
		if headID != lastID {
			return &ChainError{Reason: fmt.Sprintf("the log ends at event %d but its head records event %d: events were removed from the end", lastID, headID)}
		}
		if !hmac.Equal(mac, s.auditHeadMAC(headID, prev)) {
			return &ChainError{Reason: "the head of the chain does not match its last event"}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// AuditFilter selects audit events. The zero value selects all.
type AuditFilter struct {
	CaseID int64
	Limit  int // 0: no limit
}

// AuditEvents returns events in the order they happened.
func (t *Tx) AuditEvents(f AuditFilter) ([]recoverybot.AuditEvent, error) {
	q := `SELECT a.id, COALESCE(c.ref, ''), a.actor, a.action, a.at, a.details
		FROM audit_events a LEFT JOIN cases c ON c.id = a.case_id WHERE 1 = 1`
	var args []any
	if f.CaseID != 0 {
		q += ` AND a.case_id = ?`
		args = append(args, f.CaseID)
	}
	q += ` ORDER BY a.id`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := t.tx.Query(q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	out := []recoverybot.AuditEvent{}
	for rows.Next() {
		var e recoverybot.AuditEvent
		var at, details string
		if err := rows.Scan(&e.ID, &e.CaseRef, &e.Actor, &e.Action, &at, &details); err != nil {
			return nil, fmt.Errorf("list audit events: %w", err)
		}
		if e.At, err = parseTS(at); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
			return nil, fmt.Errorf("audit event %d details: %w", e.ID, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// CountAudit counts the events of one action about case caseID.
func (t *Tx) CountAudit(caseID int64, action string) (int, error) {
	var n int
	err := t.tx.QueryRow(`SELECT count(*) FROM audit_events WHERE case_id = ? AND action = ?`, caseID, action).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count audit events: %w", err)
	}
	return n, nil
}
