// Package sdnotify tells the service manager (systemd, sd_notify(3))
// how the daemon is: ready, alive (the watchdog), stopping. It writes one
// datagram per state to the unix socket named by $NOTIFY_SOCKET, a path
// or, starting with '@', an abstract name. Without that variable, as
// outside systemd or under Type=simple, it does nothing.
package sdnotify

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// Notifier sends states to the service manager. The zero value, like one
// made without $NOTIFY_SOCKET, sends nothing.
type Notifier struct {
	socket   string
	watchdog time.Duration
}

// New reads the service manager's environment through getenv; pid is
// this process's (os.Getpid): the watchdog is ours only when
// $WATCHDOG_PID is unset or names it.
func New(getenv func(string) string, pid int) *Notifier {
	n := &Notifier{socket: getenv("NOTIFY_SOCKET")}
	if n.socket == "" {
		return n
	}
	usec, err := strconv.ParseInt(getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return n
	}
	if p := getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(pid) {
		return n
	}
	n.watchdog = time.Duration(usec) * time.Microsecond
	return n
}

// Enabled reports whether there is a service manager to tell.
func (n *Notifier) Enabled() bool { return n != nil && n.socket != "" }

// WatchdogInterval is how often to send Watchdog: half the service's
// WatchdogSec, as sd_watchdog_enabled(3) advises; 0 when there is no
// watchdog.
func (n *Notifier) WatchdogInterval() time.Duration {
	if n == nil {
		return 0
	}
	return n.watchdog / 2
}

// Ready says the service is up (READY=1): systemd starts what waits for
// it and, under Type=notify, counts it started.
func (n *Notifier) Ready() error { return n.send("READY=1") }

// Stopping says the service is shutting down (STOPPING=1).
func (n *Notifier) Stopping() error { return n.send("STOPPING=1") }

// Watchdog says the service is alive (WATCHDOG=1); without it for
// WatchdogSec, systemd kills and, with Restart=, restarts it.
func (n *Notifier) Watchdog() error { return n.send("WATCHDOG=1") }

func (n *Notifier) send(state string) error {
	if !n.Enabled() {
		return nil
	}
	// A name starting with '@' is abstract: the net package writes it
	// with its leading NUL.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sdnotify: %s: %w", state, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sdnotify: %s: %w", state, err)
	}
	return nil
}
