package store

import (
	"encoding/json"
	"fmt"

	"github.com/recoverybot/recoverybot"
)

// Audit appends an event to the audit log, about the case with row ID
// caseID (0: no case). The time is the transaction's. There is no way to
// change or delete an event: the schema's triggers refuse it too.
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
	var cid any
	if caseID != 0 {
		cid = caseID
	}
	if _, err := t.tx.Exec(`INSERT INTO audit_events (case_id, actor, action, at, details) VALUES (?, ?, ?, ?, ?)`,
		cid, actor, action, ts(t.now), string(d)); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
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
