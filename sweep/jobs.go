package sweep

import (
	"context"
	"fmt"
	"time"

	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/outbound"
	"github.com/recoverybot/recoverybot/store"
)

// The names of the jobs Register adds.
const (
	JobExpire = "expire"
	JobRemind = "remind"
	JobDigest = "digest"
	JobOutbox = "outbox"
)

// DeskJobs is what the desk's jobs need from the configuration.
type DeskJobs struct {
	ExpireSpec  string        // [schedule] expire
	CaseTTL     time.Duration // [policy] case_ttl
	RemindSpec  string        // [schedule] remind
	RemindAfter time.Duration // [policy] remind_after
	DigestSpec  string        // [schedule] digest
	// SupportAddress is [support] address; empty: no digest job.
	SupportAddress string
	DigestAlways   bool // [support] digest_always
}

// RegisterDesk registers the jobs that are desk system actions: expire,
// remind and digest (the latter only with a support address).
func RegisterDesk(s *Scheduler, d *desk.Desk, c DeskJobs) error {
	jobs := []Job{
		{Name: JobExpire, Spec: c.ExpireSpec, Run: func(ctx context.Context, now time.Time) (map[string]int, error) {
			return d.Expire(ctx, now, c.CaseTTL)
		}},
		{Name: JobRemind, Spec: c.RemindSpec, Run: func(ctx context.Context, now time.Time) (map[string]int, error) {
			return d.Remind(ctx, now, c.RemindAfter)
		}},
	}
	if c.SupportAddress != "" {
		jobs = append(jobs, Job{Name: JobDigest, Spec: c.DigestSpec, Run: func(ctx context.Context, now time.Time) (map[string]int, error) {
			return d.Digest(ctx, now, desk.DigestOptions{To: c.SupportAddress, Always: c.DigestAlways})
		}})
	}
	for _, j := range jobs {
		if err := s.Register(j); err != nil {
			return err
		}
	}
	return nil
}

// RegisterOutbox registers the outbox job on spec ([schedule] outbox): it
// drains c, sending what is due, deferring what fails temporarily and
// marking failed what is refused for good or past c's give-up, and
// counts them as "sent", "deferred" and "failed". The courier keeps time
// by its store's clock, which the scheduler's is (the daemon gives both
// the same); it shares c with the daemon's own drains, which take turns
// with it, so no mail goes twice.
func RegisterOutbox(s *Scheduler, c *outbound.Courier, spec string) error {
	return s.Register(Job{Name: JobOutbox, Spec: spec, Run: func(ctx context.Context, _ time.Time) (map[string]int, error) {
		st, err := c.Drain(ctx)
		return map[string]int{"sent": st.Sent, "deferred": st.Deferred, "failed": st.Failed}, err
	}})
}

// Status is one job as `sweep status` shows it.
type Status struct {
	Job      string           `json:"job"`
	Schedule string           `json:"schedule"`
	Runs     []store.SweepRun `json:"runs"` // newest first, never nil
}

// Status returns every registered job with its last runs (at most last
// of each), in registration order.
func (s *Scheduler) Status(ctx context.Context, st *store.Store, last int) ([]Status, error) {
	out := []Status{}
	err := st.View(ctx, func(tx *store.Tx) error {
		for _, j := range s.Jobs() {
			runs, err := tx.SweepRuns(store.SweepRunFilter{Job: j.Name, Limit: last})
			if err != nil {
				return err
			}
			out = append(out, Status{Job: j.Name, Schedule: j.Spec, Runs: runs})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sweep status: %w", err)
	}
	return out, nil
}
