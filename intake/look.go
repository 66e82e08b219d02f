package intake

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/recoverybot/recoverybot/mailbox"
	"github.com/recoverybot/recoverybot/parser"
	"github.com/recoverybot/recoverybot/rules"
	"github.com/recoverybot/recoverybot/store"
)

// Looking before downloading. Most of a shared contact mailbox is
// ordinary support mail that recoverybot leaves alone, often with large
// attachments. Before a run of new messages is downloaded, the server is
// asked for what decides whether each can concern a case: its header, its
// MIME outline and the first bytes of its texts and of the headers of the
// messages it forwards (mailbox.Conn.Glimpse, BODY.PEEK, never \Seen).
// parser.Look reads the case references, the sender, the threading
// headers and the automatic signals there, and gather looks them up: a
// message that is sure to concern no case is passed over, recorded in the
// ledger from what was fetched and never downloaded; every other message
// (tied to a case, or that could not be judged this way: an outline the
// server could not give, a delivery report) is downloaded whole and taken
// through the pipeline.

const (
	// lookChunk is how many messages are looked at together.
	lookChunk = 64
	// lookTextBound is how much of each text part a look fetches.
	lookTextBound = 16 << 10
)

// looked is what a look said of one message.
type looked struct {
	// passed: sure to concern no case, at generation gen of the cases
	// (store.Tx.Generation); msg is what parser.Look read.
	passed bool
	msg    *parser.Message
	gen    int64
	size   int64
	// key is the content key of a message passed over (contentKey's
	// counterpart without the body: its Message-ID and the body's size).
	key string
	// delivered is the message's INTERNALDATE (zero: not known).
	delivered time.Time
}

// look looks at the next messages of list (up to lookChunk, stopping
// before one too large to download) that it has not looked at yet, and
// adds what it saw to seen. Every message asked for gets an entry: one
// the server did not describe, or that is gone, is to be downloaded. It
// returns an error only when the connection or the store fails.
func (p *Pipeline) look(ctx context.Context, conn *mailbox.Conn, list []mailbox.Summary, seen map[uint32]*looked) error {
	var uids []uint32
	for _, s := range list {
		if len(uids) == lookChunk || s.Size > p.opts.MaxMessageSize {
			break
		}
		if _, ok := seen[s.UID]; !ok {
			uids = append(uids, s.UID)
			seen[s.UID] = &looked{size: s.Size, delivered: s.InternalDate}
		}
	}
	if len(uids) == 0 {
		return nil
	}
	var sure []*looked
	err := conn.Glimpse(ctx, uids, lookTextBound, func(s mailbox.Summary, g parser.Glimpse) error {
		l := seen[s.UID]
		if l == nil {
			return nil
		}
		if m, ok := p.lookAt(g); ok {
			l.msg = m
			l.key = lookKey(m.MessageID, s.Size-int64(len(g.Header)))
			sure = append(sure, l)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(sure) == 0 {
		return nil
	}
	err = p.store.View(ctx, func(tx *store.Tx) error {
		gen, err := tx.Generation()
		if err != nil {
			return err
		}
		for _, l := range sure {
			in, err := p.gather(tx, l.msg)
			if err != nil {
				return err
			}
			l.passed, l.gen = len(in.Candidates) == 0, gen
		}
		return nil
	})
	if err != nil {
		// Nothing passed over: the messages are downloaded and judged whole.
		p.log.Warn("look at the cases failed: the messages are downloaded", "error", err)
		for _, l := range sure {
			l.passed = false
		}
	}
	return nil
}

// lookKey identifies a message passed over, met again: its Message-ID
// with the size of its body (a second delivery differs only in trace
// headers, and a UIDVALIDITY change in nothing); "" without a
// Message-ID, which no copy can then be recognised by.
func lookKey(messageID string, bodySize int64) string {
	if messageID == "" {
		return ""
	}
	if len(messageID) > store.MaxMessageIDLen {
		messageID = messageID[:store.MaxMessageIDLen]
	}
	return fmt.Sprintf("look:%s:%d", messageID, bodySize)
}

// lookAt is parser.Look under a panic guard: a glimpse it cannot read
// means the message is downloaded.
func (p *Pipeline) lookAt(g parser.Glimpse) (m *parser.Message, sure bool) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("look panic", "error", fmt.Sprint(r), "stack", string(debug.Stack()))
			m, sure = nil, false
		}
	}()
	return parser.Look(g)
}

// passing is a message passed over, on its way to the ledger.
type passing struct {
	uid uint32
	*looked
}

// passOver records the messages of a batch passed over, in one
// transaction with the mailbox position: each is recorded from what its
// look saw (UID, Message-ID, sender, date, size) and decided ignored, with
// no copy of it kept. A message recorded before a crash keeps its row,
// and is decided now if it was not. A case opened since the look that
// could concern a message (the generation changed and the cases now
// match) gets the message queued for its look-back, which downloads it
// and decides it for the case.
func (p *Pipeline) passOver(ctx context.Context, validity uint32, items []passing, stats *Stats) ([]move, error) {
	var reports []Report
	var moves []move
	err := p.store.Update(ctx, func(tx *store.Tx) error {
		reports, moves = reports[:0], moves[:0]
		gen := int64(-1)
		for _, it := range items {
			mid := it.msg.MessageID
			if len(mid) > store.MaxMessageIDLen {
				mid = mid[:store.MaxMessageIDLen]
			}
			entry, _, err := p.recordOne(tx, store.Entry{Mailbox: p.opts.Mailbox, UIDValidity: validity, UID: it.uid,
				MessageID: mid, ContentKey: it.key, Size: it.size}, nil)
			if err != nil {
				return fmt.Errorf("record UID %d: %w", it.uid, err)
			}
			if entry.Status != store.LedgerReceived {
				continue // decided before a crash
			}
			if first, err := tx.FirstCopy(it.key, entry.ID); err == nil {
				// Met again (a second delivery, a new UIDVALIDITY).
				mv, err := p.duplicate(tx, entry, first, it.msg)
				if err != nil {
					return fmt.Errorf("UID %d: %w", it.uid, err)
				}
				if mv != nil {
					moves = append(moves, *mv)
				}
				reports = append(reports, Report{UID: it.uid, Status: store.LedgerDuplicate, Delivered: it.delivered, Decided: tx.Now()})
				continue
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if gen < 0 {
				if gen, err = tx.Generation(); err != nil {
					return err
				}
			}
			if gen != it.gen {
				in, err := p.gather(tx, it.msg)
				if err != nil {
					return fmt.Errorf("UID %d: %w", it.uid, err)
				}
				for _, cf := range in.Candidates {
					if err := tx.QueueLookback(cf.Case.ID, entry.ID); err != nil {
						return err
					}
				}
			}
			d := p.decide(rules.Input{Message: it.msg, Now: tx.Now(), Policy: p.opts.Policy})
			rep, mv, err := p.apply(tx, entry, it.msg, d)
			if err != nil {
				return fmt.Errorf("UID %d: %w", it.uid, err)
			}
			if mv != nil {
				return fmt.Errorf("UID %d: a message passed over cannot be moved", it.uid)
			}
			rep.Delivered, rep.Decided = it.delivered, tx.Now()
			if rep.Delivered.IsZero() {
				rep.Delivered = it.msg.Date
			}
			reports = append(reports, rep)
		}
		return tx.SetMailboxState(p.opts.Mailbox, validity, items[len(items)-1].uid)
	})
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	p.account(reports, stats)
	return moves, nil
}
