package daemon

import (
	"testing"
	"time"
)

// TestAlive: the daemon is alive while Serve runs and each of its loops
// goes round; one loop stuck beyond its bound, or Serve ended, is not.
func TestAlive(t *testing.T) {
	now := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	d := &Daemon{opts: Options{OutboxInterval: 30 * time.Second, Now: func() time.Time { return now }}}
	serving := d.Serving()
	if d.Alive() {
		t.Error("alive before Serve")
	}
	select {
	case <-serving:
		t.Fatal("serving before Serve")
	default:
	}
	d.started()
	<-serving
	if !d.Alive() {
		t.Error("not alive once serving")
	}
	// The outbox goes round, the look-back does not.
	for i := 0; i < 11; i++ {
		now = now.Add(30 * time.Second)
		d.beat(loopOutbox)
	}
	if !d.Alive() {
		t.Error("not alive 5m30s after the look-back's last round: within its bound")
	}
	now = now.Add(time.Second)
	d.beat(loopOutbox)
	if d.Alive() {
		t.Error("alive with the look-back stuck for more than 5m30s")
	}
	d.beat(loopLookBack)
	if !d.Alive() {
		t.Error("not alive once the look-back goes round again")
	}
	d.stopped()
	if d.Alive() {
		t.Error("alive after Serve ended")
	}
	d.started() // a second Serve does not close the channel twice
}
