package sdnotify

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"path/filepath"
	"testing"
	"time"
)

func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func receive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	b := make([]byte, 256)
	n, err := conn.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:n])
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestStatesReachTheSocket(t *testing.T) {
	abstract := make([]byte, 8)
	rand.Read(abstract)
	for _, name := range []string{filepath.Join(t.TempDir(), "notify"), "@recoverybot-test-" + hex.EncodeToString(abstract)} {
		conn := listen(t, name)
		n := New(env(map[string]string{"NOTIFY_SOCKET": name}), 42)
		if !n.Enabled() {
			t.Fatalf("%s: not enabled", name)
		}
		for _, step := range []struct {
			send func() error
			want string
		}{{n.Ready, "READY=1"}, {n.Watchdog, "WATCHDOG=1"}, {n.Stopping, "STOPPING=1"}} {
			if err := step.send(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got := receive(t, conn); got != step.want {
				t.Errorf("%s: received %q, want %q", name, got, step.want)
			}
		}
	}
}

func TestNothingWithoutTheSocket(t *testing.T) {
	name := filepath.Join(t.TempDir(), "notify")
	conn := listen(t, name)
	for _, n := range []*Notifier{New(env(nil), 42), nil, {}} {
		if n.Enabled() || n.WatchdogInterval() != 0 {
			t.Errorf("%+v: enabled %v, watchdog %s", n, n.Enabled(), n.WatchdogInterval())
		}
		if err := n.Ready(); err != nil {
			t.Error(err)
		}
		n.Watchdog()
		n.Stopping()
	}
	// The first datagram on the socket is the one sent after those.
	New(env(map[string]string{"NOTIFY_SOCKET": name}), 42).Watchdog()
	if got := receive(t, conn); got != "WATCHDOG=1" {
		t.Errorf("received %q first", got)
	}
}

func TestWatchdogInterval(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want time.Duration
	}{
		{map[string]string{"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "60000000"}, 30 * time.Second},
		{map[string]string{"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "42"}, 30 * time.Second},
		{map[string]string{"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "43"}, 0},
		{map[string]string{"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "soon"}, 0},
		{map[string]string{"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "0"}, 0},
		{map[string]string{"NOTIFY_SOCKET": "/run/x"}, 0},
		{map[string]string{"WATCHDOG_USEC": "60000000"}, 0},
	} {
		if got := New(env(tt.env), 42).WatchdogInterval(); got != tt.want {
			t.Errorf("%v: interval %s, want %s", tt.env, got, tt.want)
		}
	}
}

func TestUnreachableSocket(t *testing.T) {
	n := New(env(map[string]string{"NOTIFY_SOCKET": filepath.Join(t.TempDir(), "absent")}), 42)
	if err := n.Ready(); err == nil {
		t.Error("Ready to an absent socket succeeded")
	}
}
