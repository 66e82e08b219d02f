package recoverybot

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
)

// RefAlphabet is the alphabet of case references: digits and capitals
// without the look-alikes 0/O and 1/I/L, so that a reference read over the
// phone or retyped from a photo cannot be misread.
const RefAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// RefPrefix starts every case reference.
const RefPrefix = "RC-"

// RefLength is the number of random characters after the prefix: 31^6,
// about 887 million references.
const RefLength = 6

// ErrBadRef is returned by ParseRef.
var ErrBadRef = errors.New("recoverybot: malformed case reference")

// NewRef returns a fresh random case reference such as RC-7KQ2M9. The
// store rejects a reference already in use; callers retry.
func NewRef() (string, error) {
	buf := make([]byte, RefLength)
	out := make([]byte, RefLength)
	for i := 0; i < RefLength; {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("new case reference: %w", err)
		}
		for _, b := range buf {
			// Rejection sampling keeps the characters uniform: 248 is
			// the largest multiple of 31 below 256.
			if b >= 248 || i == RefLength {
				continue
			}
			out[i] = RefAlphabet[int(b)%len(RefAlphabet)]
			i++
		}
	}
	return RefPrefix + string(out), nil
}

// ParseRef reads a case reference as an agent types it: any case, with or
// without the dash. It returns the canonical form.
func ParseRef(s string) (string, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimPrefix(t, "RC")
	t = strings.TrimPrefix(t, "-")
	if len(t) != RefLength {
		return "", fmt.Errorf("%w %q (want %sXXXXXX)", ErrBadRef, s, RefPrefix)
	}
	for _, r := range t {
		if !strings.ContainsRune(RefAlphabet, r) {
			return "", fmt.Errorf("%w %q (want %sXXXXXX)", ErrBadRef, s, RefPrefix)
		}
	}
	return RefPrefix + t, nil
}
