package dovecottest

import (
	"testing"
)

// Start launches a Dovecot for the test in t.TempDir() and stops it when the
// test ends. It fails the test (it does not skip it) when Dovecot cannot be
// started: a missing server must not let the suite pass silently.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Launch(t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("dovecot log (end):\n%s", s.LogTail(4096))
		}
	})
	return s
}
