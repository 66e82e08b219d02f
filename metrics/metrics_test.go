package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/action"
	"github.com/recoverybot/recoverybot/intake"
	"github.com/recoverybot/recoverybot/internal/fault"
	"github.com/recoverybot/recoverybot/internal/metricstest"
	"github.com/recoverybot/recoverybot/metrics"
	"github.com/recoverybot/recoverybot/outbound"
	"github.com/recoverybot/recoverybot/rules"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	v, err := vault.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "recoverybot.db"), v, store.Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestCounts: each thing the daemon tells the metrics shows in a scrape,
// under its label, exactly as often as it was told.
func TestCounts(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	err := st.Update(ctx, func(tx *store.Tx) error {
		if _, err := tx.PutProfile(recoverybot.Profile{ID: "p-1", Email: "jean@example.org", HolderKind: recoverybot.HolderIndividual, Locale: "fr"}); err != nil {
			return err
		}
		c := recoverybot.Case{Ref: "RC-AAAAAA", ProfileID: "p-1", Kind: recoverybot.KindLostEmail, Contact: "new@example.org",
			State: recoverybot.StateReadyForReview, OpenedBy: "alice", OpenedAt: t0, UpdatedAt: t0}
		return tx.InsertCase(&c)
	})
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Hour)
	m := metrics.New(metrics.Options{Store: st, Now: func() time.Time { return now },
		Jobs: []string{"expire", "purge"}})

	m.Fetched(4)
	m.Fetched(1)
	m.Message(intake.Report{Status: store.LedgerProcessed, CaseRef: "RC-AAAAAA", Verdict: recoverybot.SenderVerified,
		Code: recoverybot.CodeMatch, Delivered: t0, Decided: t0.Add(20 * time.Second)})
	m.Message(intake.Report{Status: store.LedgerReview, CaseRef: "RC-AAAAAA", Cause: rules.CauseOtherAddress,
		Verdict: recoverybot.SenderVerified, Code: recoverybot.CodeMismatch, Delivered: t0, Decided: t0.Add(90 * time.Second)})
	m.Message(intake.Report{Status: store.LedgerReview, Cause: rules.CauseSeveralCases})
	m.Message(intake.Report{Status: store.LedgerReview, Cause: "jean@example.org said so"}) // never a label
	m.Message(intake.Report{Status: store.LedgerIgnored, Delivered: t0, Decided: t0.Add(3 * time.Second)})
	m.Message(intake.Report{Status: store.LedgerDuplicate})
	m.Backlog(now.Add(-5 * time.Minute))
	m.Drained()
	m.IMAPError(fault.Wrap(fault.LoginRefused, errors.New("login refused")))
	m.IMAPError(errors.New("connection reset"))
	m.IMAPError(nil)
	m.Reconnect()
	m.OutboxError(fault.Unreachable)
	m.OutboxError("made up")
	m.Reconnect()
	m.Outbox(outbound.Stats{Sent: 2, Deferred: 1})
	m.Outbox(outbound.Stats{Sent: 1, Failed: 1})
	m.Actions(action.Stats{Done: 1, Deferred: 2})
	m.Sweep(store.SweepRun{Job: "expire", Outcome: store.RunOK, StartedAt: t0, EndedAt: t0.Add(2 * time.Second)})
	m.Sweep(store.SweepRun{Job: "expire", Outcome: store.RunFailed, StartedAt: t0, EndedAt: t0.Add(time.Second)})

	s := metricstest.Get(t, m.Handler())
	s.Check(t, map[string]float64{
		"recoverybot_messages_fetched_total":                       5,
		"recoverybot_messages_tied_total":                          2,
		"recoverybot_messages_ignored_total":                       1,
		"recoverybot_messages_duplicate_total":                     1,
		`recoverybot_messages_review_total{cause="other_address"}`: 1,
		`recoverybot_messages_review_total{cause="several_cases"}`: 1,
		`recoverybot_messages_review_total{cause="other"}`:         1,
		`recoverybot_messages_review_total{cause="unreadable"}`:    0,
		`recoverybot_sender_verdicts_total{verdict="verified"}`:    2,
		`recoverybot_sender_verdicts_total{verdict="failed"}`:      0,
		`recoverybot_code_results_total{result="match"}`:           1,
		`recoverybot_code_results_total{result="mismatch"}`:        1,
		`recoverybot_code_results_total{result="expired"}`:         0,
		"recoverybot_decision_delay_seconds_count":                 3,
		"recoverybot_decision_delay_seconds_sum":                   113,
		"recoverybot_oldest_unprocessed_age_seconds":               300,
		"recoverybot_last_fetch_timestamp_seconds":                 float64(now.Unix()),
		`recoverybot_imap_errors_total{cause="login_refused"}`:     1,
		`recoverybot_imap_errors_total{cause="other"}`:             1,
		"recoverybot_imap_reconnects_total":                        2,
		`recoverybot_outbox_mails_total{outcome="sent"}`:           3,
		`recoverybot_outbox_mails_total{outcome="deferred"}`:       1,
		`recoverybot_outbox_mails_total{outcome="failed"}`:         1,
		`recoverybot_outbox_errors_total{cause="unreachable"}`:     1,
		`recoverybot_outbox_errors_total{cause="other"}`:           1,
		`recoverybot_outbox_errors_total{cause="login_refused"}`:   0,
		`recoverybot_action_calls_total{outcome="done"}`:           1,
		`recoverybot_action_calls_total{outcome="deferred"}`:       2,
		`recoverybot_action_calls_total{outcome="failed"}`:         0,
		`recoverybot_sweep_runs_total{job="expire"}`:               2,
		`recoverybot_sweep_failures_total{job="expire"}`:           1,
		`recoverybot_sweep_runs_total{job="purge"}`:                0,
		`recoverybot_sweep_duration_seconds_count{job="expire"}`:   2,
		`recoverybot_sweep_duration_seconds_sum{job="expire"}`:     3,
		`recoverybot_cases{state="ready_for_review"}`:              1,
		`recoverybot_cases{state="awaiting_evidence"}`:             0,
		"go_goroutines": s.Samples["go_goroutines"],
	})
	if _, ok := s.Samples["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
	for _, leak := range []string{"jean@example.org", "RC-AAAAAA", "said so"} {
		if strings.Contains(s.Body, leak) {
			t.Errorf("the scrape shows %q", leak)
		}
	}

	m.Backlog(time.Time{})
	metricstest.Get(t, m.Handler()).Check(t, map[string]float64{"recoverybot_oldest_unprocessed_age_seconds": 0})
}

// TestRegistriesApart: two Metrics in one process count apart (neither
// uses the process-wide default registry, where the second would not
// even register).
func TestRegistriesApart(t *testing.T) {
	a, b := metrics.New(metrics.Options{}), metrics.New(metrics.Options{})
	a.Fetched(3)
	metricstest.Get(t, a.Handler()).Check(t, map[string]float64{"recoverybot_messages_fetched_total": 3})
	metricstest.Get(t, b.Handler()).Check(t, map[string]float64{"recoverybot_messages_fetched_total": 0})
	b.IMAPError(errors.New("anything"))
	metricstest.Get(t, b.Handler()).Check(t, map[string]float64{`recoverybot_imap_errors_total{cause="other"}`: 1})
	if _, ok := metricstest.Get(t, b.Handler()).Samples["recoverybot_cases"]; ok {
		t.Error("cases by state without a store")
	}
}

// TestNilCountsNothing: a daemon without metrics calls them all the same.
func TestNilCountsNothing(t *testing.T) {
	var m *metrics.Metrics
	m.Fetched(1)
	m.Message(intake.Report{Status: store.LedgerIgnored})
	m.Backlog(t0)
	m.Drained()
	m.IMAPError(errors.New("x"))
	m.Reconnect()
	m.Outbox(outbound.Stats{Sent: 1})
	m.Actions(action.Stats{Done: 1})
	m.Sweep(store.SweepRun{Job: "expire"})
}

// TestStoreFailing: with the store closed, the cases are left out and
// the rest is still served.
func TestStoreFailing(t *testing.T) {
	st := openStore(t)
	m := metrics.New(metrics.Options{Store: st})
	m.Fetched(2)
	st.Close()
	s := metricstest.Get(t, m.Handler())
	s.Check(t, map[string]float64{"recoverybot_messages_fetched_total": 2})
	if _, ok := s.Samples[`recoverybot_cases{state="approved"}`]; ok {
		t.Error("cases by state from a closed store")
	}
}
