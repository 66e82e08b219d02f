package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
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
	if len(st) != 3 || st[0].Job != "expire" || st[0].Schedule != "@every 10m" || st[1].Job != "remind" ||
		st[2].Job != "digest" || st[2].Schedule != "0 8 * * 1-5" || st[0].Runs == nil || len(st[0].Runs) != 0 {
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
	for _, w := range []string{"JOB", "SCHEDULE", "expire  @every 10m", "2026-04-01T09:00:00Z  ok", "expired=1 mailed=1", "remind  @hourly      never", "digest  0 8 * * 1-5"} {
		if !strings.Contains(table, w) {
			t.Errorf("status table lacks %q:\n%s", w, table)
		}
	}
	for _, line := range strings.Split(table, "\n") {
		if strings.TrimRight(line, " ") != line {
			t.Errorf("trailing spaces: %q", line)
		}
	}

	c.fails(`sweep: unknown job "reconcile"`, "sweep", "reconcile")
	c.fails(`sweep: unknown job "purge"`, "sweep", "purge")
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
	if err := json.Unmarshal([]byte(c.ok("sweep", "status", "--json")), &st); err != nil || len(st) != 2 {
		t.Errorf("status without a support address = %+v, %v", st, err)
	}
}
