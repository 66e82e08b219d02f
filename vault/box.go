package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Box seals and opens data with one key of its own, such as a case's key
// (SPEC §8): the store keeps each case's documents under such a key,
// wrapped by the storage key, and destroying the wrapped key at purge
// makes every copy of them unreadable, backups and free pages included.
type Box struct {
	aead cipher.AEAD
}

// NewKey returns a new random 32-byte key for NewBox.
func NewKey() ([]byte, error) {
	k := make([]byte, keySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("vault: new key: %w", err)
	}
	return k, nil
}

// NewBox returns the Box of a 32-byte key (AES-256-GCM).
func NewBox(key []byte) (*Box, error) {
	if len(key) != keySize {
		return nil, errors.New("vault: keys must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plain under the box's key, bound to associated (as
// Vault.Seal).
func (b *Box) Seal(plain, associated []byte) ([]byte, error) {
	return seal(b.aead, plain, associated)
}

// Open decrypts what Seal produced with the same associated data.
func (b *Box) Open(sealed, associated []byte) ([]byte, error) {
	return open(b.aead, sealed, associated)
}

func seal(aead cipher.AEAD, plain, associated []byte) ([]byte, error) {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("vault: nonce: %w", err)
	}
	return aead.Seal(nonce, nonce, plain, associated), nil
}

func open(aead cipher.AEAD, sealed, associated []byte) ([]byte, error) {
	n := aead.NonceSize()
	if len(sealed) < n+aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], associated)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// Reseal opens sealed, made by v.Seal bound to associated, and seals its
// clear bytes again under to, bound to the same associated data, in
// sealed's own storage: a large message moves under its case's key with
// no second copy of it made. check sees the clear bytes first; an error
// from it is returned. Either way sealed is overwritten.
func (v *Vault) Reseal(to *Box, sealed, associated []byte, check func(clear []byte) error) ([]byte, error) {
	return reseal(v.aead, to.aead, sealed, associated, check)
}

func reseal(from, to cipher.AEAD, sealed, associated []byte, check func([]byte) error) ([]byte, error) {
	n := from.NonceSize()
	if len(sealed) < n+from.Overhead() || to.NonceSize() != n || to.Overhead() != from.Overhead() {
		return nil, ErrOpen
	}
	nonce := sealed[:n]
	plain, err := from.Open(sealed[n:n], nonce, sealed[n:], associated)
	if err != nil {
		return nil, ErrOpen
	}
	if err := check(plain); err != nil {
		return nil, err
	}
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("vault: nonce: %w", err)
	}
	return to.Seal(nonce, nonce, plain, associated), nil
}
