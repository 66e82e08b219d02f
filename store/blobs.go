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

// Sealed is data sealed for the store by Store.Seal, ready for PutSealed.
// Sealing is the costly part of storing bytes; it needs no transaction,
// so it can be done beforehand, on every CPU at once.
type Sealed struct {
	kind   BlobKind
	sum    string // hex SHA-256 of the clear bytes
	size   int
	sealed []byte
}

// Seal seals data as a blob of kind. It is safe for concurrent use.
func (s *Store) Seal(kind BlobKind, data []byte) (Sealed, error) {
	h := sha256.Sum256(data)
	sum := hex.EncodeToString(h[:])
	sealed, err := s.vault.Seal(data, blobAD(kind, sum))
	if err != nil {
		return Sealed{}, fmt.Errorf("seal %s bytes: %w", kind, err)
	}
	return Sealed{kind: kind, sum: sum, size: len(data), sealed: sealed}, nil
}

// PutSealed stores bytes sealed by Seal and returns their row ID.
func (t *Tx) PutSealed(b Sealed) (int64, error) {
	if b.kind == "" || b.sealed == nil {
		return 0, errors.New("store: bytes not sealed by Store.Seal")
	}
	res, err := t.tx.Exec(`INSERT INTO blobs (kind, sha256, size, sealed, created_at) VALUES (?, ?, ?, ?, ?)`,
		string(b.kind), b.sum, b.size, b.sealed, ts(t.now))
	if err != nil {
		return 0, fmt.Errorf("store %s bytes: %w", b.kind, err)
	}
	return res.LastInsertId()
}

// PutBlob seals data and stores it, returning its row ID and the
// hex SHA-256 of the clear bytes.
func (t *Tx) PutBlob(kind BlobKind, data []byte) (id int64, sum string, err error) {
	b, err := t.s.Seal(kind, data)
	if err != nil {
		return 0, "", err
	}
	id, err = t.PutSealed(b)
	return id, b.sum, err
}

// Blob opens the sealed bytes with row ID id. The hash is checked, so
// bytes that were tampered with or moved never come back.
func (t *Tx) Blob(id int64) ([]byte, error) {
	var kind, sum string
	var sealed []byte
	var caseID sql.NullInt64
	err := t.tx.QueryRow(`SELECT kind, sha256, sealed, case_id FROM blobs WHERE id = ?`, id).Scan(&kind, &sum, &sealed, &caseID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("blob %s: %w", strconv.FormatInt(id, 10), ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read blob: %w", err)
	}
	if caseID.Valid {
		box, err := t.caseBox(caseID.Int64, false)
		if err != nil {
			return nil, fmt.Errorf("open %s bytes %d: %w", kind, id, err)
		}
		return checkOpened(id, BlobKind(kind), sum, sealed, box.Open)
	}
	return t.s.openSealed(id, BlobKind(kind), sum, sealed)
}

// openSealed opens sealed bytes of kind and checks them against sum, so
// that bytes that were tampered with or moved never come back.
func (s *Store) openSealed(id int64, kind BlobKind, sum string, sealed []byte) ([]byte, error) {
	return checkOpened(id, kind, sum, sealed, s.vault.Open)
}

func checkOpened(id int64, kind BlobKind, sum string, sealed []byte, open func(sealed, ad []byte) ([]byte, error)) ([]byte, error) {
	data, err := open(sealed, blobAD(kind, sum))
	if err != nil {
		return nil, fmt.Errorf("open %s bytes %d: %w", kind, id, err)
	}
	h := sha256.Sum256(data)
	if hex.EncodeToString(h[:]) != sum {
		return nil, fmt.Errorf("%s bytes %d: hash mismatch", kind, id)
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

// dropBlob deletes the raw message stored as blob id (a message recorded
// before the spool existed).
func (t *Tx) dropBlob(id int64) error {
	if _, err := t.tx.Exec(`DELETE FROM blobs WHERE id = ? AND kind = ?`, id, string(BlobMessage)); err != nil {
		return fmt.Errorf("delete raw message blob %d: %w", id, err)
	}
	return nil
}
