package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/recoverybot/recoverybot/internal/dovecottest"
	"github.com/recoverybot/recoverybot/internal/smtpsink"
)

// buildBinary builds recoverybot into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "recoverybot")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// stallingSMTP is an SMTP server that takes a message's DATA to its end
// and never answers: the mail is handed over, and whether it was
// accepted is never known. Each message it read is sent on the channel
// returned.
func stallingSMTP(t *testing.T) (addr string, data <-chan []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan []byte, 10)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				tp := textproto.NewConn(conn)
				tp.PrintfLine("220 stall.localhost ESMTP")
				for {
					line, err := tp.ReadLine()
					if err != nil {
						return
					}
					switch verb := strings.ToUpper(strings.Fields(line + " x")[0]); verb {
					case "EHLO", "HELO":
						tp.PrintfLine("250 stall.localhost")
					case "DATA":
						tp.PrintfLine("354 go ahead")
						raw, err := tp.ReadDotBytes()
						if err != nil {
							return
						}
						got <- raw
						// No answer: wait for the client to go away.
						bufio.NewReader(conn).ReadByte()
						return
					case "QUIT":
						tp.PrintfLine("221 bye")
						return
					default:
						tp.PrintfLine("250 ok")
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), got
}

// processConfig writes a configuration for the binary: data directory
// dataDir, the IMAP server at imapAddr and the SMTP server at smtpAddr,
// both over loopback plaintext.
func processConfig(t *testing.T, c *cli, name, dataDir, imapAddr, imapUser, imapPassword, smtpAddr string) string {
	t.Helper()
	return c.file(name, fmt.Sprintf(`data_dir = %q

[imap]
address = %q
security = "none"
username = %q
password = %q

[smtp]
address = %q
security = "none"
from = "contact@hosting.example"

[auth]
trusted_authserv_ids = ["mx.hosting.example"]

[web]
listen = "127.0.0.1:0"
`, dataDir, imapAddr, imapUser, imapPassword, smtpAddr))
}

// A process killed (SIGKILL) while the SMTP server holds a mail's DATA
// unanswered, then started again: the mail is marked failed as soon as
// the next process starts, for an agent to check, and never sent a
// second time.
func TestKilledDuringASendNeverSendsItAgain(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dc := dovecottest.Start(t)
	stallAddr, stalled := stallingSMTP(t)
	sink, err := smtpsink.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	c := newCLI(t)
	dataDir := filepath.Join(c.dir, "data")
	stalling := processConfig(t, c, "stalling.toml", dataDir, dc.Addr(), dc.User(), dc.Password(), stallAddr)
	working := processConfig(t, c, "working.toml", dataDir, dc.Addr(), dc.User(), dc.Password(), sink.Addr())
	c.env["RECOVERYBOT_CONFIG"] = stalling
	c.ok("profiles", "import", c.file("profiles.csv", profilesCSV))
	var opened caseJSON
	if err := json.Unmarshal([]byte(c.ok("cases", "open", "--profile", "p-1001", "--kind", "totp-lockout", "--by", "alice", "--json")), &opened); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "--config", stalling, "run", "--once")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	raw := <-stalled
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	messageID := ""
	if h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader(); err == nil {
		messageID = h.Get("Message-Id")
	}
	if messageID == "" {
		t.Fatalf("the stalled mail has no Message-ID: %q", raw)
	}
	mailStates := func() map[string]int {
		t.Helper()
		var s struct {
			Mail []struct {
				Template, State string
				LastError       string `json:"last_error"`
			} `json:"mail"`
		}
		if err := json.Unmarshal([]byte(c.ok("cases", "show", opened.Ref, "--json")), &s); err != nil {
			t.Fatal(err)
		}
		states := map[string]int{}
		for _, m := range s.Mail {
			states[m.State]++
			if m.State == "failed" && !strings.Contains(m.LastError, "interrupted") {
				t.Errorf("mail %s failed with %q, want its interruption said", m.Template, m.LastError)
			}
		}
		return states
	}
	if got := mailStates(); got["sending"] != 1 {
		t.Fatalf("mail after the kill: %v, want one being sent (stderr: %s)", got, stderr.String())
	}

	// The next start, with a server that answers.
	cmd = exec.Command(bin, "--config", working, "run", "--once")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("run --once after the kill: %v\n%s", err, out)
	}
	if got := mailStates(); got["failed"] != 1 || got["sending"] != 0 || got["pending"] != 0 {
		t.Errorf("mail after the restart: %v, want the interrupted one failed and none left to send", got)
	}
	for _, m := range sink.Messages() {
		if bytes.Contains(m.Raw, []byte(messageID)) {
			t.Errorf("the interrupted mail %s was sent again", messageID)
		}
	}
	select {
	case <-stalled:
		t.Error("the stalling server got the mail a second time")
	default:
	}
}

// Two daemons on one data directory, two real processes: the second,
// serve or run --once, stops at once with one line naming the first's
// pid, which runs on.
func TestSecondProcessRefused(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	c := newCLI(t)
	dataDir := filepath.Join(c.dir, "data")
	// Nothing listens on port 1: serve runs all the same, reconnecting.
	cfg := processConfig(t, c, "serve.toml", dataDir, "127.0.0.1:1", "contact@example.net", "secret", "127.0.0.1:1")
	sock := filepath.Join(c.dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	first := exec.Command(bin, "--config", cfg, "serve")
	first.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock)
	var stderr bytes.Buffer
	first.Stderr = &stderr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	firstExited := make(chan error, 1)
	go func() { firstExited <- first.Wait() }()
	firstReady := make(chan string, 1)
	go func() {
		b := make([]byte, 256)
		n, _ := conn.Read(b)
		firstReady <- string(b[:n])
	}()
	select {
	case m := <-firstReady:
		if m != "READY=1" {
			t.Fatalf("first serve said %q, want READY=1 (stderr: %s)", m, stderr.String())
		}
	case err := <-firstExited:
		t.Fatalf("first serve stopped: %v (stderr: %s)", err, stderr.String())
	}
	want := fmt.Sprintf("another recoverybot (pid %d) is running on data directory", first.Process.Pid)
	// A second serve that ran would say READY=1 on its own socket
	// rather than exit.
	sock2 := filepath.Join(c.dir, "notify2")
	conn2, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock2, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	ready := make(chan struct{}, 4)
	go func() {
		b := make([]byte, 256)
		for {
			if _, err := conn2.Read(b); err != nil {
				return
			}
			ready <- struct{}{}
		}
	}()
	for _, args := range [][]string{{"serve"}, {"run", "--once"}} {
		second := exec.Command(bin, append([]string{"--config", cfg}, args...)...)
		second.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock2)
		var out, errOut bytes.Buffer
		second.Stdout, second.Stderr = &out, &errOut
		if err := second.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- second.Wait() }()
		select {
		case <-ready:
			second.Process.Kill()
			<-exited
			t.Fatalf("a second %s started beside the first", args)
		case err := <-exited:
			if code := second.ProcessState.ExitCode(); err == nil || code == 0 {
				t.Errorf("second %s: %v, exit %d; want refused", args, err, code)
			}
		}
		if line := errOut.String(); strings.Count(line, "\n") != 1 || !strings.Contains(line, want) || out.Len() != 0 {
			t.Errorf("second %s: stdout %q, stderr %q; want one line: %s", args, out.String(), line, want)
		}
	}
	select {
	case err := <-firstExited:
		t.Fatalf("the first serve stopped: %v (stderr: %s)", err, stderr.String())
	default:
	}
	first.Process.Signal(syscall.SIGTERM)
	if err := <-firstExited; err != nil {
		t.Errorf("first serve after SIGTERM: %v\n%s", err, stderr.String())
	}
}
