package recoverybot

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
)

// NormalizeAddress returns addr in the form addresses are compared in:
// the bare address with its ASCII letters in lower case (SPEC §4: case
// does not matter; dots and plus-tags do). Nothing else changes: there is
// no Unicode case folding, which would let a non-ASCII local part match
// an ASCII one ("\u212A", the Kelvin sign, lower-cases to "k"), so a
// non-ASCII local part or domain compares exactly. It refuses anything
// that is not exactly one address without a display name, any address
// with a bidi control character (U+061C, U+200E, U+200F, U+202A–U+202E,
// U+2066–U+2069), which make an address display as another, and any
// with one of the three characters Unicode normalisation turns into
// ASCII (isASCIITwin: the Kelvin sign is K in NFC).
//
// Exact comparison of non-ASCII text needs one Unicode normalisation on
// both sides: this package has no Unicode tables beyond the standard
// library's, so the code that takes addresses from outside (the parser,
// the desk) brings them to NFC first (package internal/mailaddr). An
// address that was not is at worst not equal to its NFC twin: never
// wrongly equal.
func NormalizeAddress(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", errors.New("empty email address")
	}
	if strings.ContainsAny(addr, "\r\n") {
		return "", fmt.Errorf("invalid email address %q", addr)
	}
	if strings.IndexFunc(addr, isBidiControl) >= 0 {
		return "", fmt.Errorf("invalid email address %+q: bidi control character", addr)
	}
	if strings.IndexFunc(addr, isASCIITwin) >= 0 {
		return "", fmt.Errorf("invalid email address %+q: a character Unicode equates with an ASCII one", addr)
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != addr {
		return "", fmt.Errorf("invalid email address %q", addr)
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at <= 0 || at == len(a.Address)-1 || !strings.Contains(a.Address[at+1:], ".") {
		return "", fmt.Errorf("invalid email address %q", addr)
	}
	return ASCIILower(a.Address), nil
}

// isBidiControl reports the Unicode bidi controls: the Arabic letter
// mark, the left-to-right and right-to-left marks, embeddings, overrides
// and isolates (Unicode Standard Annex #9).
func isBidiControl(r rune) bool {
	return r == 0x061C || r == 0x200E || r == 0x200F || r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069
}

// isASCIITwin reports the characters whose canonical decomposition is an
// ASCII character (Unicode singletons): the Kelvin sign (K), the Greek
// question mark (;) and the Greek varia (`). Unicode normalisation
// (NFC, NFD) turns them into their twin, so an address holding one would
// become an ASCII address, another's; it is refused instead.
// internal/mailaddr's tests check the list against the Unicode tables.
func isASCIITwin(r rune) bool { return r == 0x212A || r == 0x037E || r == 0x1FEF }

// ASCIILower lower-cases the ASCII letters of s and nothing else: how
// addresses and domains compare (SPEC §4; Unicode case folding would
// turn the Kelvin sign into k).
func ASCIILower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// ValidSIREN reports whether s is a SIREN: 9 digits whose Luhn checksum
// holds. Spaces are ignored.
func ValidSIREN(s string) bool {
	s = strings.ReplaceAll(s, " ", "")
	if len(s) != 9 {
		return false
	}
	return luhn(s)
}

func luhn(s string) bool {
	sum := 0
	double := false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// ValidRNA reports whether s is an RNA number (répertoire national des
// associations): W followed by 9 digits.
func ValidRNA(s string) bool {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) != 10 || s[0] != 'W' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Locales lists the languages mail is written in; the first is the default.
var Locales = []string{"fr", "en"}

// Validate checks a profile as it is imported and returns it normalised:
// the address lower-cased, the holder kind and locale checked, the
// representative required for companies and associations, the SIREN and
// RNA checked when given.
func (p Profile) Validate() (Profile, error) {
	p.ID = strings.TrimSpace(p.ID)
	if p.ID == "" {
		return p, errors.New("id is empty")
	}
	if strings.ContainsAny(p.ID, " \t\r\n") {
		return p, fmt.Errorf("id %q contains white space", p.ID)
	}
	email, err := NormalizeAddress(p.Email)
	if err != nil {
		return p, err
	}
	p.Email = email
	hk, err := ParseHolderKind(string(p.HolderKind))
	if err != nil {
		return p, fmt.Errorf("holder_kind %q is not individual, company or association", p.HolderKind)
	}
	p.HolderKind = hk
	p.HolderName = strings.TrimSpace(p.HolderName)
	if p.HolderName == "" {
		return p, errors.New("holder_name is empty")
	}
	p.Representative = strings.TrimSpace(p.Representative)
	if hk.NeedsRepresentative() && p.Representative == "" {
		return p, fmt.Errorf("representative is required for a %s", hk)
	}
	p.Phone = strings.TrimSpace(p.Phone)
	p.SIREN = strings.ReplaceAll(strings.TrimSpace(p.SIREN), " ", "")
	if p.SIREN != "" && !ValidSIREN(p.SIREN) {
		return p, fmt.Errorf("siren %q is not 9 digits with a valid Luhn checksum", p.SIREN)
	}
	p.RNA = strings.ToUpper(strings.TrimSpace(p.RNA))
	if p.RNA != "" && !ValidRNA(p.RNA) {
		return p, fmt.Errorf("rna %q is not W followed by 9 digits", p.RNA)
	}
	p.Locale = strings.ToLower(strings.TrimSpace(p.Locale))
	if p.Locale == "" {
		p.Locale = Locales[0]
	}
	if p.Locale != "fr" && p.Locale != "en" {
		return p, fmt.Errorf("locale %q is not fr or en", p.Locale)
	}
	return p, nil
}
