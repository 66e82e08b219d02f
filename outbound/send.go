package outbound

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/recoverybot/recoverybot/internal/fault"
)

// SMTPOptions configures a Sender. The zero value of each optional field
// is said on it.
type SMTPOptions struct {
	Address string // host:port of the submission server
	// Security is "tls" (implicit TLS, port 465), "starttls" (port 587;
	// the session fails rather than continue in clear if the server does
	// not offer STARTTLS) or "none", which is accepted only for a
	// loopback address (a local relay).
	Security string
	// Username and Password authenticate with AUTH PLAIN, or LOGIN when
	// the server offers only that. An empty Username sends without AUTH.
	Username, Password string
	// HeloName is the name given in EHLO; empty means the host name of
	// the machine, or "localhost" if it has none.
	HeloName string
	// Timeout bounds one whole attempt, from dialling to QUIT; zero means
	// one minute.
	Timeout time.Duration
	// TLSConfig is used for "tls" and "starttls"; nil means the system
	// roots and the host of Address as the server name. Tests set it to
	// trust their own certificate.
	TLSConfig *tls.Config
}

// The values of SMTPOptions.Security.
const (
	SecurityTLS      = "tls"
	SecurityStartTLS = "starttls"
	SecurityNone     = "none"
)

// DefaultTimeout is the time one attempt may take when SMTPOptions.Timeout
// is zero.
const DefaultTimeout = time.Minute

// Sender submits messages to one SMTP server. A connection is kept open
// after a message for the next one, until CloseIdle, so that a run of
// replies takes one session rather than one each. It is safe for
// concurrent use. It never logs, and its errors never contain the
// password or the message.
type Sender struct {
	o    SMTPOptions
	host string

	mu   sync.Mutex
	idle *session // a session between two messages, or nil
}

// session is an open SMTP connection, greeted and authenticated.
type session struct {
	conn      net.Conn
	c         *smtp.Client
	idleSince time.Time
}

// maxIdle is how long an idle session is kept: servers drop idle
// clients after a few minutes (RFC 5321 §4.5.3.2.7 asks for 5).
const maxIdle = 30 * time.Second

// NewSender checks o and returns a Sender for it. Security "none" is
// refused unless Address is a loopback address: credentials and identity
// documents' replies must not cross a network in clear.
func NewSender(o SMTPOptions) (*Sender, error) {
	host, port, err := net.SplitHostPort(o.Address)
	if err != nil || host == "" {
		return nil, fmt.Errorf("outbound: smtp address %q is not host:port", o.Address)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return nil, fmt.Errorf("outbound: smtp address %q: bad port %q", o.Address, port)
	}
	o.Security = strings.ToLower(strings.TrimSpace(o.Security))
	switch o.Security {
	case SecurityTLS, SecurityStartTLS:
	case SecurityNone:
		if !isLoopback(host) {
			return nil, fmt.Errorf("outbound: smtp security %q is allowed only to a loopback address, not %q: use tls or starttls", o.Security, o.Address)
		}
	default:
		return nil, fmt.Errorf("outbound: smtp security %q: want tls, starttls or none", o.Security)
	}
	if o.Username == "" && o.Password != "" {
		return nil, errors.New("outbound: smtp password given without a username")
	}
	if o.Username != "" && o.Password == "" {
		return nil, fmt.Errorf("outbound: smtp username %q has no password", o.Username)
	}
	if strings.ContainsAny(o.Username+o.Password, "\r\n\x00") {
		return nil, errors.New("outbound: smtp username or password contains a control character")
	}
	if o.HeloName == "" {
		o.HeloName = "localhost"
		if h, err := os.Hostname(); err == nil && validHeloName(h) {
			o.HeloName = h
		}
	}
	if !validHeloName(o.HeloName) {
		return nil, fmt.Errorf("outbound: smtp helo name %q is not a host name", o.HeloName)
	}
	switch {
	case o.Timeout < 0:
		return nil, fmt.Errorf("outbound: smtp timeout %v is negative", o.Timeout)
	case o.Timeout == 0:
		o.Timeout = DefaultTimeout
	}
	if o.TLSConfig == nil {
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		o.TLSConfig = o.TLSConfig.Clone()
	}
	if o.TLSConfig.ServerName == "" {
		o.TLSConfig.ServerName = host
	}
	return &Sender{o: o, host: host}, nil
}

// isLoopback reports whether host names this machine only.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validHeloName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-_:[]", c) >= 0) {
			return false
		}
	}
	return true
}

// SendError is the error of a failed Send. Temporary says whether trying
// the same message again later can succeed.
type SendError struct {
	// Temporary is true for network errors, timeouts, TLS and
	// authentication failures (they say nothing about the message and
	// go away once the server or the configuration is fixed) and 4xx
	// replies. It is false for 5xx replies to MAIL, RCPT and DATA, such
	// as 550 no such user, and for a message or address Send refuses.
	Temporary bool
	// Code is the SMTP reply code, or 0 when the server did not answer.
	Code int
	// Stage is the step that failed: "input", "connect", "tls",
	// "starttls", "hello", "auth", "mail", "rcpt", "data".
	Stage string
	Err   error
}

func (e *SendError) Error() string {
	kind := "permanent"
	if e.Temporary {
		kind = "temporary"
	}
	return fmt.Sprintf("outbound: smtp %s: %v (%s)", e.Stage, e.Err, kind)
}

// Unwrap returns the underlying error, such as a *smtp.SMTPError.
func (e *SendError) Unwrap() error { return e.Err }

// Temporary reports whether err, returned by Send, is worth retrying
// later. Errors that are not a *SendError are temporary when they are a
// timeout or a cancelled context.
func Temporary(err error) bool {
	if err == nil {
		return false
	}
	var se *SendError
	if errors.As(err, &se) {
		return se.Temporary
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// Send submits raw, a message as Compose returns it, from the envelope
// sender from to the single recipient to. An empty from sends the null
// reverse-path (RFC 5321 §4.5.5), which submission servers usually
// refuse. Once the server has accepted the message Send returns nil,
// even if closing the session then fails: the message is on its way and
// must not be sent twice. A cancelled ctx ends the attempt at once.
// Every error is a *SendError.
func (s *Sender) Send(ctx context.Context, from, to string, raw []byte) error {
	if from != "" {
		if err := checkAddress("MAIL FROM", from); err != nil {
			return &SendError{Stage: "input", Err: err}
		}
	}
	if err := checkAddress("RCPT TO", to); err != nil {
		return &SendError{Stage: "input", Err: err}
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return &SendError{Stage: "input", Err: errors.New("empty message")}
	}

	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	if ss := s.take(); ss != nil {
		err := s.send(ctx, ss, from, to, raw)
		// A server that dropped the idle session is found out at MAIL
		// (no reply, or 421 closing), before anything was accepted: try
		// again on a new session.
		var se *SendError
		if err == nil || !errors.As(err, &se) || se.Stage != "mail" || (se.Code != 0 && se.Code != 421) || ctx.Err() != nil {
			return err
		}
	}
	ss, err := s.dial(ctx)
	if err != nil {
		return err
	}
	return s.send(ctx, ss, from, to, raw)
}

// send sends one message over ss and keeps ss for the next one if it can.
func (s *Sender) send(ctx context.Context, ss *session, from, to string, raw []byte) error {
	err := s.transact(ctx, ss, from, to, raw)
	switch {
	case err == nil:
		s.put(ss)
		return nil
	case errors.Is(err, errSessionLost):
		ss.close()
		return nil // accepted: on its way
	}
	ss.close()
	return err
}

// CloseIdle ends the idle session, if there is one, with QUIT.
func (s *Sender) CloseIdle() {
	s.mu.Lock()
	ss := s.idle
	s.idle = nil
	s.mu.Unlock()
	if ss != nil {
		ss.quit(s.o.Timeout)
	}
}

// take returns the idle session, if there is one still fresh.
func (s *Sender) take() *session {
	s.mu.Lock()
	ss := s.idle
	s.idle = nil
	s.mu.Unlock()
	if ss != nil && time.Since(ss.idleSince) > maxIdle {
		ss.quit(s.o.Timeout)
		return nil
	}
	return ss
}

// put keeps ss for the next message, or ends it if another session is
// kept already.
func (s *Sender) put(ss *session) {
	ss.idleSince = time.Now()
	s.mu.Lock()
	if s.idle == nil {
		s.idle, ss = ss, nil
	}
	s.mu.Unlock()
	if ss != nil {
		ss.quit(s.o.Timeout)
	}
}

func (ss *session) close() {
	ss.c.Close()
	ss.conn.Close()
}

// quit says goodbye; its failure changes nothing.
func (ss *session) quit(timeout time.Duration) {
	ss.conn.SetDeadline(time.Now().Add(min(timeout, 10*time.Second)))
	_ = ss.c.Quit()
	ss.close()
}

// dial opens a session: connection, TLS, EHLO and AUTH. Every error is a
// *SendError.
func (s *Sender) dial(ctx context.Context) (*session, error) {
	stage := "connect"
	dialer := net.Dialer{Timeout: s.o.Timeout}
	conn, err := dialer.DialContext(ctx, "tcp", s.o.Address)
	if err != nil {
		return nil, s.fail(ctx, stage, err)
	}
	ss := &session{conn: conn}
	// go-smtp sets its own deadline before each command; closing the
	// connection is what interrupts it whatever it is doing.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	fail := func(err error) (*session, error) {
		if ss.c != nil {
			ss.c.Close()
		}
		conn.Close()
		return nil, s.fail(ctx, stage, err)
	}

	switch s.o.Security {
	case SecurityTLS:
		stage = "tls"
		tc := tls.Client(conn, s.o.TLSConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(err)
		}
		ss.c = smtp.NewClient(tc)
	case SecurityStartTLS:
		stage = "starttls"
		// NewClientStartTLS greets as "localhost" before TLS; the name
		// that counts is the one given after, below.
		if ss.c, err = smtp.NewClientStartTLS(conn, s.o.TLSConfig); err != nil {
			return fail(err)
		}
	default:
		ss.c = smtp.NewClient(conn)
	}
	// The client's own per-command timeouts (5 and 12 minutes) are
	// longer than any sensible Timeout: the context bounds the attempt.

	stage = "hello"
	if err := ss.c.Hello(s.o.HeloName); err != nil {
		return fail(err)
	}
	if s.o.Username != "" {
		stage = "auth"
		var a sasl.Client
		switch {
		case ss.c.SupportsAuth(sasl.Plain):
			a = sasl.NewPlainClient("", s.o.Username, s.o.Password)
		case ss.c.SupportsAuth(sasl.Login):
			a = sasl.NewLoginClient(s.o.Username, s.o.Password)
		default:
			_, offered := ss.c.Extension("AUTH")
			return fail(fmt.Errorf("server offers neither AUTH PLAIN nor LOGIN (offers %q)", offered))
		}
		if err := ss.c.Auth(a); err != nil {
			return fail(err)
		}
	}
	if ctx.Err() != nil {
		return fail(ctx.Err())
	}
	return ss, nil
}

// transact sends one message over ss: MAIL, RCPT, DATA. After an error
// ss must be closed. Every error is a *SendError.
func (s *Sender) transact(ctx context.Context, ss *session, from, to string, raw []byte) error {
	stop := context.AfterFunc(ctx, func() { ss.conn.Close() })
	stage := "mail"
	fail := func(err error) error { return s.fail(ctx, stage, err) }
	var mailOpts *smtp.MailOptions
	if !isASCII(from) {
		mailOpts = &smtp.MailOptions{UTF8: true}
	}
	if err := ss.c.Mail(from, mailOpts); err != nil {
		stop()
		return fail(err)
	}
	stage = "rcpt"
	if err := ss.c.Rcpt(to, nil); err != nil {
		stop()
		return fail(err)
	}
	stage = "data"
	w, err := ss.c.Data()
	if err != nil {
		stop()
		return fail(err)
	}
	if _, err := w.Write(raw); err != nil {
		stop()
		return fail(err)
	}
	if err := w.Close(); err != nil {
		stop()
		return fail(err)
	}
	// Accepted. If the context ended just now, the connection is being
	// closed under us: the message is sent all the same, but the session
	// cannot be kept.
	if !stop() {
		return &SendError{Stage: "data", Temporary: false, Err: errSessionLost}
	}
	return nil
}

// errSessionLost marks a session that cannot be kept although its
// message was accepted; Send returns nil then.
var errSessionLost = errors.New("session closed after the message was accepted")

// fail turns err at stage into a *SendError. A deadline or a cancellation
// closes the connection under the client: the context's reason is given
// rather than "use of closed network connection".
func (s *Sender) fail(ctx context.Context, stage string, err error) *SendError {
	if ctxErr := ctx.Err(); ctxErr != nil {
		err = fmt.Errorf("%w (%v)", ctxErr, err)
	}
	return classify(stage, err)
}

// classify wraps err in a *SendError, deciding whether a retry can help.
func classify(stage string, err error) *SendError {
	se := &SendError{Stage: stage, Err: err, Temporary: true}
	var smtpErr *smtp.SMTPError
	if errors.As(err, &smtpErr) {
		se.Code = smtpErr.Code
		// A rejected login is a configuration problem, not the
		// message's: keep the message for when it is fixed.
		se.Temporary = smtpErr.Code/100 == 4 || stage == "auth" || stage == "hello" || stage == "starttls"
	}
	if c := sendCause(stage, smtpErr != nil); c != "" {
		se.Err = fault.Wrap(c, err)
	}
	return se
}

// sendCause says what broke (fault.Of) at stage, knowing whether the
// server answered; "" leaves it to the error underneath.
func sendCause(stage string, answered bool) fault.Cause {
	switch {
	case stage == "input":
		return fault.Other
	case stage == "connect":
		return fault.Unreachable
	case stage == "auth" && answered:
		return fault.LoginRefused
	case (stage == "tls" || stage == "starttls") && !answered:
		return fault.TLS
	case answered:
		return fault.Server
	}
	return ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
