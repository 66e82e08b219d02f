package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/recoverybot/recoverybot/daemon"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/sweep"
)

// scheduler assembles the scheduled jobs of the configuration, as `serve`
// runs them. With a configuration that cannot reach the mailbox (no
// credentials, say), the jobs that need it say so when they run.
func (a *app) scheduler(ctx context.Context) (*sweep.Scheduler, error) {
	if err := a.loadConfig(); err != nil {
		return nil, err
	}
	// The daemon's parts and the scheduler log each mail, message and
	// failed run; run by hand, the run says enough (its error, its
	// counts), and `cases show` gives each mail's fate.
	incomplete := a.cfg.Complete()
	if incomplete == nil {
		d, err := a.daemon(ctx, daemon.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return nil, err
		}
		return d.Scheduler(), nil
	}
	d, err := a.desk(ctx)
	if err != nil {
		return nil, err
	}
	courier, err := daemon.NewCourier(a.cfg, a.st, nil, nil)
	if err != nil {
		return nil, err
	}
	return daemon.NewScheduler(a.cfg, a.st, daemon.Parts{Desk: d, Courier: courier,
		NoMailbox: fmt.Errorf("config: %w", incomplete)}, a.now, slog.New(slog.DiscardHandler), nil)
}

func jobNames(s *sweep.Scheduler) string {
	var names []string
	for _, j := range s.Jobs() {
		names = append(names, j.Name)
	}
	return strings.Join(names, ", ")
}

// cmdSweep runs one job now, through the scheduler's own path: the run is
// recorded as a scheduled one is. A job that fails or panics exits 1.
func cmdSweep(ctx context.Context, a *app, args []string) error {
	f := a.flags("sweep")
	asJSON := f.Bool("json", false, "print the run as JSON")
	pos, err := f.parse(args, "NAME")
	if err != nil {
		return err
	}
	if pos[0] == "status" {
		// "sweep --json status": the flag stood before the subcommand's
		// second word.
		var rest []string
		if *asJSON {
			rest = []string{"--json"}
		}
		return cmdSweepStatus(ctx, a, rest)
	}
	name := pos[0]
	switch name {
	case sweep.JobPurge, sweep.JobReconcile, sweep.JobOutbox:
		// They expunge, move or send: not beside a running daemon,
		// which runs them on its own schedule.
		if err := a.lockDataDir(); err != nil {
			return fmt.Errorf("sweep %s: %w", name, err)
		}
	}
	s, err := a.scheduler(ctx)
	if err != nil {
		return err
	}
	if name == sweep.JobDigest && a.cfg.Support.Address == "" {
		return usagef("sweep digest: no [support] address in the configuration")
	}
	r, err := s.Run(ctx, name)
	if errors.Is(err, sweep.ErrUnknownJob) {
		return usagef("sweep: unknown job %q (jobs: %s)", name, jobNames(s))
	}
	if err != nil {
		return err
	}
	if *asJSON {
		if err := a.printJSON(r); err != nil {
			return err
		}
	} else if r.Outcome == store.RunOK {
		fmt.Fprintf(a.stdout, "%s: ok in %s: %s\n", r.Job, took(r), counts(r.Counts))
	}
	if r.Outcome != store.RunOK {
		return fmt.Errorf("sweep %s %s: %s", r.Job, r.Outcome, r.Error)
	}
	return nil
}

// statusRuns is how many runs of each job `sweep status` shows.
const statusRuns = 5

// cmdSweepStatus prints each job's schedule and its last runs.
func cmdSweepStatus(ctx context.Context, a *app, args []string) error {
	f := a.flags("sweep status")
	asJSON := f.Bool("json", false, "print one JSON array")
	if _, err := f.parse(args); err != nil {
		return err
	}
	s, err := a.scheduler(ctx)
	if err != nil {
		return err
	}
	st, err := s.Status(ctx, a.st, statusRuns)
	if err != nil {
		return err
	}
	if *asJSON {
		return a.printJSON(st)
	}
	var b bytes.Buffer
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "JOB\tSCHEDULE\tSTARTED\tOUTCOME\tTOOK\tCOUNTS\tERROR")
	for _, j := range st {
		if len(j.Runs) == 0 {
			fmt.Fprintf(w, "%s\t%s\tnever\t\t\t\t\n", j.Job, j.Schedule)
			continue
		}
		for i, r := range j.Runs {
			job, spec := j.Job, j.Schedule
			if i > 0 {
				job, spec = "", ""
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", job, spec, r.StartedAt.UTC().Format(time.RFC3339), r.Outcome, took(r),
				counts(r.Counts), printable(oneLine(r.Error)))
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		if line != "" {
			fmt.Fprintln(a.stdout, strings.TrimRight(line, " \n"))
		}
	}
	return nil
}

func took(r store.SweepRun) string {
	return r.EndedAt.Sub(r.StartedAt).Round(time.Microsecond).String()
}

// counts writes a run's counts as "expired=2 mailed=2", sorted by name.
func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}
