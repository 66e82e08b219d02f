package store

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/recoverybot/recoverybot"
)

// AddDocument stores a document of a case and sets d.ID. messageID is the
// ledger row it came from (0: none). A document is unique per case,
// message and SHA-256: adding it again changes nothing and sets d.ID to
// the row there is. The bytes are sealed once per case: a second message
// with the same bytes shares the first one's.
func (t *Tx) AddDocument(caseID, messageID int64, parserVersion int, d *recoverybot.Document, data []byte) error {
	if !d.Type.Valid() {
		return fmt.Errorf("add document %s: bad type %q", d.Filename, d.Type)
	}
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	if d.SHA256 == "" {
		d.SHA256 = hexSum
	}
	if d.SHA256 != hexSum {
		return fmt.Errorf("add document %s: sha256 does not match its bytes", d.Filename)
	}
	err := t.tx.QueryRow(`SELECT id FROM documents WHERE case_id = ? AND COALESCE(message_id, 0) = ? AND sha256 = ?`,
		caseID, messageID, d.SHA256).Scan(&d.ID)
	switch {
	case err == nil:
		d.MessageID = messageID
		return nil
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("add document %s: %w", d.Filename, err)
	}
	var blobID int64
	err = t.tx.QueryRow(`SELECT blob_id FROM documents WHERE case_id = ? AND sha256 = ? AND blob_id IS NOT NULL
		ORDER BY id LIMIT 1`, caseID, d.SHA256).Scan(&blobID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if blobID, _, err = t.putCaseBlob(caseID, BlobDocument, data); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("add document %s: %w", d.Filename, err)
	}
	signals, _ := json.Marshal(nonNil(d.Signals))
	findings, _ := json.Marshal(nonNil(d.Findings))
	d.Size = int64(len(data))
	d.ReceivedAt = t.now
	res, err := t.tx.Exec(`INSERT INTO documents (case_id, message_id, type, filename, declared_type, media_type, size,
		sha256, signals, findings, parser_version, blob_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		caseID, nullID(messageID), string(d.Type), d.Filename, d.DeclaredType, d.MediaType, d.Size, d.SHA256,
		string(signals), string(findings), parserVersion, blobID, ts(t.now))
	if err != nil {
		return fmt.Errorf("add document %s: %w", d.Filename, err)
	}
	d.ID, err = res.LastInsertId()
	d.MessageID = messageID
	d.Messages = []int64{messageID}
	return err
}

const documentColumns = `id, type, filename, declared_type, media_type, size, sha256, signals, findings,
	COALESCE(message_id, 0), created_at, purged_at IS NOT NULL, verdict, verdict_reason, verdict_by`

func scanDocument(row interface{ Scan(...any) error }) (recoverybot.Document, error) {
	var d recoverybot.Document
	var typ, signals, findings, created, verdict string
	err := row.Scan(&d.ID, &typ, &d.Filename, &d.DeclaredType, &d.MediaType, &d.Size, &d.SHA256, &signals, &findings,
		&d.MessageID, &created, &d.Purged, &verdict, &d.VerdictReason, &d.VerdictBy)
	if err != nil {
		return d, err
	}
	d.Type, d.Verdict = recoverybot.DocumentType(typ), recoverybot.Verdict(verdict)
	if err := json.Unmarshal([]byte(signals), &d.Signals); err != nil {
		return d, err
	}
	if err := json.Unmarshal([]byte(findings), &d.Findings); err != nil {
		return d, err
	}
	d.ReceivedAt, err = parseTS(created)
	return d, err
}

// Documents returns the documents of a case in the order they arrived,
// each SHA-256 once: the same bytes sent in several messages are one
// document, described as first received, with Messages listing every
// ledger message that carried it.
func (t *Tx) Documents(caseID int64) ([]recoverybot.Document, error) {
	rows, err := t.tx.Query(`SELECT `+documentColumns+` FROM documents WHERE case_id = ? ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("list documents: %w", err)
	}
	defer rows.Close()
	out := []recoverybot.Document{}
	at := map[string]int{}
	for rows.Next() {
		d, err := scanDocument(rows)
		if err != nil {
			return nil, fmt.Errorf("list documents: %w", err)
		}
		if i, ok := at[d.SHA256]; ok {
			if d.MessageID != 0 && !slices.Contains(out[i].Messages, d.MessageID) {
				out[i].Messages = append(out[i].Messages, d.MessageID)
			}
			continue
		}
		at[d.SHA256] = len(out)
		if d.MessageID != 0 {
			d.Messages = []int64{d.MessageID}
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DocumentBytes returns the metadata and bytes of the document of a case
// whose SHA-256 is sum. A purged document is ErrNotFound.
func (t *Tx) DocumentBytes(caseID int64, sum string) (recoverybot.Document, []byte, error) {
	var blobID sql.NullInt64
	d, err := scanDocument(t.tx.QueryRow(`SELECT `+documentColumns+` FROM documents
		WHERE case_id = ? AND sha256 = ? ORDER BY id LIMIT 1`, caseID, sum))
	if errors.Is(err, sql.ErrNoRows) {
		return d, nil, fmt.Errorf("document %s: %w", sum, ErrNotFound)
	}
	if err != nil {
		return d, nil, fmt.Errorf("read document: %w", err)
	}
	if err := t.tx.QueryRow(`SELECT blob_id FROM documents WHERE id = ?`, d.ID).Scan(&blobID); err != nil {
		return d, nil, fmt.Errorf("read document: %w", err)
	}
	if !blobID.Valid {
		at, err := t.PurgedAt(caseID)
		if err != nil {
			return d, nil, err
		}
		if at != nil {
			return d, nil, fmt.Errorf("document %s: %w", sum, &PurgedError{At: *at})
		}
		return d, nil, fmt.Errorf("document %s was purged: %w", sum, ErrNotFound)
	}
	data, err := t.Blob(blobID.Int64)
	return d, data, err
}

// JudgeDocument records an agent's verdict on the document of case caseID
// whose SHA-256 is sum, on every copy of it; retype, when not empty,
// corrects the type recoverybot gave it. ErrNotFound when the case has no
// such document.
func (t *Tx) JudgeDocument(caseID int64, sum string, v recoverybot.Verdict, reason, by string, retype recoverybot.DocumentType) error {
	res, err := t.tx.Exec(`UPDATE documents SET verdict = ?, verdict_reason = ?, verdict_by = ?, verdict_at = ?,
		type = CASE WHEN ? != '' THEN ? ELSE type END WHERE case_id = ? AND sha256 = ?`,
		string(v), reason, by, ts(t.now), string(retype), string(retype), caseID, sum)
	if err != nil {
		return fmt.Errorf("judge document %s: %w", sum, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("document %s: %w", sum, ErrNotFound)
	}
	return nil
}
