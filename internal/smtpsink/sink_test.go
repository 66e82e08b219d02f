package smtpsink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func start(t *testing.T, o Options) *Sink {
	t.Helper()
	s, err := StartWith("127.0.0.1:0", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func message(n int) []byte {
	return []byte(fmt.Sprintf("From: a@example.net\r\nTo: b@example.org\r\nSubject: %d\r\n\r\n.leading dot\r\nbody %d\r\n", n, n))
}

func send(addr, from string, to []string, raw []byte, a sasl.Client) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if a != nil {
		if err := c.Auth(a); err != nil {
			return err
		}
	}
	if err := c.SendMail(from, to, bytes.NewReader(raw)); err != nil {
		return err
	}
	return c.Quit()
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func TestStartRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "example.net:25", "nonsense"} {
		if s, err := Start(addr); err == nil {
			s.Close()
			t.Errorf("Start(%q) accepted", addr)
		}
	}
	s, err := Start("[::1]:0")
	if err == nil {
		s.Close()
	}
	if _, err := StartWith("127.0.0.1:0", Options{Username: "u", Password: "p", Mechanisms: []string{"CRAM-MD5"}}); err == nil {
		t.Error("unsupported mechanism accepted")
	}
}

func TestReceive(t *testing.T) {
	s := start(t, Options{})
	before := time.Now()
	raw := message(1)
	if err := send(s.Addr(), "a@example.net", []string{"b@example.org", "c@example.org"}, raw, nil); err != nil {
		t.Fatal(err)
	}
	msgs := s.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.From != "a@example.net" || strings.Join(m.To, ",") != "b@example.org,c@example.org" {
		t.Errorf("envelope %q -> %q", m.From, m.To)
	}
	if !bytes.Equal(m.Raw, raw) {
		t.Errorf("raw = %q, want %q", m.Raw, raw)
	}
	if m.At.Before(before) || m.At.After(time.Now()) {
		t.Errorf("At = %v", m.At)
	}
	if m.TLS || m.Username != "" || m.Mechanism != "" {
		t.Errorf("TLS/AUTH recorded on a plain session: %+v", m)
	}
	// Messages returns copies.
	msgs[0].Raw[0] = 'X'
	msgs[0].To[0] = "changed"
	if again := s.Messages(); again[0].Raw[0] != 'F' || again[0].To[0] != "b@example.org" {
		t.Error("Messages exposes the sink's own slices")
	}
}

func TestWait(t *testing.T) {
	s := start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if got, err := s.Wait(ctx, 1); !errors.Is(err, context.DeadlineExceeded) || len(got) != 0 {
		t.Errorf("Wait on an empty sink = %d, %v", len(got), err)
	}

	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- send(s.Addr(), "a@example.net", []string{fmt.Sprintf("r%d@example.org", i)}, message(i), nil)
		}()
	}
	// Readers race with the writers.
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				_ = s.Messages()
			}
		}
	}()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := s.Wait(ctx, n)
	close(stop)
	if err != nil || len(got) < n {
		t.Fatalf("Wait = %d messages, %v", len(got), err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	seen := map[string]bool{}
	for _, m := range got {
		seen[m.To[0]] = true
	}
	if len(seen) != n {
		t.Errorf("recipients %v", seen)
	}

	s.Close()
	if _, err := s.Wait(context.Background(), n+1); !errors.Is(err, ErrClosed) {
		t.Errorf("Wait after Close: %v", err)
	}
	if len(s.Messages()) != n {
		t.Error("messages lost on Close")
	}
	if err := send(s.Addr(), "a@example.net", []string{"b@example.org"}, message(0), nil); err == nil {
		t.Error("a closed sink accepted a message")
	}
}

func TestRejectRecipient(t *testing.T) {
	s := start(t, Options{})
	s.RejectRecipient("Gone@Example.org", 550)
	s.RejectRecipient("busy@example.org", 451)
	if err := send(s.Addr(), "a@example.net", []string{"gone@example.org"}, message(1), nil); smtpCode(err) != 550 {
		t.Errorf("rejected recipient: %v", err)
	}
	if err := send(s.Addr(), "a@example.net", []string{"busy@example.org"}, message(1), nil); smtpCode(err) != 451 {
		t.Errorf("deferred recipient: %v", err)
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages kept", n)
	}
	s.RejectRecipient("gone@example.org", 0)
	if err := send(s.Addr(), "a@example.net", []string{"gone@example.org"}, message(1), nil); err != nil {
		t.Errorf("accepted again: %v", err)
	}
}

func TestAuth(t *testing.T) {
	s := start(t, Options{Username: "contact@example.net", Password: "s3cret"})
	if err := send(s.Addr(), "a@example.net", []string{"b@example.org"}, message(1), nil); err == nil {
		t.Error("MAIL accepted without AUTH")
	}
	if err := send(s.Addr(), "a@example.net", []string{"b@example.org"}, message(1), sasl.NewPlainClient("", "contact@example.net", "wrong")); smtpCode(err) != 535 {
		t.Errorf("wrong password: %v", err)
	}
	if err := send(s.Addr(), "a@example.net", []string{"b@example.org"}, message(1), sasl.NewLoginClient("contact@example.net", "s3cret")); err == nil {
		t.Error("LOGIN accepted although only PLAIN is offered")
	}
	if err := send(s.Addr(), "a@example.net", []string{"b@example.org"}, message(1), sasl.NewPlainClient("", "contact@example.net", "s3cret")); err != nil {
		t.Fatal(err)
	}
	m := s.Messages()
	if len(m) != 1 || m[0].Username != "contact@example.net" || m[0].Mechanism != "PLAIN" {
		t.Errorf("messages %+v", m)
	}

	login := start(t, Options{Username: "u", Password: "p", Mechanisms: []string{"login"}})
	if err := send(login.Addr(), "a@example.net", []string{"b@example.org"}, message(1), sasl.NewLoginClient("u", "bad")); smtpCode(err) != 535 {
		t.Errorf("LOGIN with a wrong password: %v", err)
	}
	if err := send(login.Addr(), "a@example.net", []string{"b@example.org"}, message(1), sasl.NewLoginClient("u", "p")); err != nil {
		t.Fatal(err)
	}
	if m := login.Messages(); len(m) != 1 || m[0].Mechanism != "LOGIN" || m[0].Username != "u" {
		t.Errorf("messages %+v", m)
	}
}

func TestTLS(t *testing.T) {
	serverTLS, clientTLS, err := LoopbackTLS()
	if err != nil {
		t.Fatal(err)
	}
	starttls := start(t, Options{TLSConfig: serverTLS})
	c, err := smtp.DialStartTLS(starttls.Addr(), clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("a@example.net", []string{"b@example.org"}, bytes.NewReader(message(1))); err != nil {
		t.Fatal(err)
	}
	c.Close()

	implicit := start(t, Options{TLSConfig: serverTLS, ImplicitTLS: true})
	c, err = smtp.DialTLS(implicit.Addr(), clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("a@example.net", []string{"b@example.org"}, bytes.NewReader(message(2))); err != nil {
		t.Fatal(err)
	}
	c.Close()

	for _, s := range []*Sink{starttls, implicit} {
		if m := s.Messages(); len(m) != 1 || !m[0].TLS {
			t.Errorf("messages %+v", m)
		}
	}
	if _, err := StartWith("127.0.0.1:0", Options{ImplicitTLS: true}); err == nil {
		t.Error("implicit TLS without a certificate accepted")
	}
}
