package store

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/recoverybot/recoverybot/vault"
)

// ErrPurged is matched by the errors returned for the bytes of a case
// that was purged (its key destroyed, its blobs deleted): they are
// *PurgedError values, which match ErrNotFound too.
var ErrPurged = errors.New("store: purged")

// PurgedError says that bytes asked for were purged, and when.
type PurgedError struct {
	At time.Time
}

func (e *PurgedError) Error() string { return "store: purged on " + e.At.UTC().Format(time.DateOnly) }

// Is makes a PurgedError match ErrPurged and ErrNotFound.
func (e *PurgedError) Is(target error) bool { return target == ErrPurged || target == ErrNotFound }

func caseKeyAD(caseID int64) []byte {
	return []byte("recoverybot case key\x00" + strconv.FormatInt(caseID, 10))
}

// caseBox returns the box of a case's own key, creating the key when
// create is set and the case has none. A case whose key was destroyed
// (purged) is ErrPurged.
func (t *Tx) caseBox(caseID int64, create bool) (*vault.Box, error) {
	var wrapped []byte
	var purged sql.NullString
	err := t.tx.QueryRow(`SELECT k.wrapped, c.purged_at FROM cases c LEFT JOIN case_keys k ON k.case_id = c.id
		WHERE c.id = ?`, caseID).Scan(&wrapped, &purged)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("case %d: %w", caseID, ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("read the key of case %d: %w", caseID, err)
	case wrapped != nil:
		key, err := t.s.vault.Open(wrapped, caseKeyAD(caseID))
		if err != nil {
			return nil, fmt.Errorf("unwrap the key of case %d: %w", caseID, err)
		}
		return vault.NewBox(key)
	case !create && purged.Valid:
		at, err := parseTS(purged.String)
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("case %d: %w", caseID, &PurgedError{At: at})
	case !create:
		return nil, fmt.Errorf("key of case %d: %w", caseID, ErrNotFound)
	}
	// A case reopened after its purge gets a new key: what it receives
	// now is purged again once it closes.
	key, err := vault.NewKey()
	if err != nil {
		return nil, err
	}
	wrapped, err = t.s.vault.Seal(key, caseKeyAD(caseID))
	if err != nil {
		return nil, fmt.Errorf("wrap the key of case %d: %w", caseID, err)
	}
	if _, err := t.tx.Exec(`INSERT INTO case_keys (case_id, wrapped, created_at) VALUES (?, ?, ?)`, caseID, wrapped, ts(t.now)); err != nil {
		return nil, fmt.Errorf("store the key of case %d: %w", caseID, err)
	}
	return vault.NewBox(key)
}

// putCaseBlob seals data under the key of a case and stores it,
// returning its row ID and the hex SHA-256 of the clear bytes.
func (t *Tx) putCaseBlob(caseID int64, kind BlobKind, data []byte) (int64, string, error) {
	box, err := t.caseBox(caseID, true)
	if err != nil {
		return 0, "", err
	}
	h := sha256.Sum256(data)
	sum := hex.EncodeToString(h[:])
	sealed, err := box.Seal(data, blobAD(kind, sum))
	if err != nil {
		return 0, "", fmt.Errorf("seal %s bytes: %w", kind, err)
	}
	res, err := t.tx.Exec(`INSERT INTO blobs (kind, sha256, size, sealed, created_at, case_id) VALUES (?, ?, ?, ?, ?, ?)`,
		string(kind), sum, len(data), sealed, ts(t.now), caseID)
	if err != nil {
		return 0, "", fmt.Errorf("store %s bytes: %w", kind, err)
	}
	id, err := res.LastInsertId()
	return id, sum, err
}

// putCaseSpooled stores the spooled message with spool row id (sum: the
// hash its ledger row recorded) as a blob of its case, sealed under the
// case's key, and returns the blob's row ID. The message is opened and
// sealed again in the bytes read from the spool (read and closed before
// the main store is written, so that SQLite does not hold the spool's
// copy meanwhile): a message of 38 MB costs two copies of it, not four.
func (t *Tx) putCaseSpooled(caseID, id int64, sum string) (int64, error) {
	box, err := t.caseBox(caseID, true)
	if err != nil {
		return 0, err
	}
	var got string
	var sealed []byte
	err = t.s.sr.QueryRow(`SELECT sha256, sealed FROM raw WHERE id = ?`, id).Scan(&got, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("spooled message %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("read spooled message %d: %w", id, err)
	}
	if got != sum {
		return 0, fmt.Errorf("spooled message %d: not the message recorded (hash mismatch)", id)
	}
	size := 0
	resealed, err := t.s.vault.Reseal(box, sealed, blobAD(BlobMessage, sum), func(clear []byte) error {
		size = len(clear)
		h := sha256.Sum256(clear)
		if hex.EncodeToString(h[:]) != sum {
			return fmt.Errorf("%s bytes %d: hash mismatch", BlobMessage, id)
		}
		return nil
	})
	if errors.Is(err, vault.ErrOpen) {
		return 0, fmt.Errorf("open %s bytes %d: %w", BlobMessage, id, err)
	}
	if err != nil {
		return 0, err
	}
	res, err := t.tx.Exec(`INSERT INTO blobs (kind, sha256, size, sealed, created_at, case_id) VALUES (?, ?, ?, ?, ?, ?)`,
		string(BlobMessage), sum, size, resealed, ts(t.now), caseID)
	if err != nil {
		return 0, fmt.Errorf("store %s bytes: %w", BlobMessage, err)
	}
	return res.LastInsertId()
}
