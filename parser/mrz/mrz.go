// Package mrz finds the machine readable zone of identity documents in
// text: the TD1 (ID cards, 3 × 30), TD2 (2 × 36) and TD3 (passports,
// 2 × 44) formats of ICAO Doc 9303 part 4–6, and the old French national
// identity card (2 × 36, issued until 2021), each with its check digits
// verified (ICAO Doc 9303 part 3, §4.9).
//
// The text usually comes from the text layer of a scanned PDF. What the
// zone says about its holder (names, numbers, dates) is deliberately not
// returned: the parser needs to know that a document is an identity
// document, not who it belongs to.
package mrz

import (
	"strings"
)

// Format is the layout of a machine readable zone.
type Format string

// The formats Find recognises.
const (
	TD1      Format = "TD1"    // ID cards: 3 lines of 30
	TD2      Format = "TD2"    // older ID cards and visas: 2 lines of 36
	TD3      Format = "TD3"    // passports: 2 lines of 44
	FrenchID Format = "FR-CNI" // French identity card before 2021: 2 lines of 36
)

// Zone is a machine readable zone found in a text.
type Zone struct {
	Format Format
	// DocumentCode is the first two characters of the zone without
	// filler: "P" for a passport, "ID" or "I" for an identity card.
	DocumentCode string
	// Issuer is the issuing state or organisation (ICAO three-letter code).
	Issuer string
	// Checked is the number of check digits that were verified, Valid
	// whether all of them hold. A zone whose digits do not all hold may
	// be misread text, or a forgery made by hand.
	Checked int
	Valid   bool
}

// maxInput bounds the text Find looks at.
const maxInput = 4 << 20

// Find returns the machine readable zones in text, in order. Lines are
// read without their spaces (text layers often space characters out),
// and lines run together (as some PDF extractors output them) are split
// back when their length is that of a whole zone.
func Find(text string) []Zone {
	if len(text) > maxInput {
		text = text[:maxInput]
	}
	var lines []string
	for _, raw := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' || r == '\f' || r == '\v' }) {
		l, ok := clean(raw)
		if !ok {
			lines = append(lines, "")
			continue
		}
		switch len(l) {
		case 60, 72, 88:
			lines = append(lines, l[:len(l)/2], l[len(l)/2:])
		case 90:
			lines = append(lines, l[:30], l[30:60], l[60:])
		default:
			lines = append(lines, l)
		}
	}
	var out []Zone
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		var next, third string
		if i+1 < len(lines) {
			next = lines[i+1]
		}
		if i+2 < len(lines) {
			third = lines[i+2]
		}
		var z Zone
		var ok bool
		switch {
		case len(l) == 44 && len(next) == 44:
			z, ok = readTD3(l, next)
		case len(l) == 36 && len(next) == 36:
			z, ok = readFrench(l, next)
			if !ok {
				z, ok = readTD2(l, next)
			}
		case len(l) == 30 && len(next) == 30 && len(third) == 30:
			z, ok = readTD1(l, next, third)
			if ok {
				i++
			}
		}
		if ok {
			out = append(out, z)
			i++
		}
	}
	return out
}

// clean upper-cases a line and drops its white space; it reports whether
// what is left can be a line of a zone: only A–Z, 0–9 and the filler <,
// with at least one filler, 30 to 90 characters.
func clean(s string) (string, bool) {
	if len(s) > 400 {
		return "", false
	}
	var b strings.Builder
	fillers := 0
	for _, r := range s {
		switch {
		case r == ' ' || r == '\t' || r == '\u00a0':
			continue
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		case r == '«' || r == '‹' || r == '＜':
			r = '<'
		}
		switch {
		case r == '<':
			fillers++
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		default:
			return "", false
		}
		b.WriteRune(r)
	}
	if fillers == 0 || b.Len() < 30 || b.Len() > 90 {
		return "", false
	}
	return b.String(), true
}

// CheckDigit computes the ICAO 9303 check digit of s: weights 7, 3, 1
// repeated; digits count as themselves, letters A–Z as 10–35, the
// filler as 0. It returns -1 when s holds another character.
func CheckDigit(s string) int {
	weights := [3]int{7, 3, 1}
	sum := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var v int
		switch {
		case c >= '0' && c <= '9':
			v = int(c - '0')
		case c >= 'A' && c <= 'Z':
			v = int(c-'A') + 10
		case c == '<':
			v = 0
		default:
			return -1
		}
		sum += v * weights[i%3]
	}
	return sum % 10
}

// checker counts check digits as a zone is verified.
type checker struct{ checked, failed int }

// digit verifies that check is the check digit of field. A filler in
// place of the digit is accepted for an empty (all filler) field, as the
// standard allows for optional fields.
func (c *checker) digit(field string, check byte) {
	c.checked++
	if check == '<' && strings.Trim(field, "<") == "" {
		return
	}
	if check < '0' || check > '9' || CheckDigit(field) != int(check-'0') {
		c.failed++
	}
}

func (c *checker) zone(f Format, line1 string) Zone {
	code := strings.TrimRight(line1[:2], "<")
	return Zone{Format: f, DocumentCode: code, Issuer: strings.TrimRight(line1[2:5], "<"),
		Checked: c.checked, Valid: c.failed == 0}
}

// plausible rejects lines whose fixed fields cannot be: dates must be
// digits, the issuer letters.
func letters(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < 'A' || s[i] > 'Z') && s[i] != '<' {
			return false
		}
	}
	return true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// readTD3 reads a passport zone (Doc 9303 part 4, §4.2.2).
func readTD3(l1, l2 string) (Zone, bool) {
	if l1[0] != 'P' || !letters(l1[2:5]) || !digits(l2[13:19]) || !digits(l2[21:27]) {
		return Zone{}, false
	}
	var c checker
	c.digit(l2[0:9], l2[9])
	c.digit(l2[13:19], l2[19])
	c.digit(l2[21:27], l2[27])
	c.digit(l2[28:42], l2[42])
	c.digit(l2[0:10]+l2[13:20]+l2[21:43], l2[43])
	return c.zone(TD3, l1), true
}

// readTD2 reads a two-line, 36-column zone (Doc 9303 part 6, §4.2.2).
func readTD2(l1, l2 string) (Zone, bool) {
	switch l1[0] {
	case 'I', 'A', 'C', 'P', 'V':
	default:
		return Zone{}, false
	}
	if !letters(l1[2:5]) || !digits(l2[13:19]) || !digits(l2[21:27]) {
		return Zone{}, false
	}
	var c checker
	c.digit(l2[0:9], l2[9])
	c.digit(l2[13:19], l2[19])
	c.digit(l2[21:27], l2[27])
	c.digit(l2[0:10]+l2[13:20]+l2[21:35], l2[35])
	return c.zone(TD2, l1), true
}

// readTD1 reads a three-line, 30-column zone (Doc 9303 part 5, §4.2.2).
func readTD1(l1, l2, l3 string) (Zone, bool) {
	switch l1[0] {
	case 'I', 'A', 'C':
	default:
		return Zone{}, false
	}
	if !letters(l1[2:5]) || !digits(l2[0:6]) || !digits(l2[8:14]) || !letters(l3) {
		return Zone{}, false
	}
	var c checker
	if l1[14] == '<' && l1[15] != '<' {
		// A document number longer than 9 characters continues in the
		// optional data, its check digit after it (Doc 9303 part 5,
		// §4.2.4, note j).
		rest := l1[15:30]
		if end := strings.IndexByte(rest, '<'); end > 0 {
			c.digit(l1[5:14]+rest[:end-1], rest[end-1])
		}
	} else {
		c.digit(l1[5:14], l1[14])
	}
	c.digit(l2[0:6], l2[6])
	c.digit(l2[8:14], l2[14])
	c.digit(l1[5:30]+l2[0:7]+l2[8:15]+l2[18:29], l2[29])
	return c.zone(TD1, l1), true
}

// readFrench reads the zone of the French identity card issued from 1988
// to 2021: "IDFRA", the surname and an office code on the first line; the
// card number, given names, birth date and sex on the second, the last
// digit checking both lines.
func readFrench(l1, l2 string) (Zone, bool) {
	if !strings.HasPrefix(l1, "IDFRA") || !digits(l2[27:33]) {
		return Zone{}, false
	}
	var c checker
	c.digit(l2[0:12], l2[12])
	c.digit(l2[27:33], l2[33])
	c.digit(l1+l2[:35], l2[35])
	return c.zone(FrenchID, l1), true
}
