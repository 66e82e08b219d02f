package intake

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/recoverybot/recoverybot/mailbox"
)

// Watcher keeps a Pipeline fed: it connects, drains the mailbox, waits for
// new mail with IDLE (or polls), and reconnects with backoff and jitter
// when the connection breaks. It runs until its context ends, finishing
// the message in hand first.
type Watcher struct {
	Pipeline *Pipeline
	// Dial opens an authenticated connection.
	Dial func(ctx context.Context) (*mailbox.Conn, error)
	// IdleTimeout is the longest IDLE before the mailbox is checked
	// anyway (a full reconcile); PollInterval paces servers without IDLE.
	IdleTimeout, PollInterval time.Duration
	// BeforeDrain, when set, runs on the connection before each drain
	// (taking the mail that came before its case).
	BeforeDrain func(ctx context.Context, conn *mailbox.Conn)
	// AfterDrain runs after each drain (sending the outbox).
	AfterDrain func(ctx context.Context)
	// OnState, when set, is told whether the mailbox is connected and
	// drained (readiness).
	OnState func(connected bool, err error)
	Logger  *slog.Logger
	// Backoff paces reconnections; the zero value is 1 s to 5 min.
	Backoff mailbox.Backoff
}

// Run watches until ctx ends; it returns nil then.
func (w *Watcher) Run(ctx context.Context) error {
	log := w.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		conn, err := w.Dial(ctx)
		if err == nil {
			err = w.session(ctx, conn, log)
			conn.Close()
		}
		if ctx.Err() != nil {
			return nil
		}
		w.state(false, err)
		delay := w.Backoff.Next()
		log.Warn("mailbox connection lost; reconnecting", "error", err, "in", delay.Round(time.Millisecond))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

func (w *Watcher) state(ok bool, err error) {
	if w.OnState != nil {
		w.OnState(ok, err)
	}
}

func (w *Watcher) session(ctx context.Context, conn *mailbox.Conn, log *slog.Logger) error {
	for {
		if w.BeforeDrain != nil {
			w.BeforeDrain(ctx, conn)
		}
		stats, err := w.Pipeline.Drain(ctx, conn)
		if err != nil {
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return nil
			}
			return err
		}
		w.Backoff.Reset()
		w.state(true, nil)
		if stats.Fetched > 0 || stats.Moved > 0 {
			log.Info("mailbox drained", "fetched", stats.Fetched, "processed", stats.Processed, "review", stats.Review,
				"ignored", stats.Ignored, "duplicates", stats.Duplicates, "moved", stats.Moved)
		}
		if w.AfterDrain != nil {
			w.AfterDrain(ctx)
		}
		if err := conn.Wait(ctx, w.IdleTimeout, w.PollInterval); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}
