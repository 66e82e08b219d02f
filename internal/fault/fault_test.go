package fault_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/recoverybot/recoverybot/internal/fault"
)

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestOf(t *testing.T) {
	dial := func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Err: err} }
	read := func(err error) error { return &net.OpError{Op: "read", Net: "tcp", Err: err} }
	tests := []struct {
		name string
		err  error
		want fault.Cause
	}{
		{"nil", nil, ""},
		{"plain", errors.New("something"), fault.Other},
		{"ENOSPC in a PathError", fmt.Errorf("write spool: %w", &fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}), fault.DiskFull},
		{"EDQUOT", &os.SyscallError{Syscall: "fsync", Err: syscall.EDQUOT}, fault.DiskFull},
		{"EROFS", &fs.PathError{Op: "open", Path: "/x", Err: syscall.EROFS}, fault.ReadOnly},
		{"connection refused", dial(&os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}), fault.Unreachable},
		{"dial timeout", dial(timeoutError{}), fault.Unreachable},
		{"DNS", &net.DNSError{Err: "no such host", Name: "imap.invalid", IsNotFound: true}, fault.Unreachable},
		{"x509 unknown authority", fmt.Errorf("tls: %w", x509.UnknownAuthorityError{}), fault.TLS},
		{"x509 hostname", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "a"}, fault.TLS},
		{"TLS alert", fmt.Errorf("handshake: %w", tls.AlertError(40)), fault.TLS},
		{"TLS verification", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, fault.TLS},
		{"not TLS", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, fault.TLS},
		{"deadline", fmt.Errorf("fetch: %w", context.DeadlineExceeded), fault.Timeout},
		{"read timeout", read(timeoutError{}), fault.Timeout},
		{"os deadline", read(os.ErrDeadlineExceeded), fault.Timeout},
		{"EOF", fmt.Errorf("fetch: %w", io.EOF), fault.ConnectionLost},
		{"unexpected EOF", io.ErrUnexpectedEOF, fault.ConnectionLost},
		{"reset", read(&os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}), fault.ConnectionLost},
		{"broken pipe", &os.SyscallError{Syscall: "write", Err: syscall.EPIPE}, fault.ConnectionLost},
		{"wrapped cause", fmt.Errorf("login: %w", fault.Wrap(fault.LoginRefused, errors.New("NO"))), fault.LoginRefused},
		{"wrapped cause wins over the library", fault.Wrap(fault.DatabaseCorrupt, io.EOF), fault.DatabaseCorrupt},
		{"outermost cause wins", fault.Wrap(fault.TokenFailed, fault.Wrap(fault.Server, errors.New("NO"))), fault.TokenFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := fault.Of(tc.err); got != tc.want {
				t.Errorf("Of(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

func TestWrapKeepsTheChain(t *testing.T) {
	if fault.Wrap(fault.DiskFull, nil) != nil {
		t.Fatal("Wrap(nil) is not nil")
	}
	inner := &fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}
	err := fmt.Errorf("save: %w", fault.Wrap(fault.DiskFull, inner))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Error("errors.Is does not see through Wrap")
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe != inner {
		t.Error("errors.As does not see through Wrap")
	}
	if err.Error() != "save: "+inner.Error() {
		t.Errorf("text = %q, want the wrapped error's", err.Error())
	}
}

func TestCausesAreDistinctWords(t *testing.T) {
	seen := map[fault.Cause]bool{}
	for _, c := range fault.Causes() {
		if seen[c] {
			t.Errorf("%q twice", c)
		}
		seen[c] = true
		for _, r := range c {
			if (r < 'a' || r > 'z') && r != '_' {
				t.Errorf("%q is not snake_case", c)
			}
		}
	}
	if len(seen) < 11 {
		t.Errorf("%d causes, want at least 11", len(seen))
	}
}
