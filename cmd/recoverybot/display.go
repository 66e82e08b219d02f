package main

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/parser"
)

// What the CLI prints of a message comes from its sender: it may hold a
// code (which must never be shown, SPEC §3) and bytes a terminal obeys
// (escape sequences, C1 controls, bidi overrides that reorder a line).
// maskCodes hides the first; printable and escapeJSON the second.

// maskCodes replaces every code-shaped token of s by parser.MaskedCode:
// eight code symbols written as one word or as two groups of four
// separated by up to three characters on one line, that contain a digit,
// are in capitals, or read as one of candidates (the normalised code
// candidates the parser found anywhere in the message, however they are
// written here). Full-width forms count as ASCII, and format characters
// (soft hyphen, zero-width space) are skipped as the parser skips them. A
// lower-case word of eight letters ("password") that the parser did not
// take for a candidate is left as it is.
func maskCodes(s string, candidates map[string]bool) string {
	type sym struct {
		c          byte // upper-case ASCII letter or digit
		upper      bool // written in capitals (or a digit)
		start, end int  // bytes of s
		gap        int  // separator runes since the previous symbol
		newline    bool // a line break among them
	}
	var syms []sym
	gap, newline := 0, false
	for i, r := range s {
		size := utf8.RuneLen(r)
		if r == utf8.RuneError {
			size = 1
		}
		f := r
		if r >= 0xff01 && r <= 0xff5e { // full-width ASCII
			f = r - 0xfee0
		}
		switch {
		case f >= '0' && f <= '9', f >= 'A' && f <= 'Z':
			syms = append(syms, sym{byte(f), true, i, i + size, gap, newline})
			gap, newline = 0, false
		case f >= 'a' && f <= 'z':
			syms = append(syms, sym{byte(f - 'a' + 'A'), false, i, i + size, gap, newline})
			gap, newline = 0, false
		case unicode.Is(unicode.Cf, r):
		default:
			gap++
			newline = newline || r == '\n' || r == '\r' || r == '\v' || r == '\f' || r == 0x85 || r == 0x2028 || r == 0x2029
		}
	}
	// runStart and runEnd: does a symbol begin, or end, a word?
	runStart := func(j int) bool { return j == 0 || syms[j].gap > 0 }
	runEnd := func(j int) bool { return j == len(syms)-1 || syms[j+1].gap > 0 }
	// Windows of eight symbols: those reading as a candidate, and the
	// code-shaped ones that overlap none of them ("code 4f7k 2m9q" holds
	// two shapes, one of them the code). Overlapping windows are masked
	// together, so that no part of a code stays in clear.
	inCandidate := make([]bool, len(syms))
	var windows, shaped []int // first symbols of windows to mask
	for j := 0; j+parserCodeLen <= len(syms); j++ {
		w := syms[j : j+parserCodeLen]
		var b strings.Builder
		oneLine, gaps, digit, upper, lower := true, 0, false, true, true
		for k, c := range w {
			if k > 0 && (c.newline || c.gap > 3) {
				oneLine = false
			}
			if k > 0 && c.gap > 0 {
				gaps++
				if k != 4 {
					gaps = 2 // a break elsewhere than between the groups
				}
			}
			if c.c >= '0' && c.c <= '9' {
				digit = true
			} else {
				upper, lower = upper && c.upper, lower && !c.upper
			}
			b.WriteByte(c.c)
		}
		if !oneLine {
			continue
		}
		norm, err := recoverybot.NormalizeCode(b.String())
		if err != nil {
			continue
		}
		switch {
		case candidates[norm]:
			windows = append(windows, j)
			for k := j; k < j+parserCodeLen; k++ {
				inCandidate[k] = true
			}
		case runStart(j) && runEnd(j+parserCodeLen-1) && gaps <= 1 && (upper || digit && lower):
			shaped = append(shaped, j)
		}
	}
	for _, j := range shaped {
		free := true
		for k := j; k < j+parserCodeLen; k++ {
			free = free && !inCandidate[k]
		}
		if free {
			windows = append(windows, j)
		}
	}
	if len(windows) == 0 {
		return s
	}
	sort.Ints(windows)
	var out strings.Builder
	last := 0
	for i := 0; i < len(windows); {
		// Windows that share symbols are masked as one.
		first, end := windows[i], windows[i]+parserCodeLen-1
		for i++; i < len(windows) && windows[i] <= end; i++ {
			end = max(end, windows[i]+parserCodeLen-1)
		}
		out.WriteString(s[last:syms[first].start])
		out.WriteString(parser.MaskedCode)
		last = syms[end].end
	}
	out.WriteString(s[last:])
	return out.String()
}

const parserCodeLen = recoverybot.CodeLength

// printable escapes what a terminal would obey or hide: C0 and C1
// controls, DEL, bidi and other format characters, invalid UTF-8 and
// every other non-printing rune, written as \xNN, \uNNNN or \UNNNNNNNN.
// Printing characters, the space included, are kept.
func printable(s string) string {
	ok := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteString(s[i : i+size])
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
		i += size
	}
	return b.String()
}

// escapeJSON rewrites as \u escapes the non-printing runes that
// encoding/json leaves raw (DEL, C1 controls, bidi and format characters,
// line separators): the JSON decodes to the same strings, and a terminal
// shown it obeys none of them. Such runes only occur inside JSON strings,
// where an escape means the same.
func escapeJSON(b []byte) []byte {
	clean := true
	for _, r := range string(b) {
		if r != '\n' && !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return b
	}
	var out strings.Builder
	for _, r := range string(b) {
		switch {
		case r == '\n' || unicode.IsPrint(r):
			out.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16Surrogates(r)
			fmt.Fprintf(&out, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&out, `\u%04x`, r)
		}
	}
	return []byte(out.String())
}

func utf16Surrogates(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}

// redactMessage returns a copy of m for display: code candidates masked
// in every string the sender chose. The parser's Found values are already
// masked; the copy drops nothing else.
func redactMessage(m *parser.Message) *parser.Message {
	cands := map[string]bool{}
	for _, c := range m.Codes {
		cands[c.Value] = true
	}
	mask := func(s string) string { return maskCodes(s, cands) }
	all := func(ss []string) []string {
		if ss == nil {
			return nil
		}
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = mask(s)
		}
		return out
	}
	r := *m
	r.Subject = mask(m.Subject)
	r.MessageID = mask(m.MessageID)
	r.Sender, r.SenderHdr = mask(m.Sender), mask(m.SenderHdr)
	r.From, r.ReplyTo, r.To = all(m.From), all(m.ReplyTo), all(m.To)
	r.InReplyTo, r.References = all(m.InReplyTo), all(m.References)
	r.AutomaticSignals, r.Findings = all(m.AutomaticSignals), all(m.Findings)
	r.Text, r.NewText = "", ""
	if m.Bounce != nil {
		b := *m.Bounce
		b.OriginalMessageID, b.Recipient, b.Action, b.Status = mask(b.OriginalMessageID), mask(b.Recipient), mask(b.Action), mask(b.Status)
		r.Bounce = &b
	}
	r.AuthResults = make([]parser.AuthResult, len(m.AuthResults))
	for i, ar := range m.AuthResults {
		ar.AuthServID, ar.Error = mask(ar.AuthServID), mask(ar.Error)
		results := make([]parser.AuthMethod, len(ar.Results))
		for j, res := range ar.Results {
			res.Method, res.Result = mask(res.Method), mask(res.Result)
			if res.Props != nil {
				props := make(map[string]string, len(res.Props))
				for k, v := range res.Props {
					props[mask(k)] = mask(v)
				}
				res.Props = props
			}
			results[j] = res
		}
		ar.Results = results
		r.AuthResults[i] = ar
	}
	if m.AuthResults == nil {
		r.AuthResults = nil
	}
	r.Documents = make([]parser.Document, len(m.Documents))
	for i, d := range m.Documents {
		d.Filename, d.DeclaredType = mask(d.Filename), mask(d.DeclaredType)
		d.Signals, d.Findings = all(d.Signals), all(d.Findings)
		d.Data = nil
		r.Documents[i] = d
	}
	if m.Documents == nil {
		r.Documents = nil
	}
	return &r
}
