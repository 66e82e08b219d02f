// Package sweep runs recoverybot's scheduled jobs (SPEC §6 [schedule]) on
// github.com/robfig/cron/v3: each job on its cron spec under `serve`, or
// once on demand (`recoverybot sweep NAME`), through the same code path.
// Every run is recorded (start, end, outcome, counts, error); a job that
// fails or panics is recorded as such and the scheduler goes on.
//
// The jobs themselves are system actions of package desk; a job here is
// only a name, a spec and a function.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/recoverybot/recoverybot/internal/fault"
	"github.com/recoverybot/recoverybot/store"
)

// ErrUnknownJob is returned for a job name that is not registered.
var ErrUnknownJob = errors.New("sweep: unknown job")

// Func is the work of a job. now is the scheduler's clock at the start of
// the run. It returns what it counted (shown by `sweep status`), or an
// error that ends the run as failed. It must be idempotent: run twice at
// the same instant, the second run changes nothing more.
type Func func(ctx context.Context, now time.Time) (map[string]int, error)

// Job is one scheduled job.
type Job struct {
	Name string // as `recoverybot sweep NAME` names it
	Spec string // a robfig/cron/v3 spec: "@every 10m", "0 8 * * 1-5"
	Run  Func
}

// Recorder stores a finished run; *store.Store's RecordSweepRun is one.
type Recorder func(ctx context.Context, r store.SweepRun) error

// Options configure a Scheduler.
type Options struct {
	// Record stores each run. Required.
	Record Recorder
	// Now is the clock jobs are given and runs are timed by; nil means
	// time.Now. The cron schedule itself follows the runtime's timers
	// (testing/synctest fakes them).
	Now    func() time.Time
	Logger *slog.Logger
}

// Scheduler holds the registered jobs and runs them.
type Scheduler struct {
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	jobs      []*entry
	cron      *cron.Cron
	started   bool
	startedCh chan struct{} // closed by Start
}

type entry struct {
	job   Job
	sched cron.Schedule
	id    cron.EntryID
	run   sync.Mutex // one run of a job at a time, scheduled or on demand
}

// New returns a Scheduler with no jobs.
func New(o Options) *Scheduler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{opts: o, log: o.Logger, startedCh: make(chan struct{})}
}

// Started is closed once Start has scheduled the jobs.
func (s *Scheduler) Started() <-chan struct{} { return s.startedCh }

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSpec checks a cron spec as the scheduler reads it: five fields
// (minute hour day-of-month month day-of-week) or a descriptor such as
// "@hourly" or "@every 10m".
func ParseSpec(spec string) error {
	_, err := parser.Parse(spec)
	if err != nil {
		return fmt.Errorf("cron spec %q: %w", spec, err)
	}
	return nil
}

// Register adds a job. Names are unique; the spec must parse. Jobs
// registered after Start are scheduled at once.
func (s *Scheduler) Register(j Job) error {
	if j.Name == "" || j.Run == nil {
		return fmt.Errorf("sweep: register: a job needs a name and a function")
	}
	sched, err := parser.Parse(j.Spec)
	if err != nil {
		return fmt.Errorf("sweep: register %s: cron spec %q: %w", j.Name, j.Spec, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.ContainsFunc(s.jobs, func(e *entry) bool { return e.job.Name == j.Name }) {
		return fmt.Errorf("sweep: register %s: a job of that name exists", j.Name)
	}
	e := &entry{job: j, sched: sched}
	s.jobs = append(s.jobs, e)
	if s.started {
		s.schedule(e)
	}
	return nil
}

// Jobs returns the registered jobs in the order they were registered.
func (s *Scheduler) Jobs() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Job, len(s.jobs))
	for i, e := range s.jobs {
		out[i] = e.job
	}
	return out
}

func (s *Scheduler) lookup(name string) (*entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.jobs {
		if e.job.Name == name {
			return e, nil
		}
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownJob, name)
}

// Run runs the job name now, records the run and returns it. The error
// is ErrUnknownJob, or the recording's failure; the job's own failure or
// panic is in the returned run's Outcome and Error.
func (s *Scheduler) Run(ctx context.Context, name string) (store.SweepRun, error) {
	e, err := s.lookup(name)
	if err != nil {
		return store.SweepRun{}, err
	}
	return s.execute(ctx, e)
}

// execute is the one path of every run: time it, recover a panic, record.
func (s *Scheduler) execute(ctx context.Context, e *entry) (store.SweepRun, error) {
	e.run.Lock()
	defer e.run.Unlock()
	r := store.SweepRun{Job: e.job.Name, StartedAt: s.opts.Now().UTC()}
	counts, err, panicked := s.call(ctx, e.job, r.StartedAt)
	r.EndedAt = s.opts.Now().UTC()
	r.Counts = counts
	switch {
	case panicked:
		r.Outcome = store.RunPanicked
		r.Error = err.Error()
		s.log.Error("sweep panicked", "job", r.Job, "error", err)
	case err != nil:
		r.Outcome = store.RunFailed
		r.Error = err.Error()
		s.log.Error("sweep failed", "job", r.Job, "cause", fault.Of(err), "error", err)
	default:
		r.Outcome = store.RunOK
		s.log.Info("sweep done", "job", r.Job, "counts", counts, "took", r.EndedAt.Sub(r.StartedAt))
	}
	if r.Counts == nil {
		r.Counts = map[string]int{}
	}
	if err := s.opts.Record(ctx, r); err != nil {
		return r, fmt.Errorf("sweep %s: record run: %w", r.Job, err)
	}
	return r, nil
}

func (s *Scheduler) call(ctx context.Context, j Job, now time.Time) (counts map[string]int, err error, panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			counts, err, panicked = nil, fmt.Errorf("panic: %v", v), true
			s.log.Debug("sweep panic stack", "job", j.Name, "stack", string(debug.Stack()))
		}
	}()
	counts, err = j.Run(ctx, now)
	return counts, err, false
}

// Start runs every registered job on its schedule until ctx is done or
// Stop is called. A scheduled run that finds the previous run of its job
// still going is skipped (cron.SkipIfStillRunning); a panic that escapes
// a run is logged (cron.Recover).
func (s *Scheduler) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return
	}
	logger := cronLogger{s.log}
	s.cron = cron.New(cron.WithParser(parser), cron.WithLogger(logger),
		cron.WithChain(cron.Recover(logger)), cron.WithLocation(time.UTC))
	s.started = true
	for _, e := range s.jobs {
		s.schedule(e)
	}
	s.cron.Start()
	close(s.startedCh)
	go func() {
		<-ctx.Done()
		s.Stop()
	}()
}

// schedule adds e to the running cron; s.mu is held.
func (s *Scheduler) schedule(e *entry) {
	logger := cronLogger{s.log}
	job := cron.NewChain(cron.SkipIfStillRunning(logger)).Then(cron.FuncJob(func() {
		if _, err := s.execute(context.Background(), e); err != nil {
			s.log.Error("sweep run not recorded", "job", e.job.Name, "cause", fault.Of(err), "error", err)
		}
	}))
	e.id = s.cron.Schedule(e.sched, job)
}

// Stop stops the schedule and waits for the runs in progress.
func (s *Scheduler) Stop() {
	s.mu.Lock()
	c := s.cron
	s.mu.Unlock()
	if c != nil {
		<-c.Stop().Done()
	}
}

// Entry is a job as the schedule holds it.
type Entry struct {
	Name string
	Spec string
	// Next is the job's next scheduled run, zero before Start.
	Next time.Time
}

// Entries lists the registered jobs with their next run.
func (s *Scheduler) Entries() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Entry, 0, len(s.jobs))
	for _, e := range s.jobs {
		en := Entry{Name: e.job.Name, Spec: e.job.Spec}
		if s.started {
			en.Next = s.cron.Entry(e.id).Next
		}
		out = append(out, en)
	}
	return out
}

// Next returns when the job name runs next after t by its spec.
func (s *Scheduler) Next(name string, t time.Time) (time.Time, error) {
	e, err := s.lookup(name)
	if err != nil {
		return time.Time{}, err
	}
	return e.sched.Next(t), nil
}

// cronLogger adapts slog to cron.Logger.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "error", err)...)
}
