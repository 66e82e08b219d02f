package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// OutboxState is where an outgoing mail stands.
type OutboxState string

// The outbox states. A mail is pending until the SMTP server accepts it
// (sent) or refuses it for good (failed).
const (
	OutboxPending OutboxState = "pending"
	OutboxSending OutboxState = "sending" // being handed to SMTP; if the process dies here, MarkInterrupted fails it
	OutboxSent    OutboxState = "sent"
	OutboxFailed  OutboxState = "failed"
)

// OutgoingMail is one row of the outbox.
type OutgoingMail struct {
	ID        int64
	CaseID    int64  // 0: not about a case
	Template  string // which mail it is (instructions, approved, …)
	MessageID string // RFC 5322 Message-ID without brackets; unique
	From, To  string
	// Automatic marks replies to incoming mail, which count toward the
	// per-case reply limit; mail caused by an agent's action does not.
	Automatic     bool
	Raw           []byte // the composed message; sealed at rest, dropped once sent
	State         OutboxState
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
	SentAt        *time.Time
}

// Enqueue adds a composed mail to the outbox, due now. A mail whose
// Message-ID is already queued is ErrDuplicateRow: the event that caused
// it already happened.
func (t *Tx) Enqueue(m OutgoingMail) (int64, error) {
	var exists int
	err := t.tx.QueryRow(`SELECT count(*) FROM outbox WHERE message_id = ?`, m.MessageID).Scan(&exists)
	if err != nil {
		return 0, fmt.Errorf("enqueue mail: %w", err)
	}
	if exists > 0 {
		return 0, fmt.Errorf("outgoing mail %s: %w", m.MessageID, ErrDuplicateRow)
	}
	blobID, _, err := t.PutBlob(BlobOutgoing, m.Raw)
	if err != nil {
		return 0, err
	}
	res, err := t.tx.Exec(`INSERT INTO outbox (case_id, template, message_id, sender, recipient, automatic, blob_id,
		state, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
		nullID(m.CaseID), m.Template, m.MessageID, m.From, m.To, m.Automatic, blobID, ts(t.now), ts(t.now))
	if isUnique(err) {
		return 0, fmt.Errorf("outgoing mail %s: %w", m.MessageID, ErrDuplicateRow)
	}
	if err != nil {
		return 0, fmt.Errorf("enqueue mail: %w", err)
	}
	return res.LastInsertId()
}

const outboxColumns = `o.id, COALESCE(o.case_id, 0), o.template, o.message_id, o.sender, o.recipient, o.automatic,
	o.state, o.attempts, o.next_attempt_at, o.last_error, o.created_at, o.sent_at, COALESCE(o.blob_id, 0)`

func (t *Tx) scanOutgoing(row interface{ Scan(...any) error }, withRaw bool) (OutgoingMail, error) {
	var m OutgoingMail
	var state, next, created string
	var sent sql.NullString
	var blobID int64
	err := row.Scan(&m.ID, &m.CaseID, &m.Template, &m.MessageID, &m.From, &m.To, &m.Automatic,
		&state, &m.Attempts, &next, &m.LastError, &created, &sent, &blobID)
	if err != nil {
		return m, err
	}
	m.State = OutboxState(state)
	if m.NextAttemptAt, err = parseTS(next); err != nil {
		return m, err
	}
	if m.CreatedAt, err = parseTS(created); err != nil {
		return m, err
	}
	if m.SentAt, err = parseNullTS(sent); err != nil {
		return m, err
	}
	if withRaw && blobID != 0 {
		if m.Raw, err = t.Blob(blobID); err != nil {
			return m, err
		}
	}
	return m, nil
}

// OutboxFilter selects outbox rows. The zero value selects all.
type OutboxFilter struct {
	CaseID  int64
	Due     bool // only pending rows whose next attempt is due
	WithRaw bool // open the sealed message too
	Limit   int
}

// Outbox returns the selected outgoing mail, oldest first.
func (t *Tx) Outbox(f OutboxFilter) ([]OutgoingMail, error) {
	q := `SELECT ` + outboxColumns + ` FROM outbox o WHERE 1 = 1`
	var args []any
	if f.CaseID != 0 {
		q += ` AND o.case_id = ?`
		args = append(args, f.CaseID)
	}
	if f.Due {
		q += ` AND o.state = 'pending' AND o.next_attempt_at <= ?`
		args = append(args, ts(t.now))
	}
	q += ` ORDER BY o.id`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := t.tx.Query(q, args...)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	var out []OutgoingMail
	for rows.Next() {
		m, err := t.scanOutgoing(rows, false)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list outbox: %w", err)
		}
		out = append(out, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	if f.WithRaw {
		for i := range out {
			m, err := t.scanOutgoing(t.tx.QueryRow(`SELECT `+outboxColumns+` FROM outbox o WHERE o.id = ?`, out[i].ID), true)
			if err != nil {
				return nil, fmt.Errorf("read outgoing mail %d: %w", out[i].ID, err)
			}
			out[i] = m
		}
	}
	return nonNil(out), nil
}

// ErrNotDue is returned for a mail that is no longer pending and due:
// another courier (a second process, `recoverybot sweep outbox` beside
// `serve`) has taken it since it was listed.
var ErrNotDue = errors.New("store: mail not due")

// MarkSending records that a mail is being handed to SMTP, and when. It
// takes only a pending mail whose attempt is due, in the writer's
// transaction: of two couriers listing the same mail, one takes it, the
// other gets ErrNotDue, and the mail is sent once.
func (t *Tx) MarkSending(id int64) error {
	res, err := t.tx.Exec(`UPDATE outbox SET state = 'sending', attempts = attempts + 1, next_attempt_at = ?
		WHERE id = ? AND state = 'pending' AND next_attempt_at <= ?`, ts(t.now), id, ts(t.now))
	if err != nil {
		return fmt.Errorf("update outgoing mail %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("outgoing mail %d: %w", id, ErrNotDue)
	}
	return nil
}

// InterruptedMessage is the error shown for a mail whose sending was cut
// short by a crash.
const InterruptedMessage = "interrupted while being sent: it may have gone out; check with the customer before sending again"

// Interrupted reports whether MarkInterrupted(before) has anything to
// mark: the question a read transaction can answer, asked first.
func (t *Tx) Interrupted(before time.Time) (bool, error) {
	var n int
	err := t.tx.QueryRow(`SELECT count(*) FROM (SELECT 1 FROM outbox WHERE state IN ('pending', 'sending')
		AND state = 'sending' AND next_attempt_at < ? LIMIT 1)`, ts(before)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("interrupted mail: %w", err)
	}
	return n > 0, nil
}

// MarkInterrupted gives up the mails that were being handed to SMTP
// before the given time and never marked sent: the process died during
// the attempt. Whether the server accepted them cannot be known, and a
// mail is never sent twice, so they are marked failed for an agent to
// see. It returns how many.
func (t *Tx) MarkInterrupted(before time.Time) (int64, error) {
	res, err := t.tx.Exec(`UPDATE outbox SET state = 'failed', last_error = ? WHERE state = 'sending' AND next_attempt_at < ?`,
		InterruptedMessage, ts(before))
	if err != nil {
		return 0, fmt.Errorf("mark interrupted mail: %w", err)
	}
	return res.RowsAffected()
}

// MarkSent records that the SMTP server accepted a mail and drops its
// sealed bytes: a sent code mail leaves no copy of the code behind.
func (t *Tx) MarkSent(id int64) error {
	var blobID sql.NullInt64
	if err := t.tx.QueryRow(`SELECT blob_id FROM outbox WHERE id = ?`, id).Scan(&blobID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("outgoing mail %d: %w", id, ErrNotFound)
		}
		return fmt.Errorf("mark sent: %w", err)
	}
	if err := t.setOutbox(id, `state = 'sent', sent_at = ?, last_error = '', blob_id = NULL`, ts(t.now)); err != nil {
		return err
	}
	if blobID.Valid {
		return t.DeleteBlob(blobID.Int64)
	}
	return nil
}

// MarkRetry records a temporary failure; the mail is tried again at next.
func (t *Tx) MarkRetry(id int64, next time.Time, reason string) error {
	return t.setOutbox(id, `state = 'pending', next_attempt_at = ?, last_error = ?`, ts(next), reason)
}

// MarkFailed records a permanent failure, shown to the agent.
func (t *Tx) MarkFailed(id int64, reason string) error {
	return t.setOutbox(id, `state = 'failed', last_error = ?`, reason)
}

// Postpone puts off a pending mail that was not tried (the server is
// down) until next, with the reason; its attempts do not grow.
// ErrNotDue: it is no longer pending.
func (t *Tx) Postpone(id int64, next time.Time, reason string) error {
	return t.settleUntried(id, `state = 'pending', next_attempt_at = ?, last_error = ?`, ts(next), reason)
}

// GiveUp marks failed, with the reason, a pending mail that was not
// tried: its bytes are gone, or it is past its time and the server is
// down. ErrNotDue: it is no longer pending.
func (t *Tx) GiveUp(id int64, reason string) error {
	return t.settleUntried(id, `state = 'failed', last_error = ?`, reason)
}

func (t *Tx) settleUntried(id int64, set string, args ...any) error {
	res, err := t.tx.Exec(`UPDATE outbox SET `+set+` WHERE id = ? AND state = 'pending'`, append(args, id)...)
	if err != nil {
		return fmt.Errorf("update outgoing mail %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("outgoing mail %d: %w", id, ErrNotDue)
	}
	return nil
}

func (t *Tx) setOutbox(id int64, set string, args ...any) error {
	res, err := t.tx.Exec(`UPDATE outbox SET `+set+` WHERE id = ?`, append(args, id)...)
	if err != nil {
		return fmt.Errorf("update outgoing mail %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("outgoing mail %d: %w", id, ErrNotFound)
	}
	return nil
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// OutgoingByMessageID returns the outbox row whose Message-ID is id
// (without brackets), or ErrNotFound: how replies and bounces are tied to
// the mail we sent.
func (t *Tx) OutgoingByMessageID(id string) (OutgoingMail, error) {
	m, err := t.scanOutgoing(t.tx.QueryRow(`SELECT `+outboxColumns+` FROM outbox o WHERE o.message_id = ?`, id), false)
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("outgoing mail %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("read outgoing mail: %w", err)
	}
	return m, nil
}
