package daemon_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/config"
	"github.com/recoverybot/recoverybot/daemon"
	"github.com/recoverybot/recoverybot/health"
	"github.com/recoverybot/recoverybot/internal/metricstest"
	"github.com/recoverybot/recoverybot/internal/testfiles"
	"github.com/recoverybot/recoverybot/internal/tmpdisk"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

// logBuffer keeps what a logger wrote, for several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the lines that contain every one of words.
func (l *logBuffer) lines(words ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.b.String(), "\n") {
		if line != "" && !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(line, w) }) {
			out = append(out, line)
		}
	}
	return out
}

// eventually waits, polling, for cond; real time bounds only the test's
// patience, never what it proves.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serving is a daemon running Serve with its dashboard.
type serving struct {
	d    *daemon.Daemon
	url  string
	stop func()
}

// serve starts a daemon of e's configuration and store with the
// dashboard, logging to logs, until the test ends or stop is called.
func (e *e2e) serve(logs io.Writer) *serving {
	e.t.Helper()
	v, err := vault.Open(e.cfg.DataDir)
	if err != nil {
		e.t.Fatal(err)
	}
	key, _ := recoverybot.NewCodeKey(v.CodeKey())
	c := e.cfg
	c.Web.Listen = "127.0.0.1:0"
	d, err := daemon.New(daemon.Options{Config: c, Store: e.st, CodeKey: key, MessageIDKey: v.Key(vault.PurposeMessageID),
		Now: e.now, OutboxInterval: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		e.t.Fatal(err)
	}
	ln, err := daemon.ListenWeb(c)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.ServeWithWeb(ctx, ln) }()
	var once sync.Once
	s := &serving{d: d, url: "http://" + ln.Addr().String(), stop: func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("serve: %v", err)
			}
		})
	}}
	e.t.Cleanup(s.stop)
	return s
}

// readyz returns what /readyz answers.
func (s *serving) readyz(t *testing.T) (int, string) {
	t.Helper()
	resp, err := http.Get(s.url + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// alerts returns the subjects of the alert mails the support address
// received.
func (e *e2e) alerts() []string {
	var subjects []string
	for _, env := range e.sent("support@hosting.example") {
		subjects = append(subjects, env.GetHeader("Subject"))
	}
	return subjects
}

// TestReadyzAndAlertsFollowDovecot: /readyz is ready once the mailbox is
// drained, still ready while Dovecot is down for less than stale_after,
// "not ready: imap" beyond it, and ready again when Dovecot returns. The
// support address gets one mail when fetching has failed for longer than
// stale_after and one when it works again, a restart of the daemon in
// between sending nothing more.
func TestReadyzAndAlertsFollowDovecot(t *testing.T) {
	e := start(t, func(c *config.Config) { c.Support.Address = "support@hosting.example" })
	logs := &logBuffer{}
	s := e.serve(logs)
	eventually(t, "ready once drained", func() bool { code, _ := s.readyz(t); return code == http.StatusOK })

	if err := e.dovecot.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the watcher sees Dovecot gone", func() bool {
		return len(logs.lines(`msg="fetching stopped: the mailbox connection was lost"`, "component=watcher", "cause=connection_lost")) > 0
	})
	if code, body := s.readyz(t); code != http.StatusOK {
		t.Errorf("readyz within stale_after of the last drain: %d %q", code, body)
	}
	e.advance(e.cfg.Support.StaleAfter.D() + time.Minute)
	eventually(t, "readyz unready", func() bool {
		code, body := s.readyz(t)
		return code == http.StatusServiceUnavailable && body == "not ready: imap\n"
	})
	eventually(t, "the stale-fetch alert", func() bool { return len(e.alerts()) == 1 })
	if got := e.alerts(); !strings.Contains(got[0], "fetching mail has failed since") {
		t.Errorf("alert subject %q", got[0])
	}
	for _, env := range e.sent("support@hosting.example") {
		if strings.Contains(env.Text, e.dovecot.Password()) || !strings.Contains(env.Text, "What to check") {
			t.Errorf("alert text: %q", env.Text)
		}
	}

	// A restart within the episode.
	s.stop()
	logs = &logBuffer{}
	s = e.serve(logs)
	eventually(t, "the restarted watcher sees Dovecot gone", func() bool { return len(logs.lines("fetching stopped", "cause=unreachable")) > 0 })
	e.advance(5 * time.Minute)
	eventually(t, "readyz unready after the restart", func() bool { code, _ := s.readyz(t); return code == http.StatusServiceUnavailable })
	time.Sleep(300 * time.Millisecond) // several rounds of the alerts
	if got := e.alerts(); len(got) != 1 {
		t.Fatalf("alerts after a restart within the episode: %q, want still one", got)
	}

	if err := e.dovecot.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ready again once Dovecot is back", func() bool { code, _ := s.readyz(t); return code == http.StatusOK })
	eventually(t, "the recovery mail", func() bool { return len(e.alerts()) == 2 })
	time.Sleep(300 * time.Millisecond)
	if got := e.alerts(); len(got) != 2 || !strings.Contains(got[1], "works again") {
		t.Fatalf("alerts = %q, want the stale-fetch alert and one recovery", got)
	}
}

// TestFullDisk: with the data directory's file system full, the watcher
// says the disk is full (never a lost connection) and /readyz fails the
// store check; once space returns, fetching resumes and every message is
// processed exactly once.
func TestFullDisk(t *testing.T) {
	disk := tmpdisk.Mount(t, 64<<20)
	e := start(t, func(c *config.Config) {
		c.DataDir = filepath.Join(disk.Dir(), "data")
		if err := os.Mkdir(c.DataDir, 0o700); err != nil {
			t.Fatal(err)
		}
	})
	logs := &logBuffer{}
	s := e.serve(logs)
	eventually(t, "ready once drained", func() bool { code, _ := s.readyz(t); return code == http.StatusOK })
	contact := "jean.new@elsewhere.example"
	c := e.open("p-ind", recoverybot.KindLostEmail, contact)
	caseMail := func(name string) []byte {
		return letter{from: contact, subject: "Mon accès " + c.Ref, text: "Bonjour, ci-joint ma pièce.",
			auth: []string{pass(domainOf(contact))}, files: map[string][]byte{name: testfiles.JPEG([]byte(name))}}.bytes()
	}
	ordinary := func(n int) []byte {
		return letter{from: "someone@else.example", subject: "Question", text: strings.Repeat("Une question. ", 2000*n),
			auth: []string{pass("else.example")}}.bytes()
	}
	e.deliver(caseMail("cni-recto.jpg"))
	eventually(t, "the first message processed", func() bool { return len(e.show(c.Ref).Documents) == 1 })

	disk.Fill()
	e.deliver(caseMail("cni-verso.jpg"))
	e.deliver(ordinary(1))
	e.deliver(ordinary(2))
	eventually(t, "the watcher says the disk is full", func() bool {
		return len(logs.lines(`msg="fetching stopped: the disk is full"`, "cause=disk_full")) > 0
	})
	for _, line := range logs.lines("disk_full") {
		if strings.Contains(line, "connection") {
			t.Errorf("a full disk called a lost connection: %s", line)
		}
	}
	if n := metricstest.Get(t, s.d.Metrics().Handler()).Samples[`recoverybot_imap_errors_total{cause="disk_full"}`]; n < 1 {
		t.Errorf("the metrics count %v fetch failures with cause disk_full, want at least one", n)
	}
	if got := s.d.Ready(context.Background()); !slices.Contains(got, health.CheckStore) {
		t.Errorf("Ready with the disk full = %v, want the store check failing", got)
	}
	if code, body := s.readyz(t); code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "not ready: store") {
		t.Errorf("readyz with the disk full: %d %q", code, body)
	}

	disk.Free()
	eventually(t, "every message decided once space returned", func() bool {
		var es []store.Entry
		e.st.View(context.Background(), func(tx *store.Tx) error {
			var err error
			es, err = tx.Entries(store.LedgerFilter{})
			return err
		})
		decided := 0
		for _, en := range es {
			if en.Status != store.LedgerReceived && (en.MoveTo == "" || en.MovedAt != nil) {
				decided++
			}
		}
		return decided == 4
	})
	var es []store.Entry
	if err := e.st.View(context.Background(), func(tx *store.Tx) error {
		var err error
		es, err = tx.Entries(store.LedgerFilter{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	statuses := map[store.LedgerStatus]int{}
	for _, en := range es {
		seen[en.MessageID]++
		statuses[en.Status]++
	}
	if len(es) != 4 || len(seen) != 4 || statuses[store.LedgerProcessed] != 2 || statuses[store.LedgerIgnored] != 2 {
		t.Errorf("ledger: %d rows, %d messages, statuses %v; want 4 messages, each once, 2 processed and 2 ignored", len(es), len(seen), statuses)
	}
	if got := e.show(c.Ref); len(got.Documents) != 2 {
		t.Errorf("case: %d documents, want 2", len(got.Documents))
	}
	for folder, want := range map[string]int{"INBOX": 2, "Recovery.Processed": 2} {
		if n, err := e.dovecot.Count(e.dovecot.User(), folder); err != nil || n != want {
			t.Errorf("%s holds %d messages (%v), want %d", folder, n, err, want)
		}
	}
	eventually(t, "ready again", func() bool { code, _ := s.readyz(t); return code == http.StatusOK })
}

// TestTokenAlert: a token file that cannot be read stops fetching with
// cause token_failed, and the support address is told once.
func TestTokenAlert(t *testing.T) {
	token := filepath.Join(t.TempDir(), "imap.token")
	e := start(t, func(c *config.Config) {
		c.Support.Address = "support@hosting.example"
		c.IMAP.Password, c.IMAP.TokenFile = "", token
	})
	logs := &logBuffer{}
	s := e.serve(logs)
	eventually(t, "the watcher says the token failed", func() bool {
		return len(logs.lines(`msg="fetching stopped: the OAuth token failed"`, "cause=token_failed")) > 0
	})
	eventually(t, "the token alert", func() bool { return len(e.alerts()) == 1 })
	eventually(t, "a second failure", func() bool { return len(logs.lines("cause=token_failed")) > 1 })
	time.Sleep(300 * time.Millisecond)
	if got := e.alerts(); len(got) != 1 || !strings.Contains(got[0], "OAuth token") {
		t.Fatalf("alerts = %q, want one about the token", got)
	}
	if code, body := s.readyz(t); code != http.StatusServiceUnavailable || body != "not ready: imap\n" {
		t.Errorf("readyz: %d %q", code, body)
	}
}
