package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot/internal/smtpsink"
)

type sweepStatusJSON struct {
	Job      string `json:"job"`
	Schedule string `json:"schedule"`
	Runs     []struct {
		Job       string         `json:"job"`
		StartedAt time.Time      `json:"started_at"`
		EndedAt   time.Time      `json:"ended_at"`
		Outcome   string         `json:"outcome"`
		Counts    map[string]int `json:"counts"`
		Error     string         `json:"error"`
	} `json:"runs"`
}

// TestSweepCommands: `sweep NAME` runs a job now on the injected clock and
// records it; `sweep status` shows it; unknown jobs are usage errors.
func TestSweepCommands(t *testing.T) {
	c := newCLI(t)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	cfg, err := os.ReadFile(c.env["RECOVERYBOT_CONFIG"])
	if err != nil {
		t.Fatal(err)
	}
	c.env["RECOVERYBOT_CONFIG"] = c.file("support.toml", strings.Replace(string(cfg), `address = ""`, `address = "support@example.net"`, 1))

	var st []sweepStatusJSON
	if err := json.Unmarshal([]byte(c.ok("sweep", "--json", "status")), &st); err != nil {
		t.Fatal(err)
	}
	if len(st) != 6 || st[0].Job != "expire" || st[0].Schedule != "@every 10m" || st[1].Job != "remind" ||
		st[2].Job != "digest" || st[2].Schedule != "0 8 * * 1-5" || st[3].Job != "purge" || st[3].Schedule != "@daily" ||
		st[4].Job != "reconcile" || st[4].Schedule != "@every 1h" || st[5].Job != "outbox" || st[5].Schedule != "@every 1m" ||
		st[0].Runs == nil || len(st[0].Runs) != 0 {
		t.Fatalf("empty status = %+v", st)
	}
	if out := c.ok("sweep", "status", "--json"); !strings.Contains(out, `"runs": []`) || strings.Contains(out, "null") {
		t.Errorf("status with no runs: %s", out)
	}

	c.ok("profiles", "import", c.file("profiles.csv", profilesCSV))
	var opened caseJSON
	if err := json.Unmarshal([]byte(c.ok("cases", "open", "--profile", "p-1001", "--kind", "totp-lockout", "--by", "alice", "--json")), &opened); err != nil {
		t.Fatal(err)
	}
	if out := c.ok("sweep", "expire"); out != "expire: ok in 0s: expired=0 mailed=0\n" {
		t.Errorf("sweep expire = %q", out)
	}
	now = now.Add(720 * time.Hour)
	if out := c.ok("sweep", "expire"); out != "expire: ok in 0s: expired=1 mailed=1\n" {
		t.Errorf("sweep expire after case_ttl = %q", out)
	}
	var shown caseJSON
	json.Unmarshal([]byte(c.ok("cases", "show", opened.Ref, "--json")), &shown)
	if shown.State != "expired" {
		t.Errorf("case after expire: %s", shown.State)
	}
	if out := c.ok("sweep", "expire"); out != "expire: ok in 0s: expired=0 mailed=0\n" {
		t.Errorf("second sweep expire = %q", out)
	}
	c.ok("sweep", "digest", "--json")

	if err := json.Unmarshal([]byte(c.ok("sweep", "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	runs := st[0].Runs
	if len(runs) != 3 || runs[0].Outcome != "ok" || !runs[0].StartedAt.Equal(now) || runs[1].Counts["expired"] != 1 ||
		runs[2].Counts["expired"] != 0 || len(st[2].Runs) != 1 {
		t.Errorf("status after runs = %+v", st)
	}
	table := c.ok("sweep", "status")
	for _, w := range []string{"JOB", "SCHEDULE", "expire     @every 10m", "2026-04-01T09:00:00Z  ok", "expired=1 mailed=1", "remind     @hourly      never", "digest     0 8 * * 1-5", "reconcile  @every 1h"} {
		if !strings.Contains(table, w) {
			t.Errorf("status table lacks %q:\n%s", w, table)
		}
	}
	for _, line := range strings.Split(table, "\n") {
		if strings.TrimRight(line, " ") != line {
			t.Errorf("trailing spaces: %q", line)
		}
	}

	c.fails(`sweep: unknown job "nope" (jobs: expire, remind, digest, purge, reconcile, outbox)`, "sweep", "nope")
	c.fails("sweep: missing NAME", "sweep")
	for _, args := range [][]string{{"sweep", "nope"}, {"sweep"}} {
		if code, _, _ := c.run(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestSweepDigestNeedsAddress(t *testing.T) {
	c := newCLI(t)
	c.fails("no [support] address", "sweep", "digest")
	var st []sweepStatusJSON
	if err := json.Unmarshal([]byte(c.ok("sweep", "status", "--json")), &st); err != nil || len(st) != 5 {
		t.Errorf("status without a support address = %+v, %v", st, err)
	}
}

// TestSweepOutbox: `sweep outbox` sends the outbox now, through
// [smtp]; a mail refused for now is deferred, then given up
// [policy] outbox_give_up after it was queued, and `cases show` says so
// (human and JSON).
func TestSweepOutbox(t *testing.T) {
	sink, err := smtpsink.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	sink.RejectRecipient("jean.dupont@example.org", 451)
	c := newCLI(t)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	cfg, err := os.ReadFile(c.env["RECOVERYBOT_CONFIG"])
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(string(cfg), `address = "smtp.example.net:587"`, `address = "`+sink.Addr()+`"`, 1)
	body = strings.Replace(body, `security = "starttls"`, `security = "none"`, 1)
	body = strings.Replace(body, `outbox_give_up = "48h"`, `outbox_give_up = "6h"`, 1)
	c.env["RECOVERYBOT_CONFIG"] = c.file("smtp.toml", body)

	c.ok("profiles", "import", c.file("profiles.csv", profilesCSV))
	var opened caseJSON
	if err := json.Unmarshal([]byte(c.ok("cases", "open", "--profile", "p-1001", "--kind", "totp-lockout", "--by", "alice", "--json")), &opened); err != nil {
		t.Fatal(err)
	}
	if out := c.ok("sweep", "outbox"); out != "outbox: ok in 0s: deferred=1 failed=0 sent=0\n" {
		t.Errorf("sweep outbox = %q", out)
	}
	if out := c.ok("sweep", "outbox"); out != "outbox: ok in 0s: deferred=0 failed=0 sent=0\n" {
		t.Errorf("second sweep outbox at the same instant = %q", out)
	}
	now = now.Add(6 * time.Hour)
	if out := c.ok("sweep", "outbox"); out != "outbox: ok in 0s: deferred=0 failed=1 sent=0\n" {
		t.Errorf("sweep outbox at the give-up = %q", out)
	}
	if n := len(sink.Messages()); n != 0 {
		t.Errorf("the sink accepted %d mails", n)
	}
	var shown struct {
		Mail []struct {
			Template  string `json:"template"`
			To        string `json:"to"`
			State     string `json:"state"`
			LastError string `json:"last_error"`
		} `json:"mail"`
	}
	if err := json.Unmarshal([]byte(c.ok("cases", "show", opened.Ref, "--json")), &shown); err != nil {
		t.Fatal(err)
	}
	if len(shown.Mail) != 1 || shown.Mail[0].State != "failed" || shown.Mail[0].To != "jean.dupont@example.org" ||
		!strings.HasPrefix(shown.Mail[0].LastError, "given up 6h after it was queued: ") || !strings.Contains(shown.Mail[0].LastError, "451") {
		t.Errorf("cases show --json mail = %+v", shown.Mail)
	}
	out := c.ok("cases", "show", opened.Ref)
	if !strings.Contains(out, "\nmail:\n") || !regexp.MustCompile(`(?m)^  \S+\s+jean\.dupont@example\.org\s+failed\s+given up 6h after it was queued: .*451`).MatchString(out) {
		t.Errorf("cases show does not show the failed mail:\n%s", out)
	}
}

// TestSweepMailboxJobsWithoutMailbox: purge runs from the store alone
// (nothing was moved, so nothing waits on the server); reconcile needs
// the mailbox, and a configuration without its credentials fails the run
// with one line naming what is missing, recorded for sweep status.
func TestSweepMailboxJobsWithoutMailbox(t *testing.T) {
	c := newCLI(t)
	if out := c.ok("sweep", "purge"); !strings.Contains(out, "purge: ok") || !strings.Contains(out, "cases=0") {
		t.Errorf("sweep purge: %q", out)
	}
	c.fails("reconcile: config: imap", "sweep", "reconcile")
	var st []sweepStatusJSON
	if err := json.Unmarshal([]byte(c.ok("sweep", "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]string{}
	for _, j := range st {
		if len(j.Runs) > 0 {
			outcomes[j.Job] = j.Runs[0].Outcome
		}
	}
	if outcomes["purge"] != "ok" || outcomes["reconcile"] != "failed" || len(outcomes) != 2 {
		t.Errorf("runs recorded: %v", outcomes)
	}
}
