package daemon_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/config"
	"github.com/recoverybot/recoverybot/daemon"
	"github.com/recoverybot/recoverybot/internal/metricstest"
)

// mix delivers a known mix of mail about a totp-lockout case of p-ind,
// whose instructions went out: an ordinary mail, the case's message with
// its document and code, that message again, and one from another
// address. It returns what must never show in the metrics.
func mix(e *e2e) (secrets []string) {
	e.t.Helper()
	s := e.open("p-ind", recoverybot.KindTOTPLockout, "")
	e.once() // the instructions, with the code
	code, _ := e.code("jean@example.org", s.Ref)
	e.deliver(letter{from: "offers@shop.example", subject: "Promo de printemps", text: "Tout à moitié prix.",
		auth: []string{pass("shop.example")}}.bytes())
	evidence := letter{from: "jean@example.org", subject: "Re: [" + s.Ref + "] Kilimandjaro", text: "Voici ma carte. Le code : " + code,
		auth: []string{pass("example.org")}, files: documentsFor(recoverybot.HolderIndividual), messageID: "m1x9@example.org"}.bytes()
	e.deliver(evidence)
	e.deliver(evidence)
	e.deliver(letter{from: "jean@evil.example", subject: "Re: [" + s.Ref + "] Tombouctou", text: "C'est moi, vraiment."}.bytes())
	return []string{s.Ref, strings.TrimPrefix(s.Ref, "RC-"), code, strings.ReplaceAll(code, "-", ""), "@", "example.org",
		"evil.example", "shop.example", "Promo", "printemps", "Kilimandjaro", "Tombouctou", "m1x9"}
}

// TestMetricsAfterARun: after `run --once` over the mix, the dashboard's
// /metrics counts each message where it belongs, exactly, and shows
// nothing of them: no address, reference, code or subject.
func TestMetricsAfterARun(t *testing.T) {
	e := start(t, nil)
	secrets := mix(e)
	r := e.once()
	if r.Fetched != 4 || r.Processed != 1 || r.Review != 1 || r.Ignored != 1 || r.Duplicates != 1 {
		t.Fatalf("run = %+v", r)
	}
	if _, err := e.d.Scheduler().Run(context.Background(), "expire"); err != nil {
		t.Fatal(err)
	}
	srv, err := daemon.NewWeb(e.cfg, daemon.WebOptions{Desk: e.d.Desk(), Metrics: e.d.Metrics().Handler()})
	if err != nil {
		t.Fatal(err)
	}
	s := metricstest.Get(t, srv.Handler()) // no session: scrapes need no login
	s.Check(t, map[string]float64{
		"recoverybot_messages_fetched_total":                       4,
		"recoverybot_messages_tied_total":                          2,
		"recoverybot_messages_ignored_total":                       1,
		"recoverybot_messages_duplicate_total":                     1,
		`recoverybot_messages_review_total{cause="other_address"}`: 1,
		`recoverybot_messages_review_total{cause="other"}`:         0,
		`recoverybot_sender_verdicts_total{verdict="verified"}`:    1,
		`recoverybot_sender_verdicts_total{verdict="unverified"}`:  1,
		`recoverybot_sender_verdicts_total{verdict="failed"}`:      0,
		`recoverybot_code_results_total{result="match"}`:           1,
		`recoverybot_code_results_total{result="mismatch"}`:        0,
		"recoverybot_decision_delay_seconds_count":                 4,
		`recoverybot_cases{state="ready_for_review"}`:              1,
		`recoverybot_cases{state="awaiting_evidence"}`:             0,
		`recoverybot_outbox_mails_total{outcome="sent"}`:           2, // the instructions, then "under review"
		`recoverybot_outbox_mails_total{outcome="failed"}`:         0,
		"recoverybot_oldest_unprocessed_age_seconds":               0,
		"recoverybot_imap_reconnects_total":                        0,
		`recoverybot_imap_errors_total{cause="other"}`:             0,
		`recoverybot_sweep_runs_total{job="expire"}`:               1,
		`recoverybot_sweep_failures_total{job="expire"}`:           0,
		`recoverybot_sweep_duration_seconds_count{job="expire"}`:   1,
		`recoverybot_sweep_runs_total{job="purge"}`:                0,
		`recoverybot_action_calls_total{outcome="done"}`:           0,
	})
	if last := s.Samples["recoverybot_last_fetch_timestamp_seconds"]; last < float64(e.now().Add(-time.Minute).Unix()) || last > float64(e.now().Unix()) {
		t.Errorf("last fetch at %v, want about %d", last, e.now().Unix())
	}
	for _, secret := range secrets {
		if strings.Contains(s.Body, secret) {
			t.Errorf("the metrics show %q", secret)
		}
	}
}

// TestMetricsServed: serve's dashboard listener answers /metrics without
// a login; the mailbox going away counts as an error and a reconnection.
func TestMetricsServed(t *testing.T) {
	e := start(t, func(c *config.Config) { c.Web.Listen = "127.0.0.1:0" })
	mix(e)
	ln, err := daemon.ListenWeb(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.d.ServeWithWeb(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	scrape := func() metricstest.Scrape {
		t.Helper()
		return metricstest.Get(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			w.WriteHeader(resp.StatusCode)
			buf := new(strings.Builder)
			if _, err := io.Copy(buf, resp.Body); err != nil {
				t.Fatal(err)
			}
			w.Write([]byte(buf.String()))
		}))
	}
	// until: the scrape once cond holds, within a minute.
	until := func(what string, cond func(metricstest.Scrape) bool) metricstest.Scrape {
		t.Helper()
		deadline := time.After(time.Minute)
		for {
			s := scrape()
			if cond(s) {
				return s
			}
			select {
			case <-deadline:
				t.Fatalf("%s: not within a minute:\n%s", what, s.Body)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	want := map[string]float64{
		"recoverybot_messages_fetched_total":                       4,
		"recoverybot_messages_ignored_total":                       1,
		"recoverybot_messages_duplicate_total":                     1,
		`recoverybot_messages_review_total{cause="other_address"}`: 1,
		`recoverybot_code_results_total{result="match"}`:           1,
		"recoverybot_imap_reconnects_total":                        0,
	}
	until("the mix decided", func(s metricstest.Scrape) bool {
		for k, v := range want {
			if s.Samples[k] != v {
				return false
			}
		}
		return true
	})

	if err := e.dovecot.Stop(); err != nil {
		t.Fatal(err)
	}
	until("the lost connection counted", func(s metricstest.Scrape) bool {
		return s.Samples[`recoverybot_imap_errors_total{cause="connection_lost"}`] >= 1 && s.Samples["recoverybot_imap_reconnects_total"] >= 1
	})
	if err := e.dovecot.Restart(); err != nil {
		t.Fatal(err)
	}
	for len(e.d.Ready(context.Background())) > 0 {
		time.Sleep(10 * time.Millisecond) // the watcher reconnects and drains
	}
}

// TestMetricsCountAFailedRun: `run --once` against a mailbox that is
// down counts the error, and no fetch.
func TestMetricsCountAFailedRun(t *testing.T) {
	e := start(t, nil)
	if err := e.dovecot.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.Once(context.Background()); err == nil {
		t.Fatal("a run without its mailbox succeeded")
	}
	metricstest.Get(t, e.d.Metrics().Handler()).Check(t, map[string]float64{
		`recoverybot_imap_errors_total{cause="unreachable"}`: 1,
		`recoverybot_imap_errors_total{cause="other"}`:       0,
		"recoverybot_last_fetch_timestamp_seconds":           0,
		"recoverybot_messages_fetched_total":                 0,
	})
}
