package store

import (
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Expunge is a message of a purged case still to expunge from the folder
// recoverybot moved it to (SPEC §8).
type Expunge struct {
	ID      int64
	EntryID int64 // the ledger row
	CaseID  int64
	// Folder is the server's name of the folder; "" for a message moved
	// before it was recorded, whose MoveTo ('/'-separated, as
	// configured) names the folder.
	Folder string
	MoveTo string
	// UID is the message's UID in Folder under UIDValidity; zero when the
	// server did not say (no UIDPLUS): it is then found by MessageID.
	UIDValidity uint32
	UID         uint32
	// MessageID finds the message when its UID does not (without angle
	// brackets); "" when it had none, when the ledger cut it short, or
	// when another case's message that is not purged carries it too:
	// the sender chose it, and it must not name someone else's mail.
	MessageID string
	// Size is the message's size as recorded: a message found by its
	// Message-ID is taken only with this size.
	Size      int64
	CreatedAt time.Time
	Attempts  int
	LastError string
}

// MaxMessageIDLen is the longest Message-ID the ledger keeps whole; a
// longer one is kept cut to this length.
const MaxMessageIDLen = 250

// queueExpunges queues the expunge of every message of a case that was
// moved; a message queued before is not queued again.
func (t *Tx) queueExpunges(caseID int64) (int, error) {
	res, err := t.tx.Exec(`INSERT INTO expunges (message_id, case_id, folder, move_to, uid_validity, uid, header_id, created_at)
		SELECT id, case_id, moved_folder, move_to, moved_validity, moved_uid, message_id, ?
		FROM messages WHERE case_id = ? AND moved_at IS NOT NULL
		ON CONFLICT (message_id) DO NOTHING`, ts(t.now), caseID)
	if err != nil {
		return 0, fmt.Errorf("queue expunges of case %d: %w", caseID, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// PendingExpunges returns up to limit expunges not yet done, those tried
// least often first, so that a message that keeps failing does not hold
// up the others.
func (t *Tx) PendingExpunges(limit int) ([]Expunge, error) {
	rows, err := t.tx.Query(`SELECT x.id, x.message_id, x.case_id, x.folder, x.move_to, COALESCE(x.uid_validity, 0), COALESCE(x.uid, 0),
		CASE WHEN length(x.header_id) >= ? OR EXISTS (SELECT 1 FROM messages o JOIN cases c ON c.id = o.case_id
			WHERE o.message_id = x.header_id AND o.case_id != x.case_id AND c.purged_at IS NULL) THEN '' ELSE x.header_id END,
		COALESCE(m.size, 0), x.created_at, x.attempts, x.last_error
		FROM expunges x LEFT JOIN messages m ON m.id = x.message_id
		WHERE x.done_at IS NULL ORDER BY x.attempts, x.id LIMIT ?`, MaxMessageIDLen, limit)
	if err != nil {
		return nil, fmt.Errorf("pending expunges: %w", err)
	}
	defer rows.Close()
	var out []Expunge
	for rows.Next() {
		var e Expunge
		var created string
		if err := rows.Scan(&e.ID, &e.EntryID, &e.CaseID, &e.Folder, &e.MoveTo, &e.UIDValidity, &e.UID, &e.MessageID,
			&e.Size, &created, &e.Attempts, &e.LastError); err != nil {
			return nil, fmt.Errorf("pending expunges: %w", err)
		}
		if e.CreatedAt, err = parseTS(created); err != nil {
			return nil, fmt.Errorf("pending expunges: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ExpungesDone records that these messages are gone from the server.
func (t *Tx) ExpungesDone(ids []int64) error {
	if err := t.updateIDs(`UPDATE expunges SET done_at = ?, last_error = '' WHERE done_at IS NULL AND id IN `, ids, ts(t.now)); err != nil {
		return fmt.Errorf("record expunges done: %w", err)
	}
	return nil
}

// ExpungesFailed records a failed attempt at expunging these messages,
// which stay pending.
func (t *Tx) ExpungesFailed(ids []int64, reason string) error {
	if err := t.updateIDs(`UPDATE expunges SET attempts = attempts + 1, last_error = ? WHERE done_at IS NULL AND id IN `, ids, reason); err != nil {
		return fmt.Errorf("record failed expunges: %w", err)
	}
	return nil
}

// updateIDs runs query, which ends with "id IN ", on ids, a chunk at a time,
// with first as its first argument.
func (t *Tx) updateIDs(query string, ids []int64, first any) error {
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		args := []any{first}
		for _, id := range chunk {
			args = append(args, id)
		}
		if _, err := t.tx.Exec(query+`(?`+strings.Repeat(", ?", len(chunk)-1)+`)`, args...); err != nil {
			return err
		}
	}
	return nil
}

// ExpungesOf returns the expunges of a case, done or not, oldest first
// (for `cases show` and tests); DoneAt is nil while pending.
func (t *Tx) ExpungesOf(caseID int64) ([]ExpungeState, error) {
	rows, err := t.tx.Query(`SELECT id, message_id, attempts, last_error, done_at FROM expunges WHERE case_id = ? ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("expunges of case %d: %w", caseID, err)
	}
	defer rows.Close()
	var out []ExpungeState
	for rows.Next() {
		var e ExpungeState
		var done sql.NullString
		if err := rows.Scan(&e.ID, &e.EntryID, &e.Attempts, &e.LastError, &done); err != nil {
			return nil, fmt.Errorf("expunges of case %d: %w", caseID, err)
		}
		if e.DoneAt, err = parseNullTS(done); err != nil {
			return nil, fmt.Errorf("expunges of case %d: %w", caseID, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ExpungeState is how far the expunge of one message got.
type ExpungeState struct {
	ID, EntryID int64
	Attempts    int
	LastError   string
	DoneAt      *time.Time
}
