package smtpsink

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one message the sink accepted.
type Received struct {
	From string   // the envelope sender; empty for the null reverse-path
	To   []string // the accepted envelope recipients
	Raw  []byte   // the message as transmitted, CRLF line endings, dots unstuffed
	At   time.Time
	// Username is the identity the client authenticated as, and
	// Mechanism the SASL mechanism it used; both empty without AUTH.
	Username, Mechanism string
	// TLS says whether the session was encrypted (STARTTLS or implicit).
	TLS bool
	// Session numbers the SMTP connection the message came in, from 1:
	// messages sent over one connection share it.
	Session int
}

// Options are the knobs of a Sink. The zero value accepts every message,
// in clear, without AUTH.
type Options struct {
	// Username and Password, when Username is not empty, make AUTH
	// required before MAIL FROM.
	Username, Password string
	// Mechanisms lists the SASL mechanisms offered when AUTH is
	// required: "PLAIN", "LOGIN" or both, in that order of preference.
	// Empty means PLAIN only.
	Mechanisms []string
	// TLSConfig, when not nil, makes the sink offer STARTTLS, or speak
	// TLS from the first byte with ImplicitTLS. See LoopbackTLS.
	TLSConfig   *tls.Config
	ImplicitTLS bool
	// MaxMessageBytes limits a message; zero means 32 MiB.
	MaxMessageBytes int64
}

// ErrClosed is returned by Wait once the sink is closed.
var ErrClosed = errors.New("smtpsink: closed")

// Sink is a running SMTP server that keeps what it receives.
type Sink struct {
	o      Options
	srv    *smtp.Server
	ln     net.Listener
	served chan struct{}

	mu      sync.Mutex
	msgs    []Received
	rejects map[string]int // lower-cased recipient -> reply code
	changed chan struct{}  // closed and replaced on every new message
	conns   []*smtp.Conn   // the sessions, in order
	closed  chan struct{}
	once    sync.Once
}

// Start listens on addr, which must be a loopback address such as
// "127.0.0.1:0", and serves with the default Options.
func Start(addr string) (*Sink, error) { return StartWith(addr, Options{}) }

// StartWith listens on addr, which must be a loopback address, and serves
// with o.
func StartWith(addr string, o Options) (*Sink, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("smtpsink: address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("smtpsink: address %q is not a loopback address", addr)
	}
	if len(o.Mechanisms) == 0 {
		o.Mechanisms = []string{sasl.Plain}
	}
	for i, m := range o.Mechanisms {
		o.Mechanisms[i] = strings.ToUpper(m)
		if o.Mechanisms[i] != sasl.Plain && o.Mechanisms[i] != sasl.Login {
			return nil, fmt.Errorf("smtpsink: unsupported SASL mechanism %q", m)
		}
	}
	if o.ImplicitTLS && o.TLSConfig == nil {
		return nil, errors.New("smtpsink: implicit TLS without a TLS configuration")
	}
	if o.MaxMessageBytes == 0 {
		o.MaxMessageBytes = 32 << 20
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("smtpsink: listen: %w", err)
	}
	s := &Sink{
		o:       o,
		ln:      ln,
		served:  make(chan struct{}),
		rejects: map[string]int{},
		changed: make(chan struct{}),
		closed:  make(chan struct{}),
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.conns = append(s.conns, c)
		return &session{sink: s, conn: c, number: len(s.conns)}, nil
	}))
	srv.Domain = "smtpsink.localhost"
	srv.MaxMessageBytes = o.MaxMessageBytes
	srv.MaxRecipients = 100
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	// Only loopback clients reach the sink: AUTH in clear is allowed so
	// that tests can exercise it without TLS.
	srv.AllowInsecureAuth = true
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if o.TLSConfig != nil {
		srv.TLSConfig = o.TLSConfig.Clone()
	}
	s.srv = srv

	var l net.Listener = ln
	if o.ImplicitTLS {
		l = tls.NewListener(ln, srv.TLSConfig)
	}
	go func() {
		defer close(s.served)
		_ = srv.Serve(l)
	}()
	return s, nil
}

// Addr returns the address the sink listens on, as host:port.
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// Messages returns a copy of every message received so far, oldest first.
func (s *Sink) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneAll(s.msgs)
}

// Wait blocks until the sink holds at least n messages and returns them
// all, oldest first. It returns what it has with ctx's error if ctx ends
// first, or ErrClosed if the sink is closed.
func (s *Sink) Wait(ctx context.Context, n int) ([]Received, error) {
	for {
		s.mu.Lock()
		if len(s.msgs) >= n {
			out := cloneAll(s.msgs)
			s.mu.Unlock()
			return out, nil
		}
		changed := s.changed
		s.mu.Unlock()

		select {
		case <-changed:
		case <-ctx.Done():
			return s.Messages(), ctx.Err()
		case <-s.closed:
			return s.Messages(), ErrClosed
		}
	}
}

// RejectRecipient makes the sink answer RCPT TO for addr (compared without
// regard to case) with code: a 5xx such as 550 refuses it permanently, a
// 4xx such as 451 asks the client to try later. Code 0 accepts it again.
func (s *Sink) RejectRecipient(addr string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		delete(s.rejects, strings.ToLower(addr))
		return
	}
	s.rejects[strings.ToLower(addr)] = code
}

// Sessions returns how many SMTP sessions (connections) the sink has
// accepted so far.
func (s *Sink) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// DropSessions closes every open session without a word, as a server
// does with sessions left idle too long.
func (s *Sink) DropSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Conn().Close()
	}
}

// Close stops the sink: it closes the listener and every open session,
// and waits for the server to stop. It keeps the messages readable.
func (s *Sink) Close() error {
	var err error
	s.once.Do(func() {
		close(s.closed)
		err = s.srv.Close()
		// The server closes only the listeners Serve has registered;
		// closing ours too ends a Serve that had not started yet.
		s.ln.Close()
		<-s.served
	})
	return err
}

func (s *Sink) rejection(rcpt string) *smtp.SMTPError {
	s.mu.Lock()
	code, ok := s.rejects[strings.ToLower(rcpt)]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	switch {
	case code == 550:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	case code == 451:
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
	case code/100 == 5:
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{5, 0, 0}, Message: "Recipient refused"}
	}
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{4, 0, 0}, Message: "Recipient deferred"}
}

func (s *Sink) keep(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, r)
	close(s.changed)
	s.changed = make(chan struct{})
}

func cloneAll(msgs []Received) []Received {
	out := make([]Received, len(msgs))
	for i, m := range msgs {
		m.To = slices.Clone(m.To)
		m.Raw = bytes.Clone(m.Raw)
		out[i] = m
	}
	return out
}

// session is one SMTP connection's state.
type session struct {
	sink   *Sink
	conn   *smtp.Conn
	number int

	username, mechanism string
	from                string
	to                  []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if ss.sink.o.Username == "" {
		return nil
	}
	return ss.sink.o.Mechanisms
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	o := ss.sink.o
	if o.Username == "" || !slices.Contains(o.Mechanisms, mech) {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	check := func(username, password string) error {
		userOK := subtle.ConstantTimeCompare([]byte(username), []byte(o.Username))
		passOK := subtle.ConstantTimeCompare([]byte(password), []byte(o.Password))
		if userOK&passOK != 1 {
			return smtp.ErrAuthFailed
		}
		ss.username, ss.mechanism = username, mech
		return nil
	}
	if mech == sasl.Login {
		return &loginServer{check: check}, nil
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			return smtp.ErrAuthFailed
		}
		return check(username, password)
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.sink.o.Username != "" && ss.username == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	ss.to = nil
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.sink.rejection(to); err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := ss.conn.TLSConnectionState()
	ss.sink.keep(Received{
		From:      ss.from,
		To:        slices.Clone(ss.to),
		Raw:       raw,
		At:        time.Now(),
		Username:  ss.username,
		Mechanism: ss.mechanism,
		TLS:       isTLS,
		Session:   ss.number,
	})
	return nil
}

func (ss *session) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *session) Logout() error { return nil }

// loginServer is the server side of the LOGIN mechanism
// (draft-murchison-sasl-login), which go-sasl implements only as a
// client: a username, then a password, each after a prompt.
type loginServer struct {
	check    func(username, password string) error
	username string
	step     int
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		l.step = 1
		if response == nil {
			return []byte("Username:"), false, nil
		}
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 1:
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.check(l.username, string(response))
	}
	return nil, false, sasl.ErrUnexpectedClientResponse
}
