package health

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/recoverybot/recoverybot/internal/fault"
	"github.com/recoverybot/recoverybot/outbound"
	"github.com/recoverybot/recoverybot/store"
)

// Check is one thing /readyz looks at; its name is all /readyz shows of
// it.
type Check string

// The checks, in the order Ready reports them.
const (
	// CheckStore: the database takes writes (a real write, at most every
	// ProbeEvery), its file system has MinFree bytes left, and the last
	// attempt to fetch did not fail on the data directory.
	CheckStore Check = "store"
	// CheckIMAP: a drain of the mailbox succeeded, and fetching has not
	// been failing for longer than StaleAfter since the last one.
	CheckIMAP Check = "imap"
	// CheckOutbox: no mail is still pending StaleAfter after it was
	// queued once an attempt to send it has failed.
	CheckOutbox Check = "outbox"
	// CheckSweeps: no scheduled job has failed its last FailingRuns runs.
	CheckSweeps Check = "sweeps"
)

// Defaults of Options.
const (
	DefaultStaleAfter = 15 * time.Minute
	DefaultProbeEvery = 10 * time.Second
	DefaultMinFree    = 8 << 20
	// FailingRuns is how many runs in a row a scheduled job must fail
	// for CheckSweeps to fail.
	FailingRuns = 3
)

// probeWait is how long the write probe waits for the writer.
const probeWait = 2 * time.Second

// Options configure a Monitor.
type Options struct {
	Store *store.Store
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// StaleAfter is [support] stale_after; 0: DefaultStaleAfter.
	StaleAfter time.Duration
	// ProbeEvery is how often, at most, Ready writes to the store;
	// 0: DefaultProbeEvery.
	ProbeEvery time.Duration
	// DataDir is where the store's files are: its file system must keep
	// MinFree bytes free (0: DefaultMinFree). "": not looked at.
	DataDir string
	MinFree int64
	// SupportAddress receives the alerts; "": Alert sends none.
	SupportAddress string
	// Letters composes the alerts.
	Letters outbound.Letters
	Logger  *slog.Logger
}

// Monitor follows the daemon's health. It is safe for concurrent use.
type Monitor struct {
	o   Options
	log *slog.Logger

	mu sync.Mutex
	// fetched is the end of the last successful drain; zero: none yet.
	fetched time.Time
	// failing is when fetching began to fail, zero while it works;
	// fetchErr is the last failure.
	failing  time.Time
	fetchErr error
	// probed is when the store was last written to, probeErr how.
	probed   time.Time
	probeErr error
}

// New returns a Monitor.
func New(o Options) *Monitor {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = DefaultStaleAfter
	}
	if o.ProbeEvery <= 0 {
		o.ProbeEvery = DefaultProbeEvery
	}
	if o.MinFree <= 0 {
		o.MinFree = DefaultMinFree
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Monitor{o: o, log: log}
}

// Fetched records a successful drain of the mailbox.
func (m *Monitor) Fetched() {
	now := m.o.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fetched, m.failing, m.fetchErr = now, time.Time{}, nil
}

// FetchFailed records that fetching failed with err.
func (m *Monitor) FetchFailed(err error) {
	now := m.o.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failing.IsZero() {
		m.failing = now
	}
	m.fetchErr = err
}

// fetchState is what the Monitor knows of fetching at one instant.
type fetchState struct {
	fetched, failing time.Time
	cause            fault.Cause
}

func (m *Monitor) fetchState() fetchState {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := fetchState{fetched: m.fetched, failing: m.failing}
	if !m.failing.IsZero() {
		f.cause = fault.Of(m.fetchErr)
	}
	return f
}

// storeCause reports whether c is the data directory's trouble.
func storeCause(c fault.Cause) bool {
	return c == fault.DiskFull || c == fault.ReadOnly || c == fault.DatabaseCorrupt
}

// Ready returns the checks that fail, in a fixed order; none: ready.
func (m *Monitor) Ready(ctx context.Context) []Check {
	now := m.o.Now()
	var failed []Check
	f := m.fetchState()
	if !m.storeOK(ctx, now) || storeCause(f.cause) {
		failed = append(failed, CheckStore)
	}
	if f.fetched.IsZero() || (!f.failing.IsZero() && now.Sub(f.fetched) > m.o.StaleAfter) {
		failed = append(failed, CheckIMAP)
	}
	var stuck bool
	var jobs []string
	err := m.o.Store.View(ctx, func(tx *store.Tx) error {
		queued, ok, err := tx.OldestFailingMail()
		if err != nil {
			return err
		}
		stuck = ok && now.Sub(queued) > m.o.StaleAfter
		jobs, err = tx.FailingJobs(FailingRuns)
		return err
	})
	if err != nil {
		m.log.Warn("health: read the outbox and the scheduled jobs", "cause", fault.Of(err), "error", err)
		if len(failed) == 0 || failed[0] != CheckStore {
			failed = append([]Check{CheckStore}, failed...)
		}
		return failed
	}
	if stuck {
		failed = append(failed, CheckOutbox)
	}
	if len(jobs) > 0 {
		failed = append(failed, CheckSweeps)
	}
	return failed
}

// storeOK writes to the store, unless it did within ProbeEvery, and
// looks at the free space of its file system.
func (m *Monitor) storeOK(ctx context.Context, now time.Time) bool {
	m.mu.Lock()
	due := m.probed.IsZero() || now.Sub(m.probed) >= m.o.ProbeEvery || now.Before(m.probed)
	err := m.probeErr
	m.mu.Unlock()
	if due {
		// A writer busy with a long transaction (another process's)
		// is no broken store: the probe waits briefly, and when it
		// gives up the last answer stands.
		pctx, cancel := context.WithTimeout(ctx, probeWait)
		perr := m.o.Store.Probe(pctx)
		cancel()
		if perr == nil || pctx.Err() == nil {
			if perr != nil {
				m.log.Warn("health: the database takes no writes", "cause", fault.Of(perr), "error", perr)
			}
			err = perr
			m.mu.Lock()
			m.probed, m.probeErr = now, err
			m.mu.Unlock()
		}
	}
	if err != nil {
		return false
	}
	if m.o.DataDir != "" {
		if free, ok := freeSpace(m.o.DataDir); ok && free < uint64(m.o.MinFree) {
			return false
		}
	}
	return true
}
