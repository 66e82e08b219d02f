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
	// belongs to a process that died.
	err = c.Store.Update(ctx, func(tx *store.Tx) error {
		n, err := tx.MarkInterrupted(tx.Now().Add(-interruptedAfter))
		if n > 0 {
			log.Warn("mail interrupted by a crash marked failed", "count", n)
			failed += int(n)
		}
		return err
	})
	if err != nil {
		return sent, failed, fmt.Errorf("outbox: %w", err)
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
				return sent, failed, err
			}
			if len(m.Raw) == 0 {
				// Nothing left to send (bytes lost or purged): say so.
				if err := c.Store.Update(ctx, func(tx *store.Tx) error { return tx.MarkFailed(m.ID, "message bytes missing") }); err != nil {
					return sent, failed, err
				}
				failed++
				continue
			}
			if err := c.Store.Update(ctx, func(tx *store.Tx) error { return tx.MarkSending(m.ID) }); err != nil {
				return sent, failed, err
			}
			serr := c.Mailer.Send(ctx, m.From, m.To, m.Raw)
			err := c.Store.Update(context.WithoutCancel(ctx), func(tx *store.Tx) error {
				switch {
				case serr == nil:
					return tx.MarkSent(m.ID)
				case Temporary(serr) && m.Attempts+1 < maxAttempts:
					return tx.MarkRetry(m.ID, tx.Now().Add(retryDelay(m.Attempts+1)), oneLine(serr.Error()))
				default:
					return tx.MarkFailed(m.ID, oneLine(serr.Error()))
				}
			})
			if err != nil {
				return sent, failed, err
			}
			switch {
			case serr == nil:
				sent++
				progress = true
				log.Info("mail sent", "mail", m.ID, "template", m.Template)
			case Temporary(serr) && m.Attempts+1 < maxAttempts:
				log.Warn("mail deferred", "mail", m.ID, "template", m.Template, "error", serr)
				if errors.Is(serr, context.Canceled) {
					return sent, failed, ctx.Err()
				}
			default:
				failed++
				progress = true
				log.Error("mail failed", "mail", m.ID, "template", m.Template, "error", serr)
			}
		}
		if !progress {
			return sent, failed, nil
		}
	}
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
