package store

import (
	"fmt"
)

// Place is where the ledger last saw a message in its mailbox.
type Place struct {
	ID  int64 // the ledger row
	UID uint32
	// Away: the message is not expected in the mailbox any more, moved
	// by recoverybot or found vanished before.
	Away bool
}

// Places returns, in UID order, a row for every message the ledger holds
// in a mailbox under a UIDVALIDITY: what a reconcile compares with the
// mailbox's UIDs.
func (t *Tx) Places(mailbox string, validity uint32) ([]Place, error) {
	rows, err := t.tx.Query(`SELECT id, uid, moved_at IS NOT NULL OR vanished_at IS NOT NULL FROM messages
		WHERE mailbox = ? AND uid_validity = ? ORDER BY uid`, mailbox, validity)
	if err != nil {
		return nil, fmt.Errorf("ledger places in %s: %w", mailbox, err)
	}
	defer rows.Close()
	var out []Place
	for rows.Next() {
		var p Place
		if err := rows.Scan(&p.ID, &p.UID, &p.Away); err != nil {
			return nil, fmt.Errorf("ledger places in %s: %w", mailbox, err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// MarkVanished records that these messages are gone from their mailbox
// although recoverybot did not move them (someone deleted or moved
// them). The rows stay; a row marked before keeps its date.
func (t *Tx) MarkVanished(ids []int64) error {
	if err := t.updateIDs(`UPDATE messages SET vanished_at = ? WHERE vanished_at IS NULL AND id IN `, ids, ts(t.now)); err != nil {
		return fmt.Errorf("mark messages vanished: %w", err)
	}
	return nil
}
