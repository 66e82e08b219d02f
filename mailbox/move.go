package mailbox

import (
	"context"
	"fmt"
	"slices"

	"github.com/emersion/go-imap/v2"
)

// Placed says where Move put messages, as the server reported it in the
// COPYUID response code (RFC 4315 section 3, RFC 6851 section 4.3): the
// destination folder's UIDVALIDITY and, by UID in the source mailbox,
// each message's UID there. A server without UIDPLUS says nothing (zero,
// empty), and a message already gone has no entry.
type Placed struct {
	UIDValidity uint32
	UIDs        map[uint32]uint32
}

// add records one COPYUID answer: source and destination UIDs are listed
// in the same order. A folder renumbered between two commands makes the
// earlier answers stale: they are dropped.
func (p *Placed) add(validity uint32, src, dst imap.NumSet) {
	s, ok1 := src.(imap.UIDSet)
	d, ok2 := dst.(imap.UIDSet)
	if validity == 0 || !ok1 || !ok2 {
		return
	}
	from, ok1 := s.Nums()
	to, ok2 := d.Nums()
	if !ok1 || !ok2 || len(from) != len(to) {
		return
	}
	if p.UIDValidity != validity {
		p.UIDValidity, p.UIDs = validity, make(map[uint32]uint32, len(from))
	}
	for i := range from {
		p.UIDs[uint32(from[i])] = uint32(to[i])
	}
}

// Move moves messages of the selected mailbox to folder, a name returned by
// EnsureFolder, and says where they went. UIDs that no longer exist are
// ignored, so that a move interrupted by a crash can simply be redone.
//
// With MOVE (RFC 6851) the move is atomic. Otherwise it is UID COPY, UID
// STORE +FLAGS.SILENT (\Deleted), UID EXPUNGE (RFC 4315): a crash between
// COPY and EXPUNGE leaves the message in both places, and redoing the move
// copies it again. Without MOVE or UIDPLUS, Move returns ErrNoSafeMove.
func (c *Conn) Move(ctx context.Context, uids []uint32, folder string) (Placed, error) {
	var placed Placed
	if len(uids) == 0 {
		return placed, nil
	}
	useMove := c.CanMove()
	if !useMove && !c.caps.Has(imap.CapUIDPlus) {
		return placed, fmt.Errorf("move to %q: %w", folder, ErrNoSafeMove)
	}
	sorted := slices.Compact(slices.Sorted(slices.Values(uids)))
	for chunk := range slices.Chunk(sorted, fetchChunk) {
		var set imap.UIDSet
		for _, u := range chunk {
			set.AddNum(imap.UID(u))
		}
		err := c.do(ctx, fmt.Sprintf("move UIDs %s to %q", describe(set), folder), func(w *watchdog) error {
			if useMove {
				data, err := c.client.Move(set, folder).Wait()
				if err == nil {
					placed.add(data.UIDValidity, data.SourceUIDs, data.DestUIDs)
				}
				return err
			}
			data, err := c.client.Copy(set, folder).Wait()
			if err != nil {
				return fmt.Errorf("copy: %w", err)
			}
			placed.add(data.UIDValidity, data.SourceUIDs, data.DestUIDs)
			w.kick()
			store := c.client.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil)
			if err := store.Close(); err != nil {
				return fmt.Errorf("store \\Deleted: %w", err)
			}
			w.kick()
			if err := c.client.UIDExpunge(set).Close(); err != nil {
				return fmt.Errorf("uid expunge: %w", err)
			}
			return nil
		})
		if err != nil {
			return placed, err
		}
	}
	return placed, nil
}
