package mailbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/recoverybot/recoverybot/internal/fault"
)

// Security says how the connection to the server is protected.
type Security string

// Security values, as written in the configuration.
const (
	SecurityTLS      Security = "tls"      // implicit TLS, usually port 993
	SecurityStartTLS Security = "starttls" // STARTTLS required, usually port 143
	SecurityNone     Security = "none"     // plaintext, loopback addresses only
)

// DefaultCommandTimeout is the watchdog used when Options.CommandTimeout is
// zero.
const DefaultCommandTimeout = 2 * time.Minute

// Errors callers can test with errors.Is.
var (
	// ErrTimeout: the server did not answer a command in time; the
	// connection has been closed.
	ErrTimeout = errors.New("mailbox: command timed out")
	// ErrClosed: the connection is closed (by the server, the network, or
	// a timeout).
	ErrClosed = errors.New("mailbox: connection closed")
	// ErrInsecure: plaintext was requested to a non-loopback address.
	ErrInsecure = errors.New("mailbox: security \"none\" is only allowed to a loopback address")
	// ErrNoSafeMove: the server has neither MOVE nor UIDPLUS.
	ErrNoSafeMove = errors.New("mailbox: server supports neither MOVE nor UIDPLUS; refusing to EXPUNGE a shared mailbox")
	// ErrNoSafeExpunge: the server lacks UIDPLUS, without which only a
	// plain EXPUNGE, of every message marked \Deleted, is possible.
	ErrNoSafeExpunge = errors.New("mailbox: server lacks UIDPLUS; refusing to EXPUNGE a shared folder")
	// ErrNoFolder: the folder does not exist.
	ErrNoFolder = errors.New("mailbox: no such folder")
	// ErrNoMessage: no message has the requested UID (any more).
	ErrNoMessage = errors.New("mailbox: no such message")
)

// Options configure Dial.
type Options struct {
	// Address is the server's host:port.
	Address string
	// Security is required; see the Security constants.
	Security Security
	// Username and Password authenticate with SASL PLAIN or LOGIN.
	Username, Password string
	// Token, when non-nil, authenticates Username with XOAUTH2 instead of
	// Password (Gmail, Microsoft 365). It is called once per Dial, so it
	// may return a freshly refreshed token; see TokenFromFile and
	// TokenFromCommand.
	Token func(ctx context.Context) (string, error)
	// TLSConfig overrides the TLS configuration (tests, private CAs). Nil
	// means the system roots and the host name from Address.
	TLSConfig *tls.Config
	// CommandTimeout bounds every command; zero means
	// DefaultCommandTimeout.
	CommandTimeout time.Duration
	// Debug, when non-nil, receives the protocol trace, authentication
	// excepted. It includes message contents: never enable it by default.
	Debug io.Writer
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
}

// Conn is an authenticated IMAP connection. It is not safe for concurrent
// use. Once a command fails with ErrClosed, ErrTimeout or a context error,
// the caller closes it and dials again.
type Conn struct {
	client *imapclient.Client
	raw    net.Conn // closed by the watchdog
	opts   Options
	log    *slog.Logger
	caps   imap.CapSet

	// newMail receives a token whenever the server reports EXISTS outside
	// a SELECT; Wait consumes it. Buffered, never blocks the reader.
	newMail chan struct{}
	redact  atomic.Bool // the trace is suppressed during authentication

	mailbox string // selected, "" if none

	// Mailbox naming, learnt once: see EnsureFolder.
	nsKnown bool
	prefix  string
	delim   rune
	folders map[string]string

	idleRestart time.Duration
	noMove      bool // tests: behave as if MOVE were not advertised

	received atomic.Int64 // bytes read from the server (see Stats)
	literals atomic.Int64 // bytes of message data read (see Stats)
}

// Stats counts what a Conn received since it was dialled.
type Stats struct {
	// Received is every byte read from the server: responses, framing
	// and, with TLS, the record overhead.
	Received int64
	// Message is the bytes of message data among them: the literals of
	// the BODY[...] sections fetched (whole messages, headers, parts).
	Message int64
}

// Stats reports what the Conn received so far.
func (c *Conn) Stats() Stats {
	return Stats{Received: c.received.Load(), Message: c.literals.Load()}
}

// countingConn counts the bytes read from the network. The client reads
// from its own goroutine, hence the atomic counter.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (cc countingConn) Read(p []byte) (int, error) {
	n, err := cc.Conn.Read(p)
	cc.n.Add(int64(n))
	return n, err
}

// Dial connects, authenticates and returns a Conn in the authenticated
// state. ctx, and CommandTimeout for each step, bound the exchange.
func Dial(ctx context.Context, o Options) (*Conn, error) {
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = DefaultCommandTimeout
	}
	c := &Conn{
		opts:        o,
		log:         o.Logger,
		newMail:     make(chan struct{}, 1),
		folders:     make(map[string]string),
		idleRestart: 5 * time.Minute,
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	host, _, err := net.SplitHostPort(o.Address)
	if err != nil {
		return nil, fmt.Errorf("mailbox: address %q: %w", o.Address, err)
	}

	dctx, cancel := context.WithTimeout(ctx, o.CommandTimeout)
	defer cancel()
	targets := []string{o.Address}
	switch o.Security {
	case SecurityTLS, SecurityStartTLS:
	case SecurityNone:
		if targets, err = loopbackTargets(dctx, o.Address); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("mailbox: security %q: want tls, starttls or none", o.Security)
	}
	var d net.Dialer
	var raw net.Conn
	for _, t := range targets {
		if raw, err = d.DialContext(dctx, "tcp", t); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fault.Wrap(fault.Unreachable, fmt.Errorf("mailbox: connect to %s: %w", o.Address, err))
	}
	c.raw = countingConn{Conn: raw, n: &c.received}

	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.TLSConfig != nil {
		tlsConfig = o.TLSConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = host
	}
	clientOpts := &imapclient.Options{
		TLSConfig:             tlsConfig,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{Mailbox: c.onMailboxUpdate},
	}
	if o.Debug != nil {
		clientOpts.DebugWriter = &redactingWriter{w: o.Debug, on: &c.redact}
	}

	err = c.do(ctx, "connect to "+o.Address, func(*watchdog) error {
		switch o.Security {
		case SecurityTLS:
			tlsConfig.NextProtos = []string{"imap"}
			tc := tls.Client(c.raw, tlsConfig)
			if err := tc.HandshakeContext(dctx); err != nil {
				return fault.Wrap(fault.TLS, fmt.Errorf("tls handshake: %w", err))
			}
			c.client = imapclient.New(tc, clientOpts)
		case SecurityStartTLS:
			cl, err := imapclient.NewStartTLS(c.raw, clientOpts)
			if err != nil {
				return fault.Wrap(fault.TLS, fmt.Errorf("starttls (is it offered on this port?): %w", err))
			}
			c.client = cl
		default:
			c.client = imapclient.New(c.raw, clientOpts)
		}
		return c.client.WaitGreeting()
	})
	if err != nil {
		c.raw.Close()
		return nil, fmt.Errorf("mailbox: %w", err)
	}
	if err := c.do(ctx, "authenticate as "+o.Username, func(*watchdog) error { return c.authenticate(ctx) }); err != nil {
		c.client.Close()
		return nil, fmt.Errorf("mailbox: %w", err)
	}
	c.log.Debug("imap connected", "address", o.Address, "idle", c.CanIdle(), "move", c.CanMove())
	return c, nil
}

// loopbackTargets resolves host and returns host:port for each address,
// provided every one is loopback: a name that also resolves elsewhere could
// send the password in clear over the network.
func loopbackTargets(ctx context.Context, address string) ([]string, error) {
	host, port, _ := net.SplitHostPort(address)
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else {
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("mailbox: resolve %s: %w", host, err)
		}
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	var targets []string
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return nil, fmt.Errorf("%w: %s is %s", ErrInsecure, host, ip)
		}
		targets = append(targets, net.JoinHostPort(ip.String(), port))
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("mailbox: resolve %s: no address", host)
	}
	return targets, nil
}

func (c *Conn) authenticate(ctx context.Context) error {
	if c.client.State() != imap.ConnStateAuthenticated { // not PREAUTH
		caps := c.client.Caps()
		c.redact.Store(true)
		defer c.redact.Store(false)
		switch {
		case c.opts.Token != nil:
			token, err := c.opts.Token(ctx)
			if err != nil {
				return fault.Wrap(fault.TokenFailed, fmt.Errorf("get token: %w", err))
			}
			mech := &xoauth2Client{user: c.opts.Username, token: token}
			if err := c.client.Authenticate(mech); err != nil {
				if mech.err != nil {
					return fault.Wrap(fault.TokenFailed, fmt.Errorf("xoauth2: %w (server: %v)", mech.err, err))
				}
				return refused(fault.TokenFailed, fmt.Errorf("xoauth2: %w", err))
			}
		case slices.ContainsFunc(caps.AuthMechanisms(), func(m string) bool { return strings.EqualFold(m, sasl.Plain) }):
			if err := c.client.Authenticate(sasl.NewPlainClient("", c.opts.Username, c.opts.Password)); err != nil {
				return refused(fault.LoginRefused, fmt.Errorf("plain: %w", err))
			}
		case caps.Has(imap.CapLoginDisabled):
			return fault.Wrap(fault.LoginRefused, errors.New("server refuses LOGIN and offers no PLAIN"))
		default:
			if err := c.client.Login(c.opts.Username, c.opts.Password).Wait(); err != nil {
				return refused(fault.LoginRefused, fmt.Errorf("login: %w", err))
			}
		}
	}
	// Servers send new capabilities after login (RFC 3501 section 6.2.3).
	c.caps = c.client.Caps()
	if c.caps == nil {
		return errors.New("no CAPABILITY from server")
	}
	return nil
}

// refused marks err with c when the server answered NO: a BAD or a lost
// connection is not a refusal.
func refused(c fault.Cause, err error) error {
	if ie := (*imap.Error)(nil); errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo {
		return fault.Wrap(c, err)
	}
	return err
}

// onMailboxUpdate runs in the reader goroutine: it must not block.
func (c *Conn) onMailboxUpdate(data *imapclient.UnilateralDataMailbox) {
	if data.NumMessages == nil {
		return
	}
	select {
	case c.newMail <- struct{}{}:
	default:
	}
}

// takeNewMail consumes a pending new-mail notice.
func (c *Conn) takeNewMail() bool {
	select {
	case <-c.newMail:
		return true
	default:
		return false
	}
}

// CanIdle reports whether the server supports IDLE.
func (c *Conn) CanIdle() bool { return c.caps.Has(imap.CapIdle) }

// CanMove reports whether the server supports MOVE.
func (c *Conn) CanMove() bool { return c.caps.Has(imap.CapMove) && !c.noMove }

// Close logs out (briefly: a dead server is not waited for) and closes the
// connection.
func (c *Conn) Close() error {
	c.opts.CommandTimeout = min(c.opts.CommandTimeout, 5*time.Second)
	c.do(context.Background(), "logout", func(*watchdog) error { return c.client.Logout().Wait() })
	if err := c.client.Close(); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("mailbox: close: %w", err)
	}
	return nil
}

// do runs one command under the watchdog and names it in errors.
func (c *Conn) do(ctx context.Context, action string, fn func(w *watchdog) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	w := c.watch(ctx, action, c.opts.CommandTimeout)
	err := fn(w)
	if why := w.stop(); why != nil {
		if errors.Is(why, ErrTimeout) {
			return fault.Wrap(fault.Timeout, fmt.Errorf("%s: %w", action, why))
		}
		return fmt.Errorf("%s: %w", action, why)
	}
	if err != nil {
		_, known := errors.AsType[*fault.Error](err)
		switch {
		case known:
		case c.client != nil && isClosed(c.client):
			return fault.Wrap(fault.ConnectionLost, fmt.Errorf("%s: %w: %w", action, ErrClosed, err))
		case errors.As(err, new(*imap.Error)):
			return fault.Wrap(fault.Server, fmt.Errorf("%s: %w", action, err))
		}
		return fmt.Errorf("%s: %w", action, err)
	}
	return nil
}

func isClosed(cl *imapclient.Client) bool {
	select {
	case <-cl.Closed():
		return true
	default:
		return cl.State() == imap.ConnStateLogout
	}
}

// watchdog closes the connection when a command outlives its timeout or its
// context: go-imap has no per-command deadline, and a server that stops
// answering (a half-open TCP connection, a hung IDLE) would otherwise block
// forever.
type watchdog struct {
	timeout time.Duration
	timer   *time.Timer
	stopCtx func() bool

	mu      sync.Mutex
	why     error
	stopped bool
}

func (c *Conn) watch(ctx context.Context, action string, timeout time.Duration) *watchdog {
	w := &watchdog{timeout: timeout}
	fire := func(why error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.stopped || w.why != nil {
			return
		}
		w.why = why
		c.raw.Close()
		if errors.Is(why, ErrTimeout) {
			c.log.Warn("imap command timed out; connection closed", "command", action, "timeout", timeout)
		}
	}
	w.timer = time.AfterFunc(timeout, func() { fire(fmt.Errorf("%w after %v", ErrTimeout, timeout)) })
	w.stopCtx = context.AfterFunc(ctx, func() { fire(ctx.Err()) })
	return w
}

// kick restarts the timeout: the command is making progress.
func (w *watchdog) kick() { w.timer.Reset(w.timeout) }

// stop disarms the watchdog and returns why it fired, if it did.
func (w *watchdog) stop() error {
	w.timer.Stop()
	w.stopCtx()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	return w.why
}

// redactingWriter drops the protocol trace while on is set. go-imap writes
// the trace from two goroutines (commands from the caller's, responses from
// its reader), so writes are serialised here: Options.Debug need not be safe
// for concurrent use.
type redactingWriter struct {
	w  io.Writer
	on *atomic.Bool

	mu    sync.Mutex
	noted bool
}

func (r *redactingWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.on.Load() {
		if !r.noted {
			r.noted = true
			io.WriteString(r.w, "[authentication exchange not shown]\r\n")
		}
		return len(p), nil
	}
	r.noted = false
	return r.w.Write(p)
}
