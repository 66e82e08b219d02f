package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// The outcomes of a sweep run.
const (
	RunOK       = "ok"
	RunFailed   = "failed"
	RunPanicked = "panicked"
)

// SweepRun is one run of a scheduled job.
type SweepRun struct {
	ID        int64          `json:"-"`
	Job       string         `json:"job"`
	StartedAt time.Time      `json:"started_at"`
	EndedAt   time.Time      `json:"ended_at"`
	Outcome   string         `json:"outcome"` // RunOK, RunFailed or RunPanicked
	Counts    map[string]int `json:"counts"`  // never nil once read
	Error     string         `json:"error,omitempty"`
}

// RecordSweepRun stores a finished run in a transaction of its own: a
// job's failure rolled its own work back, its record stays.
func (s *Store) RecordSweepRun(ctx context.Context, r SweepRun) (int64, error) {
	var id int64
	err := s.Update(ctx, func(tx *Tx) error {
		var err error
		id, err = tx.InsertSweepRun(r)
		return err
	})
	return id, err
}

// InsertSweepRun stores a finished run.
func (t *Tx) InsertSweepRun(r SweepRun) (int64, error) {
	counts, err := json.Marshal(nonNilMap(r.Counts))
	if err != nil {
		return 0, fmt.Errorf("record sweep run: %w", err)
	}
	res, err := t.tx.Exec(`INSERT INTO sweep_runs (job, started_at, ended_at, outcome, counts, error)
		VALUES (?, ?, ?, ?, ?, ?)`, r.Job, ts(r.StartedAt), ts(r.EndedAt), r.Outcome, string(counts), r.Error)
	if err != nil {
		return 0, fmt.Errorf("record sweep run of %s: %w", r.Job, err)
	}
	return res.LastInsertId()
}

// SweepRunFilter selects sweep runs. The zero value selects all.
type SweepRunFilter struct {
	Job    string
	Failed bool      // only runs that failed or panicked
	Since  time.Time // only runs that started at or after this instant
	Limit  int       // 0: no limit
}

// SweepRuns returns the selected runs, newest first.
func (t *Tx) SweepRuns(f SweepRunFilter) ([]SweepRun, error) {
	q := `SELECT id, job, started_at, ended_at, outcome, counts, error FROM sweep_runs WHERE 1 = 1`
	var args []any
	if f.Job != "" {
		q += ` AND job = ?`
		args = append(args, f.Job)
	}
	if f.Failed {
		q += ` AND outcome != 'ok'`
	}
	if !f.Since.IsZero() {
		q += ` AND started_at >= ?`
		args = append(args, ts(f.Since))
	}
	q += ` ORDER BY started_at DESC, id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := t.tx.Query(q, args...)
	if err != nil {
		return nil, fmt.Errorf("list sweep runs: %w", err)
	}
	defer rows.Close()
	out := []SweepRun{}
	for rows.Next() {
		var r SweepRun
		var started, ended, counts string
		if err := rows.Scan(&r.ID, &r.Job, &started, &ended, &r.Outcome, &counts, &r.Error); err != nil {
			return nil, fmt.Errorf("list sweep runs: %w", err)
		}
		if r.StartedAt, err = parseTS(started); err != nil {
			return nil, err
		}
		if r.EndedAt, err = parseTS(ended); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(counts), &r.Counts); err != nil {
			return nil, fmt.Errorf("sweep run %d counts: %w", r.ID, err)
		}
		r.Counts = nonNilMap(r.Counts)
		out = append(out, r)
	}
	return out, rows.Err()
}

func nonNilMap(m map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return m
}
