package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/recoverybot/recoverybot"
)

// DropUntied deletes the raw copies of the decided messages tied to no
// case that are still kept: those recorded before Decide stopped keeping
// them, and any a crash left between a decision and the spool's delete;
// not the copy of a message a look-back is taking for a case (its raw
// copy, fetched again, waits for its new decision).
// It returns how many raw copies it dropped. It is idempotent; the purge
// runs it first.
func (s *Store) DropUntied(ctx context.Context) (int, error) {
	n := 0
	err := s.Update(ctx, func(tx *Tx) error {
		n = 0
		rows, err := tx.tx.Query(`SELECT raw_id, blob_id FROM messages
			WHERE case_id IS NULL AND status IN (?, ?) AND (raw_id IS NOT NULL OR blob_id IS NOT NULL)
			AND id NOT IN (SELECT message_id FROM lookbacks WHERE done_at IS NULL)`,
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
			WHERE case_id IS NULL AND status IN (?, ?) AND (raw_id IS NOT NULL OR blob_id IS NOT NULL)
			AND id NOT IN (SELECT message_id FROM lookbacks WHERE done_at IS NULL)`,
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

// PurgeCounts is what one purge deleted.
type PurgeCounts struct {
	Cases     int // cases purged
	Documents int // document blobs deleted
	Messages  int // raw messages of those cases deleted (sealed blobs and spool rows)
	Untied    int // raw copies of mail tied to no case dropped (DropUntied)
	// Expunges counts the messages of those cases that recoverybot moved
	// into its folders, queued for expunging from the server (see
	// Tx.PendingExpunges).
	Expunges int
}

// closedStates are the states of a closed case, whose documents the
// purge destroys once retention has passed.
var closedStates = []string{"approved", "rejected", "expired", "cancelled"}

// Purge makes the documents and raw messages of the cases closed at or
// before now-retention unrecoverable (SPEC §8): for each such case, in
// one transaction, its key is destroyed (its wrapped row deleted), its
// document blobs and the raw copies of its messages are deleted (with
// secure_delete on, the store's connections overwrite what they free),
// it is marked purged, the messages recoverybot moved into its folders
// are queued for expunging from the server (intake.Pipeline.Expunge does
// it), and an audit event case_purged records the counts.
// The metadata stays: documents' type, size, SHA-256 and findings, the
// ledger, the evidence, the decision. Then the write-ahead log is
// checkpointed and truncated, so no copy of a deleted page is left in
// it. Open cases are never touched; a purged case is not purged again,
// unless it got documents or messages since (mail about a closed case
// is recorded; a reopened case gets a new key).
// It runs DropUntied first.
func (s *Store) Purge(ctx context.Context, now time.Time, retention time.Duration) (PurgeCounts, error) {
	var counts PurgeCounts
	if retention < 0 {
		return counts, fmt.Errorf("purge: negative retention %s", retention)
	}
	n, err := s.DropUntied(ctx)
	if err != nil {
		return counts, fmt.Errorf("purge: %w", err)
	}
	counts.Untied = n
	cutoff := ts(now.Add(-retention))
	var due []int64
	err = s.View(ctx, func(tx *Tx) error {
		rows, err := tx.tx.Query(`SELECT id FROM cases WHERE (purged_at IS NULL OR id IN (SELECT case_id FROM case_keys) OR id IN (SELECT case_id FROM messages WHERE case_id IS NOT NULL AND (raw_id IS NOT NULL OR blob_id IS NOT NULL))) AND state IN (?, ?, ?, ?)
			AND COALESCE(decided_at, updated_at) <= ? ORDER BY id`,
			closedStates[0], closedStates[1], closedStates[2], closedStates[3], cutoff)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			due = append(due, id)
		}
		return rows.Err()
	})
	if err != nil {
		return counts, fmt.Errorf("purge: find closed cases: %w", err)
	}
	// A case that fails does not keep the others (each is its own
	// transaction) nor the checkpoint; the failures are told at the end.
	var failed []error
	for _, id := range due {
		docs, msgs, expunges, err := s.purgeCase(ctx, id, now, cutoff)
		if err != nil {
			failed = append(failed, fmt.Errorf("purge case %d: %w", id, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if docs >= 0 {
			counts.Cases++
			counts.Documents += docs
			counts.Messages += msgs
			counts.Expunges += expunges
		}
	}
	if _, err := s.w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		failed = append(failed, fmt.Errorf("purge: checkpoint: %w", err))
	}
	switch len(failed) {
	case 0:
		return counts, nil
	case 1:
		return counts, failed[0]
	}
	return counts, fmt.Errorf("%d failures, the first: %w", len(failed), failed[0])
}

// purgeCase purges one case, checking again inside the transaction that
// it is closed and due; docs is -1 when it was not (reopened meanwhile).
func (s *Store) purgeCase(ctx context.Context, caseID int64, now time.Time, cutoff string) (docs, msgs, expunges int, _ error) {
	err := s.Update(ctx, func(tx *Tx) error {
		docs, msgs, expunges = -1, 0, 0
		var due bool
		err := tx.tx.QueryRow(`SELECT (purged_at IS NULL OR id IN (SELECT case_id FROM case_keys) OR id IN (SELECT case_id FROM messages WHERE case_id IS NOT NULL AND (raw_id IS NOT NULL OR blob_id IS NOT NULL))) AND state IN (?, ?, ?, ?) AND COALESCE(decided_at, updated_at) <= ?
			FROM cases WHERE id = ?`, closedStates[0], closedStates[1], closedStates[2], closedStates[3], cutoff, caseID).Scan(&due)
		if err != nil || !due {
			return err
		}
		// The key first: from here on no copy of the case's sealed
		// documents opens, wherever it is.
		if _, err := tx.tx.Exec(`DELETE FROM case_keys WHERE case_id = ?`, caseID); err != nil {
			return err
		}
		// The document blobs, the message blobs (sealed under the case's
		// key at their decision, or under the storage key before that),
		// any other blob under the case's key, and spooled raw copies.
		var docBlobs, msgBlobs, caseBlobs, raws []int64
		if err := collect(tx, &docBlobs, `SELECT DISTINCT blob_id FROM documents WHERE case_id = ? AND blob_id IS NOT NULL`, caseID); err != nil {
			return err
		}
		if err := collect(tx, &msgBlobs, `SELECT DISTINCT blob_id FROM messages WHERE case_id = ? AND blob_id IS NOT NULL`, caseID); err != nil {
			return err
		}
		if err := collect(tx, &caseBlobs, `SELECT id FROM blobs WHERE case_id = ?`, caseID); err != nil {
			return err
		}
		if err := collect(tx, &raws, `SELECT raw_id FROM messages WHERE case_id = ? AND raw_id IS NOT NULL`, caseID); err != nil {
			return err
		}
		if _, err := tx.tx.Exec(`UPDATE documents SET blob_id = NULL, purged_at = COALESCE(purged_at, ?) WHERE case_id = ?`,
			ts(now), caseID); err != nil {
			return err
		}
		if _, err := tx.tx.Exec(`UPDATE messages SET raw_id = NULL, blob_id = NULL WHERE case_id = ?`, caseID); err != nil {
			return err
		}
		seen := map[int64]bool{}
		for _, ids := range [][]int64{docBlobs, msgBlobs, caseBlobs} {
			for _, id := range ids {
				if seen[id] {
					continue
				}
				seen[id] = true
				if err := tx.DeleteBlob(id); err != nil {
					return err
				}
			}
		}
		tx.unspool = append(tx.unspool, raws...)
		docs = len(docBlobs)
		msgs = len(raws) + len(msgBlobs)
		// The copies on the server, in the folders the messages were
		// moved to, go next, over IMAP: queued here, in the same
		// transaction, so that none is forgotten.
		if expunges, err = tx.queueExpunges(caseID); err != nil {
			return err
		}
		if _, err := tx.tx.Exec(`UPDATE cases SET purged_at = ? WHERE id = ?`, ts(now), caseID); err != nil {
			return err
		}
		return tx.Audit(caseID, recoverybot.SystemActor, "case_purged", map[string]string{
			"documents": strconv.Itoa(docs), "messages": strconv.Itoa(msgs), "expunges": strconv.Itoa(expunges)})
	})
	return docs, msgs, expunges, err
}

// collect appends the IDs a query returns to ids.
func collect(tx *Tx, ids *[]int64, query string, args ...any) error {
	rows, err := tx.tx.Query(query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		*ids = append(*ids, id)
	}
	return rows.Err()
}

// PurgedAt returns when a case was purged; nil: it was not.
func (t *Tx) PurgedAt(caseID int64) (*time.Time, error) {
	var at sql.NullString
	if err := t.tx.QueryRow(`SELECT purged_at FROM cases WHERE id = ?`, caseID).Scan(&at); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("case %d: %w", caseID, ErrNotFound)
		}
		return nil, fmt.Errorf("read case %d: %w", caseID, err)
	}
	return parseNullTS(at)
}
