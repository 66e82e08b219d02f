package sweep

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/recoverybot/recoverybot/intake"
	"github.com/recoverybot/recoverybot/mailbox"
	"github.com/recoverybot/recoverybot/store"
)

// The names of the jobs RegisterMailbox adds.
const (
	JobPurge     = "purge"
	JobReconcile = "reconcile"
)

// MailboxJobs is what the jobs that reach into the mailbox need: the
// purge (which expunges from the server the messages of the cases it
// purged) and the reconcile.
type MailboxJobs struct {
	PurgeSpec     string        // [schedule] purge
	Retention     time.Duration // [policy] retention
	ReconcileSpec string        // [schedule] reconcile

	Store    *store.Store
	Pipeline *intake.Pipeline
	// Dial opens a connection to the mailbox; nil when the configuration
	// cannot reach it, NoMailbox saying why: the purge then leaves the
	// messages on the server queued for a run that can, and reconcile
	// fails.
	Dial      func(ctx context.Context) (*mailbox.Conn, error)
	NoMailbox error
}

// RegisterMailbox registers purge and reconcile.
//
// purge (SPEC §8) makes the documents and raw messages of the cases
// closed longer ago than Retention unrecoverable (store.Store.Purge),
// then expunges from the server the messages recoverybot had moved into
// its folders (intake.Pipeline.Expunge), those of this run and any an
// earlier run could not. It counts "cases", "documents", "messages",
// "untied" (raw copies of mail tied to no case dropped), "expunges"
// (messages queued for expunging) and "expunged".
//
// reconcile compares the mailbox with the ledger
// (intake.Pipeline.Reconcile) and counts what it found.
//
// Both take turns with the daemon's intake: the pipeline runs one of
// its passes at a time.
func RegisterMailbox(s *Scheduler, m MailboxJobs) error {
	purge := Job{Name: JobPurge, Spec: m.PurgeSpec, Run: func(ctx context.Context, now time.Time) (map[string]int, error) {
		pc, err := m.Store.Purge(ctx, now, m.Retention)
		counts := map[string]int{"cases": pc.Cases, "documents": pc.Documents, "messages": pc.Messages,
			"untied": pc.Untied, "expunges": pc.Expunges, "expunged": 0}
		if err != nil {
			return counts, err
		}
		var pending []store.Expunge
		if err := m.Store.View(ctx, func(tx *store.Tx) error {
			pending, err = tx.PendingExpunges(1)
			return err
		}); err != nil {
			return counts, err
		}
		if len(pending) == 0 {
			return counts, nil
		}
		if m.Dial == nil {
			return counts, fmt.Errorf("purged messages left on the server for a run that reaches the mailbox: %w", m.noMailbox())
		}
		err = withConn(ctx, m.Dial, func(conn *mailbox.Conn) error {
			n, err := m.Pipeline.Expunge(ctx, conn)
			counts["expunged"] = n
			return err
		})
		return counts, err
	}}
	reconcile := Job{Name: JobReconcile, Spec: m.ReconcileSpec, Run: func(ctx context.Context, _ time.Time) (map[string]int, error) {
		if m.Dial == nil {
			return nil, fmt.Errorf("reconcile: %w", m.noMailbox())
		}
		var r intake.ReconcileReport
		err := withConn(ctx, m.Dial, func(conn *mailbox.Conn) error {
			var err error
			r, err = m.Pipeline.Reconcile(ctx, conn)
			return err
		})
		return r.Counts(), err
	}}
	for _, j := range []Job{purge, reconcile} {
		if err := s.Register(j); err != nil {
			return err
		}
	}
	return nil
}

func (m MailboxJobs) noMailbox() error {
	if m.NoMailbox != nil {
		return m.NoMailbox
	}
	return errors.New("no mailbox configured")
}

// withConn runs f on a new connection to the mailbox, closed afterwards.
func withConn(ctx context.Context, dial func(context.Context) (*mailbox.Conn, error), f func(*mailbox.Conn) error) error {
	conn, err := dial(ctx)
	if err != nil {
		return fmt.Errorf("connect to the mailbox: %w", err)
	}
	defer conn.Close()
	return f(conn)
}
