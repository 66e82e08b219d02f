package pdftext

import (
	"bytes"
	"strconv"

	"github.com/recoverybot/recoverybot/parser/internal/work"
)

// The PDF object model (ISO 32000-1 §7.3), as far as this package needs it.
type (
	// name is a PDF name without its slash, #xx escapes decoded.
	name string
	// pdfString is a literal or hexadecimal string's bytes.
	pdfString []byte
	// keyword is a bare word: an operator in a content stream, or obj,
	// stream, R, … in the file structure.
	keyword string
	array   []any
	dict    map[name]any
	ref     struct{ num, gen int }
	// number is every PDF number; integers are exact below 2^53.
	number float64
)

// maxNesting bounds arrays and dictionaries inside each other.
const maxNesting = 64

type tokKind int

const (
	tEOF tokKind = iota
	tNumber
	tName
	tString
	tKeyword
	tArrayOpen
	tArrayClose
	tDictOpen
	tDictClose
	tBraceOpen
	tBraceClose
)

type token struct {
	kind  tokKind
	num   number
	isInt bool
	str   []byte // name, string or keyword bytes
}

// lexer splits PDF syntax into tokens (ISO 32000-1 §7.2).
type lexer struct {
	b    []byte
	pos  int
	back []token // pushed back tokens, last first
	// w is charged the bytes of every token read, and one unit more; once
	// it is spent, the lexer is at its end.
	w *work.Budget
}

func isWhite(c byte) bool {
	return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' '
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func (l *lexer) unread(t token) { l.back = append(l.back, t) }

func (l *lexer) skipSpace() {
	for l.pos < len(l.b) {
		c := l.b[l.pos]
		if isWhite(c) {
			l.pos++
			continue
		}
		if c == '%' {
			for l.pos < len(l.b) && l.b[l.pos] != '\n' && l.b[l.pos] != '\r' {
				l.pos++
			}
			continue
		}
		return
	}
}

func (l *lexer) next() token {
	if n := len(l.back); n > 0 {
		t := l.back[n-1]
		l.back = l.back[:n-1]
		return t
	}
	if !l.w.OK() {
		l.pos = len(l.b)
		return token{kind: tEOF}
	}
	start := l.pos
	t := l.token()
	if !l.w.Spend(int64(l.pos-start) + 1) {
		l.pos = len(l.b)
		return token{kind: tEOF}
	}
	return t
}

// token reads the next token.
func (l *lexer) token() token {
	for {
		l.skipSpace()
		if l.pos >= len(l.b) {
			return token{kind: tEOF}
		}
		if c := l.b[l.pos]; c == ')' || (c == '>' && (l.pos+1 >= len(l.b) || l.b[l.pos+1] != '>')) {
			// A stray closing delimiter: skip it.
			l.pos++
			continue
		}
		break
	}
	c := l.b[l.pos]
	switch c {
	case '[':
		l.pos++
		return token{kind: tArrayOpen}
	case ']':
		l.pos++
		return token{kind: tArrayClose}
	case '{':
		l.pos++
		return token{kind: tBraceOpen}
	case '}':
		l.pos++
		return token{kind: tBraceClose}
	case '<':
		if l.pos+1 < len(l.b) && l.b[l.pos+1] == '<' {
			l.pos += 2
			return token{kind: tDictOpen}
		}
		return token{kind: tString, str: l.hexString()}
	case '>':
		l.pos += 2
		return token{kind: tDictClose}
	case '(':
		return token{kind: tString, str: l.literalString()}
	case '/':
		l.pos++
		return token{kind: tName, str: l.name()}
	}
	start := l.pos
	for l.pos < len(l.b) && !isWhite(l.b[l.pos]) && !isDelim(l.b[l.pos]) {
		l.pos++
	}
	word := l.b[start:l.pos]
	if n, isInt, ok := parseNumber(word); ok {
		return token{kind: tNumber, num: n, isInt: isInt}
	}
	return token{kind: tKeyword, str: word}
}

func parseNumber(w []byte) (number, bool, bool) {
	if len(w) == 0 || len(w) > 40 {
		return 0, false, false
	}
	isInt := true
	for i, c := range w {
		switch {
		case c >= '0' && c <= '9':
		case (c == '-' || c == '+') && i == 0:
		case c == '.':
			isInt = false
		default:
			return 0, false, false
		}
	}
	f, err := strconv.ParseFloat(string(w), 64)
	if err != nil {
		// "-" or "." alone, or "1.2.3": PDF readers take these as 0.
		return 0, isInt, true
	}
	return number(f), isInt, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func (l *lexer) name() []byte {
	var out []byte
	for l.pos < len(l.b) && !isWhite(l.b[l.pos]) && !isDelim(l.b[l.pos]) {
		c := l.b[l.pos]
		if c == '#' && l.pos+2 < len(l.b) {
			h, ok1 := unhex(l.b[l.pos+1])
			lo, ok2 := unhex(l.b[l.pos+2])
			if ok1 && ok2 {
				out = append(out, h<<4|lo)
				l.pos += 3
				continue
			}
		}
		out = append(out, c)
		l.pos++
	}
	return out
}

func (l *lexer) hexString() []byte {
	l.pos++ // '<'
	var out []byte
	var hi byte
	half := false
	for l.pos < len(l.b) {
		c := l.b[l.pos]
		l.pos++
		if c == '>' {
			break
		}
		v, ok := unhex(c)
		if !ok {
			continue
		}
		if half {
			out = append(out, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	if half {
		out = append(out, hi<<4)
	}
	return out
}

func (l *lexer) literalString() []byte {
	l.pos++ // '('
	var out []byte
	depth := 1
	for l.pos < len(l.b) {
		c := l.b[l.pos]
		l.pos++
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return out
			}
		case '\\':
			if l.pos >= len(l.b) {
				return out
			}
			e := l.b[l.pos]
			l.pos++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if l.pos < len(l.b) && l.b[l.pos] == '\n' {
					l.pos++
				}
				continue
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for i := 0; i < 2 && l.pos < len(l.b) && l.b[l.pos] >= '0' && l.b[l.pos] <= '7'; i++ {
						v = v*8 + int(l.b[l.pos]-'0')
						l.pos++
					}
					c = byte(v)
				} else {
					c = e
				}
			}
		}
		out = append(out, c)
	}
	return out
}

// object reads one object. Indirect references (n g R) are recognised by
// looking two tokens ahead.
func (l *lexer) object(depth int) (any, bool) {
	t := l.next()
	return l.objectFrom(t, depth)
}

func (l *lexer) objectFrom(t token, depth int) (any, bool) {
	if depth > maxNesting {
		return nil, false
	}
	switch t.kind {
	case tEOF:
		return nil, false
	case tNumber:
		if t.isInt && t.num >= 0 {
			t2 := l.next()
			if t2.kind == tNumber && t2.isInt && t2.num >= 0 {
				t3 := l.next()
				if t3.kind == tKeyword && string(t3.str) == "R" {
					return ref{int(t.num), int(t2.num)}, true
				}
				l.unread(t3)
			}
			l.unread(t2)
		}
		return t.num, true
	case tName:
		return name(t.str), true
	case tString:
		return pdfString(t.str), true
	case tKeyword:
		switch string(t.str) {
		case "true":
			return true, true
		case "false":
			return false, true
		case "null":
			return nil, true
		}
		return keyword(t.str), true
	case tArrayOpen:
		var a array
		for {
			t := l.next()
			if t.kind == tArrayClose {
				return a, true
			}
			if t.kind == tEOF || t.kind == tDictClose {
				return a, false
			}
			v, ok := l.objectFrom(t, depth+1)
			if !ok {
				return a, false
			}
			a = append(a, v)
		}
	case tDictOpen:
		d := dict{}
		for {
			t := l.next()
			if t.kind == tDictClose {
				return d, true
			}
			if t.kind != tName {
				if t.kind == tEOF || t.kind == tArrayClose {
					return d, false
				}
				// A malformed entry: skip the token.
				continue
			}
			v, ok := l.object(depth + 1)
			d[name(t.str)] = v
			if !ok {
				return d, false
			}
		}
	}
	return nil, true
}

// hasKeywordAt reports whether b[i:] starts with the keyword kw followed
// by a delimiter, white space or the end.
func hasKeywordAt(b []byte, i int, kw string) bool {
	if !bytes.HasPrefix(b[i:], []byte(kw)) {
		return false
	}
	j := i + len(kw)
	return j >= len(b) || isWhite(b[j]) || isDelim(b[j])
}
