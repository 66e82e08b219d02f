package intake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot/config"
	"github.com/recoverybot/recoverybot/daemon"
	"github.com/recoverybot/recoverybot/internal/dovecottest"
	"github.com/recoverybot/recoverybot/internal/smtpsink"
	"github.com/recoverybot/recoverybot/store"
)

// buildRecoverybot builds the real binary from the module's
// ./cmd/recoverybot into dir.
func buildRecoverybot(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "recoverybot")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/recoverybot")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/recoverybot: %v\n%s", err, out)
	}
	return bin
}

// writeConfig writes a configuration for the binary: the data directory,
// the Dovecot mailbox over loopback plaintext, the SMTP sink.
func writeConfig(t *testing.T, dir, dataDir string, dc *dovecottest.Server, smtpAddr string) string {
	t.Helper()
	conf := fmt.Sprintf(`data_dir = %q
log_level = "info"

[imap]
address = %q
security = "none"
username = %q
password = %q
mailbox = "INBOX"
processed_folder = "Recovery/Processed"
review_folder = "Recovery/Review"
idle_timeout = "10m"
command_timeout = "30s"

[smtp]
address = %q
security = "none"
from = "contact@hosting.example"

[auth]
trusted_authserv_ids = [%q]

[web]
listen = "127.0.0.1:0"
`, dataDir, dc.Addr(), dc.User(), dc.Password(), smtpAddr, trustedID)
	path := filepath.Join(dir, "recoverybot.toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path, nil); err != nil {
		t.Fatalf("the test's configuration: %v", err)
	}
	return path
}

// The process is killed with SIGKILL at random moments, again and again,
// while it drains a backlog and new mail keeps arriving, then run to
// completion: every message is recorded once, processed once and moved
// once, and no evidence is counted twice.
func TestKilledAtRandomProcessesEverythingOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary: not in -short")
	}
	t.Parallel()
	tmp := t.TempDir()
	bin := buildRecoverybot(t, tmp)
	dc := dovecottest.Start(t)
	sink, err := smtpsink.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	dataDir := filepath.Join(tmp, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := writeConfig(t, tmp, dataDir, dc, sink.Addr())

	// Cases opened by an agent before the daemon first runs.
	st, key, midKey := openStore(t, dataDir)
	cfg, err := config.Load(conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := openLostEmail(t, daemon.NewDesk(cfg, st, key, midKey, nil), st, "crash", 20)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// The backlog: 200 messages, a third about the cases, with documents
	// large enough that a drain takes a while; more comes before each
	// start.
	c := newCorpus("crash")
	rnd := rand.New(rand.NewPCG(7, 11))
	var tied, ignored []mail
	next := func() mail {
		if rnd.IntN(3) == 0 {
			m := c.caseMail(cases[rnd.IntN(len(cases))], 20000+rnd.IntN(100000))
			tied = append(tied, m)
			return m
		}
		m := c.supportMail(1000+rnd.IntN(60000), rnd.IntN(4) == 0)
		ignored = append(ignored, m)
		return m
	}
	var backlog []mail
	for range 200 {
		backlog = append(backlog, next())
	}
	user := dc.User()
	if err := dc.SaveMany(user, "INBOX", raws(backlog)); err != nil {
		t.Fatal(err)
	}
	twice := map[string]int{}

	logPath := filepath.Join(tmp, "recoverybot.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("recoverybot's log (end):\n%s", b)
		}
	})
	start := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"--config", conf}, args...)...)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}

	const kills = 12
	var progress []string
	for i := range kills {
		args := []string{"serve"}
		if i%4 == 3 {
			args = []string{"run", "--once"}
		}
		// Mail keeps arriving: more backlog, new messages while it runs,
		// and now and then a second delivery of one already seen.
		var more []mail
		for range 150 {
			more = append(more, next())
		}
		if err := dc.SaveMany(user, "INBOX", raws(more)); err != nil {
			t.Fatal(err)
		}
		cmd := start(args...)
		for range 3 {
			m := next()
			if err := dc.Deliver(user, trace("mx1", m.Raw)); err != nil {
				t.Fatal(err)
			}
		}
		if i%3 == 1 {
			m := tied[rnd.IntN(len(tied))]
			if twice[m.MessageID] == 0 {
				twice[m.MessageID] = 1
				if err := dc.Deliver(user, trace("mx2", m.Raw)); err != nil {
					t.Fatal(err)
				}
			}
		}
		time.Sleep(time.Duration(50+rnd.IntN(750)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		state, _ := cmd.Process.Wait()
		fmt.Fprintf(logFile, "=== test: %s killed (%v)\n", strings.Join(args, " "), state)
		progress = append(progress, killProgress(t, dataDir))
	}
	t.Logf("at each kill (messages decided/recorded, moves pending): %s", strings.Join(progress, "; "))

	// Then it runs to the end.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--config", conf, "run", "--once", "--json")
	cmd.Stdout, cmd.Stderr = &out, logFile
	if err := cmd.Run(); err != nil {
		t.Fatalf("final run --once: %v", err)
	}
	var counts map[string]int
	if err := json.Unmarshal(out.Bytes(), &counts); err != nil {
		t.Fatalf("run --once --json printed %q: %v", out.String(), err)
	}
	t.Logf("%d messages (%d about a case, %d delivered twice); the final run --once: %v",
		len(tied)+len(ignored), len(tied), len(twice), counts)

	st, _, _ = openStore(t, dataDir)
	defer st.Close()
	checkExactlyOnce(t, dc, st, expectation{user: user, cases: cases, tied: tied, ignored: ignored,
		duplicates: twice, copies: twice})
	if n, want := len(ledger(t, st)), len(tied)+len(ignored)+len(twice); n != want {
		t.Errorf("ledger has %d rows, want one per delivered message, %d", n, want)
	}
}

// killProgress says where a killed process left the ledger.
func killProgress(t *testing.T, dataDir string) string {
	st, _, _ := openStore(t, dataDir)
	defer st.Close()
	decided, pending := 0, 0
	es := ledger(t, st)
	for _, e := range es {
		if e.Status != store.LedgerReceived {
			decided++
		}
		if e.MoveTo != "" && e.MovedAt == nil {
			pending++
		}
	}
	return fmt.Sprintf("%d/%d, %d", decided, len(es), pending)
}
