// Package vault keeps the two secrets of a data directory and what they
// protect: the code key, under which verification codes are stored as
// keyed hashes (SPEC §3), and the storage key, under which raw messages,
// documents and outgoing mail are sealed at rest with AES-256-GCM
// (SPEC §8).
//
// Both keys are created on first use with crypto/rand in files of mode
// 0600. Losing them makes the stored codes and documents unreadable, which
// is the point of keeping them apart from the database in backups.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The key files in the data directory.
const (
	CodeKeyFile    = "code.key"
	StorageKeyFile = "storage.key"
)

const keySize = 32

// Vault seals and opens data with the storage key and hands out the code
// key. It is safe for concurrent use.
type Vault struct {
	codeKey []byte
	aead    cipher.AEAD
}

// Open loads the keys of dataDir, creating the directory (mode 0700) and
// any missing key (mode 0600). A key file that is not exactly 32 bytes, or
// that others can read, is an error: a copied or truncated key would
// silently make stored data unreadable.
func Open(dataDir string) (*Vault, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	codeKey, err := loadOrCreate(filepath.Join(dataDir, CodeKeyFile))
	if err != nil {
		return nil, err
	}
	storageKey, err := loadOrCreate(filepath.Join(dataDir, StorageKeyFile))
	if err != nil {
		return nil, err
	}
	return New(codeKey, storageKey)
}

// New makes a Vault from keys held elsewhere (tests, a secret manager).
func New(codeKey, storageKey []byte) (*Vault, error) {
	if len(codeKey) != keySize || len(storageKey) != keySize {
		return nil, errors.New("vault: keys must be 32 bytes")
	}
	block, err := aes.NewCipher(storageKey)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return &Vault{codeKey: append([]byte(nil), codeKey...), aead: aead}, nil
}

func loadOrCreate(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	switch {
	case err == nil:
		if len(key) != keySize {
			return nil, fmt.Errorf("key file %s: want %d bytes, found %d", path, keySize, len(key))
		}
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("key file: %w", err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("key file %s: mode %v lets others read it (want 0600)", path, st.Mode().Perm())
		}
		return key, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read key file: %w", err)
	}
	key = make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("create key: %w", err)
	}
	// O_EXCL: two processes starting at once must not both write a key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadOrCreate(path)
	}
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("close key file: %w", err)
	}
	return key, nil
}

// CodeKey returns the secret under which codes are hashed.
func (v *Vault) CodeKey() []byte { return append([]byte(nil), v.codeKey...) }

// Purpose names what a key derived from the code key is for. Each purpose
// gets its own key, so that a MAC made for one can never pass for another.
type Purpose string

// The purposes of derived keys.
const (
	// PurposeMessageID keys the Message-IDs of the mail we send, so that a
	// bounce naming one cannot be forged from a case reference.
	PurposeMessageID Purpose = "message-id"
	// PurposeAudit keys the hash chain of the audit log.
	PurposeAudit Purpose = "audit-chain"
)

// Key returns the 32-byte key for purpose, derived from the code key
// (HMAC-SHA256 of the purpose, as HKDF-Expand does for one block). It is
// the same for every process sharing the data directory.
func (v *Vault) Key(purpose Purpose) []byte {
	m := hmac.New(sha256.New, v.codeKey)
	m.Write([]byte("recoverybot/" + purpose + "\x01"))
	return m.Sum(nil)
}

// Seal encrypts plain. The associated data binds the result to where it is
// stored (say, "document:<sha256>"), so a sealed blob moved elsewhere does
// not open.
func (v *Vault) Seal(plain, associated []byte) ([]byte, error) {
	return seal(v.aead, plain, associated)
}

// ErrOpen is returned when sealed data does not open: a wrong key, a
// wrong place or tampering.
var ErrOpen = errors.New("vault: sealed data does not open with this key")

// Open decrypts what Seal produced with the same associated data.
func (v *Vault) Open(sealed, associated []byte) ([]byte, error) {
	return open(v.aead, sealed, associated)
}
