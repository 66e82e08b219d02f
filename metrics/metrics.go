package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/action"
	"github.com/recoverybot/recoverybot/intake"
	"github.com/recoverybot/recoverybot/internal/fault"
	"github.com/recoverybot/recoverybot/outbound"
	"github.com/recoverybot/recoverybot/rules"
	"github.com/recoverybot/recoverybot/store"
)

// Other is the label value of anything outside a label's fixed set.
const Other = "other"

// Options configure Metrics.
type Options struct {
	// Store is read at each scrape for the cases by state; nil: that
	// gauge is not exported.
	Store *store.Store
	// Now is the clock of the ages and of the last fetch; nil: time.Now.
	Now func() time.Time
	// Jobs are the scheduled jobs' names, exported at zero before their
	// first run.
	Jobs   []string
	Logger *slog.Logger
}

// Metrics counts what the daemon does. Its methods are safe for
// concurrent use; a nil *Metrics counts nothing (but has no Handler).
type Metrics struct {
	reg *prometheus.Registry
	now func() time.Time
	log *slog.Logger

	fetched, tied, ignored, duplicates prometheus.Counter
	review                             *prometheus.CounterVec
	verdicts, codes                    *prometheus.CounterVec
	decision                           prometheus.Histogram
	reconnects                         prometheus.Counter
	imapErrors                         *prometheus.CounterVec
	outbox, outboxErrors, actions      *prometheus.CounterVec
	sweepRuns, sweepFailures           *prometheus.CounterVec
	sweepDuration                      *prometheus.HistogramVec
	lastFetch                          prometheus.Gauge

	mu     sync.Mutex
	oldest time.Time // the delivery of the oldest message listed and not yet decided; zero: none
}

// The fixed sets of the labels' values.
var (
	verdicts    = []recoverybot.SenderStatus{recoverybot.SenderVerified, recoverybot.SenderUnverified, recoverybot.SenderFailed, recoverybot.SenderNone}
	codeResults = []recoverybot.CodeResult{recoverybot.CodeMatch, recoverybot.CodeMismatch, recoverybot.CodeExpired, recoverybot.CodeUsed}
	outboxEnds  = []string{"sent", "deferred", "failed"}
	actionEnds  = []string{"done", "deferred", "failed"}
)

// New returns the metrics, with the Go runtime's and the process's, in a
// registry of their own.
func New(o Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), now: o.Now, log: o.Logger}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		m.reg.MustRegister(c)
		return c
	}
	vec := func(name, help, label string, values ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{label})
		for _, v := range values {
			c.WithLabelValues(v)
		}
		m.reg.MustRegister(c)
		return c
	}
	m.fetched = counter("recoverybot_messages_fetched_total", "Messages downloaded from the mailbox.")
	m.tied = counter("recoverybot_messages_tied_total", "Messages decided about a case (applied, recorded or sent to review).")
	m.ignored = counter("recoverybot_messages_ignored_total", "Messages about no case, left in the mailbox.")
	m.duplicates = counter("recoverybot_messages_duplicate_total", "Messages met again (a second delivery of one message).")
	m.review = vec("recoverybot_messages_review_total", "Messages sent to review, by cause.", "cause",
		append(names(rules.Causes), Other)...)
	m.verdicts = vec("recoverybot_sender_verdicts_total", "Sender checks of the messages about a case, by verdict.", "verdict",
		append(names(verdicts), Other)...)
	m.codes = vec("recoverybot_code_results_total", "Code checks, by result.", "result", append(names(codeResults), Other)...)
	m.decision = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "recoverybot_decision_delay_seconds",
		Help:    "From a message's delivery (its IMAP INTERNALDATE, or its Date) to recoverybot's decision on it.",
		Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600},
	})
	m.reg.MustRegister(m.decision)
	m.reconnects = counter("recoverybot_imap_reconnects_total", "Reconnections to the mailbox after its connection failed or was lost.")
	m.imapErrors = vec("recoverybot_imap_errors_total", "Errors of the mailbox connection, by cause.", "cause", names(fault.Causes())...)
	m.outbox = vec("recoverybot_outbox_mails_total", "Outgoing mails, by outcome of their attempt.", "outcome", outboxEnds...)
	m.outboxErrors = vec("recoverybot_outbox_errors_total", "Failed attempts to send a mail (deferred or failed), by cause.", "cause",
		names(fault.Causes())...)
	m.actions = vec("recoverybot_action_calls_total", "Calls of the action hook, by outcome.", "outcome", actionEnds...)
	m.sweepRuns = vec("recoverybot_sweep_runs_total", "Runs of the scheduled jobs.", "job", o.Jobs...)
	m.sweepFailures = vec("recoverybot_sweep_failures_total", "Runs of the scheduled jobs that failed.", "job", o.Jobs...)
	m.sweepDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "recoverybot_sweep_duration_seconds", Help: "How long the scheduled jobs' runs took.",
		Buckets: []float64{0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 1800},
	}, []string{"job"})
	for _, j := range o.Jobs {
		m.sweepDuration.WithLabelValues(j)
	}
	m.reg.MustRegister(m.sweepDuration)
	m.lastFetch = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "recoverybot_last_fetch_timestamp_seconds",
		Help: "When the mailbox was last drained without error, in Unix seconds; 0: not yet.",
	})
	m.reg.MustRegister(m.lastFetch)
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "recoverybot_oldest_unprocessed_age_seconds",
		Help: "Age of the oldest message in the mailbox not yet decided, since its delivery; 0: none.",
	}, m.oldestAge))
	if o.Store != nil {
		m.reg.MustRegister(casesCollector{store: o.Store, desc: prometheus.NewDesc("recoverybot_cases",
			"Cases by state.", []string{"state"}, nil)})
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func names[T ~string](list []T) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = string(v)
	}
	return out
}

// known returns v when it is one of set, and Other otherwise.
func known[T ~string](v T, set []T) string {
	if slices.Contains(set, v) {
		return string(v)
	}
	return Other
}

// Handler serves the metrics in the Prometheus exposition format. A
// series that cannot be read (the store failing) is left out and logged;
// the others are still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// Fetched counts n messages downloaded.
func (m *Metrics) Fetched(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.fetched.Add(float64(n))
}

// Message counts what became of one message (intake.Options.OnMessage).
func (m *Metrics) Message(r intake.Report) {
	if m == nil {
		return
	}
	switch r.Status {
	case store.LedgerIgnored:
		m.ignored.Inc()
	case store.LedgerDuplicate:
		m.duplicates.Inc()
	case store.LedgerReview:
		m.review.WithLabelValues(known(r.Cause, rules.Causes)).Inc()
	}
	if r.CaseRef != "" {
		m.tied.Inc()
	}
	if r.Verdict != "" {
		m.verdicts.WithLabelValues(known(r.Verdict, verdicts)).Inc()
	}
	if r.Code != "" {
		m.codes.WithLabelValues(known(r.Code, codeResults)).Inc()
	}
	if !r.Delivered.IsZero() && !r.Decided.IsZero() {
		m.decision.Observe(max(r.Decided.Sub(r.Delivered), 0).Seconds())
	}
}

// Backlog says when the oldest message listed in the mailbox and not yet
// decided was delivered; zero: none is waiting.
func (m *Metrics) Backlog(oldest time.Time) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.oldest = oldest
	m.mu.Unlock()
}

func (m *Metrics) oldestAge() float64 {
	m.mu.Lock()
	oldest := m.oldest
	m.mu.Unlock()
	if oldest.IsZero() {
		return 0
	}
	return max(m.now().Sub(oldest), 0).Seconds()
}

// Drained records that the mailbox was drained without error, now.
func (m *Metrics) Drained() {
	if m == nil {
		return
	}
	m.lastFetch.Set(float64(m.now().Unix()))
}

// IMAPError counts an error of the mailbox connection, by its cause.
func (m *Metrics) IMAPError(err error) {
	if m == nil || err == nil {
		return
	}
	m.imapErrors.WithLabelValues(string(fault.Of(err))).Inc()
}

// Reconnect counts a reconnection to the mailbox.
func (m *Metrics) Reconnect() {
	if m != nil {
		m.reconnects.Inc()
	}
}

// Outbox counts what one drain of the outbox did (outbound.Courier.OnDrain).
func (m *Metrics) Outbox(st outbound.Stats) {
	if m == nil {
		return
	}
	m.outbox.WithLabelValues("sent").Add(float64(st.Sent))
	m.outbox.WithLabelValues("deferred").Add(float64(st.Deferred))
	m.outbox.WithLabelValues("failed").Add(float64(st.Failed))
}

// OutboxError counts a mail's attempt that failed, deferred or for good,
// by what broke (outbound.Courier.OnFailure).
func (m *Metrics) OutboxError(cause fault.Cause) {
	if m != nil {
		m.outboxErrors.WithLabelValues(known(cause, fault.Causes())).Inc()
	}
}

// Actions counts what one drain of the action calls did
// (action.Courier.OnDrain).
func (m *Metrics) Actions(st action.Stats) {
	if m == nil {
		return
	}
	m.actions.WithLabelValues("done").Add(float64(st.Done))
	m.actions.WithLabelValues("deferred").Add(float64(st.Deferred))
	m.actions.WithLabelValues("failed").Add(float64(st.Failed))
}

// Sweep counts a scheduled job's run once it is recorded.
func (m *Metrics) Sweep(r store.SweepRun) {
	if m == nil {
		return
	}
	m.sweepRuns.WithLabelValues(r.Job).Inc()
	if r.Outcome != store.RunOK {
		m.sweepFailures.WithLabelValues(r.Job).Inc()
	}
	m.sweepDuration.WithLabelValues(r.Job).Observe(max(r.EndedAt.Sub(r.StartedAt), 0).Seconds())
}

// casesCollector reads the cases by state from the store at each scrape.
type casesCollector struct {
	store *store.Store
	desc  *prometheus.Desc
}

func (c casesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c casesCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var counts map[recoverybot.State]int
	err := c.store.View(ctx, func(tx *store.Tx) (err error) {
		counts, err = tx.CountCases()
		return err
	})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, fmt.Errorf("cases by state: %w", err))
		return
	}
	for _, s := range recoverybot.States {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
}
