package mailbox

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff paces reconnection attempts: exponential growth with full jitter,
// so that many clients cut off by the same server restart do not come back
// in lockstep. The zero value waits between 1 second and 5 minutes.
type Backoff struct {
	Min, Max time.Duration // zero: 1s and 5m

	attempt int
}

// Next returns how long to wait before the next attempt: a uniformly random
// duration between Min and the current ceiling, which starts at Min and
// doubles after each call up to Max.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = time.Second
	}
	if hi <= 0 {
		hi = 5 * time.Minute
	}
	hi = max(hi, lo)
	ceiling := lo
	for range b.attempt {
		if ceiling >= hi/2 {
			ceiling = hi
			break
		}
		ceiling *= 2
	}
	b.attempt = min(b.attempt+1, 62)
	if ceiling <= lo {
		return lo
	}
	return lo + rand.N(ceiling-lo+1)
}

// Reset starts over at Min, after a successful connection.
func (b *Backoff) Reset() { b.attempt = 0 }

// Wait sleeps Next(), or returns ctx.Err() if ctx ends first.
func (b *Backoff) Wait(ctx context.Context) error {
	t := time.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
