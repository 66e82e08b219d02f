// Package fault names what broke when an operation fails: a full disk, a
// read-only file system, a corrupt database, a refused login, a failing
// OAuth token, an unreachable server, a TLS failure, a connection lost in
// the middle of a session, a timeout, a server refusing a command. The
// name, a Cause, is what the daemon writes as the log attribute cause= and
// uses as a metric label, so its values are stable snake_case words.
//
// The code that knows what an error means wraps it at its source (the
// store knows a SQLite error, the mailbox a refused LOGIN) with Wrap; Of
// finds that cause again, anywhere in the chain, or classifies the
// standard library's errors underneath. It imports only the standard
// library so that every package can use it.
package fault

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// Cause is what broke, in one stable word.
type Cause string

// The causes. Add new ones at the end; never rename one: dashboards and
// alert rules match them.
const (
	DiskFull        Cause = "disk_full"        // no space (or quota) left on a file system
	ReadOnly        Cause = "read_only"        // a file system or database opened read-only
	DatabaseCorrupt Cause = "database_corrupt" // the SQLite file is damaged or not a database
	LoginRefused    Cause = "login_refused"    // the server answered NO to LOGIN, AUTHENTICATE or AUTH
	TokenFailed     Cause = "token_failed"     // the OAuth token helper or file failed, or the server refused the token
	Unreachable     Cause = "unreachable"      // DNS, connection refused, no route, timeout while connecting
	TLS             Cause = "tls"              // certificate or handshake failure
	ConnectionLost  Cause = "connection_lost"  // EOF or reset in the middle of a session
	Timeout         Cause = "timeout"          // a deadline passed during a session
	Server          Cause = "server"           // the server refused a command
	Other           Cause = "other"            // none of the above
)

// Causes returns every cause, in a fixed order, so that a metric can
// start each label at zero.
func Causes() []Cause {
	return []Cause{DiskFull, ReadOnly, DatabaseCorrupt, LoginRefused, TokenFailed,
		Unreachable, TLS, ConnectionLost, Timeout, Server, Other}
}

// String returns the cause's word.
func (c Cause) String() string { return string(c) }

// Error is an error whose cause is known. Its text is the wrapped error's:
// the cause is for logs and metrics to show apart.
type Error struct {
	Cause Cause
	Err   error
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error, so that errors.Is and errors.As see
// through.
func (e *Error) Unwrap() error { return e.Err }

// Wrap marks err with cause c. Wrap of a nil error is nil.
func Wrap(c Cause, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Cause: c, Err: err}
}

// Of returns what broke in err: the outermost cause given by Wrap, else
// one read from the standard library's errors in the chain, else Other.
// Of(nil) is the empty Cause.
func Of(err error) Cause {
	if err == nil {
		return ""
	}
	if e := (*Error)(nil); errors.As(err, &e) {
		return e.Cause
	}
	return classify(err)
}

// classify reads the standard library's errors. The order matters: a
// dial that timed out is unreachable, not a timeout, and a TLS failure is
// often carried by a net.OpError too.
func classify(err error) Cause {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return DiskFull
	case errors.Is(err, syscall.EROFS):
		return ReadOnly
	case isTLS(err):
		return TLS
	case isDial(err):
		return Unreachable
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return Timeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return ConnectionLost
	}
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		return Timeout
	}
	return Other
}

func isTLS(err error) bool {
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		verify   *tls.CertificateVerificationError
		header   tls.RecordHeaderError
		alert    tls.AlertError
		ech      *tls.ECHRejectionError
	)
	return errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &hostname) ||
		errors.As(err, &verify) || errors.As(err, &header) || errors.As(err, &alert) || errors.As(err, &ech)
}

func isDial(err error) bool {
	if dns := (*net.DNSError)(nil); errors.As(err, &dns) {
		return true
	}
	if op := (*net.OpError)(nil); errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTDOWN)
}
