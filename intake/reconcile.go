package intake

import (
	"context"
	"fmt"

	"github.com/recoverybot/recoverybot/mailbox"
	"github.com/recoverybot/recoverybot/store"
)

// ReconcileReport says what Reconcile found and did.
type ReconcileReport struct {
	// Missed counts the messages at or below the ledger's position that
	// it had no row for, taken through the pipeline now.
	Missed int
	// Vanished counts the ledger's messages found gone from the mailbox
	// this time although recoverybot did not move them (someone deleted
	// or moved them). Their rows stay, marked, and are not counted again.
	Vanished int
	// ValidityChanged: the mailbox was renumbered since the last run
	// (every message is then checked again, as Drain does).
	ValidityChanged bool
	// MovesRedone counts the moves left undone by an earlier run.
	MovesRedone int
	// Stats is what processing did, of missed messages and new mail alike.
	Stats Stats
}

// Counts is the report as a sweep run records it.
func (r ReconcileReport) Counts() map[string]int {
	changed := 0
	if r.ValidityChanged {
		changed = 1
	}
	return map[string]int{"missed": r.Missed, "vanished": r.Vanished, "validity_changed": changed,
		"moves_redone": r.MovesRedone, "fetched": r.Stats.Fetched, "processed": r.Stats.Processed,
		"review": r.Stats.Review, "ignored": r.Stats.Ignored, "duplicates": r.Stats.Duplicates, "moved": r.Stats.Moved}
}

// Reconcile compares the mailbox with the ledger. It first does what
// Drain does (a changed UIDVALIDITY handled, the moves left undone
// redone, new mail taken); then it lists every UID of the mailbox (UID
// SEARCH ALL) and takes through the pipeline the messages at or below
// the ledger's position that have no ledger row (mail Drain went past:
// a server that showed it late, a ledger that lost rows), and marks
// vanished the ledger's messages that are neither in the mailbox nor
// moved by recoverybot. It is idempotent: a second run finds nothing
// new. It takes turns with the other passes of the Pipeline (Drain,
// Lookback, Expunge); another process must not drain the mailbox beside it.
func (p *Pipeline) Reconcile(ctx context.Context, conn *mailbox.Conn) (ReconcileReport, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var r ReconcileReport
	at, err := p.begin(ctx, conn, &r.Stats)
	r.ValidityChanged, r.MovesRedone = at.changed, at.redone
	if err != nil {
		return r, err
	}
	list, err := conn.Since(ctx, at.last)
	if err != nil {
		return r, err
	}
	if err := p.take(ctx, conn, at, list, &r.Stats); err != nil {
		return r, err
	}

	// The mailbox's UIDs first, then the ledger: mail arriving between
	// the two is above the position, for the next Drain.
	uids, err := conn.UIDs(ctx)
	if err != nil {
		return r, err
	}
	var last uint32
	var places []store.Place
	err = p.store.View(ctx, func(tx *store.Tx) error {
		var err error
		if _, last, _, err = tx.MailboxState(p.opts.Mailbox); err != nil {
			return err
		}
		places, err = tx.Places(p.opts.Mailbox, at.validity)
		return err
	})
	if err != nil {
		return r, fmt.Errorf("reconcile: %w", err)
	}
	missed, vanished := compare(uids, last, places)

	if len(vanished) > 0 {
		if err := p.store.Update(ctx, func(tx *store.Tx) error { return tx.MarkVanished(vanished) }); err != nil {
			return r, fmt.Errorf("reconcile: %w", err)
		}
		r.Vanished = len(vanished)
		p.log.Warn("messages gone from the mailbox that recoverybot did not move", "mailbox", p.opts.Mailbox,
			"count", len(vanished), "first", vanished[0])
	}
	if len(missed) == 0 {
		return r, nil
	}
	list, err = conn.Summaries(ctx, missed)
	if err != nil {
		return r, err
	}
	r.Missed = len(list)
	if len(list) > 0 {
		p.log.Warn("messages missed by earlier runs, taken now", "mailbox", p.opts.Mailbox, "count", len(list), "first_uid", list[0].UID)
	}
	err = p.take(ctx, conn, at, list, &r.Stats)
	return r, err
}

// compare returns the UIDs of the mailbox (sorted) at or below last that
// the ledger has no row for, and the ledger rows expected in the mailbox
// whose UID it lacks.
func compare(uids []uint32, last uint32, places []store.Place) (missed []uint32, vanished []int64) {
	i := 0 // into uids
	for _, pl := range places {
		for i < len(uids) && uids[i] < pl.UID {
			if uids[i] <= last {
				missed = append(missed, uids[i])
			}
			i++
		}
		if i < len(uids) && uids[i] == pl.UID {
			i++
			continue
		}
		if !pl.Away {
			vanished = append(vanished, pl.ID)
		}
	}
	for ; i < len(uids) && uids[i] <= last; i++ {
		missed = append(missed, uids[i])
	}
	return missed, vanished
}
