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
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
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

// Sender submits messages to one SMTP server, one connection per message.
// It is safe for concurrent use. It never logs, and its errors never
// contain the password or the message.
type Sender struct {
	o    SMTPOptions
	host string
}

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
	stage := "connect"
	fail := func(err error) error {
		// A deadline or a cancellation closes the connection under the
		// client: report the context's reason rather than "use of
		// closed network connection".
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = fmt.Errorf("%w (%v)", ctxErr, err)
		}
		return classify(stage, err)
	}

	dialer := net.Dialer{Timeout: s.o.Timeout}
	conn, err := dialer.DialContext(ctx, "tcp", s.o.Address)
	if err != nil {
		return fail(err)
	}
	defer conn.Close()
	// go-smtp sets its own deadline before each command; closing the
	// connection is what interrupts it whatever it is doing.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	var c *smtp.Client
	switch s.o.Security {
	case SecurityTLS:
		stage = "tls"
		tc := tls.Client(conn, s.o.TLSConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(err)
		}
		c = smtp.NewClient(tc)
	case SecurityStartTLS:
		stage = "starttls"
		// NewClientStartTLS greets as "localhost" before TLS; the name
		// that counts is the one given after, below.
		c, err = smtp.NewClientStartTLS(conn, s.o.TLSConfig)
		if err != nil {
			return fail(err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	// The client's own per-command timeouts (5 and 12 minutes) are
	// longer than any sensible Timeout: the context bounds the attempt.

	stage = "hello"
	if err := c.Hello(s.o.HeloName); err != nil {
		return fail(err)
	}
	if s.o.Username != "" {
		stage = "auth"
		var a sasl.Client
		switch {
		case c.SupportsAuth(sasl.Plain):
			a = sasl.NewPlainClient("", s.o.Username, s.o.Password)
		case c.SupportsAuth(sasl.Login):
			a = sasl.NewLoginClient(s.o.Username, s.o.Password)
		default:
			_, offered := c.Extension("AUTH")
			return fail(fmt.Errorf("server offers neither AUTH PLAIN nor LOGIN (offers %q)", offered))
		}
		if err := c.Auth(a); err != nil {
			return fail(err)
		}
	}

	stage = "mail"
	var mailOpts *smtp.MailOptions
	if !isASCII(from) {
		mailOpts = &smtp.MailOptions{UTF8: true}
	}
	if err := c.Mail(from, mailOpts); err != nil {
		return fail(err)
	}
	stage = "rcpt"
	if err := c.Rcpt(to, nil); err != nil {
		return fail(err)
	}
	stage = "data"
	w, err := c.Data()
	if err != nil {
		return fail(err)
	}
	if _, err := w.Write(raw); err != nil {
		return fail(err)
	}
	if err := w.Close(); err != nil {
		return fail(err)
	}
	// Accepted. QUIT is a courtesy; its failure changes nothing.
	_ = c.Quit()
	return nil
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
	return se
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
