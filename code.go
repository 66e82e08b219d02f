package recoverybot

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"
)

// CodeAlphabet is Crockford's base32: 32 symbols without I, L, O and U.
const CodeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// CodeLength is the number of symbols of a code: 8 × 5 = 40 bits (SPEC §3).
const CodeLength = 8

// MaxCodeAttempts is the number of wrong codes that locks a case.
const MaxCodeAttempts = 5

// DefaultCodeTTL is how long a code stays valid unless configured.
const DefaultCodeTTL = 24 * time.Hour

// ErrNotACode is returned by NormalizeCode for text that cannot be a code.
var ErrNotACode = errors.New("recoverybot: not a code")

// NewCode returns a fresh code in the form shown to customers, XXXX-XXXX.
// It is the only moment the code exists in clear: callers hash it with a
// CodeKey and put the clear form in the code email only.
func NewCode() (string, error) {
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new code: %w", err)
	}
	n := uint64(b[0])<<32 | uint64(b[1])<<24 | uint64(b[2])<<16 | uint64(b[3])<<8 | uint64(b[4])
	out := make([]byte, CodeLength)
	for i := CodeLength - 1; i >= 0; i-- {
		out[i] = CodeAlphabet[n&31]
		n >>= 5
	}
	return string(out[:4]) + "-" + string(out[4:]), nil
}

// NormalizeCode turns what a customer typed into the canonical 8 symbols:
// case, spaces, dashes and the usual confusables (O→0, I/L→1, U→V) do not
// matter (SPEC §3). Anything else is ErrNotACode.
func NormalizeCode(s string) (string, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == ' ' || r == '-' || r == '\u00a0' || r == '\t' || r == '\u2010' || r == '\u2011' || r == '\u2013':
			continue
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		}
		switch r {
		case 'O':
			r = '0'
		case 'I', 'L':
			r = '1'
		case 'U':
			r = 'V'
		}
		if r > 0x7f || !strings.ContainsRune(CodeAlphabet, r) {
			return "", ErrNotACode
		}
		b.WriteRune(r)
		if b.Len() > CodeLength {
			return "", ErrNotACode
		}
	}
	if b.Len() != CodeLength {
		return "", ErrNotACode
	}
	return b.String(), nil
}

// CodeKey computes the keyed hashes under which codes are stored: a code
// is never kept in clear. The key is the server secret of the data
// directory.
type CodeKey struct{ key []byte }

// NewCodeKey wraps a secret of at least 32 bytes.
func NewCodeKey(secret []byte) (CodeKey, error) {
	if len(secret) < 32 {
		return CodeKey{}, errors.New("recoverybot: code key shorter than 32 bytes")
	}
	return CodeKey{key: append([]byte(nil), secret...)}, nil
}

// Hash returns the keyed hash of code for the case ref. Binding the hash
// to the reference makes a code useless on any other case. code may be in
// any form NormalizeCode accepts.
func (k CodeKey) Hash(ref, code string) ([]byte, error) {
	canon, err := NormalizeCode(code)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte("recoverybot code v1\x00"))
	m.Write([]byte(ref))
	m.Write([]byte{0})
	m.Write([]byte(canon))
	return m.Sum(nil), nil
}

// IssuedCode is a code as stored: its keyed hash and its lifetime.
type IssuedCode struct {
	Hash      []byte
	IssuedAt  time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time // set once a message carried it: codes are single use
}

// CodeResult is the outcome of checking one candidate against a case's code.
type CodeResult string

// The results of a code check.
const (
	CodeMatch    CodeResult = "match"    // right code, in time, first use
	CodeMismatch CodeResult = "mismatch" // a wrong code: a failed attempt
	CodeExpired  CodeResult = "expired"  // the right code, too late
	CodeUsed     CodeResult = "used"     // the right code, already accepted once
)

// Check compares candidate with the issued code of case ref, in constant
// time. A candidate that is not code-shaped is a mismatch.
func (k CodeKey) Check(c IssuedCode, ref, candidate string, now time.Time) CodeResult {
	h, err := k.Hash(ref, candidate)
	if err != nil || !hmac.Equal(h, c.Hash) {
		return CodeMismatch
	}
	switch {
	case c.UsedAt != nil:
		return CodeUsed
	case !now.Before(c.ExpiresAt):
		return CodeExpired
	}
	return CodeMatch
}
