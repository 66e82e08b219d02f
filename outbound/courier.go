package outbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/recoverybot/recoverybot/internal/fault"
	"github.com/recoverybot/recoverybot/store"
)

// Mailer sends one composed message; *Sender is one.
type Mailer interface {
	Send(ctx context.Context, from, to string, raw []byte) error
}

// idleCloser is a Mailer that keeps a session open between messages;
// Drain ends it when it is done.
type idleCloser interface{ CloseIdle() }

// Courier drains the outbox: each due mail is marked as being sent,
// handed to SMTP, then marked sent (its sealed bytes dropped), retried
// later with growing delays on a temporary failure, or marked failed for
// the agent to see on a permanent one. A mail that still fails
// temporarily GiveUp after it was queued is marked failed with its last
// error: the customer has waited long enough for an agent to step in.
//
// No mail is ever sent twice. Drain calls on one Courier take turns (the
// daemon's ticker and the scheduled outbox job share one), and a mail is
// taken for sending in the writer's transaction only while it is still
// due, so two processes draining one outbox never both send it. A mail
// whose attempt a crash cut short (marked as being sent, never as sent)
// may or may not have reached the server: the next Drain marks it
// failed, with that reason, for an agent to check, rather than risk a
// second copy.
//
// Time is the store's clock (store.Options.Now), never the wall clock.
type Courier struct {
	Store  *store.Store
	Mailer Mailer
	Logger *slog.Logger
	// GiveUp is how long after it was queued a mail that keeps failing
	// temporarily is retried ([policy] outbox_give_up): its last attempt
	// is made then, and a temporary failure at or past that time marks it
	// failed. 0: DefaultGiveUp.
	GiveUp time.Duration
	// OnDrain, when set, is told what each Drain did, as it returns (the
	// daemon's metrics). It must not block.
	OnDrain func(Stats)
	// OnFailure, when set, is told what broke each attempt that failed,
	// deferred or for good (the metrics). It must not block.
	OnFailure func(fault.Cause)

	mu sync.Mutex // held by Drain
}

// DefaultGiveUp is the GiveUp of a Courier that sets none.
const DefaultGiveUp = 48 * time.Hour

// Stats is what one Drain did.
type Stats struct {
	Sent     int // accepted by the SMTP server
	Deferred int // failed temporarily, to be tried again later
	Failed   int // refused for good, given up, left without bytes, or cut short by a crash
}

// failedAttempt tells OnFailure what broke a mail's attempt.
func (c *Courier) failedAttempt(err error) {
	if c.OnFailure == nil {
		return
	}
	cause := fault.Of(err)
	if cause == "" {
		cause = fault.Server // refused for good: the server's answer is the reason
	}
	c.OnFailure(cause)
}

// Drain sends every due mail and returns what became of them. A Drain
// called while another runs on the same Courier waits for it, then finds
// nothing more due than the first left.
func (c *Courier) Drain(ctx context.Context) (Stats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var st Stats
	if c.OnDrain != nil {
		defer func() { c.OnDrain(st) }()
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	giveUp := c.GiveUp
	if giveUp <= 0 {
		giveUp = DefaultGiveUp
	}
	if ic, ok := c.Mailer.(idleCloser); ok {
		defer ic.CloseIdle()
	}
	// An attempt lasts at most DefaultTimeout; one begun long before now
	// belongs to a process that died. Nearly always there is none: a
	// read transaction says so without taking the writer.
	var interrupted bool
	err := c.Store.View(ctx, func(tx *store.Tx) error {
		var err error
		interrupted, err = tx.Interrupted(tx.Now().Add(-interruptedAfter))
		return err
	})
	if err == nil && interrupted {
		err = c.Store.Update(ctx, func(tx *store.Tx) error {
			n, err := tx.MarkInterrupted(tx.Now().Add(-interruptedAfter))
			if n > 0 {
				log.Warn("mail interrupted by a crash marked failed", "count", n)
				st.Failed += int(n)
			}
			return err
		})
	}
	if err != nil {
		return st, fmt.Errorf("outbox: %w", err)
	}
	// The outcomes waiting to be committed go with the mark of the next
	// mail as being sent, in one transaction: still never a send
	// unmarked, but half the commits.
	var unsettled []*outcome
	settle := func(tx *store.Tx) error {
		for _, o := range unsettled {
			if err := o.record(tx); err != nil {
				return err
			}
		}
		return nil
	}
	account := func() {
		for _, o := range unsettled {
			l := log.With("mail", o.m.ID, "template", o.m.Template)
			switch {
			case o.taken:
				l.Debug("mail taken by another courier")
			case o.verdict == verdictSent:
				st.Sent++
				l.Info("mail sent")
			case o.verdict == verdictRetry:
				st.Deferred++
				c.failedAttempt(o.err)
				if o.tried {
					l.Warn("mail deferred", "cause", fault.Of(o.err), "error", o.err)
				} else {
					l.Debug("mail deferred untried: the server is down", "cause", fault.Of(o.err), "error", o.err)
				}
			default:
				st.Failed++
				c.failedAttempt(o.err)
				l.Error("mail failed", "cause", fault.Of(o.err), "error", o.reason)
			}
		}
		unsettled = nil
	}
	flush := func() error {
		if len(unsettled) == 0 {
			return nil
		}
		if err := c.Store.Update(context.WithoutCancel(ctx), settle); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		account()
		return nil
	}
	// down is the error of an attempt that could not reach the server:
	// the mails after it share its outcome, untried, rather than each
	// try and fail.
	var down error
	for {
		var due []store.OutgoingMail
		err := c.Store.View(ctx, func(tx *store.Tx) error {
			var err error
			due, err = tx.Outbox(store.OutboxFilter{Due: true, WithRaw: true, Limit: 20})
			return err
		})
		if err != nil {
			return st, errors.Join(fmt.Errorf("outbox: %w", err), flush())
		}
		if len(due) == 0 {
			return st, flush()
		}
		progress := false
		for _, m := range due {
			if err := ctx.Err(); err != nil {
				return st, errors.Join(err, flush())
			}
			switch {
			case down != nil:
				unsettled = append(unsettled, judge(m, down, c.Store.Now(), giveUp, false))
				progress = true
				continue
			case len(m.Raw) == 0:
				// Nothing left to send (bytes lost or purged): say so.
				unsettled = append(unsettled, judge(m, errBytesMissing, c.Store.Now(), giveUp, false))
				progress = true
				continue
			}
			taken := false
			err := c.Store.Update(ctx, func(tx *store.Tx) error {
				if err := settle(tx); err != nil {
					return err
				}
				err := tx.MarkSending(m.ID)
				if errors.Is(err, store.ErrNotDue) {
					taken = true
					return nil
				}
				return err
			})
			if err != nil {
				return st, errors.Join(fmt.Errorf("outbox: %w", err), flush())
			}
			account()
			if taken {
				continue
			}
			o := judge(m, c.Mailer.Send(ctx, m.From, m.To, m.Raw), c.Store.Now(), giveUp, true)
			unsettled = append(unsettled, o)
			progress = true
			if errors.Is(o.err, context.Canceled) {
				return st, errors.Join(ctx.Err(), flush())
			}
			if serverDown(o.err) && Temporary(o.err) {
				down = o.err
			}
		}
		if err := flush(); err != nil {
			return st, err
		}
		if !progress {
			return st, nil
		}
	}
}

// errBytesMissing is the outcome of a mail whose bytes are gone (lost or
// purged): nothing can be sent.
var errBytesMissing = errors.New("message bytes missing")

// outcome is what became of one mail in a Drain.
type outcome struct {
	m       store.OutgoingMail
	err     error // nil: sent
	tried   bool  // handed to the Mailer; false: settled without an attempt
	verdict verdict
	next    time.Time // verdictRetry: when to try again
	reason  string    // the error as the outbox keeps it
	taken   bool      // another courier took it first: nothing recorded
}

type verdict int

const (
	verdictSent verdict = iota
	verdictRetry
	verdictFailed
)

// judge decides what becomes of m after err at now. A temporary failure
// is retried after a growing delay, but never later than giveUp after m
// was queued: the last attempt is made then, and a temporary failure at
// or past that time is final.
func judge(m store.OutgoingMail, err error, now time.Time, giveUp time.Duration, tried bool) *outcome {
	o := &outcome{m: m, err: err, tried: tried}
	if err == nil {
		o.verdict = verdictSent
		return o
	}
	o.reason = oneLine(err.Error())
	deadline := m.CreatedAt.Add(giveUp)
	switch {
	case errors.Is(err, context.Canceled):
		// Cut short by our own shutdown, not refused: due again at once.
		o.verdict, o.next = verdictRetry, now
	case errors.Is(err, errBytesMissing) || !Temporary(err):
		o.verdict = verdictFailed
	case now.Before(deadline):
		o.verdict = verdictRetry
		o.next = now.Add(retryDelay(m.Attempts + 1))
		if o.next.After(deadline) {
			o.next = deadline
		}
	default:
		o.verdict = verdictFailed
		o.reason = "given up " + shortDuration(giveUp) + " after it was queued: " + o.reason
	}
	return o
}

// record commits the outcome. A mail not tried is settled only while it
// is still pending: if another courier took it meanwhile, it is theirs.
func (o *outcome) record(tx *store.Tx) error {
	var err error
	switch {
	case o.tried && o.verdict == verdictSent:
		return tx.MarkSent(o.m.ID)
	case o.tried && o.verdict == verdictRetry:
		return tx.MarkRetry(o.m.ID, o.next, o.reason)
	case o.tried:
		return tx.MarkFailed(o.m.ID, o.reason)
	case o.verdict == verdictRetry:
		err = tx.Postpone(o.m.ID, o.next, o.reason)
	default:
		err = tx.GiveUp(o.m.ID, o.reason)
	}
	o.taken = errors.Is(err, store.ErrNotDue)
	if o.taken {
		return nil
	}
	return err
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

// serverDown reports whether a send failed before any mail could be
// given to the server: connection, TLS, greeting or login.
func serverDown(err error) bool {
	var se *SendError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Stage {
	case "connect", "tls", "starttls", "hello", "auth":
		return true
	}
	return false
}

// FailInterrupted marks failed every mail left being sent, whatever its
// age: for a process that holds the data directory's lock
// (internal/instance), where no other process can be sending it, so the
// mail a crash cut short shows as failed at once instead of after
// interruptedAfter. It returns how many.
func (c *Courier) FailInterrupted(ctx context.Context) (int, error) {
	var n int64
	err := c.Store.Update(ctx, func(tx *store.Tx) error {
		var err error
		n, err = tx.MarkInterrupted(tx.Now().Add(time.Second))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: %w", err)
	}
	if n > 0 && c.Logger != nil {
		c.Logger.Warn("mail interrupted by a crash marked failed", "count", n)
	}
	return int(n), nil
}

// interruptedAfter is how long after its start an attempt still marked
// as being sent is taken for one a crash cut short: well past the SMTP
// timeout.
const interruptedAfter = 10 * DefaultTimeout

// retryDelay grows from one minute to about four hours, with jitter.
func retryDelay(attempt int) time.Duration {
	d := time.Minute << min(attempt-1, 8)
	return d/2 + rand.N(d/2+1)
}
