package mailbox

import (
	"context"
	"fmt"
	"slices"

	"github.com/emersion/go-imap/v2"
)

// Move moves messages of the selected mailbox to folder, a name returned by
// EnsureFolder. UIDs that no longer exist are ignored, so that a move
// interrupted by a crash can simply be redone.
//
// With MOVE (RFC 6851) the move is atomic. Otherwise it is UID COPY, UID
// STORE +FLAGS.SILENT (\Deleted), UID EXPUNGE (RFC 4315): a crash between
// COPY and EXPUNGE leaves the message in both places, and redoing the move
// copies it again. Without MOVE or UIDPLUS, Move returns ErrNoSafeMove.
func (c *Conn) Move(ctx context.Context, uids []uint32, folder string) error {
	if len(uids) == 0 {
		return nil
	}
	useMove := c.CanMove()
	if !useMove && !c.caps.Has(imap.CapUIDPlus) {
		return fmt.Errorf("move to %q: %w", folder, ErrNoSafeMove)
	}
	sorted := slices.Compact(slices.Sorted(slices.Values(uids)))
	for chunk := range slices.Chunk(sorted, fetchChunk) {
		var set imap.UIDSet
		for _, u := range chunk {
			set.AddNum(imap.UID(u))
		}
		err := c.do(ctx, fmt.Sprintf("move UIDs %s to %q", describe(set), folder), func(w *watchdog) error {
			if useMove {
				_, err := c.client.Move(set, folder).Wait()
				return err
			}
			if _, err := c.client.Copy(set, folder).Wait(); err != nil {
				return fmt.Errorf("copy: %w", err)
			}
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
			return err
		}
	}
	return nil
}
