package action

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/store"
)

// Courier drains the store's action calls through a Hook: each due call
// is taken for sending (store.Tx.ClaimAction), given to the Hook, then
// recorded done with the admin system's answer, retried later with
// growing delays on a temporary failure, or recorded failed, for an
// agent, on a permanent one. A call that still fails temporarily GiveUp
// after it was due is recorded failed with its last error.
//
// Drain calls on one Courier take turns, and a call is taken only while
// it is still due, in the writer's transaction, so two couriers never
// both send it; its outcome is recorded only if no one has taken it
// since (the attempt number says so). A call whose sending a crash cut
// short is put back by Resume at the next start and sent again with the
// same idempotency key, which the admin system dedupes on.
//
// Time is the store's clock (store.Options.Now), never the wall clock.
type Courier struct {
	Store  *store.Store
	Hook   Hook
	Logger *slog.Logger
	// GiveUp is how long after its NotBefore a call that keeps failing
	// temporarily is retried: its last attempt is made then, and a
	// temporary failure at or past that time records it failed. 0:
	// DefaultGiveUp.
	GiveUp time.Duration
	// OnDone, when not nil, runs in the transaction that records a call
	// done, with the call as recorded: the desk queues the customer's
	// mail there, so the customer is told only once the admin system has
	// said yes, and exactly once. An error rolls the record back; the
	// call is then due again (sent again, with the same key).
	OnDone func(tx *store.Tx, call recoverybot.ActionCall) error
	// OnResult, when not nil, runs in the transaction that records every
	// outcome (done, retry, failed), after OnDone, with the call as
	// recorded: the desk audits there. An error rolls the record back as
	// for OnDone.
	OnResult func(tx *store.Tx, call recoverybot.ActionCall) error
	// Stale is how long after it was taken for sending a call still
	// being sent is taken for one whose process died: each Drain sends
	// those again (with their key), so that a crash is recovered from
	// even where the next start is a while off. Well above the hook's
	// timeout; 0: DefaultStale.
	Stale time.Duration
	// OnDrain, when set, is told what each Drain did, as it returns (the
	// daemon's metrics). It must not block.
	OnDrain func(Stats)

	mu sync.Mutex // held by Drain
}

// DefaultStale is the Stale of a Courier that sets none.
const DefaultStale = time.Hour

// DefaultGiveUp is the GiveUp of a Courier that sets none.
const DefaultGiveUp = 48 * time.Hour

// Retry delays: the first retry after FirstRetry, each next one twice as
// late, never more than MaxRetry apart (or than the admin system's
// Retry-After, within MaxRetry).
const (
	FirstRetry = 30 * time.Second
	MaxRetry   = time.Hour
)

// Stats is what one Drain did.
type Stats struct {
	Done     int // the admin system said yes
	Deferred int // failed temporarily, to be tried again later
	Failed   int // refused for good, or given up
}

// Resume puts back to pending the calls a crash left being sent; the
// daemon calls it once when it starts, before the first Drain. They are
// sent again with the same idempotency key.
func (c *Courier) Resume(ctx context.Context) (int64, error) {
	var n int64
	err := c.Store.Update(ctx, func(tx *store.Tx) (err error) {
		n, err = tx.ResumeActions()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("action calls: %w", err)
	}
	if n > 0 {
		c.logger().Warn("action calls interrupted by a crash sent again with their idempotency keys", "count", n)
	}
	return n, nil
}

func (c *Courier) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// Drain sends every due call and returns what became of them. After a
// temporary failure the admin system is taken to be down: the calls
// still due wait for the next Drain rather than each wait for a timeout.
// A Drain called while another runs on the same Courier waits for it.
func (c *Courier) Drain(ctx context.Context) (Stats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var st Stats
	if c.OnDrain != nil {
		defer func() { c.OnDrain(st) }()
	}
	if c.Hook == nil {
		return st, errors.New("action calls: no hook configured")
	}
	stale := c.Stale
	if stale <= 0 {
		stale = DefaultStale
	}
	var resumed int64
	err := c.Store.Update(ctx, func(tx *store.Tx) (err error) {
		resumed, err = tx.ResumeStaleActions(tx.Now().Add(-stale))
		return err
	})
	if err != nil {
		return st, fmt.Errorf("action calls: %w", err)
	}
	if resumed > 0 {
		c.logger().Warn("action calls left being sent by a process that died sent again with their idempotency keys", "count", resumed)
	}
	for {
		var due []recoverybot.ActionCall
		err := c.Store.View(ctx, func(tx *store.Tx) (err error) {
			due, err = tx.DueActions(20)
			return err
		})
		if err != nil {
			return st, fmt.Errorf("action calls: %w", err)
		}
		if len(due) == 0 {
			return st, nil
		}
		progress := false
		for _, d := range due {
			if err := ctx.Err(); err != nil {
				return st, err
			}
			call, taken, err := c.claim(ctx, d.ID)
			if err != nil {
				return st, err
			}
			if !taken {
				continue
			}
			progress = true
			result, callErr := c.Hook.Call(ctx, call)
			v, err := c.settle(ctx, call, result, callErr)
			if err != nil {
				return st, err
			}
			switch v {
			case verdictDone:
				st.Done++
			case verdictRetry:
				st.Deferred++
			case verdictFailed:
				st.Failed++
			}
			if errors.Is(callErr, context.Canceled) && ctx.Err() != nil {
				return st, ctx.Err()
			}
			if v == verdictRetry {
				return st, nil // down: the rest wait for the next drain
			}
		}
		if !progress {
			return st, nil
		}
	}
}

// claim takes a call for sending; taken is false when another courier
// has it.
func (c *Courier) claim(ctx context.Context, id int64) (recoverybot.ActionCall, bool, error) {
	var call recoverybot.ActionCall
	err := c.Store.Update(ctx, func(tx *store.Tx) (err error) {
		call, err = tx.ClaimAction(id)
		return err
	})
	if errors.Is(err, store.ErrActionNotDue) {
		c.logger().Debug("action call taken by another courier", "call", id)
		return call, false, nil
	}
	if err != nil {
		return call, false, fmt.Errorf("action calls: %w", err)
	}
	return call, true, nil
}

type verdict int

const (
	verdictNone  verdict = iota // not recorded: another courier has the call
	verdictDone                 // the admin system said yes
	verdictRetry                // to be tried again
	verdictFailed
)

// settle records the outcome of one attempt of call, with the hooks, and
// logs it.
func (c *Courier) settle(ctx context.Context, call recoverybot.ActionCall, result string, callErr error) (verdict, error) {
	giveUp := c.GiveUp
	if giveUp <= 0 {
		giveUp = DefaultGiveUp
	}
	log := c.logger().With("case", call.CaseRef, "action", string(call.Action), "call", call.ID, "attempt", call.Attempts)
	var v verdict
	var recorded recoverybot.ActionCall
	var reason string
	record := func(tx *store.Tx) error {
		now := tx.Now()
		var err error
		switch {
		case callErr == nil:
			v = verdictDone
			if recorded, err = tx.MarkActionDone(call.ID, call.Attempts, result); err == nil && c.OnDone != nil {
				err = c.OnDone(tx, recorded)
			}
		case errors.Is(callErr, context.Canceled):
			// Cut short by our own shutdown, not refused: due again at
			// once, with the same key.
			v, reason = verdictRetry, "interrupted by shutdown: "+callErr.Error()
			recorded, err = tx.MarkActionRetry(call.ID, call.Attempts, now, reason)
		case Temporary(callErr) && now.Before(call.NotBefore.Add(giveUp)):
			v, reason = verdictRetry, callErr.Error()
			next := now.Add(max(retryDelay(call.Attempts), min(retryAfter(callErr), MaxRetry)))
			if deadline := call.NotBefore.Add(giveUp); next.After(deadline) {
				next = deadline
			}
			recorded, err = tx.MarkActionRetry(call.ID, call.Attempts, next, reason)
		case Temporary(callErr):
			v, reason = verdictFailed, "given up "+shortDuration(giveUp)+" after its time: "+callErr.Error()
			recorded, err = tx.MarkActionFailed(call.ID, call.Attempts, reason)
		default:
			v, reason = verdictFailed, callErr.Error()
			recorded, err = tx.MarkActionFailed(call.ID, call.Attempts, reason)
		}
		if err == nil && c.OnResult != nil {
			err = c.OnResult(tx, recorded)
		}
		return err
	}
	err := c.Store.Update(context.WithoutCancel(ctx), record)
	if errors.Is(err, store.ErrActionNotDue) {
		log.Warn("action call outcome not recorded: another courier has the call since", "error", callErr)
		return verdictNone, nil
	}
	if err != nil && v == verdictDone {
		// The answer could not be recorded (OnDone or the store failed):
		// the call is asked again later, with the same key, rather than
		// left being sent until a restart.
		log.Error("action call done but not recorded; it will be sent again", "result", result, "error", err)
		callErr = &Error{Temporary: true, Err: fmt.Errorf("recording the answer %q: %w", recoverybot.OneLine(result, 100), err)}
		err = c.Store.Update(context.WithoutCancel(ctx), record)
	}
	if err != nil {
		return verdictNone, fmt.Errorf("action call %d of case %s: record the outcome: %w", call.ID, call.CaseRef, err)
	}
	switch v {
	case verdictDone:
		log.Info("action call done", "result", recorded.Result)
	case verdictRetry:
		log.Warn("action call deferred", "error", recorded.LastError, "next", recorded.NextAttemptAt)
	case verdictFailed:
		log.Error("action call failed", "error", recorded.LastError)
	}
	return v, nil
}

// retryDelay is the wait after a failed attempt: FirstRetry, then twice
// as long each time, up to MaxRetry. Without jitter: there is one admin
// system and few calls, and an agent can read when the next try is.
func retryDelay(attempt int) time.Duration {
	d := FirstRetry << min(max(attempt-1, 0), 10)
	return min(d, MaxRetry)
}

// shortDuration writes d as "48h" or "1h30m" rather than "48h0m0s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if d%time.Minute == 0 {
		s = strings.TrimSuffix(s, "0s")
	}
	if d%time.Hour == 0 {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
