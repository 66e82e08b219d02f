package outbound

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/recoverybot/recoverybot/internal/fault"
	"github.com/recoverybot/recoverybot/internal/smtpsink"
)

func startSink(t *testing.T, o smtpsink.Options) *smtpsink.Sink {
	t.Helper()
	s, err := smtpsink.StartWith("127.0.0.1:0", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newSender(t *testing.T, o SMTPOptions) *Sender {
	t.Helper()
	if o.Security == "" {
		o.Security = SecurityNone
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	s, err := NewSender(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func composed(t *testing.T) []byte {
	t.Helper()
	raw, err := Compose(sampleMail())
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// sendErr checks that err is a *SendError with the given stage and
// retry verdict, and returns it.
func sendErr(t *testing.T, err error, stage string, temporary bool) *SendError {
	t.Helper()
	var se *SendError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *SendError", err, err)
	}
	if se.Stage != stage || se.Temporary != temporary || Temporary(err) != temporary {
		t.Errorf("error %v: stage %q temporary %v, want %q %v", err, se.Stage, se.Temporary, stage, temporary)
	}
	return se
}

func TestSendDelivers(t *testing.T) {
	sink := startSink(t, smtpsink.Options{})
	raw := composed(t)
	s := newSender(t, SMTPOptions{Address: sink.Addr(), HeloName: "recoverybot.example.net"})
	if err := s.Send(context.Background(), "contact@example.net", "jean.dupont@example.org", raw); err != nil {
		t.Fatal(err)
	}
	msgs := sink.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages delivered", len(msgs))
	}
	m := msgs[0]
	if !bytes.Equal(m.Raw, raw) {
		t.Errorf("delivered bytes differ:\n%q\nwant\n%q", m.Raw, raw)
	}
	if m.From != "contact@example.net" || len(m.To) != 1 || m.To[0] != "jean.dupont@example.org" {
		t.Errorf("envelope %q -> %q", m.From, m.To)
	}
	if m.Username != "" {
		t.Errorf("authenticated without credentials as %q", m.Username)
	}

	// A message whose lines start with dots survives dot-stuffing.
	dotted := []byte("Subject: x\r\n\r\n.\r\n..\r\n.hidden\r\n")
	if err := s.Send(context.Background(), "", "jean.dupont@example.org", dotted); err != nil {
		t.Fatal(err)
	}
	m = sink.Messages()[1]
	if !bytes.Equal(m.Raw, dotted) || m.From != "" {
		t.Errorf("dotted message delivered as %q from %q", m.Raw, m.From)
	}
}

func TestSendAuth(t *testing.T) {
	for _, mechs := range [][]string{{"PLAIN"}, {"LOGIN"}, {"LOGIN", "PLAIN"}} {
		sink := startSink(t, smtpsink.Options{Username: "contact@example.net", Password: "pa ss:wörd", Mechanisms: mechs})
		s := newSender(t, SMTPOptions{Address: sink.Addr(), Username: "contact@example.net", Password: "pa ss:wörd"})
		if err := s.Send(context.Background(), "contact@example.net", "jean@example.org", composed(t)); err != nil {
			t.Fatalf("%v: %v", mechs, err)
		}
		want := "LOGIN"
		if len(mechs) > 1 || mechs[0] == "PLAIN" {
			want = "PLAIN" // preferred whenever offered
		}
		if m := sink.Messages(); len(m) != 1 || m[0].Username != "contact@example.net" || m[0].Mechanism != want {
			t.Errorf("%v: delivered %+v, want AUTH %s", mechs, m, want)
		}
	}
}

func TestSendAuthFailures(t *testing.T) {
	sink := startSink(t, smtpsink.Options{Username: "contact@example.net", Password: "right"})
	s := newSender(t, SMTPOptions{Address: sink.Addr(), Username: "contact@example.net", Password: "wrong-password-123"})
	err := s.Send(context.Background(), "contact@example.net", "jean@example.org", composed(t))
	se := sendErr(t, err, "auth", true)
	if se.Code != 535 {
		t.Errorf("code %d, want 535", se.Code)
	}
	if c := fault.Of(err); c != fault.LoginRefused {
		t.Errorf("refused login: cause %q, want login_refused", c)
	}
	if strings.Contains(err.Error(), "wrong-password-123") {
		t.Errorf("the error shows the password: %v", err)
	}

	// The server wants AUTH but none is configured: MAIL is refused.
	s = newSender(t, SMTPOptions{Address: sink.Addr()})
	err = s.Send(context.Background(), "contact@example.net", "jean@example.org", composed(t))
	if err == nil {
		t.Fatal("sent without AUTH to a server that requires it")
	}

	// AUTH configured but not offered.
	open := startSink(t, smtpsink.Options{})
	s = newSender(t, SMTPOptions{Address: open.Addr(), Username: "u", Password: "p"})
	err = s.Send(context.Background(), "contact@example.net", "jean@example.org", composed(t))
	sendErr(t, err, "auth", true)
	if n := len(sink.Messages()) + len(open.Messages()); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

func TestSendRecipientRefused(t *testing.T) {
	sink := startSink(t, smtpsink.Options{})
	sink.RejectRecipient("gone@example.org", 550)
	sink.RejectRecipient("busy@example.org", 451)
	s := newSender(t, SMTPOptions{Address: sink.Addr()})

	err := s.Send(context.Background(), "contact@example.net", "gone@example.org", composed(t))
	se := sendErr(t, err, "rcpt", false)
	if c := fault.Of(err); c != fault.Server {
		t.Errorf("refused recipient: cause %q, want server", c)
	}
	var smtpErr *smtp.SMTPError
	if se.Code != 550 || !errors.As(err, &smtpErr) || smtpErr.Code != 550 {
		t.Errorf("550: %v", err)
	}

	err = s.Send(context.Background(), "contact@example.net", "busy@example.org", composed(t))
	if se := sendErr(t, err, "rcpt", true); se.Code != 451 {
		t.Errorf("451: %v", err)
	}
	if n := len(sink.Messages()); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestSendConnectionRefused(t *testing.T) {
	s := newSender(t, SMTPOptions{Address: freeAddr(t)})
	err := s.Send(context.Background(), "contact@example.net", "jean@example.org", composed(t))
	if se := sendErr(t, err, "connect", true); se.Code != 0 {
		t.Errorf("code %d for a refused connection", se.Code)
	}
	if c := fault.Of(err); c != fault.Unreachable {
		t.Errorf("refused connection: cause %q, want unreachable", c)
	}
}

// TestSendTimeout talks to a server that accepts and then says nothing.
func TestSendTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()

	s := newSender(t, SMTPOptions{Address: l.Addr().String(), Timeout: 300 * time.Millisecond})
	start := time.Now()
	err = s.Send(context.Background(), "contact@example.net", "jean@example.org", composed(t))
	sendErr(t, err, "hello", true)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not say the attempt timed out", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a 300ms timeout took %v", d)
	}

	// The caller's context ends an attempt too.
	s = newSender(t, SMTPOptions{Address: l.Addr().String(), Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start = time.Now()
	err = s.Send(ctx, "contact@example.net", "jean@example.org", composed(t))
	sendErr(t, err, "hello", true)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not say the attempt was cancelled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancellation took %v", d)
	}
}

func TestSendTLS(t *testing.T) {
	serverTLS, clientTLS, err := smtpsink.LoopbackTLS()
	if err != nil {
		t.Fatal(err)
	}
	starttls := startSink(t, smtpsink.Options{TLSConfig: serverTLS, Username: "u", Password: "p"})
	implicit := startSink(t, smtpsink.Options{TLSConfig: serverTLS, ImplicitTLS: true})
	plain := startSink(t, smtpsink.Options{})
	raw := composed(t)

	s := newSender(t, SMTPOptions{Address: starttls.Addr(), Security: SecurityStartTLS, TLSConfig: clientTLS, Username: "u", Password: "p"})
	if err := s.Send(context.Background(), "contact@example.net", "jean@example.org", raw); err != nil {
		t.Fatal(err)
	}
	s = newSender(t, SMTPOptions{Address: implicit.Addr(), Security: SecurityTLS, TLSConfig: clientTLS})
	if err := s.Send(context.Background(), "contact@example.net", "jean@example.org", raw); err != nil {
		t.Fatal(err)
	}
	for _, sink := range []*smtpsink.Sink{starttls, implicit} {
		if m := sink.Messages(); len(m) != 1 || !m[0].TLS || !bytes.Equal(m[0].Raw, raw) {
			t.Errorf("delivered %d messages, TLS %v", len(m), len(m) == 1 && m[0].TLS)
		}
	}

	// No STARTTLS offered: never fall back to clear text.
	s = newSender(t, SMTPOptions{Address: plain.Addr(), Security: SecurityStartTLS, TLSConfig: clientTLS})
	err = s.Send(context.Background(), "contact@example.net", "jean@example.org", raw)
	sendErr(t, err, "starttls", true)
	if c := fault.Of(err); c != fault.TLS {
		t.Errorf("no STARTTLS: cause %q, want tls", c)
	}

	// A certificate nobody vouches for is refused.
	s = newSender(t, SMTPOptions{Address: implicit.Addr(), Security: SecurityTLS, TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}})
	err = s.Send(context.Background(), "contact@example.net", "jean@example.org", raw)
	sendErr(t, err, "tls", true)
	if c := fault.Of(err); c != fault.TLS {
		t.Errorf("untrusted certificate: cause %q, want tls", c)
	}
	s = newSender(t, SMTPOptions{Address: starttls.Addr(), Security: SecurityStartTLS})
	err = s.Send(context.Background(), "contact@example.net", "jean@example.org", raw)
	if err == nil {
		t.Error("STARTTLS with an untrusted certificate succeeded")
	}

	if n := len(plain.Messages()) + len(starttls.Messages()) + len(implicit.Messages()); n != 2 {
		t.Errorf("%d messages delivered, want 2", n)
	}
}

func TestSendRefusesBadInput(t *testing.T) {
	sink := startSink(t, smtpsink.Options{})
	s := newSender(t, SMTPOptions{Address: sink.Addr()})
	for _, c := range []struct{ from, to, raw string }{
		{"contact@example.net", "jean@example.org\r\nRCPT TO:<victim@example.com>", "x"},
		{"contact@example.net\r\nRSET", "jean@example.org", "x"},
		{"contact@example.net", "", "x"},
		{"contact@example.net", "Jean <jean@example.org>", "x"},
		{"contact@example.net", "jean@example.org", ""},
	} {
		err := s.Send(context.Background(), c.from, c.to, []byte(c.raw))
		sendErr(t, err, "input", false)
	}
	if n := len(sink.Messages()); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

func TestNewSender(t *testing.T) {
	for _, o := range []SMTPOptions{
		{Address: "127.0.0.1:25", Security: "none"},
		{Address: "[::1]:25", Security: "none"},
		{Address: "localhost:2525", Security: "NONE"},
		{Address: "smtp.example.net:465", Security: "tls", Username: "u", Password: "p"},
		{Address: "smtp.example.net:587", Security: "starttls", HeloName: "bot.example.net", Timeout: time.Second},
	} {
		if _, err := NewSender(o); err != nil {
			t.Errorf("NewSender(%+v): %v", o, err)
		}
	}
	for _, c := range []struct {
		o    SMTPOptions
		want string
	}{
		{SMTPOptions{Address: "smtp.example.net:25", Security: "none"}, "loopback"},
		{SMTPOptions{Address: "192.0.2.10:25", Security: "none"}, "loopback"},
		{SMTPOptions{Address: "0.0.0.0:25", Security: "none"}, "loopback"},
		{SMTPOptions{Address: "smtp.example.net:465", Security: "ssl"}, "tls, starttls or none"},
		{SMTPOptions{Address: "smtp.example.net:465"}, "tls, starttls or none"},
		{SMTPOptions{Address: "smtp.example.net", Security: "tls"}, "host:port"},
		{SMTPOptions{Address: "smtp.example.net:0", Security: "tls"}, "port"},
		{SMTPOptions{Address: ":465", Security: "tls"}, "host:port"},
		{SMTPOptions{Address: "smtp.example.net:465", Security: "tls", Username: "u"}, "no password"},
		{SMTPOptions{Address: "smtp.example.net:465", Security: "tls", Password: "p"}, "without a username"},
		{SMTPOptions{Address: "smtp.example.net:465", Security: "tls", HeloName: "bad name\r\n"}, "helo"},
		{SMTPOptions{Address: "smtp.example.net:465", Security: "tls", Timeout: -time.Second}, "negative"},
	} {
		_, err := NewSender(c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewSender(%+v) = %v, want an error about %q", c.o, err, c.want)
		}
	}
	// The password never shows in a configuration error.
	_, err := NewSender(SMTPOptions{Address: "smtp.example.net:25", Security: "none", Username: "u", Password: "hunter2"})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v", err)
	}
}

func TestSendConcurrent(t *testing.T) {
	sink := startSink(t, smtpsink.Options{})
	s := newSender(t, SMTPOptions{Address: sink.Addr()})
	raw := composed(t)
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Send(context.Background(), "contact@example.net", "jean@example.org", raw)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if got, err := sink.Wait(ctx, n); err != nil || len(got) != n {
		t.Errorf("Wait = %d, %v", len(got), err)
	}
}

func TestTemporary(t *testing.T) {
	if Temporary(nil) {
		t.Error("nil is temporary")
	}
	if Temporary(errors.New("boom")) {
		t.Error("an unknown error is temporary")
	}
	if !Temporary(context.DeadlineExceeded) {
		t.Error("a deadline is not temporary")
	}
	wrapped := errors.Join(errors.New("outbox"), &SendError{Temporary: true, Stage: "rcpt", Code: 451, Err: errors.New("x")})
	if !Temporary(wrapped) {
		t.Error("a wrapped temporary SendError is not temporary")
	}
	perm := &SendError{Temporary: false, Stage: "rcpt", Code: 550, Err: errors.New("no such user")}
	if Temporary(perm) || !strings.Contains(perm.Error(), "permanent") || !strings.Contains(perm.Error(), "no such user") {
		t.Errorf("permanent error %q", perm)
	}
}

func TestSendReusesSession(t *testing.T) {
	sink := startSink(t, smtpsink.Options{})
	s := newSender(t, SMTPOptions{Address: sink.Addr()})
	raw := composed(t)
	for i := range 3 {
		if err := s.Send(context.Background(), "contact@example.net", fmt.Sprintf("jean%d@example.org", i), raw); err != nil {
			t.Fatal(err)
		}
	}
	if n := sink.Sessions(); n != 1 {
		t.Errorf("3 messages took %d sessions, want 1", n)
	}
	s.CloseIdle()
	if err := s.Send(context.Background(), "contact@example.net", "paul@example.org", raw); err != nil {
		t.Fatal(err)
	}
	got := sink.Messages()
	if len(got) != 4 || got[0].Session != got[2].Session || got[3].Session == got[2].Session {
		t.Errorf("sessions of the 4 messages: %v, want the first 3 on one and the last on a new one", sessionsOf(got))
	}
	for i, m := range got[:3] {
		if want := fmt.Sprintf("jean%d@example.org", i); len(m.To) != 1 || m.To[0] != want {
			t.Errorf("message %d went to %v, want %s", i, m.To, want)
		}
	}
}

func TestSendAfterTheServerDroppedTheSession(t *testing.T) {
	sink := startSink(t, smtpsink.Options{})
	s := newSender(t, SMTPOptions{Address: sink.Addr()})
	raw := composed(t)
	if err := s.Send(context.Background(), "contact@example.net", "jean@example.org", raw); err != nil {
		t.Fatal(err)
	}
	sink.DropSessions()
	if err := s.Send(context.Background(), "contact@example.net", "paul@example.org", raw); err != nil {
		t.Fatalf("send after the server dropped the idle session: %v", err)
	}
	got := sink.Messages()
	if len(got) != 2 || sink.Sessions() != 2 {
		t.Errorf("%d messages over %d sessions, want 2 over 2 (sessions %v)", len(got), sink.Sessions(), sessionsOf(got))
	}
}

func sessionsOf(msgs []smtpsink.Received) []int {
	var out []int
	for _, m := range msgs {
		out = append(out, m.Session)
	}
	return out
}
