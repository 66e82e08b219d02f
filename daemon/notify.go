package daemon

import (
	"sync"
	"time"
)

// The watchdog's question (is the daemon alive?) is put to Serve's own
// loops, not to a timer of its own: the outbox's loop and the look-back's
// each go round every OutboxInterval, reading and writing the store, and
// say so (beat). A loop that has not gone round for stuckAfter beyond its
// interval is stuck (a store that no longer answers, a deadlock), and
// Alive says no: the service manager, told nothing more, restarts the
// daemon. A mailbox or an SMTP server that is down is not this: the
// loops go on (each command has its time limit), and /readyz and the
// alerts say it.

// stuckAfter is how long a loop of Serve may take over one round (an
// outbox of many mails to a slow server) before it counts as stuck.
const stuckAfter = 5 * time.Minute

// The loops Alive watches.
const (
	loopOutbox   = "outbox"
	loopLookBack = "look-back"
)

// liveness holds the last round of each loop of Serve. The zero value is
// a daemon not serving.
type liveness struct {
	mu      sync.Mutex
	serving chan struct{} // closed once Serve's loops run
	running bool
	beats   map[string]time.Time
}

func (d *Daemon) clock() time.Time {
	if d.opts.Now != nil {
		return d.opts.Now()
	}
	return time.Now()
}

func (l *liveness) servingLocked() chan struct{} {
	if l.serving == nil {
		l.serving = make(chan struct{})
	}
	return l.serving
}

// Serving returns a channel closed once Serve runs its loops beside the
// dashboard (ServeWithWeb): the moment to tell the service manager the
// daemon is ready.
func (d *Daemon) Serving() <-chan struct{} {
	d.live.mu.Lock()
	defer d.live.mu.Unlock()
	return d.live.servingLocked()
}

// started marks Serve's loops running, each as if it had just gone round.
func (d *Daemon) started() {
	now := d.clock()
	d.live.mu.Lock()
	defer d.live.mu.Unlock()
	d.live.running = true
	d.live.beats = map[string]time.Time{loopOutbox: now, loopLookBack: now}
	select {
	case <-d.live.servingLocked():
	default:
		close(d.live.serving)
	}
}

// stopped marks Serve's loops ended.
func (d *Daemon) stopped() {
	d.live.mu.Lock()
	defer d.live.mu.Unlock()
	d.live.running = false
}

// beat records that loop went round.
func (d *Daemon) beat(loop string) {
	now := d.clock()
	d.live.mu.Lock()
	defer d.live.mu.Unlock()
	if d.live.beats != nil {
		d.live.beats[loop] = now
	}
}

// Alive reports whether Serve runs and each of its loops has gone round
// within stuckAfter beyond its interval.
func (d *Daemon) Alive() bool {
	now := d.clock()
	d.live.mu.Lock()
	defer d.live.mu.Unlock()
	if !d.live.running {
		return false
	}
	for _, t := range d.live.beats {
		if now.Sub(t) > d.opts.OutboxInterval+stuckAfter {
			return false
		}
	}
	return true
}
