package mailbox

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/emersion/go-imap/v2"
)

// Target is a message for Expunge to remove: by its UID when the folder
// still has the UIDVALIDITY the UID was recorded under, else by its
// Message-ID.
type Target struct {
	UID       uint32 // zero: unknown
	MessageID string // without angle brackets; "": none
	// Size is the message's RFC822.SIZE: a message found by its
	// Message-ID (which its sender chose, and another message may
	// carry) is ours only if its size is this too. Zero: it is not
	// found by its Message-ID.
	Size int64
}

// Expunged says what Expunge did.
type Expunged struct {
	// Removed counts the messages expunged now: those already gone are
	// not counted, and a Message-ID found twice (a second delivery)
	// counts twice.
	Removed int
	// Unfindable lists, by index, the targets Expunge could not look
	// for: their UID means nothing in the folder (unknown, or the folder
	// was renumbered) and they have no Message-ID. Every other target is
	// gone from the folder.
	Unfindable []int
}

// Expunge permanently removes messages from folder (a server name, as
// EnsureFolder returns): the copies recoverybot moved there of a purged
// case's mail. validity is the folder's UIDVALIDITY the targets' UIDs
// were recorded under. The messages are flagged with UID STORE
// +FLAGS.SILENT (\Deleted) and removed with UID EXPUNGE (RFC 4315 section
// 2.1), which expunges those and no others (on a server without MOVE, a
// target with a UID is also looked for by its Message-ID and size: the
// first copy a move interrupted between COPY and EXPUNGE left, before
// the move was redone); a plain EXPUNGE would also
// remove whatever people sharing the mailbox had marked \Deleted, so
// without UIDPLUS Expunge does nothing and returns ErrNoSafeExpunge. A
// folder that does not exist (any more) holds none of the targets: the
// error is then ErrNoFolder.
//
// Expunge selects folder, then selects again the mailbox that was
// selected before, if any, and leaves a new-mail notice so that the
// next Wait returns at once: mail that arrived meanwhile is not
// announced in another folder.
func (c *Conn) Expunge(ctx context.Context, folder string, validity uint32, targets []Target) (_ Expunged, err error) {
	var res Expunged
	if len(targets) == 0 {
		return res, nil
	}
	action := fmt.Sprintf("expunge from %q", folder)
	if !c.caps.Has(imap.CapUIDPlus) {
		return res, fmt.Errorf("%s: %w", action, ErrNoSafeExpunge)
	}
	if prev := c.mailbox; prev != "" && prev != folder {
		defer func() {
			_, serr := c.Select(ctx, prev)
			c.announce()
			if err == nil && serr != nil {
				err = fmt.Errorf("%s: back to %q: %w", action, prev, serr)
			}
		}()
	}
	st, err := c.Select(ctx, folder)
	if err != nil {
		if errors.As(err, new(*imap.Error)) {
			if _, found, lerr := c.list(ctx, folder); lerr == nil && !found {
				return res, fmt.Errorf("%s: %w", action, ErrNoFolder)
			}
		}
		return res, fmt.Errorf("%s: %w", action, err)
	}
	var uids []uint32
	ids := map[string][]int64{}
	// Without MOVE a move interrupted between COPY and EXPUNGE and then
	// redone leaves two copies in folder, and the UID recorded names the
	// second: the first is found by its Message-ID and size too.
	doubled := !c.CanMove()
	for i, t := range targets {
		switch {
		case t.UID != 0 && validity != 0 && st.UIDValidity == validity:
			// A UID is never given to another message under one
			// UIDVALIDITY (RFC 3501 section 2.3.1.1): it names ours.
			uids = append(uids, t.UID)
			if doubled && t.MessageID != "" && t.Size > 0 {
				ids[t.MessageID] = append(ids[t.MessageID], t.Size)
			}
		case t.MessageID != "" && t.Size > 0:
			ids[t.MessageID] = append(ids[t.MessageID], t.Size)
		default:
			res.Unfindable = append(res.Unfindable, i)
		}
	}
	found, err := c.withMessageIDs(ctx, ids)
	if err != nil {
		return res, fmt.Errorf("%s: %w", action, err)
	}
	uids = slices.Compact(slices.Sorted(slices.Values(append(uids, found...))))
	for chunk := range slices.Chunk(uids, fetchChunk) {
		var set imap.UIDSet
		for _, u := range chunk {
			set.AddNum(imap.UID(u))
		}
		err := c.do(ctx, fmt.Sprintf("%s UIDs %s", action, describe(set)), func(w *watchdog) error {
			store := c.client.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil)
			if err := store.Close(); err != nil {
				return fmt.Errorf("store \\Deleted: %w", err)
			}
			w.kick()
			seqs, err := c.client.UIDExpunge(set).Collect()
			res.Removed += len(seqs)
			if err != nil {
				return fmt.Errorf("uid expunge: %w", err)
			}
			return nil
		})
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// announce leaves a new-mail notice for Wait.
func (c *Conn) announce() {
	select {
	case c.newMail <- struct{}{}:
	default:
	}
}
