package intake

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/recoverybot/recoverybot/internal/fault"
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
		cause := fault.Of(err)
		level := slog.LevelWarn
		if storeCause(cause) {
			level = slog.LevelError
		}
		log.Log(ctx, level, stoppedMessage(cause), "cause", cause, "error", err, "retry_in", delay.Round(time.Millisecond))
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

// stoppedMessage is what the watcher says when fetching stops, by what
// broke: a full disk is never a lost connection.
func stoppedMessage(c fault.Cause) string {
	switch c {
	case fault.DiskFull:
		return "fetching stopped: the disk is full"
	case fault.ReadOnly:
		return "fetching stopped: the database or its file system is read-only"
	case fault.DatabaseCorrupt:
		return "fetching stopped: the database is corrupt"
	case fault.LoginRefused:
		return "fetching stopped: the mailbox refused the login"
	case fault.TokenFailed:
		return "fetching stopped: the OAuth token failed"
	case fault.Unreachable:
		return "fetching stopped: the mailbox server is unreachable"
	case fault.TLS:
		return "fetching stopped: TLS with the mailbox server failed"
	case fault.ConnectionLost:
		return "fetching stopped: the mailbox connection was lost"
	case fault.Timeout:
		return "fetching stopped: the mailbox server did not answer in time"
	case fault.Server:
		return "fetching stopped: the mailbox server refused a command"
	}
	return "fetching stopped"
}

// storeCause reports whether c is the data directory's trouble rather
// than the mailbox's.
func storeCause(c fault.Cause) bool {
	return c == fault.DiskFull || c == fault.ReadOnly || c == fault.DatabaseCorrupt
}
