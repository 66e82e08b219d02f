package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/recoverybot/recoverybot"
)

// AddDocument stores a document of a case with its sealed bytes and sets
// d.ID. messageID is the ledger row it came from (0: none).
func (t *Tx) AddDocument(caseID, messageID int64, parserVersion int, d *recoverybot.Document, data []byte) error {
	blobID, sum, err := t.PutBlob(BlobDocument, data)
	if err != nil {
		return err
	}
	if d.SHA256 == "" {
		d.SHA256 = sum
	}
	if d.SHA256 != sum {
		return fmt.Errorf("add document %s: sha256 does not match its bytes", d.Filename)
	}
	if !d.Type.Valid() {
		return fmt.Errorf("add document %s: bad type %q", d.Filename, d.Type)
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
	return err
}

const documentColumns = `id, type, filename, declared_type, media_type, size, sha256, signals, findings,
	COALESCE(message_id, 0), created_at, purged_at IS NOT NULL`

func scanDocument(row interface{ Scan(...any) error }) (recoverybot.Document, error) {
	var d recoverybot.Document
	var typ, signals, findings, created string
	err := row.Scan(&d.ID, &typ, &d.Filename, &d.DeclaredType, &d.MediaType, &d.Size, &d.SHA256, &signals, &findings,
		&d.MessageID, &created, &d.Purged)
	if err != nil {
		return d, err
	}
	d.Type = recoverybot.DocumentType(typ)
	if err := json.Unmarshal([]byte(signals), &d.Signals); err != nil {
		return d, err
	}
	if err := json.Unmarshal([]byte(findings), &d.Findings); err != nil {
		return d, err
	}
	d.ReceivedAt, err = parseTS(created)
	return d, err
}

// Documents returns the documents of a case in the order they arrived.
func (t *Tx) Documents(caseID int64) ([]recoverybot.Document, error) {
	rows, err := t.tx.Query(`SELECT `+documentColumns+` FROM documents WHERE case_id = ? ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("list documents: %w", err)
	}
	defer rows.Close()
	out := []recoverybot.Document{}
	for rows.Next() {
		d, err := scanDocument(rows)
		if err != nil {
			return nil, fmt.Errorf("list documents: %w", err)
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
		return d, nil, fmt.Errorf("document %s was purged: %w", sum, ErrNotFound)
	}
	data, err := t.Blob(blobID.Int64)
	return d, data, err
}
