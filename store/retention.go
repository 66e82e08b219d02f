package store

import (
	"context"
	"fmt"
)

// DropUntied deletes the raw copies of the decided messages tied to no
// case that are still kept: those recorded before Decide stopped keeping
// them, and any a crash left between a decision and the spool's delete.
// It returns how many raw copies it dropped. It is idempotent; the purge
// runs it first.
func (s *Store) DropUntied(ctx context.Context) (int, error) {
	n := 0
	err := s.Update(ctx, func(tx *Tx) error {
		n = 0
		rows, err := tx.tx.Query(`SELECT raw_id, blob_id FROM messages
			WHERE case_id IS NULL AND status IN (?, ?) AND (raw_id IS NOT NULL OR blob_id IS NOT NULL)`,
			string(LedgerIgnored), string(LedgerDuplicate))
		if err != nil {
			return err
		}
		var blobs []int64
		for rows.Next() {
			var raw, blob *int64
			if err := rows.Scan(&raw, &blob); err != nil {
				rows.Close()
				return err
			}
			if raw != nil {
				tx.unspool = append(tx.unspool, *raw)
			}
			if blob != nil {
				blobs = append(blobs, *blob)
			}
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if _, err := tx.tx.Exec(`UPDATE messages SET raw_id = NULL, blob_id = NULL
			WHERE case_id IS NULL AND status IN (?, ?) AND (raw_id IS NOT NULL OR blob_id IS NOT NULL)`,
			string(LedgerIgnored), string(LedgerDuplicate)); err != nil {
			return err
		}
		for _, id := range blobs {
			if err := tx.dropBlob(id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("drop raw copies of mail tied to no case: %w", err)
	}
	// The spool rows a crash left after a decision, before their
	// delete, no ledger row points at: SweepSpool deletes those (it
	// spares the newest, which a running intake may be recording).
	return n, nil
}
