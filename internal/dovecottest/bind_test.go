package dovecottest

import (
	"errors"
	"net"
	"testing"
)

// A port taken between choosing it and Dovecot binding it is recognised, so
// that Launch retries with other ports.
func TestStartReportsPortInUse(t *testing.T) {
	t.Parallel()
	s, err := Launch(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	err = s.start()
	if err == nil {
		s.Stop()
		t.Fatal("start on a busy port: no error")
	}
	if !errors.Is(err, errAddrInUse) {
		t.Fatalf("start on a busy port = %v, want errAddrInUse", err)
	}
	if s.Running() {
		t.Fatal("Running after a failed start")
	}
}
