// Package mailaddr brings an email address taken from outside (a
// message's header, an agent's command, a profile import) to the form
// recoverybot compares addresses in (SPEC §4): Unicode NFC (UAX #15),
// then recoverybot.NormalizeAddress (ASCII letters lower-cased and
// nothing else, bidi controls refused).
//
// NFC lives here rather than in the root package, which depends on the
// standard library only: two spellings of a non-ASCII local part, one
// precomposed ("é", U+00E9) and one decomposed ("e" then U+0301), become
// the same address; no case folding or compatibility mapping (NFKC)
// makes two different addresses one.
package mailaddr

import (
	"golang.org/x/text/unicode/norm"

	"github.com/recoverybot/recoverybot"
)

// Normalize returns addr in NFC, normalised by recoverybot.NormalizeAddress.
// addr is checked before NFC too: NFC would turn the characters the root
// package refuses for being an ASCII character's twin (the Kelvin sign)
// into that character.
func Normalize(addr string) (string, error) {
	if _, err := recoverybot.NormalizeAddress(addr); err != nil {
		return "", err
	}
	return recoverybot.NormalizeAddress(norm.NFC.String(addr))
}
