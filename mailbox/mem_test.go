package mailbox_test

// Fast tests against go-imap's in-process server.

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/recoverybot/recoverybot/internal/fault"
	"github.com/recoverybot/recoverybot/mailbox"
)

func TestDialRefusesPlaintextToRemote(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"192.0.2.1:143", "[2001:db8::1]:143", "10.0.0.1:1143"} {
		_, err := mailbox.Dial(context.Background(), mailbox.Options{
			Address: addr, Security: mailbox.SecurityNone, Username: "u", Password: "p",
		})
		if !errors.Is(err, mailbox.ErrInsecure) {
			t.Errorf("Dial(%s, none) = %v, want ErrInsecure", addr, err)
		}
	}
	if _, err := mailbox.Dial(context.Background(), mailbox.Options{Address: "127.0.0.1:143", Security: "plain"}); err == nil {
		t.Error("Dial with an unknown security: no error")
	}
}

func TestDialLocalhostAndSecurity(t *testing.T) {
	t.Parallel()
	addr, _, _ := startMem(t, memOptions{})
	_, port, _ := strings.Cut(addr, ":")
	// "localhost" resolves to loopback only: plaintext allowed.
	c := dial(t, mailbox.Options{Address: "localhost:" + port, Username: memUser, Password: memPass})
	if !c.CanIdle() || !c.CanMove() {
		t.Errorf("IMAP4rev2 server: CanIdle=%v CanMove=%v, want both", c.CanIdle(), c.CanMove())
	}

	tlsAddr, _, clientTLS := startMem(t, memOptions{tls: "implicit"})
	dial(t, mailbox.Options{Address: tlsAddr, Security: mailbox.SecurityTLS, TLSConfig: clientTLS, Username: memUser, Password: memPass})

	stlsAddr, _, clientTLS := startMem(t, memOptions{tls: "starttls"})
	dial(t, mailbox.Options{Address: stlsAddr, Security: mailbox.SecurityStartTLS, TLSConfig: clientTLS, Username: memUser, Password: memPass})

	// Implicit TLS to an untrusted certificate fails.
	if _, err := mailbox.Dial(context.Background(), mailbox.Options{Address: tlsAddr, Security: mailbox.SecurityTLS, Username: memUser, Password: memPass, CommandTimeout: 5 * time.Second}); fault.Of(err) != fault.TLS {
		t.Errorf("TLS with an unknown CA: %v, cause %q, want tls", err, fault.Of(err))
	}
	// STARTTLS required but not offered.
	if _, err := mailbox.Dial(context.Background(), mailbox.Options{Address: addr, Security: mailbox.SecurityStartTLS, TLSConfig: clientTLS, Username: memUser, Password: memPass, CommandTimeout: 5 * time.Second}); fault.Of(err) != fault.TLS {
		t.Errorf("STARTTLS to a server without it: %v, cause %q, want tls", err, fault.Of(err))
	}
	// Wrong password.
	if _, err := mailbox.Dial(context.Background(), mailbox.Options{Address: addr, Security: mailbox.SecurityNone, Username: memUser, Password: "wrong", CommandTimeout: 5 * time.Second}); fault.Of(err) != fault.LoginRefused {
		t.Errorf("wrong password: %v, cause %q, want login_refused", err, fault.Of(err))
	}
}

func TestDebugTraceHidesPassword(t *testing.T) {
	t.Parallel()
	for _, caps := range []imap.CapSet{nil, {imap.CapIMAP4rev1: {}}} {
		addr, _, _ := startMem(t, memOptions{caps: caps})
		var trace bytes.Buffer
		c := dial(t, mailbox.Options{Address: addr, Username: memUser, Password: memPass, Debug: &trace})
		if _, err := c.Select(context.Background(), "INBOX"); err != nil {
			t.Fatal(err)
		}
		c.Close()
		s := trace.String()
		if !strings.Contains(s, "SELECT") || !strings.Contains(s, "[authentication exchange not shown]") {
			t.Errorf("trace lacks SELECT or the redaction note:\n%s", s)
		}
		if strings.Contains(s, "horse") || strings.Contains(s, "Y29udGFjd") { // password, base64 of PLAIN
			t.Errorf("trace shows credentials:\n%s", s)
		}
	}
}

func TestSinceFetchMem(t *testing.T) {
	t.Parallel()
	addr, u, _ := startMem(t, memOptions{})
	c := dial(t, mailbox.Options{Address: addr, Username: memUser, Password: memPass})
	ctx := context.Background()

	st, err := c.Select(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages != 0 || st.UIDValidity == 0 {
		t.Fatalf("Select = %+v", st)
	}
	if list, err := c.Since(ctx, 0); err != nil || len(list) != 0 {
		t.Fatalf("Since(0) on an empty mailbox = %v, %v", list, err)
	}
	for i := 1; i <= 3; i++ {
		appendMem(t, u, "INBOX", message(i))
	}
	if err := c.Wait(ctx, 5*time.Second, time.Second); err != nil { // picks up the EXISTS
		t.Fatal(err)
	}
	list, err := c.Since(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := uids(list); !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Fatalf("Since(0) = %v", got)
	}
	if list[0].Size != int64(len(message(1))) || list[0].InternalDate.IsZero() {
		t.Errorf("summary = %+v, want size %d and a date", list[0], len(message(1)))
	}
	// "4:*" matches the last message (UID 3): it must be filtered out.
	if list, err := c.Since(ctx, 3); err != nil || len(list) != 0 {
		t.Fatalf("Since(3) = %v, %v; want nothing", list, err)
	}
	if got, err := c.Since(ctx, 1); err != nil || !slices.Equal(uids(got), []uint32{2, 3}) {
		t.Fatalf("Since(1) = %v, %v", uids(got), err)
	}

	var seen []uint32
	err = c.Fetch(ctx, []uint32{3, 1, 99, 1}, func(uid uint32, raw []byte) error {
		seen = append(seen, uid)
		if !bytes.Equal(raw, message(int(uid))) {
			t.Errorf("UID %d: got %q", uid, raw)
		}
		return nil
	})
	if err != nil || !slices.Equal(seen, []uint32{1, 3}) {
		t.Fatalf("Fetch = %v, %v; want UIDs [1 3]", seen, err)
	}
	stop := errors.New("stop")
	if err := c.Fetch(ctx, []uint32{1, 2, 3}, func(uint32, []byte) error { return stop }); err != stop {
		t.Fatalf("Fetch with a failing fn = %v, want the fn's error as is", err)
	}
	// The connection is still usable after an aborted fetch.
	hdr, err := c.FetchHeader(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(hdr, []byte("\r\n\r\n")) || bytes.Contains(hdr, []byte("body")) {
		t.Errorf("FetchHeader = %q", hdr)
	}
	if _, err := c.FetchHeader(ctx, 42); !errors.Is(err, mailbox.ErrNoMessage) {
		t.Errorf("FetchHeader(42) = %v, want ErrNoMessage", err)
	}
}

func TestMoveMem(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		caps imap.CapSet
		want error
	}{
		{"move", nil, nil},
		{"uidplus", imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}}, nil},
		{"neither", imap.CapSet{imap.CapIMAP4rev1: {}}, mailbox.ErrNoSafeMove},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, u, _ := startMem(t, memOptions{caps: tc.caps})
			for i := 1; i <= 4; i++ {
				appendMem(t, u, "INBOX", message(i))
			}
			c := dial(t, mailbox.Options{Address: addr, Username: memUser, Password: memPass})
			ctx := context.Background()
			folder, err := c.EnsureFolder(ctx, "Recovery/Processed")
			if err != nil {
				t.Fatal(err)
			}
			if folder != "Recovery/Processed" { // the in-memory server's separator is '/'
				t.Fatalf("EnsureFolder = %q", folder)
			}
			if _, err := c.Select(ctx, "INBOX"); err != nil {
				t.Fatal(err)
			}
			_, err = c.Move(ctx, []uint32{2, 3}, folder)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Move = %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				return
			}
			// Redoing a move is tested against Dovecot: go-imap's server
			// answers a COPY or MOVE of no message with an empty, invalid
			// COPYUID code that its own client rejects.
			list, err := c.Since(ctx, 0)
			if err != nil || !slices.Equal(uids(list), []uint32{1, 4}) {
				t.Fatalf("INBOX after move = %v, %v", uids(list), err)
			}
			if _, err := c.Select(ctx, folder); err != nil {
				t.Fatal(err)
			}
			list, err = c.Since(ctx, 0)
			if err != nil || len(list) != 2 {
				t.Fatalf("%s after move = %v, %v", folder, uids(list), err)
			}
		})
	}
}

func TestWaitMem(t *testing.T) {
	t.Parallel()
	addr, u, _ := startMem(t, memOptions{})
	c := dial(t, mailbox.Options{Address: addr, Username: memUser, Password: memPass})
	ctx := context.Background()
	if _, err := c.Select(ctx, "INBOX"); err != nil {
		t.Fatal(err)
	}
	mailbox.SetIdleRestart(c, 100*time.Millisecond)

	// Nothing arrives: Wait returns after max, through several IDLE restarts.
	start := time.Now()
	if err := c.Wait(ctx, 500*time.Millisecond, time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 450*time.Millisecond || d > 3*time.Second {
		t.Fatalf("Wait with no mail returned after %v, want about 500ms", d)
	}

	// Mail arrives during IDLE.
	go func() {
		time.Sleep(200 * time.Millisecond)
		appendMem(t, u, "INBOX", message(1))
	}()
	start = time.Now()
	if err := c.Wait(ctx, 20*time.Second, time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Wait woke after %v", d)
	}
	if list, err := c.Since(ctx, 0); err != nil || len(list) != 1 {
		t.Fatalf("Since = %v, %v", list, err)
	}

	// Cancellation.
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := c.Wait(cctx, time.Minute, time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with a cancelled context = %v", err)
	}
	// The connection survives a cancelled wait.
	if _, err := c.Since(ctx, 0); err != nil {
		t.Fatal(err)
	}
}

func TestStatsCountMessageBytes(t *testing.T) {
	t.Parallel()
	addr, u, _ := startMem(t, memOptions{})
	for i := 1; i <= 3; i++ {
		appendMem(t, u, "INBOX", message(i))
	}
	c := dial(t, mailbox.Options{Address: addr, Username: memUser, Password: memPass})
	ctx := context.Background()
	if _, err := c.Select(ctx, "INBOX"); err != nil {
		t.Fatal(err)
	}
	before := c.Stats()
	if before.Message != 0 || before.Received == 0 {
		t.Fatalf("Stats after login and SELECT = %+v, want no message bytes and some received", before)
	}
	if err := c.Fetch(ctx, []uint32{1, 3}, func(uint32, []byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	want := int64(len(message(1)) + len(message(3)))
	after := c.Stats()
	if after.Message != want {
		t.Errorf("Stats.Message after fetching two messages = %d, want %d", after.Message, want)
	}
	if after.Received-before.Received <= want {
		t.Errorf("Stats.Received grew by %d, want more than the %d bytes of message data", after.Received-before.Received, want)
	}
	if _, err := c.FetchHeader(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if got := c.Stats().Message - after.Message; got <= 0 || got >= int64(len(message(2))) {
		t.Errorf("a header fetch counted %d message bytes, want a header's (< %d)", got, len(message(2)))
	}
}

// refusingSession answers NO to the FETCH commands refuse picks.
type refusingSession struct {
	imapserver.Session
	refuse func(*imap.FetchOptions) bool
}

func (s *refusingSession) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	if s.refuse(options) {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Text: "cannot describe that message"}
	}
	return s.Session.Fetch(w, numSet, options)
}

func TestGlimpseMem(t *testing.T) {
	t.Parallel()
	mixed := crlf("From: a@example.org\nSubject: mixed\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=x\n\n" +
		"--x\nContent-Type: text/plain\n\nthe text of it\n--x\nContent-Type: image/png\nContent-Disposition: attachment; filename=scan.png\nContent-Transfer-Encoding: base64\n\n" +
		base64Lines(bytes.Repeat([]byte{0x89}, 64<<10)) + "--x--\n")
	for _, tc := range []struct {
		name     string
		refuse   func(*imap.FetchOptions) bool
		outlines bool
	}{
		{"server describes", func(*imap.FetchOptions) bool { return false }, true},
		{"NO to BODYSTRUCTURE", func(o *imap.FetchOptions) bool { return o.BodyStructure != nil }, false},
		{"NO to the texts", func(o *imap.FetchOptions) bool { return o.BodyStructure == nil && len(o.BodySection) > 0 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, u, _ := startMem(t, memOptions{caps: imap.CapSet{imap.CapIMAP4rev1: {}}, newSession: func(mem *imapmemserver.Server) imapserver.Session {
				return &refusingSession{Session: mem.NewSession(), refuse: tc.refuse}
			}})
			appendMem(t, u, "INBOX", message(1))
			appendMem(t, u, "INBOX", mixed)
			c := dial(t, mailbox.Options{Address: addr, Username: memUser, Password: memPass})
			if _, err := c.Select(context.Background(), "INBOX"); err != nil {
				t.Fatal(err)
			}
			before := c.Stats().Message
			sums, gs := glimpses(t, c, []uint32{2, 1, 7}, 8)
			if got := uids(sums); !slices.Equal(got, []uint32{1, 2}) {
				t.Fatalf("Glimpse saw UIDs %v, want [1 2]", got)
			}
			if sums[1].Size != int64(len(mixed)) || gs[1].Size != int64(len(mixed)) {
				t.Errorf("sizes %d, %d; want %d", sums[1].Size, gs[1].Size, len(mixed))
			}
			if !tc.outlines {
				if gs[0].Root != nil || gs[1].Root != nil {
					t.Errorf("a server that would not tell gave outlines:\n%s%s", shape(gs[0].Root), shape(gs[1].Root))
				}
				return
			}
			if fetched := c.Stats().Message - before; fetched > 2<<10 {
				t.Errorf("fetched %d bytes of message data, want under 2 KiB", fetched)
			}
			if r := gs[0].Root; r == nil || r.Section != "" || string(r.Text) != "body 1\r\n" || r.Truncated {
				t.Errorf("single part: %+v", r)
			}
			want := "\"\" multipart/mixed\n  \"1\" text/plain\n  \"2\" image/png\n"
			if got := shape(gs[1].Root); got != want {
				t.Fatalf("outline:\n%s\nwant:\n%s", got, want)
			}
			text, png := gs[1].Root.Children[0], gs[1].Root.Children[1]
			if string(text.Text) != "the text" || !text.Truncated {
				t.Errorf("text %q truncated=%v", text.Text, text.Truncated)
			}
			if png.Filename != "scan.png" || png.Disposition != "attachment" || png.Text != nil {
				t.Errorf("attachment: %+v", png)
			}
		})
	}
}
