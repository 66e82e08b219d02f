package outbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

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
// later with backoff on a temporary failure, or marked failed for the
// agent to see on a permanent one.
//
// No mail is ever sent twice. A mail whose attempt a crash cut short
// (marked as being sent, never as sent) may or may not have reached the
// server: the next Drain marks it failed, with that reason, for an agent
// to check, rather than risk a second copy.
type Courier struct {
	Store  *store.Store
	Mailer Mailer
	Logger *slog.Logger
	// MaxAttempts before a mail that keeps failing temporarily is given
	// up as failed. 0: 12 (about a day with the default backoff).
	MaxAttempts int
}

// Drain sends every due mail and returns how many were sent and failed.
func (c *Courier) Drain(ctx context.Context) (sent, failed int, err error) {
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxAttempts := c.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = 12
	}
	if ic, ok := c.Mailer.(idleCloser); ok {
		defer ic.CloseIdle()
	}
	// An attempt lasts at most DefaultTimeout; one begun long before now
	// belongs to a process that died. Nearly always there is none: a
	// read transaction says so without taking the writer.
	var interrupted bool
	err = c.Store.View(ctx, func(tx *store.Tx) error {
		var err error
		interrupted, err = tx.Interrupted(tx.Now().Add(-interruptedAfter))
		return err
	})
	if err == nil && interrupted {
		err = c.Store.Update(ctx, func(tx *store.Tx) error {
			n, err := tx.MarkInterrupted(tx.Now().Add(-interruptedAfter))
			if n > 0 {
				log.Warn("mail interrupted by a crash marked failed", "count", n)
				failed += int(n)
			}
			return err
		})
	}
	if err != nil {
		return sent, failed, fmt.Errorf("outbox: %w", err)
	}
	// The outcome of each mail is committed with the mark of the next as
	// being sent, in one transaction: still never a send unmarked, but
	// half the commits.
	var last *outcome
	settle := func(tx *store.Tx) error {
		if last == nil {
			return nil
		}
		return last.record(tx, maxAttempts)
	}
	account := func() error {
		if last == nil {
			return nil
		}
		o := last
		last = nil
		switch o.verdict(maxAttempts) {
		case verdictSent:
			sent++
			log.Info("mail sent", "mail", o.m.ID, "template", o.m.Template)
		case verdictRetry:
			log.Warn("mail deferred", "mail", o.m.ID, "template", o.m.Template, "error", o.err)
		default:
			failed++
			log.Error("mail failed", "mail", o.m.ID, "template", o.m.Template, "error", o.err)
		}
		return nil
	}
	flush := func() error {
		if last == nil {
			return nil
		}
		if err := c.Store.Update(context.WithoutCancel(ctx), settle); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		return account()
	}
	for {
		var due []store.OutgoingMail
		err := c.Store.View(ctx, func(tx *store.Tx) error {
			var err error
			due, err = tx.Outbox(store.OutboxFilter{Due: true, WithRaw: true, Limit: 20})
			return err
		})
		if err != nil {
			return sent, failed, fmt.Errorf("outbox: %w", err)
		}
		if len(due) == 0 {
			return sent, failed, nil
		}
		progress := false
		for _, m := range due {
			if err := ctx.Err(); err != nil {
				return sent, failed, errors.Join(err, flush())
			}
			if len(m.Raw) == 0 {
				// Nothing left to send (bytes lost or purged): say so.
				if err := flush(); err != nil {
					return sent, failed, err
				}
				last = &outcome{m: m, err: errBytesMissing}
				progress = true
				continue
			}
			err := c.Store.Update(ctx, func(tx *store.Tx) error {
				if err := settle(tx); err != nil {
					return err
				}
				return tx.MarkSending(m.ID)
			})
			if err != nil {
				return sent, failed, errors.Join(fmt.Errorf("outbox: %w", err), flush())
			}
			account()
			last = &outcome{m: m, err: c.Mailer.Send(ctx, m.From, m.To, m.Raw)}
			if last.verdict(maxAttempts) != verdictRetry {
				progress = true
				continue
			}
			if errors.Is(last.err, context.Canceled) {
				return sent, failed, errors.Join(ctx.Err(), flush())
			}
			if serverDown(last.err) {
				// The server, not the mail: the others wait for the next
				// round rather than each try and fail.
				return sent, failed, flush()
			}
		}
		if err := flush(); err != nil {
			return sent, failed, err
		}
		if !progress {
			return sent, failed, nil
		}
	}
}

// errBytesMissing is the outcome of a mail whose bytes are gone (lost or
// purged): nothing can be sent.
var errBytesMissing = errors.New("message bytes missing")

// outcome is what became of one attempt to send a mail.
type outcome struct {
	m   store.OutgoingMail
	err error // nil: sent
}

type verdict int

const (
	verdictSent verdict = iota
	verdictRetry
	verdictFailed
)

func (o *outcome) verdict(maxAttempts int) verdict {
	switch {
	case o.err == nil:
		return verdictSent
	case errors.Is(o.err, errBytesMissing):
		return verdictFailed
	case Temporary(o.err) && o.m.Attempts+1 < maxAttempts:
		return verdictRetry
	}
	return verdictFailed
}

// record commits the outcome.
func (o *outcome) record(tx *store.Tx, maxAttempts int) error {
	switch o.verdict(maxAttempts) {
	case verdictSent:
		return tx.MarkSent(o.m.ID)
	case verdictRetry:
		return tx.MarkRetry(o.m.ID, tx.Now().Add(retryDelay(o.m.Attempts+1)), oneLine(o.err.Error()))
	}
	return tx.MarkFailed(o.m.ID, oneLine(o.err.Error()))
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

// interruptedAfter is how long after its start an attempt still marked
// as being sent is taken for one a crash cut short: well past the SMTP
// timeout.
const interruptedAfter = 10 * DefaultTimeout

// retryDelay grows from one minute to about four hours, with jitter.
func retryDelay(attempt int) time.Duration {
	d := time.Minute << min(attempt-1, 8)
	return d/2 + rand.N(d/2+1)
}
