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
	return fmt.Sprintf("look:%s:%d", trimMessageID(messageID), bodySize)
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

// passing is a message passed over, in its batch.
type passing struct {
	uid uint32
	*looked
}

// passOne decides, in tx, a message passed over by its look, recorded
// with no copy of it: a message met again (a second delivery, a new
// UIDVALIDITY) is a duplicate of its first copy; any other is ignored,
// left where it is. gen is the cases' generation now: when it is not the
// one the look saw, a case opened since may concern the message, which
// cannot be decided without its body: it is queued for that case's
// look-back, which downloads it.
func (p *Pipeline) passOne(tx *store.Tx, it *pending, gen int64) (Report, *move, error) {
	l := it.passed
	if first, err := tx.FirstCopy(it.entry.ContentKey, it.entry.ID); err == nil {
		mv, err := p.duplicate(tx, it.entry, first, l.msg)
		return Report{UID: it.entry.UID, Status: store.LedgerDuplicate}, mv, err
	} else if !errors.Is(err, store.ErrNotFound) {
		return Report{}, nil, err
	}
	if gen != l.gen {
		in, err := p.gather(tx, l.msg)
		if err != nil {
			return Report{}, nil, err
		}
		for _, cf := range in.Candidates {
			if err := tx.QueueLookback(cf.Case.ID, it.entry.ID); err != nil {
				return Report{}, nil, err
			}
		}
	}
	rep, mv, err := p.commit(tx, it.entry, l.msg, p.rule(rules.Input{Message: l.msg, Now: tx.Now(), Policy: p.opts.Policy}))
	if err == nil && mv != nil {
		err = fmt.Errorf("a message passed over cannot be moved (%s)", rep.Reason)
	}
	return rep, nil, err
}

// trimMessageID bounds a Message-ID to what the ledger keeps.
func trimMessageID(id string) string {
	if len(id) > store.MaxMessageIDLen {
		return id[:store.MaxMessageIDLen]
	}
	return id
}
