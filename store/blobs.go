package store

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
)

// BlobKind says what sealed bytes are; it is bound into the seal.
type BlobKind string

// The kinds of sealed bytes.
const (
	BlobMessage  BlobKind = "message"  // a raw message from the mailbox
	BlobDocument BlobKind = "document" // a document's bytes
	BlobOutgoing BlobKind = "outgoing" // a composed outgoing mail
)

func blobAD(kind BlobKind, sum string) []byte {
	return []byte("recoverybot blob\x00" + string(kind) + "\x00" + sum)
}

// PutBlob seals data and stores it, returning its row ID and the
// hex SHA-256 of the clear bytes.
func (t *Tx) PutBlob(kind BlobKind, data []byte) (id int64, sum string, err error) {
	h := sha256.Sum256(data)
	sum = hex.EncodeToString(h[:])
	sealed, err := t.s.vault.Seal(data, blobAD(kind, sum))
	if err != nil {
		return 0, "", err
	}
	res, err := t.tx.Exec(`INSERT INTO blobs (kind, sha256, size, sealed, created_at) VALUES (?, ?, ?, ?, ?)`,
		string(kind), sum, len(data), sealed, ts(t.now))
	if err != nil {
		return 0, "", fmt.Errorf("store %s bytes: %w", kind, err)
	}
	id, err = res.LastInsertId()
	return id, sum, err
}

// Blob opens the sealed bytes with row ID id. The hash is checked, so
// bytes that were tampered with or moved never come back.
func (t *Tx) Blob(id int64) ([]byte, error) {
	var kind, sum string
	var sealed []byte
	err := t.tx.QueryRow(`SELECT kind, sha256, sealed FROM blobs WHERE id = ?`, id).Scan(&kind, &sum, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("blob %s: %w", strconv.FormatInt(id, 10), ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read blob: %w", err)
	}
	data, err := t.s.vault.Open(sealed, blobAD(BlobKind(kind), sum))
	if err != nil {
		return nil, fmt.Errorf("open blob %d: %w", id, err)
	}
	h := sha256.Sum256(data)
	if hex.EncodeToString(h[:]) != sum {
		return nil, fmt.Errorf("blob %d: hash mismatch", id)
	}
	return data, nil
}

// DeleteBlob removes sealed bytes; rows that pointed at them keep their
// metadata.
func (t *Tx) DeleteBlob(id int64) error {
	if _, err := t.tx.Exec(`DELETE FROM blobs WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete blob %d: %w", id, err)
	}
	return nil
}
