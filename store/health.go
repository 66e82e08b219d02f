package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Probe writes the health row: an error says the database takes no
// writes (a full disk, a read-only file system, a corrupt file; see
// fault.Of).
func (s *Store) Probe(ctx context.Context) error {
	err := s.Update(ctx, func(tx *Tx) error {
		_, err := tx.tx.Exec(`INSERT INTO health_probe (id, probed_at) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at`, ts(tx.now))
		return err
	})
	if err != nil {
		return fmt.Errorf("probe the database: %w", err)
	}
	return nil
}

// AlertEpisode is an alert's trouble going on (package health).
type AlertEpisode struct {
	Alert   string // fetch, token, outbox
	BeganAt time.Time
	Cause   string // what broke, a fault cause
	// AlertedAt is when the alert mail was queued; nil: not yet.
	AlertedAt *time.Time
}

// AlertEpisode returns the episode of alert going on; ok is false when
// there is none.
func (t *Tx) AlertEpisode(alert string) (e AlertEpisode, ok bool, err error) {
	var began string
	var alerted sql.NullString
	err = t.tx.QueryRow(`SELECT alert, began_at, cause, alerted_at FROM alert_episodes WHERE alert = ?`, alert).
		Scan(&e.Alert, &began, &e.Cause, &alerted)
	if errors.Is(err, sql.ErrNoRows) {
		return AlertEpisode{}, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("alert episode %s: %w", alert, err)
	}
	if e.BeganAt, err = parseTS(began); err != nil {
		return e, false, err
	}
	if e.AlertedAt, err = parseNullTS(alerted); err != nil {
		return e, false, err
	}
	return e, true, nil
}

// BeginAlertEpisode records that e's trouble began, unless an episode of
// that alert is already going on.
func (t *Tx) BeginAlertEpisode(e AlertEpisode) error {
	_, err := t.tx.Exec(`INSERT INTO alert_episodes (alert, began_at, cause, alerted_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (alert) DO NOTHING`, e.Alert, ts(e.BeganAt), e.Cause, nullTS(e.AlertedAt))
	if err != nil {
		return fmt.Errorf("begin alert episode %s: %w", e.Alert, err)
	}
	return nil
}

// MarkAlerted records that the alert mail of alert's episode was queued,
// and what broke by then.
func (t *Tx) MarkAlerted(alert, cause string) error {
	_, err := t.tx.Exec(`UPDATE alert_episodes SET alerted_at = ?, cause = ? WHERE alert = ?`, ts(t.now), cause, alert)
	if err != nil {
		return fmt.Errorf("mark alert %s sent: %w", alert, err)
	}
	return nil
}

// EndAlertEpisode records that alert's trouble is over.
func (t *Tx) EndAlertEpisode(alert string) error {
	if _, err := t.tx.Exec(`DELETE FROM alert_episodes WHERE alert = ?`, alert); err != nil {
		return fmt.Errorf("end alert episode %s: %w", alert, err)
	}
	return nil
}

// OldestFailingMail returns when the oldest mail still pending after a
// failed attempt was queued; ok is false when no pending mail has failed.
func (t *Tx) OldestFailingMail() (queued time.Time, ok bool, err error) {
	var oldest sql.NullString
	err = t.tx.QueryRow(`SELECT min(created_at) FROM outbox WHERE state = 'pending' AND last_error != ''`).Scan(&oldest)
	if err != nil || !oldest.Valid {
		return time.Time{}, false, err
	}
	queued, err = parseTS(oldest.String)
	return queued, err == nil, err
}

// FailingJobs returns, in name order, the scheduled jobs whose last n
// runs all failed.
func (t *Tx) FailingJobs(n int) ([]string, error) {
	rows, err := t.tx.Query(`SELECT job FROM (
			SELECT job, outcome, row_number() OVER (PARTITION BY job ORDER BY id DESC) AS nth FROM sweep_runs)
		WHERE nth <= ? GROUP BY job HAVING count(*) = ? AND sum(outcome != 'ok') = ? ORDER BY job`, n, n, n)
	if err != nil {
		return nil, fmt.Errorf("failing jobs: %w", err)
	}
	defer rows.Close()
	var jobs []string
	for rows.Next() {
		var j string
		if err := rows.Scan(&j); err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, rows.Err()
}
