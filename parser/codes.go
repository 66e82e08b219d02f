package parser

import (
	"bufio"
	"bytes"
	"net/textproto"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/recoverybot/recoverybot"
)

// MaskedCode is how a code candidate is shown: never the code itself,
// not even in part (SPEC §3).
const MaskedCode = "••••-••••"

// refBodies returns the six characters after "RC" of each case
// reference in text, at most max of them: "RC", in any case, not glued to
// a letter or digit before it, up to two separators (white space, '-',
// '_', '.', ':'), six characters of the reference alphabet, and no letter
// or digit after them. It is the regular expression
//
//	(?i)(?:^|[^0-9A-Za-z])RC[\s\-_.:]{0,2}([2-9A-HJKMNP-Za-hjkmnp-z]{6})(?:$|[^0-9A-Za-z])
//
// written out by hand: Go's regexp, with no literal prefix to look for,
// made this the costliest step of reading ordinary mail.
func refBodies(text string, max int) []string {
	var out []string
	for i := 0; i+8 <= len(text) && len(out) < max; i++ {
		if text[i]|0x20 != 'r' || text[i+1]|0x20 != 'c' || (i > 0 && isASCIIAlnum(text[i-1])) {
			continue
		}
		j := i + 2
		for k := 0; k < 2 && j < len(text) && isRefSep(text[j]); k++ {
			j++
		}
		if j+6 > len(text) {
			continue
		}
		ok := true
		for k := j; k < j+6; k++ {
			if !strings.ContainsRune(recoverybot.RefAlphabet, rune(upper(text[k]))) {
				ok = false
				break
			}
		}
		if !ok || (j+6 < len(text) && isASCIIAlnum(text[j+6])) {
			continue
		}
		out = append(out, text[j:j+6])
		i = j + 5
	}
	return out
}

func isASCIIAlnum(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

func isRefSep(b byte) bool {
	switch b {
	case ' ', '\t', '\n', '\f', '\r', '-', '_', '.', ':':
		return true
	}
	return false
}

func upper(b byte) byte {
	if b >= 'a' && b <= 'z' {
		return b - 0x20
	}
	return b
}

// ExtractRefs returns the case references in text (RC-XXXXXX in any
// case, with or without the dash), canonical, each once, in order. Its
// grammar (refBodies) is the only one recoverybot reads references
// with: Parse, Scan, Look and RefsInRaw all call it.
func ExtractRefs(text, where string) []Found {
	var out []Found
	seen := map[string]bool{}
	for _, body := range refBodies(text, 100) {
		ref, err := recoverybot.ParseRef(body)
		if err != nil || seen[ref] {
			continue
		}
		seen[ref] = true
		out = append(out, Found{Value: ref, Masked: ref, Where: where})
	}
	return out
}

// RefsInRaw returns the case references in bytes the parser could not
// read, so that a broken message about a case still reaches review: in
// the first MiB of raw as it is, and in its Subject decoded (RFC 2047:
// mail clients encode a subject with accents whole, reference included).
// Where is WhereRaw. It reads references with the grammar of
// ExtractRefs.
func RefsInRaw(raw []byte) []Found {
	limit := raw[:min(len(raw), maxRawRefBytes)]
	texts := []string{string(limit)}
	if h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(limit))).ReadMIMEHeader(); len(h) > 0 || err == nil {
		for _, v := range h.Values("Subject") {
			texts = append(texts, decodeHeader(v))
		}
	}
	seen := map[string]bool{}
	var found []Found
	for _, text := range texts {
		for _, f := range ExtractRefs(text, WhereRaw) {
			if !seen[f.Value] {
				seen[f.Value] = true
				found = append(found, f)
			}
		}
	}
	return found
}

// maxRawRefBytes bounds the raw bytes RefsInRaw searches.
const maxRawRefBytes = 1 << 20

// ExtractCodes returns the code candidates in text, normalised (see
// recoverybot.NormalizeCode), each once, in order.
//
// Every candidate that does not match counts as a failed attempt against
// the customer (SPEC §3), so an ordinary word must never be one. A
// candidate is eight code symbols (confusables O/0, I/L/1, U/V allowed),
// written as one word or as two groups of four separated by up to three
// spaces, dashes or emphasis marks ("4F7K-2M9Q", "4f7k 2m9q",
// "*4F7K*-*2M9Q*" as enmime renders <b>), standing alone: not glued to
// an address, URL, path, amount or ticket number, not part of a
// hyphenated word, not one group of a longer run of groups (an IBAN, a
// card number). Then:
//   - after the word "code" ("code : …", "mon code est …", "verification
//     code …") any such token counts, except a single lower-case word
//     without ":", "=", "est" or "is" ("le code toujours pas arrivé");
//   - otherwise it must mix letters and digits with its letters all of
//     one case ("iPhone12" is a word), neither group may be a year, a
//     time or a quantity ("2024 11am", "10kg"), and two groups separated
//     by spaces must not stand next to a word in capitals ("STAR TREK
//     25TH" is shouting);
//   - a token of letters only counts in capitals, in two groups, alone
//     on its line (quote markers and "Re:" aside), and not as a
//     hyphenated first name (JEAN-MARC);
//   - a token of digits only ("2023-2024", an account number) counts
//     only after "code";
//   - a case reference written without its dash (RC7KQ2M9) is not a
//     code.
//
// The text is read after NFKC folding (full-width forms) and without
// soft hyphens and zero-width characters; at most 2 MiB of it.
func ExtractCodes(text, where string) []Found {
	var out []Found
	seen := map[string]bool{}
	for _, c := range codeCandidates(text) {
		if seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, Found{Value: c, Masked: MaskedCode, Where: where})
		if len(out) == 50 {
			break
		}
	}
	return out
}

// maxCodeText bounds the text scanned for codes.
const maxCodeText = 2 << 20

// word is a run of ASCII letters and digits in the prepared text.
type word struct {
	start, end int // rune offsets in the prepared text
	s          string
}

func isAlnum(r rune) bool { return r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)) }

// prepare folds compatibility forms (full-width letters, ligatures) to
// ASCII with NFKC, and drops invisible characters that HTML mail carries
// (soft hyphens, zero-width spaces).
func prepare(text string) []rune {
	if len(text) > maxCodeText {
		text = text[:maxCodeText]
	}
	text = norm.NFKC.String(text)
	rs := make([]rune, 0, len(text))
	for _, r := range text {
		switch r {
		case '\u00ad', '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff':
			continue
		}
		rs = append(rs, r)
	}
	return rs
}

// isCodeSep reports whether r may stand between the two groups of a code.
func isCodeSep(r rune) bool {
	switch r {
	case ' ', '\t', '\u00a0', '\u202f', '-', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212', '*', '_':
		return true
	}
	return false
}

func isDash(r rune) bool {
	switch r {
	case '-', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212':
		return true
	}
	return false
}

// badNeighbour are characters that glue a token to an address, a URL, a
// path, an amount or a ticket number: a token touching one is not a code.
func badNeighbour(r rune) bool { return strings.ContainsRune("@/\\=&?%+#$€£", r) }

var keywordBefore = regexp.MustCompile(`(?i)\bcode(s)?(\s+(de\s+)?(v[ée]rification|validation|confirmation|s[ée]curit[ée]|verification|unique|re[çc]u|received))?(\s*(est|is|:|=|-|–|était|was|suivant|ci-dessous|below))*\s*[:=]?\s*["'«“‘(*]?\s*$`)

// explicitlyGiven reports whether the text before a token ends by
// giving a code: "code :", "code =", "code est", "code is".
func explicitlyGiven(before string) bool {
	l := strings.ToLower(before)
	i := strings.LastIndex(l, "code")
	if i < 0 {
		return false
	}
	tail := l[i+4:]
	return strings.ContainsAny(tail, ":=") || strings.Contains(tail, " est") || strings.Contains(tail, " is")
}

func codeCandidates(text string) []string {
	rs := prepare(text)
	// Words: maximal runs of ASCII letters and digits.
	var words []word
	for i := 0; i < len(rs); {
		if !isAlnum(rs[i]) {
			i++
			continue
		}
		j := i
		for j < len(rs) && isAlnum(rs[j]) {
			j++
		}
		if len(words) < 1<<20 {
			words = append(words, word{i, j, string(rs[i:j])})
		}
		i = j
	}
	var out []string
	for wi := range words {
		w := words[wi]
		var token string
		var last int // index of the last word of the token
		var sep []rune
		switch len(w.s) {
		case 8:
			token, last = w.s, wi
		case 4:
			if wi+1 >= len(words) || len(words[wi+1].s) != 4 {
				continue
			}
			sep = rs[w.end:words[wi+1].start]
			if !validSep(sep) {
				continue
			}
			token, last = w.s+words[wi+1].s, wi+1
		default:
			continue
		}
		code, err := recoverybot.NormalizeCode(token)
		if err != nil {
			continue
		}
		first := w
		end := words[last]
		if !standsAlone(rs, first.start, end.end) {
			continue
		}
		before := string(rs[max(0, first.start-80):first.start])
		afterKeyword := strings.Contains(strings.ToLower(before), "code") && keywordBefore.MatchString(before)
		if afterKeyword && !hasDigit(token) && len(sep) == 0 && token != strings.ToUpper(token) && !explicitlyGiven(before) {
			// "le code toujours pas reçu": a word, not a code; but
			// "code : abcdefgh" gives one.
			afterKeyword = false
		}
		if !afterKeyword && !codeShaped(rs, words, wi, last, token, sep) {
			continue
		}
		if isRefWithoutDash(token) && !afterKeyword {
			continue
		}
		out = append(out, code)
	}
	return out
}

// validSep accepts what may stand between two groups: up to five
// separator characters ("* - *" from two <b> groups), at most one dash,
// and white space only as spaces (not a line break).
func validSep(sep []rune) bool {
	if len(sep) == 0 || len(sep) > 5 {
		return false
	}
	dashes := 0
	for _, r := range sep {
		if !isCodeSep(r) {
			return false
		}
		if isDash(r) {
			dashes++
		}
	}
	return dashes <= 1
}

// standsAlone checks the characters around rs[start:end]: not glued to
// an address, URL or number, and not a part of a hyphenated word.
func standsAlone(rs []rune, start, end int) bool {
	if start > 0 {
		p := rs[start-1]
		if badNeighbour(p) {
			return false
		}
		if (isDash(p) || p == '.' || p == '\'' || p == '’') && start > 1 && isAlnum(rs[start-2]) {
			return false
		}
	}
	if end < len(rs) {
		n := rs[end]
		if (isDash(n) || n == '.' || n == '@' || n == '/' || n == '\'' || n == '’') && end+1 < len(rs) && isAlnum(rs[end+1]) {
			return false
		}
		if badNeighbour(n) {
			return false
		}
	}
	return true
}

func hasDigit(s string) bool  { return strings.ContainsAny(s, "0123456789") }
func hasLetter(s string) bool { return strings.IndexFunc(s, unicode.IsLetter) >= 0 }

// codeShaped applies the rules for a token that does not follow "code".
func codeShaped(rs []rune, words []word, wi, last int, token string, sep []rune) bool {
	l := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) {
			return r
		}
		return -1
	}, token)
	upper, lower := l == strings.ToUpper(l), l == strings.ToLower(l)
	if l == "" {
		return false // digits only: a date, an amount, an account number
	}
	if len(sep) > 0 {
		g1, g2 := words[wi].s, words[last].s
		if notCodeGroup(g1) || notCodeGroup(g2) {
			return false
		}
		if spacesOnly(sep) && capitalNeighbour(rs, words, wi, last) {
			return false // "STAR TREK 25TH": shouting, not a code
		}
	}
	if groupedRun(rs, words, wi, last) {
		return false
	}
	if hasDigit(token) {
		return upper || lower // "iPhone12", "Win10Pro": words, not codes
	}
	// Letters only: capitals in two groups, alone on their line, and
	// not a hyphenated first name (JEAN-MARC).
	if !upper || len(sep) == 0 || strings.EqualFold(words[wi].s, "JEAN") {
		return false
	}
	return aloneOnLine(rs, words[wi].start, words[last].end)
}

var (
	yearGroup = regexp.MustCompile(`^(19|20)\d\d$`)
	unitGroup = regexp.MustCompile(`^\d{1,3}([a-z]{1,3}|h\d{1,2})$`)
	timeGroup = regexp.MustCompile(`(?i)^\d{1,2}(am|pm|h)$`)
)

// notCodeGroup recognises a group of four that is a year, a time or a
// quantity with its unit ("2024", "11am", "1h30", "10kg").
func notCodeGroup(g string) bool {
	return yearGroup.MatchString(g) || unitGroup.MatchString(g) || timeGroup.MatchString(g)
}

func spacesOnly(sep []rune) bool {
	for _, r := range sep {
		if r != ' ' && r != '\t' && r != '\u00a0' && r != '\u202f' {
			return false
		}
	}
	return true
}

var (
	linePrefix = regexp.MustCompile(`(?i)^[\s>*_"'«“‘(\[]*((re|fwd?|tr|aw|wg|rv)\s*:\s*)*[\s>*_"'«“‘(\[:]*$`)
	lineSuffix = regexp.MustCompile(`^[\s*_"'»”’)\].!]*$`)
)

// aloneOnLine reports whether rs[start:end] is all its line says, but
// for quote markers, emphasis, quotes and "Re:" prefixes.
func aloneOnLine(rs []rune, start, end int) bool {
	ls := start
	for ls > 0 && rs[ls-1] != '\n' && start-ls < 200 {
		ls--
	}
	le := end
	for le < len(rs) && rs[le] != '\n' && le-end < 200 {
		le++
	}
	return linePrefix.MatchString(string(rs[ls:start])) && lineSuffix.MatchString(string(rs[end:le]))
}

// groupedRun reports whether the token is part of a longer run of groups
// joined by single separators ("FR76 3000 6000 0112 …").
func groupedRun(rs []rune, words []word, wi, last int) bool {
	joined := func(a, b word) bool {
		sep := rs[a.end:b.start]
		return len(sep) <= 2 && validSep(sep)
	}
	if wi > 0 && joined(words[wi-1], words[wi]) && len(words[wi-1].s) >= 2 && len(words[wi-1].s) <= 6 && hasDigit(words[wi-1].s) {
		return true
	}
	if last+1 < len(words) && joined(words[last], words[last+1]) && len(words[last+1].s) >= 2 && len(words[last+1].s) <= 6 && hasDigit(words[last+1].s) {
		return true
	}
	return false
}

// capitalNeighbour reports whether a word in capitals stands right
// before or after the token, separated by a space.
func capitalNeighbour(rs []rune, words []word, wi, last int) bool {
	isCaps := func(w word) bool {
		return len(w.s) >= 2 && hasLetter(w.s) && strings.ToUpper(w.s) == w.s
	}
	if wi > 0 {
		p := words[wi-1]
		if strings.TrimSpace(string(rs[p.end:words[wi].start])) == "" && isCaps(p) {
			return true
		}
	}
	if last+1 < len(words) {
		n := words[last+1]
		if strings.TrimSpace(string(rs[words[last].end:n.start])) == "" && isCaps(n) {
			return true
		}
	}
	return false
}

// isRefWithoutDash reports whether an eight-character token is a case
// reference typed without its dash.
func isRefWithoutDash(token string) bool {
	if len(token) != 8 || !strings.EqualFold(token[:2], "RC") {
		return false
	}
	_, err := recoverybot.ParseRef(token)
	return err == nil
}
