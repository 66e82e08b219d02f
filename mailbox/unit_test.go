package mailbox_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"

	"github.com/recoverybot/recoverybot/internal/fault"
	"github.com/recoverybot/recoverybot/mailbox"
)

func TestXOAuth2Mechanism(t *testing.T) {
	t.Parallel()
	m := mailbox.NewXOAuth2Client("someone@example.com", "ya29.token")
	mech, ir, err := m.Start()
	if err != nil || mech != "XOAUTH2" {
		t.Fatalf("Start = %q, %v", mech, err)
	}
	if want := "user=someone@example.com\x01auth=Bearer ya29.token\x01\x01"; string(ir) != want {
		t.Fatalf("initial response = %q, want %q", ir, want)
	}
	resp, err := m.Next([]byte(`{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`))
	if err != nil || resp == nil || len(resp) != 0 {
		t.Fatalf("Next(error challenge) = %q, %v; want an empty response and no error", resp, err)
	}
	var xe *mailbox.XOAuth2Error
	if !errors.As(m.Err(), &xe) || xe.Status != "401" || xe.Scope != "https://mail.google.com/" {
		t.Fatalf("Err = %#v", m.Err())
	}
	m.Next([]byte("not json"))
	if !errors.As(m.Err(), &xe) || xe.Status == "" {
		t.Fatalf("Err after garbage = %#v", m.Err())
	}
}

// oauthSession adds XOAUTH2 to the in-memory server: the token "good"
// logs in, anything else gets Google's JSON error challenge.
type oauthSession struct{ imapserver.Session }

func (s *oauthSession) AuthenticateMechanisms() []string { return []string{"XOAUTH2"} }

func (s *oauthSession) Authenticate(mech string) (sasl.Server, error) {
	if mech != "XOAUTH2" {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "unsupported"}
	}
	return &xoauth2Server{sess: s}, nil
}

type xoauth2Server struct {
	sess    *oauthSession
	refused bool
}

func (x *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if x.refused {
		if len(resp) != 0 {
			return nil, true, errors.New("expected an empty response")
		}
		return nil, true, imapserver.ErrAuthFailed
	}
	f := strings.Split(string(resp), "\x01")
	if len(f) != 4 || f[2] != "" || f[3] != "" || !strings.HasPrefix(f[0], "user=") {
		return nil, true, errors.New("malformed XOAUTH2")
	}
	if f[1] == "auth=Bearer good" {
		return nil, true, x.sess.Login(strings.TrimPrefix(f[0], "user="), memPass)
	}
	x.refused = true
	return []byte(`{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`), false, nil
}

func TestXOAuth2Login(t *testing.T) {
	t.Parallel()
	addr, _, _ := startMem(t, memOptions{
		caps: imap.CapSet{imap.CapIMAP4rev1: {}},
		newSession: func(mem *imapmemserver.Server) imapserver.Session {
			return &oauthSession{mem.NewSession()}
		},
	})
	token := func(tok string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return tok, nil }
	}
	c := dial(t, mailbox.Options{Address: addr, Username: memUser, Token: token("good")})
	if _, err := c.Select(context.Background(), "INBOX"); err != nil {
		t.Fatal(err)
	}
	_, err := mailbox.Dial(context.Background(), mailbox.Options{
		Address: addr, Security: mailbox.SecurityNone, Username: memUser, Token: token("expired"), CommandTimeout: 5 * time.Second,
	})
	var xe *mailbox.XOAuth2Error
	if !errors.As(err, &xe) || xe.Status != "401" {
		t.Fatalf("Dial with a refused token = %v, want an XOAuth2Error", err)
	}
	if fault.Of(err) != fault.TokenFailed {
		t.Errorf("Dial with a refused token: cause %q, want token_failed", fault.Of(err))
	}
	if strings.Contains(err.Error(), "expired") {
		t.Fatalf("error shows the token: %v", err)
	}
	_, err = mailbox.Dial(context.Background(), mailbox.Options{
		Address: addr, Security: mailbox.SecurityNone, Username: memUser, CommandTimeout: 5 * time.Second,
		Token: func(context.Context) (string, error) { return "", errors.New("no token today") },
	})
	if err == nil || !strings.Contains(err.Error(), "no token today") {
		t.Fatalf("Dial with a failing token source = %v", err)
	}
	if fault.Of(err) != fault.TokenFailed {
		t.Errorf("Dial with a failing token source: cause %q, want token_failed", fault.Of(err))
	}
}

func TestTokenSources(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "token")
	os.WriteFile(path, []byte("  abc.def\n"), 0o600)
	if tok, err := mailbox.TokenFromFile(path)(ctx); err != nil || tok != "abc.def" {
		t.Errorf("TokenFromFile = %q, %v", tok, err)
	}
	os.WriteFile(path, []byte("\n"), 0o600)
	if _, err := mailbox.TokenFromFile(path)(ctx); err == nil {
		t.Error("TokenFromFile(empty file): no error")
	}
	if tok, err := mailbox.TokenFromCommand([]string{"sh", "-c", "echo '  tok123  '"})(ctx); err != nil || tok != "tok123" {
		t.Errorf("TokenFromCommand = %q, %v", tok, err)
	}
	if _, err := mailbox.TokenFromCommand([]string{"sh", "-c", "echo secret-output; echo oops >&2; exit 3"})(ctx); err == nil || strings.Contains(err.Error(), "secret-output") || !strings.Contains(err.Error(), "oops") {
		t.Errorf("TokenFromCommand(failing) = %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := mailbox.TokenFromCommand([]string{"sleep", "10"})(short); err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("TokenFromCommand(slow) = %v after %v", err, time.Since(start))
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	b := mailbox.Backoff{Min: 10 * time.Millisecond, Max: 80 * time.Millisecond}
	ceilings := []time.Duration{10, 20, 40, 80, 80, 80}
	for i, c := range ceilings {
		d := b.Next()
		if d < b.Min || d > c*time.Millisecond {
			t.Fatalf("attempt %d: %v, want within [%v, %v]", i, d, b.Min, c*time.Millisecond)
		}
	}
	// Jitter: many draws at the ceiling are not all equal.
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[b.Next()] = true
	}
	if len(seen) < 5 {
		t.Fatalf("no jitter: %v", seen)
	}
	b.Reset()
	if d := b.Next(); d != b.Min {
		t.Fatalf("after Reset: %v, want %v", d, b.Min)
	}
	var zero mailbox.Backoff
	if d := zero.Next(); d != time.Second {
		t.Fatalf("zero Backoff: %v, want 1s", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow := mailbox.Backoff{Min: time.Hour}
	if err := slow.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait(cancelled) = %v", err)
	}
}

// fakeServer speaks just enough IMAP to log in, then answers commands with
// answer; an empty answer means: say nothing (a hung server). DONE lines
// (ending IDLE) are passed to answer as command "DONE".
func fakeServer(t *testing.T, greet bool, answer func(tag, command string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
			go func() {
				if !greet {
					return
				}
				fmt.Fprint(conn, "* OK [CAPABILITY IMAP4rev1 IDLE] fake\r\n")
				r := bufio.NewReader(conn)
				var idleTag string
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					line = strings.TrimRight(line, "\r\n")
					tag, cmd, _ := strings.Cut(line, " ")
					cmd, _, _ = strings.Cut(cmd, " ")
					if line == "DONE" {
						tag, cmd = idleTag, "DONE"
					}
					switch strings.ToUpper(cmd) {
					case "LOGIN":
						fmt.Fprintf(conn, "%s OK [CAPABILITY IMAP4rev1 IDLE] logged in\r\n", tag)
						continue
					case "LOGOUT":
						fmt.Fprintf(conn, "* BYE\r\n%s OK bye\r\n", tag)
						return
					case "IDLE":
						idleTag = tag
					}
					if a := answer(tag, strings.ToUpper(cmd)); a != "" {
						fmt.Fprint(conn, a)
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func selectOK(tag string) string {
	return "* 0 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 1] ok\r\n" + tag + " OK [READ-WRITE] selected\r\n"
}

func TestWatchdog(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	ctx := context.Background()
	opts := func(addr string) mailbox.Options {
		return mailbox.Options{Address: addr, Security: mailbox.SecurityNone, Username: "u", Password: "p", CommandTimeout: timeout}
	}

	t.Run("greeting", func(t *testing.T) {
		t.Parallel()
		addr := fakeServer(t, false, nil)
		start := time.Now()
		_, err := mailbox.Dial(ctx, opts(addr))
		if !errors.Is(err, mailbox.ErrTimeout) || time.Since(start) > 3*time.Second {
			t.Fatalf("Dial to a silent server = %v after %v", err, time.Since(start))
		}
	})

	t.Run("select", func(t *testing.T) {
		t.Parallel()
		addr := fakeServer(t, true, func(tag, cmd string) string { return "" })
		c, err := mailbox.Dial(ctx, opts(addr))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		_, err = c.Select(ctx, "INBOX")
		if !errors.Is(err, mailbox.ErrTimeout) || !strings.Contains(err.Error(), `select "INBOX"`) || time.Since(start) > 3*time.Second {
			t.Fatalf("Select on a hung server = %v after %v", err, time.Since(start))
		}
		// The connection is dead from now on.
		if _, err := c.Since(ctx, 0); err == nil {
			t.Fatal("Since after a timeout: no error")
		}
	})

	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		addr := fakeServer(t, true, func(tag, cmd string) string { return "" })
		c, err := mailbox.Dial(ctx, mailbox.Options{Address: addr, Security: mailbox.SecurityNone, Username: "u", Password: "p"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err = c.Select(cctx, "INBOX")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Select with an expiring context = %v", err)
		}
	})

	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		// The server accepts IDLE, then ignores DONE.
		addr := fakeServer(t, true, func(tag, cmd string) string {
			switch cmd {
			case "SELECT":
				return selectOK(tag)
			case "NOOP":
				return tag + " OK noop\r\n"
			case "IDLE":
				return "+ idling\r\n"
			}
			return ""
		})
		c, err := mailbox.Dial(ctx, opts(addr))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Select(ctx, "INBOX"); err != nil {
			t.Fatal(err)
		}
		const max = 200 * time.Millisecond
		start := time.Now()
		err = c.Wait(ctx, max, time.Second)
		if !errors.Is(err, mailbox.ErrTimeout) {
			t.Fatalf("Wait on a server ignoring DONE = %v", err)
		}
		if d := time.Since(start); d > max+timeout+time.Second {
			t.Fatalf("Wait returned after %v, want at most about %v", d, max+timeout)
		}
	})
}

func TestOutlineRefusesNonsense(t *testing.T) {
	t.Parallel()
	text := func() imap.BodyStructure {
		return &imap.BodyStructureSinglePart{Type: "TEXT", Subtype: "PLAIN", Encoding: "7BIT", Size: 10}
	}
	deep := text()
	for range 30 {
		deep = &imap.BodyStructureMultiPart{Subtype: "MIXED", Children: []imap.BodyStructure{deep}}
	}
	wide := &imap.BodyStructureMultiPart{Subtype: "MIXED"}
	for range 600 {
		wide.Children = append(wide.Children, text())
	}
	for name, bs := range map[string]imap.BodyStructure{
		"an empty multipart":  &imap.BodyStructureMultiPart{Subtype: "MIXED"},
		"a part with no type": &imap.BodyStructureMultiPart{Subtype: "MIXED", Children: []imap.BodyStructure{&imap.BodyStructureSinglePart{Subtype: "plain"}}},
		"30 levels deep":      deep,
		"600 parts":           wide,
		"a nested empty multipart": &imap.BodyStructureSinglePart{Type: "message", Subtype: "rfc822",
			MessageRFC822: &imap.BodyStructureMessageRFC822{BodyStructure: &imap.BodyStructureMultiPart{Subtype: "MIXED"}}},
	} {
		if p := mailbox.Outline(bs); p != nil {
			t.Errorf("%s: outline %+v, want none", name, p)
		}
	}
	// A sensible one, upper case as servers send it, with RFC 2231
	// parameters left encoded.
	p := mailbox.Outline(&imap.BodyStructureMultiPart{Subtype: "MIXED", Children: []imap.BodyStructure{
		text(),
		&imap.BodyStructureSinglePart{Type: "APPLICATION", Subtype: "PDF", Encoding: "BASE64", Size: 99,
			Params:   map[string]string{"name*0*": "utf-8''r%C3%A9", "name*1": "sum.pdf"},
			Extended: &imap.BodyStructureSinglePartExt{Disposition: &imap.BodyStructureDisposition{Value: "X-UNKNOWN"}}},
	}})
	if p == nil || len(p.Children) != 2 {
		t.Fatalf("outline %+v", p)
	}
	if c := p.Children[0]; c.Section != "1" || c.Type != "text" || c.Subtype != "plain" || c.Encoding != "7bit" {
		t.Errorf("text part %+v", c)
	}
	pdf := p.Children[1]
	if pdf.Section != "2" || pdf.Filename != "résum.pdf" || pdf.Params["name"] != "résum.pdf" || pdf.Disposition != "attachment" {
		t.Errorf("attachment: section %q, filename %q, params %v, disposition %q", pdf.Section, pdf.Filename, pdf.Params, pdf.Disposition)
	}
}
