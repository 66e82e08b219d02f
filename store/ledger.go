package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// LedgerStatus is what became of a message.
type LedgerStatus string

// The ledger statuses.
const (
	LedgerReceived  LedgerStatus = "received"  // recorded, not yet decided (a crash here redoes the decision)
	LedgerProcessed LedgerStatus = "processed" // tied to a case, its evidence committed
	LedgerReview    LedgerStatus = "review"    // tied to a case but unusable; Reason says why
	LedgerIgnored   LedgerStatus = "ignored"   // not about any case: left in the mailbox as it was
	LedgerDuplicate LedgerStatus = "duplicate" // the same message met again; DuplicateOf names the first
)

// Entry is one row of the message ledger.
type Entry struct {
	ID          int64
	Mailbox     string
	UIDValidity uint32
	UID         uint32
	MessageID   string // without angle brackets
	SHA256      string // of the raw bytes; empty when they were not downloaded
	ContentKey  string
	Size        int64
	FetchedAt   time.Time
	Status      LedgerStatus
	Reason      string
	CaseID      int64 // 0: none
	DuplicateOf int64 // 0: none
	// MoveTo is the folder the message must go to; MovedAt is set once
	// the server did it.
	MoveTo  string
	MovedAt *time.Time
	// MovedFolder is the server's name of the folder the message was
	// moved to ("" when moved before this was recorded), and MovedUID its
	// UID there under MovedUIDValidity (zero: the server did not say).
	MovedFolder      string
	MovedUIDValidity uint32
	MovedUID         uint32
	ParserVersion    int
	HasRaw           bool
	// Sender and Date: the From address and the Date header, once decided
	// (zero: absent, unreadable or not yet decided).
	Sender string
	Date   time.Time
}

// MailboxState returns the UIDVALIDITY and the highest UID processed in a
// mailbox; found is false the first time.
func (t *Tx) MailboxState(mailbox string) (validity, lastUID uint32, found bool, err error) {
	err = t.tx.QueryRow(`SELECT uid_validity, last_uid FROM mailbox_state WHERE mailbox = ?`, mailbox).Scan(&validity, &lastUID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("read mailbox state: %w", err)
	}
	return validity, lastUID, true, nil
}

// SetMailboxState records where ingestion stands in a mailbox. It is
// written in the transaction that commits a message, so the position and
// the message's effects can never disagree. Under one UIDVALIDITY the
// position never goes back: a message below it committed late (one a
// reconcile found missed) leaves it where it is.
func (t *Tx) SetMailboxState(mailbox string, validity, lastUID uint32) error {
	_, err := t.tx.Exec(`INSERT INTO mailbox_state (mailbox, uid_validity, last_uid, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (mailbox) DO UPDATE SET uid_validity = excluded.uid_validity,
		last_uid = CASE WHEN uid_validity = excluded.uid_validity THEN max(last_uid, excluded.last_uid) ELSE excluded.last_uid END,
		updated_at = excluded.updated_at`, mailbox, validity, lastUID, ts(t.now))
	if err != nil {
		return fmt.Errorf("set mailbox state: %w", err)
	}
	return nil
}

const entryColumns = `id, mailbox, uid_validity, uid, message_id, sha256, content_key, size, fetched_at, status, reason,
	COALESCE(case_id, 0), COALESCE(duplicate_of, 0), move_to, moved_at, parser_version,
	blob_id IS NOT NULL OR raw_id IS NOT NULL, sender, COALESCE(sent_at, ''),
	moved_folder, COALESCE(moved_validity, 0), COALESCE(moved_uid, 0)`

func scanEntry(row interface{ Scan(...any) error }) (Entry, error) {
	var e Entry
	var fetched, status, sent string
	var moved sql.NullString
	err := row.Scan(&e.ID, &e.Mailbox, &e.UIDValidity, &e.UID, &e.MessageID, &e.SHA256, &e.ContentKey, &e.Size, &fetched,
		&status, &e.Reason, &e.CaseID, &e.DuplicateOf, &e.MoveTo, &moved, &e.ParserVersion, &e.HasRaw, &e.Sender, &sent,
		&e.MovedFolder, &e.MovedUIDValidity, &e.MovedUID)
	if err != nil {
		return e, err
	}
	if sent != "" {
		if e.Date, err = parseTS(sent); err != nil {
			return e, err
		}
	}
	e.Status = LedgerStatus(status)
	if e.FetchedAt, err = parseTS(fetched); err != nil {
		return e, err
	}
	e.MovedAt, err = parseNullTS(moved)
	return e, err
}

// Entry returns the ledger row with the given ID.
func (t *Tx) Entry(id int64) (Entry, error) {
	e, err := scanEntry(t.tx.QueryRow(`SELECT `+entryColumns+` FROM messages WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("message #%d: %w", id, ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("read message #%d: %w", id, err)
	}
	return e, nil
}

// EntryByUID returns the ledger row of a message by its place on the
// server, or ErrNotFound.
func (t *Tx) EntryByUID(mailbox string, validity, uid uint32) (Entry, error) {
	e, err := scanEntry(t.tx.QueryRow(`SELECT `+entryColumns+` FROM messages
		WHERE mailbox = ? AND uid_validity = ? AND uid = ?`, mailbox, validity, uid))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("message %s %d/%d: %w", mailbox, validity, uid, ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("read message: %w", err)
	}
	return e, nil
}

// Record adds a message to the ledger with its raw bytes, spooled
// beforehand (Store.Spool; nil for a message too large to download), and
// sets e.ID. It is the first thing that happens to a fetched message.
func (t *Tx) Record(e *Entry, raw *RawRef) error {
	var rawID any
	if raw != nil {
		rawID, e.SHA256, e.HasRaw = raw.ID, raw.SHA256, true
	}
	if e.Status == "" {
		e.Status = LedgerReceived
	}
	e.FetchedAt = t.now
	res, err := t.tx.Exec(`INSERT INTO messages (mailbox, uid_validity, uid, message_id, sha256, content_key, size,
		fetched_at, status, reason, raw_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Mailbox, e.UIDValidity, e.UID, e.MessageID, e.SHA256, e.ContentKey, e.Size, ts(t.now), string(e.Status), e.Reason, rawID)
	if isUnique(err) {
		return fmt.Errorf("message %s %d/%d: %w", e.Mailbox, e.UIDValidity, e.UID, ErrDuplicateRow)
	}
	if err != nil {
		return fmt.Errorf("record message: %w", err)
	}
	e.ID, err = res.LastInsertId()
	return err
}

// firstCopyQuery repeats the condition of the partial index
// messages_content_key (a content key that is not empty): SQLite uses a
// partial index only when the query's WHERE implies the index's, and
// "content_key = ?" alone does not, which made every lookup a scan of the
// whole ledger, and a long drain quadratic.
const firstCopyQuery = `SELECT id FROM messages
	WHERE content_key = ? AND content_key != '' AND id != ? AND status NOT IN ('duplicate', 'received') ORDER BY id LIMIT 1`

// FirstCopy returns the earliest message with the same content key that
// is not itself a duplicate and was decided, or ErrNotFound.
func (t *Tx) FirstCopy(contentKey string, notID int64) (Entry, error) {
	if contentKey == "" {
		return Entry{}, fmt.Errorf("empty content key: %w", ErrNotFound)
	}
	// Nearly every message has no copy: the row is read only when there
	// is one.
	var id int64
	err := t.tx.QueryRow(firstCopyQuery, contentKey, notID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, fmt.Errorf("first copy: %w", ErrNotFound)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("first copy: %w", err)
	}
	return t.Entry(id)
}

// Generation returns a number that changes with every change that can
// tie a message to a case (a case opened or changed, a mail queued): a
// check of a message against the cases made at one generation still
// stands at the same generation.
func (t *Tx) Generation() (int64, error) {
	var n int64
	if err := t.tx.QueryRow(`SELECT n FROM generation WHERE id = 1`).Scan(&n); err != nil {
		return 0, fmt.Errorf("read generation: %w", err)
	}
	return n, nil
}

// Decided is what became of a message, written by Decide.
type Decided struct {
	Status      LedgerStatus
	Reason      string
	CaseID      int64
	DuplicateOf int64
	MoveTo      string // folder, or "" to leave the message where it is
	// MoveOwner names the pipeline that decided the move and will make
	// it (PendingMoves).
	MoveOwner     string
	ParserVersion int
	// Sender and Date are the message's From address and Date header
	// (zero: absent or unreadable), kept in the ledger for every message.
	Sender string
	Date   time.Time
}

// Decide records what became of a ledger message. A message tied to no
// case (CaseID 0, whatever its status) is not kept (SPEC §8): its raw copy
// leaves the store in the same transaction (the ledger row stops pointing
// at it; an old copy in the main store is deleted) and the spool once the
// transaction is committed (Store.Update); a crash in between leaves a
// spool row no ledger row points at, which SweepSpool deletes.
//
// A message tied to a case is sealed again under the case's own key, in
// the main store, and leaves the spool the same way: from then on its
// bytes are destroyed with the case's key when the case is purged.
func (t *Tx) Decide(id int64, d Decided) error {
	var sent any
	if !d.Date.IsZero() {
		sent = ts(d.Date)
	}
	var blobID, rawID, blobCase sql.NullInt64
	var sum string
	err := t.tx.QueryRow(`SELECT m.blob_id, m.raw_id, m.sha256, b.case_id FROM messages m
		LEFT JOIN blobs b ON b.id = m.blob_id WHERE m.id = ?`, id).Scan(&blobID, &rawID, &sum, &blobCase)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("message #%d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("decide message #%d: %w", id, err)
	}
	var keep sql.NullInt64 // the blob the row points at afterwards
	var drop []int64       // storage-key message blobs to delete
	switch {
	case d.CaseID == 0:
		if blobID.Valid {
			drop = append(drop, blobID.Int64)
		}
	case rawID.Valid || (blobID.Valid && blobCase.Int64 != d.CaseID):
		var bid int64
		if rawID.Valid {
			bid, err = t.putCaseSpooled(d.CaseID, rawID.Int64, sum)
		} else {
			var raw []byte
			if raw, err = t.Blob(blobID.Int64); err == nil {
				bid, _, err = t.putCaseBlob(d.CaseID, BlobMessage, raw)
			}
		}
		if err != nil {
			return fmt.Errorf("decide message #%d: %w", id, err)
		}
		keep = sql.NullInt64{Int64: bid, Valid: true}
		if blobID.Valid {
			drop = append(drop, blobID.Int64)
		}
	default:
		keep = blobID
	}
	res, err := t.tx.Exec(`UPDATE messages SET status = ?, reason = ?, case_id = ?, duplicate_of = ?, move_to = ?,
		move_owner = ?, parser_version = ?, sender = ?, sent_at = ?, raw_id = NULL, blob_id = ? WHERE id = ?`,
		string(d.Status), d.Reason, nullID(d.CaseID), nullID(d.DuplicateOf), d.MoveTo, d.MoveOwner, d.ParserVersion,
		d.Sender, sent, keep, id)
	if err != nil {
		return fmt.Errorf("decide message #%d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("message #%d: %w", id, ErrNotFound)
	}
	for _, b := range drop {
		if err := t.dropBlob(b); err != nil {
			return fmt.Errorf("decide message #%d: %w", id, err)
		}
	}
	if rawID.Valid {
		t.unspool = append(t.unspool, rawID.Int64)
	}
	return nil
}

// PendingMoves returns the messages of a mailbox, under a UIDVALIDITY, that
// were decided but not yet moved, in UID order: all of them when owner is
// "" (the caller holds the data directory's lock, so their deciders are
// gone), and otherwise only those owner decided (another process on the
// same data directory may be making the others right now).
func (t *Tx) PendingMoves(mailbox string, validity uint32, owner string) ([]Entry, error) {
	rows, err := t.tx.Query(`SELECT `+entryColumns+` FROM messages
		WHERE mailbox = ? AND uid_validity = ? AND move_to != '' AND moved_at IS NULL AND (? = '' OR move_owner = ?)
		ORDER BY uid`, mailbox, validity, owner, owner)
	if err != nil {
		return nil, fmt.Errorf("pending moves: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("pending moves: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AbandonMoves gives up the pending moves of a mailbox under any
// UIDVALIDITY other than current: those UIDs mean nothing any more, and
// the messages, met again under their new UIDs, are moved as duplicates.
func (t *Tx) AbandonMoves(mailbox string, current uint32) (int64, error) {
	res, err := t.tx.Exec(`UPDATE messages SET move_to = '', reason = reason || CASE WHEN reason = '' THEN '' ELSE '; ' END ||
		'move abandoned: UIDVALIDITY changed'
		WHERE mailbox = ? AND uid_validity != ? AND move_to != '' AND moved_at IS NULL`, mailbox, current)
	if err != nil {
		return 0, fmt.Errorf("abandon moves: %w", err)
	}
	return res.RowsAffected()
}

// MarkMoved records that the server moved these messages, without
// saying where; MarkMovedTo is preferred.
func (t *Tx) MarkMoved(ids []int64) error {
	moved := make([]Moved, len(ids))
	for i, id := range ids {
		moved[i] = Moved{ID: id}
	}
	return t.MarkMovedTo("", moved)
}

// Moved is where the server put one message: its UID in the destination
// folder under that folder's UIDVALIDITY, as the COPYUID response code
// says (RFC 4315 section 3); zero when the server did not say.
type Moved struct {
	ID          int64 // the ledger row
	UIDValidity uint32
	UID         uint32
}

// MarkMovedTo records that the server moved these messages to folder (its
// server name), and where they are there. A message whose case was
// purged before its move was done (its raw copy already gone) is queued
// for expunging at once: the purge could not know where it would be.
func (t *Tx) MarkMovedTo(folder string, moved []Moved) error {
	if len(moved) == 0 {
		return nil
	}
	for _, m := range moved {
		_, err := t.tx.Exec(`UPDATE messages SET moved_at = ?, moved_folder = ?, moved_validity = ?, moved_uid = ? WHERE id = ?`,
			ts(t.now), folder, nullUint(m.UIDValidity), nullUint(m.UID), m.ID)
		if err != nil {
			return fmt.Errorf("mark message #%d moved: %w", m.ID, err)
		}
		_, err = t.tx.Exec(`INSERT INTO expunges (message_id, case_id, folder, move_to, uid_validity, uid, header_id, created_at)
			SELECT m.id, m.case_id, m.moved_folder, m.move_to, m.moved_validity, m.moved_uid, m.message_id, ?
			FROM messages m JOIN cases c ON c.id = m.case_id
			WHERE m.id = ? AND c.purged_at IS NOT NULL AND c.state IN (?, ?, ?, ?) AND m.raw_id IS NULL AND m.blob_id IS NULL
			ON CONFLICT (message_id) DO NOTHING`,
			ts(t.now), m.ID, closedStates[0], closedStates[1], closedStates[2], closedStates[3])
		if err != nil {
			return fmt.Errorf("mark message #%d moved: queue its expunge: %w", m.ID, err)
		}
	}
	return nil
}

// nullUint is NULL for zero.
func nullUint(n uint32) any {
	if n == 0 {
		return nil
	}
	return int64(n)
}

// MessageRaw returns the raw bytes of a ledger message.
func (t *Tx) MessageRaw(id int64) ([]byte, error) {
	var blobID, rawID sql.NullInt64
	var sum string
	err := t.tx.QueryRow(`SELECT blob_id, raw_id, sha256 FROM messages WHERE id = ?`, id).Scan(&blobID, &rawID, &sum)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("message #%d: %w", id, ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("read message: %w", err)
	case rawID.Valid:
		return t.s.spooled(rawID.Int64, sum)
	case blobID.Valid:
		return t.Blob(blobID.Int64)
	}
	return nil, fmt.Errorf("raw bytes of message #%d: %w", id, ErrNotFound)
}

// LedgerFilter selects ledger rows.
type LedgerFilter struct {
	Mailbox string
	Status  LedgerStatus
	CaseID  int64
	Limit   int
}

// Entries returns ledger rows in the order they were fetched.
func (t *Tx) Entries(f LedgerFilter) ([]Entry, error) {
	q := `SELECT ` + entryColumns + ` FROM messages WHERE 1 = 1`
	var args []any
	if f.Mailbox != "" {
		q += ` AND mailbox = ?`
		args = append(args, f.Mailbox)
	}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, string(f.Status))
	}
	if f.CaseID != 0 {
		q += ` AND case_id = ?`
		args = append(args, f.CaseID)
	}
	q += ` ORDER BY id`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := t.tx.Query(q, args...)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("list messages: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Evidence is what one message contributed to a case.
type Evidence struct {
	CaseID       int64
	MessageID    int64
	Sender       string // the normalised From address
	SenderStatus string
	SenderDetail string // why, e.g. "dmarc=pass (mx.example.net)"
	CodeResult   string // "", or a recoverybot.CodeResult
	Automatic    bool
}

// AddEvidence records what a message contributed to a case. A message
// contributes to a case once.
func (t *Tx) AddEvidence(e Evidence) error {
	_, err := t.tx.Exec(`INSERT INTO evidence (case_id, message_id, sender, sender_status, sender_detail, code_result,
		automatic, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.CaseID, e.MessageID, e.Sender, e.SenderStatus, e.SenderDetail, e.CodeResult, e.Automatic, ts(t.now))
	if isUnique(err) {
		return fmt.Errorf("evidence of message #%d: %w", e.MessageID, ErrDuplicateRow)
	}
	if err != nil {
		return fmt.Errorf("add evidence: %w", err)
	}
	return nil
}

// EvidenceOf returns what messages contributed to a case, oldest first.
func (t *Tx) EvidenceOf(caseID int64) ([]Evidence, error) {
	rows, err := t.tx.Query(`SELECT case_id, message_id, sender, sender_status, sender_detail, code_result, automatic
		FROM evidence WHERE case_id = ? ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("list evidence: %w", err)
	}
	defer rows.Close()
	out := []Evidence{}
	for rows.Next() {
		var e Evidence
		if err := rows.Scan(&e.CaseID, &e.MessageID, &e.Sender, &e.SenderStatus, &e.SenderDetail, &e.CodeResult, &e.Automatic); err != nil {
			return nil, fmt.Errorf("list evidence: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// CaseMessage is one message tied to a case, as the case page shows it:
// what the ledger knows of it and what it contributed.
type CaseMessage struct {
	Evidence
	UID       uint32
	HeaderID  string     // its Message-ID header
	Date      *time.Time // its Date header, when readable
	FetchedAt time.Time
	Status    LedgerStatus
	Reason    string // why it went to review, or what it changed
	Size      int64
}

// CaseMessages returns the messages tied to a case, in the order they
// were taken.
func (t *Tx) CaseMessages(caseID int64) ([]CaseMessage, error) {
	rows, err := t.tx.Query(`SELECT e.case_id, e.message_id, e.sender, e.sender_status, e.sender_detail, e.code_result,
		e.automatic, m.uid, m.message_id, COALESCE(m.sent_at, ''), m.fetched_at, m.status, m.reason, m.size
		FROM evidence e JOIN messages m ON m.id = e.message_id WHERE e.case_id = ? ORDER BY e.id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("list case messages: %w", err)
	}
	defer rows.Close()
	out := []CaseMessage{}
	for rows.Next() {
		var m CaseMessage
		var sent, fetched, status string
		if err := rows.Scan(&m.CaseID, &m.MessageID, &m.Sender, &m.SenderStatus, &m.SenderDetail, &m.CodeResult,
			&m.Automatic, &m.UID, &m.HeaderID, &sent, &fetched, &status, &m.Reason, &m.Size); err != nil {
			return nil, fmt.Errorf("list case messages: %w", err)
		}
		m.Status = LedgerStatus(status)
		if m.FetchedAt, err = parseTS(fetched); err != nil {
			return nil, err
		}
		if sent != "" {
			d, err := parseTS(sent)
			if err != nil {
				return nil, err
			}
			m.Date = &d
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
