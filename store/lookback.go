package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Mail that came before its case (SPEC §5): a case opened now looks back
// at the mail its customer sent before. Such mail was decided when it
// came, tied to no case: ignored, left in the mailbox, its raw copy
// dropped (Decide). QueueLookbacks queues it for the new case; the intake
// fetches each message again by UID, points its ledger row at the new
// copy (Respool), decides it anew and calls FinishLookbacks in the
// transaction that commits the decision.

// QueueLookbacks queues for case caseID the messages from any of senders
// (normalised addresses) that were fetched at since or later and are
// still as recoverybot left them: ignored, tied to no case, not moved,
// recorded under the UIDVALIDITY the mailbox has now. It returns how many
// it queued; a message queued for the case before is not counted again.
func (t *Tx) QueueLookbacks(caseID int64, senders []string, since time.Time) (int, error) {
	var addrs []any
	for _, s := range senders {
		if s != "" {
			addrs = append(addrs, s)
		}
	}
	if len(addrs) == 0 {
		return 0, nil
	}
	// "status = 'ignored'" as a literal: the partial index
	// messages_ignored_sender serves only a query whose WHERE implies it.
	q := `INSERT OR IGNORE INTO lookbacks (case_id, message_id, created_at)
		SELECT ?, m.id, ? FROM messages m
		JOIN mailbox_state s ON s.mailbox = m.mailbox AND s.uid_validity = m.uid_validity
		WHERE m.status = 'ignored' AND m.case_id IS NULL AND m.move_to = '' AND m.moved_at IS NULL
		AND m.fetched_at >= ? AND m.sender IN (?` + strings.Repeat(", ?", len(addrs)-1) + `)
		ORDER BY m.uid`
	args := append([]any{caseID, ts(t.now), ts(since)}, addrs...)
	res, err := t.tx.Exec(q, args...)
	if err != nil {
		return 0, fmt.Errorf("queue earlier mail of case #%d: %w", caseID, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// QueueLookback queues one ledger message for case caseID: a message
// passed over without being downloaded, whose case was opened between the
// look that passed it over and its record. A message queued for the case
// before is not queued again.
func (t *Tx) QueueLookback(caseID, messageID int64) error {
	_, err := t.tx.Exec(`INSERT OR IGNORE INTO lookbacks (case_id, message_id, created_at) VALUES (?, ?, ?)`,
		caseID, messageID, ts(t.now))
	if err != nil {
		return fmt.Errorf("queue message #%d for case #%d: %w", messageID, caseID, err)
	}
	return nil
}

// PendingLookbacks returns the ledger rows of the messages queued by
// QueueLookbacks and not yet taken, each once (a message queued for two
// cases is decided once, for whichever the rules choose), in UID order.
func (t *Tx) PendingLookbacks() ([]Entry, error) {
	rows, err := t.tx.Query(`SELECT ` + entryColumns + ` FROM messages
		WHERE id IN (SELECT message_id FROM lookbacks WHERE done_at IS NULL) ORDER BY uid, id`)
	if err != nil {
		return nil, fmt.Errorf("pending earlier mail: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("pending earlier mail: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// FinishLookbacks marks every pending lookback of a ledger message done:
// it was decided anew, or there was nothing to take (gone from the
// mailbox, renumbered, decided otherwise since it was queued).
func (t *Tx) FinishLookbacks(messageID int64) error {
	if _, err := t.tx.Exec(`UPDATE lookbacks SET done_at = ? WHERE message_id = ? AND done_at IS NULL`,
		ts(t.now), messageID); err != nil {
		return fmt.Errorf("finish earlier mail #%d: %w", messageID, err)
	}
	return nil
}

// HasPendingLookbacks reports whether any message waits to be taken for
// a case opened after it: the cheap question asked before the intake
// looks back.
func (s *Store) HasPendingLookbacks(ctx context.Context) (bool, error) {
	var n int
	err := s.View(ctx, func(tx *Tx) error {
		return tx.tx.QueryRow(`SELECT count(*) FROM (SELECT 1 FROM lookbacks WHERE done_at IS NULL LIMIT 1)`).Scan(&n)
	})
	if err != nil {
		return false, fmt.Errorf("pending earlier mail: %w", err)
	}
	return n > 0, nil
}

// Respool points the ledger row id at raw, a new spooled copy of its
// message fetched again, so that a message decided anew keeps its raw
// bytes like any other. A copy the row pointed at before (spooled by an
// attempt that a crash cut short) leaves the spool once the transaction
// is committed.
func (t *Tx) Respool(id int64, raw RawRef) error {
	var old sql.NullInt64
	err := t.tx.QueryRow(`SELECT raw_id FROM messages WHERE id = ?`, id).Scan(&old)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("message #%d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("respool message #%d: %w", id, err)
	}
	if _, err := t.tx.Exec(`UPDATE messages SET raw_id = ?, sha256 = ? WHERE id = ?`, raw.ID, raw.SHA256, id); err != nil {
		return fmt.Errorf("respool message #%d: %w", id, err)
	}
	if old.Valid && old.Int64 != raw.ID {
		t.unspool = append(t.unspool, old.Int64)
	}
	return nil
}

// UntiedCopies returns the copies of a message recorded as its
// duplicates while it was tied to no case, still tied to none and left
// where they were, in UID order: when a look-back ties the message to a
// case, they go with it.
func (t *Tx) UntiedCopies(firstID int64) ([]Entry, error) {
	rows, err := t.tx.Query(`SELECT `+entryColumns+` FROM messages
		WHERE duplicate_of = ? AND status = ? AND case_id IS NULL AND move_to = '' AND moved_at IS NULL ORDER BY uid`,
		firstID, string(LedgerDuplicate))
	if err != nil {
		return nil, fmt.Errorf("copies of message #%d: %w", firstID, err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("copies of message #%d: %w", firstID, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
