package intake

import (
	"context"
	"fmt"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/mailbox"
	"github.com/recoverybot/recoverybot/store"
)

// Lookback takes the mail that came before its case (SPEC §5): the
// messages desk.Open queued when it opened a case (store.QueueLookbacks)
// are fetched again by UID from the mailbox, in UID order, and each is
// decided anew for its ledger row by the steps Drain takes a message
// through: spooled, recorded (its row pointed at the new copy), checked,
// parsed, decided and committed, its lookback done in the transaction of
// its decision, then moved. A message that is no longer as recoverybot
// left it (renumbered by a UIDVALIDITY change, gone from the mailbox,
// moved or tied to a case since) is only marked done. Lookback returns on
// the first error of the connection or the store; what was committed
// stays committed, and the next Lookback goes on from there (its moves:
// the next Drain).
func (p *Pipeline) Lookback(ctx context.Context, conn *mailbox.Conn) (Stats, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var stats Stats
	var queue []store.Entry
	if err := p.store.View(ctx, func(tx *store.Tx) error {
		var err error
		queue, err = tx.PendingLookbacks()
		return err
	}); err != nil {
		return stats, err
	}
	if len(queue) == 0 {
		return stats, nil
	}
	status, err := conn.Select(ctx, p.opts.Mailbox)
	if err != nil {
		return stats, err
	}
	var f folders
	if f.processed, err = conn.EnsureFolder(ctx, p.opts.ProcessedFolder); err != nil {
		return stats, err
	}
	if f.review, err = conn.EnsureFolder(ctx, p.opts.ReviewFolder); err != nil {
		return stats, err
	}
	validity := status.UIDValidity
	var take []store.Entry
	var stale []int64
	for _, e := range queue {
		if p.leftAlone(e, validity) {
			take = append(take, e)
		} else {
			stale = append(stale, e.ID)
		}
	}
	if len(stale) > 0 {
		if err := p.store.Update(ctx, func(tx *store.Tx) error {
			for _, id := range stale {
				if err := tx.FinishLookbacks(id); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return stats, err
		}
		p.log.Info("earlier mail left as it is: renumbered or decided since it was queued", "mailbox", p.opts.Mailbox, "count", len(stale))
	}
	// As in Drain, a batch taken in hand is finished even when ctx is
	// cancelled.
	work := context.WithoutCancel(ctx)
	for len(take) > 0 && ctx.Err() == nil {
		b := &batch{}
		queued := map[uint32]store.Entry{}
		if take[0].Size > p.opts.MaxMessageSize {
			b.over = &mailbox.Summary{UID: take[0].UID, Size: take[0].Size}
			queued[take[0].UID] = take[0]
			take = take[1:]
		} else {
			i := 0
			for ; i < len(take) && take[i].Size <= p.opts.MaxMessageSize; i++ {
				if len(b.uids) > 0 && (b.size+take[i].Size > p.opts.BatchBytes || len(b.uids) >= maxBatch) {
					break
				}
				b.uids = append(b.uids, take[i].UID)
				b.size += take[i].Size
				queued[take[i].UID] = take[i]
			}
			take = take[i:]
		}
		if err := p.fetch(work, conn, b); err != nil {
			return stats, err
		}
		moves, err := p.again(work, validity, b, queued, &stats)
		if err != nil {
			return stats, err
		}
		n, err := p.moveAll(work, conn, f, moves)
		stats.Moved += n
		if err != nil {
			return stats, err
		}
	}
	return stats, ctx.Err()
}

// leftAlone reports whether a ledger message is as recoverybot left it
// when it was tied to no case, under the mailbox's UIDVALIDITY validity:
// what a lookback may take.
func (p *Pipeline) leftAlone(e store.Entry, validity uint32) bool {
	return e.Mailbox == p.opts.Mailbox && e.UIDValidity == validity && e.Status == store.LedgerIgnored &&
		e.CaseID == 0 && e.MoveTo == "" && e.MovedAt == nil
}

// tieCopies records the copies of an earlier message, met while it was
// tied to no case (a duplicate delivery), as duplicates of it now that a
// look-back tied it to a case, and returns their moves to where it goes
// (SPEC §5: a duplicate is moved with its first copy).
func (p *Pipeline) tieCopies(tx *store.Tx, firstID int64, validity uint32) ([]move, error) {
	first, err := tx.Entry(firstID)
	if err != nil || first.CaseID == 0 || first.MoveTo == "" {
		return nil, err
	}
	copies, err := tx.UntiedCopies(firstID)
	if err != nil {
		return nil, err
	}
	var moves []move
	for _, c := range copies {
		if c.Mailbox != p.opts.Mailbox || c.UIDValidity != validity {
			continue // its UID means nothing now
		}
		if err := tx.Decide(c.ID, store.Decided{Status: store.LedgerDuplicate, Reason: fmt.Sprintf("same message as #%d", first.ID),
			CaseID: first.CaseID, DuplicateOf: first.ID, MoveTo: first.MoveTo, MoveOwner: p.id, ParserVersion: first.ParserVersion,
			Sender: c.Sender, Date: c.Date}); err != nil {
			return nil, err
		}
		if err := tx.Audit(first.CaseID, recoverybot.SystemActor, "duplicate_message", map[string]string{
			"message": fmt.Sprint(c.ID), "first": fmt.Sprint(first.ID)}); err != nil {
			return nil, err
		}
		moves = append(moves, move{id: c.ID, uid: c.UID, to: first.MoveTo})
	}
	return moves, nil
}

// again takes a fetched batch of queued messages (queued: their ledger
// rows, by UID) through the pipeline, up to the moves. It is the
// lookback's stage: its first step points each row that is still as it
// was left at the message's new copy in the spool, where Drain's records
// a new row; a message the server no longer has, or that was decided
// otherwise meanwhile, is done there and then.
func (p *Pipeline) again(ctx context.Context, validity uint32, b *batch, queued map[uint32]store.Entry, stats *Stats) ([]move, error) {
	if err := p.spool(ctx, b); err != nil {
		return nil, err
	}
	uids := b.uids
	if b.over != nil {
		uids = []uint32{b.over.UID}
	}
	var items []*pending
	unused := map[uint32]spooled{}
	err := p.store.Update(ctx, func(tx *store.Tx) error {
		items = items[:0]
		clear(unused)
		for _, uid := range uids {
			cur, err := tx.Entry(queued[uid].ID)
			if err != nil {
				return err
			}
			s, fetched := b.spooled[uid]
			if b.over != nil {
				fetched = b.header != nil
			}
			if !fetched || !p.leftAlone(cur, validity) {
				if fetched && b.over == nil {
					unused[uid] = s
				}
				if err := tx.FinishLookbacks(cur.ID); err != nil {
					return err
				}
				continue
			}
			if b.over == nil {
				if err := tx.Respool(cur.ID, s.ref); err != nil {
					return fmt.Errorf("record UID %d: %w", uid, err)
				}
			}
			it := newPending(cur, b.raws[uid])
			it.again = true
			items = append(items, it)
		}
		return nil
	})
	if err != nil {
		p.unspool(ctx, b.spooled)
		return nil, err
	}
	p.unspool(ctx, unused)
	stats.Fetched += len(items)
	p.fetched(len(items))
	if b.over != nil {
		if len(items) == 0 {
			return nil, nil
		}
		items[0].raw = b.header
		p.headerOnly(ctx, items[0], b.over.Size)
		return p.commitBatch(ctx, validity, items, stats)
	}
	return p.process(ctx, validity, items, stats)
}
