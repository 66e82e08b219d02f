package pdftext

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/recoverybot/recoverybot/parser/internal/work"
)

// maxFormDepth bounds form XObjects drawn inside each other.
const maxFormDepth = 4

func (d *doc) extractText() {
	for i, num := range d.pages {
		if i >= d.lim.MaxPages {
			d.limited["pages"] = true
			return
		}
		if d.full() {
			return
		}
		page := d.objs[num].dict
		res := d.resources(page)
		var content []byte
		switch c := d.resolve(page["Contents"]).(type) {
		case array:
			for _, e := range c {
				content = append(content, d.streamBytes(e)...)
				content = append(content, '\n')
			}
		default:
			content = d.streamBytes(page["Contents"])
		}
		d.run(content, res, 0, map[int]bool{})
		d.newline()
	}
}

// full reports whether a limit stops the reading of text.
func (d *doc) full() bool {
	return d.limited["text"] || d.limited["operators"] || d.limited["decoded"]
}

// resources finds a page's resource dictionary, inherited from its
// ancestors in the page tree when the page has none (§7.7.3.4).
func (d *doc) resources(page dict) dict {
	for i := 0; i < 32 && page != nil; i++ {
		if r := d.dictOf(page["Resources"]); r != nil {
			return r
		}
		page = d.dictOf(page["Parent"])
	}
	return nil
}

func (d *doc) streamBytes(v any) []byte {
	o := d.streamOf(v)
	if o == nil {
		return nil
	}
	data, err := d.decode(o)
	if err != nil && len(data) == 0 {
		if err != errBudget && err != errWork {
			d.problem("content stream: %v", err)
		}
		return nil
	}
	return data
}

func (d *doc) write(s string) {
	if d.text.Len()+len(s) > d.lim.MaxText {
		d.limited["text"] = true
		return
	}
	d.text.WriteString(s)
}

func (d *doc) newline() {
	s := d.text.String()
	if len(s) > 0 && s[len(s)-1] != '\n' {
		d.write("\n")
	}
}

// textState is what the interpreter tracks between operators.
type textState struct {
	font    *font
	pending byte // ' ' or '\n' to write before the next text, or 0
	y       number
}

// run interprets a content stream's text operators (§9.4).
func (d *doc) run(content []byte, res dict, depth int, forms map[int]bool) {
	lx := &lexer{b: content, w: d.w}
	var st textState
	var operands []any
	show := func(s []byte) {
		if st.font == nil {
			st.font = &font{simple: true}
		}
		t := st.font.decode(s)
		if t == "" {
			return
		}
		switch st.pending {
		case '\n':
			d.newline()
		case ' ':
			d.write(" ")
		}
		st.pending = 0
		d.write(t)
	}
	num := func(i int) number {
		if i < 0 || i >= len(operands) {
			return 0
		}
		n, _ := operands[i].(number)
		return n
	}
	for {
		if d.full() {
			return
		}
		t := lx.next()
		if t.kind == tEOF {
			return
		}
		if t.kind != tKeyword {
			v, _ := lx.objectFrom(t, 0)
			if len(operands) >= 64 {
				operands = operands[1:]
			}
			operands = append(operands, v)
			continue
		}
		d.ops++
		if d.ops > d.lim.MaxOps {
			d.limited["operators"] = true
			return
		}
		op := string(t.str)
		switch op {
		case "BT":
			st.pending = ' '
		case "Tf":
			if len(operands) >= 2 {
				st.font = d.fontFor(res, operands[len(operands)-2])
			}
		case "Td", "TD":
			if n := len(operands); n >= 2 {
				if ty := num(n - 1); ty != 0 {
					st.pending = '\n'
					st.y += ty
				} else if num(n-2) != 0 && st.pending == 0 {
					st.pending = ' '
				}
			}
		case "Tm":
			if n := len(operands); n >= 6 {
				if f := num(n - 1); f != st.y {
					st.pending = '\n'
					st.y = f
				} else if st.pending == 0 {
					st.pending = ' '
				}
			}
		case "T*":
			st.pending = '\n'
		case "Tj":
			if s, ok := last(operands).(pdfString); ok {
				show(s)
			}
		case "'":
			st.pending = '\n'
			if s, ok := last(operands).(pdfString); ok {
				show(s)
			}
		case "\"":
			st.pending = '\n'
			if s, ok := last(operands).(pdfString); ok {
				show(s)
			}
		case "TJ":
			if a, ok := last(operands).(array); ok {
				for _, e := range a {
					switch e := e.(type) {
					case pdfString:
						show(e)
					case number:
						if e < -250 && st.pending == 0 {
							st.pending = ' '
						}
					}
				}
			}
		case "Do":
			if depth < maxFormDepth && len(operands) > 0 {
				d.form(res, last(operands), depth, forms)
			}
		case "BI":
			skipInlineImage(lx)
		}
		operands = operands[:0]
	}
}

func last(a []any) any {
	if len(a) == 0 {
		return nil
	}
	return a[len(a)-1]
}

// form runs a form XObject drawn by Do (§8.10), once per form.
func (d *doc) form(res dict, nameV any, depth int, forms map[int]bool) {
	xobjs := d.dictOf(res["XObject"])
	n, ok := nameV.(name)
	if xobjs == nil || !ok {
		return
	}
	r, ok := xobjs[n].(ref)
	if !ok || forms[r.num] {
		return
	}
	o := d.streamOf(r)
	if o == nil || nameOf(o.dict["Subtype"]) != "Form" {
		return
	}
	forms[r.num] = true
	inner := d.dictOf(o.dict["Resources"])
	if inner == nil {
		inner = res
	}
	d.run(d.streamBytes(r), inner, depth+1, forms)
}

// skipInlineImage moves past the data of an inline image (§8.9.7):
// after the ID operator, up to an EI surrounded by white space.
func skipInlineImage(lx *lexer) {
	for {
		t := lx.next()
		if t.kind == tEOF {
			return
		}
		if t.kind == tKeyword && string(t.str) == "ID" {
			break
		}
	}
	b := lx.b
	for i := lx.pos + 1; i+2 <= len(b); i++ {
		if b[i] == 'E' && b[i+1] == 'I' && isWhite(b[i-1]) && (i+2 == len(b) || isWhite(b[i+2]) || isDelim(b[i+2])) {
			lx.pos = i + 2
			return
		}
	}
	lx.pos = len(b)
}

// font turns the codes of a text-showing string into text.
type font struct {
	simple   bool              // one byte per code
	toUni    map[uint32]string // from the ToUnicode CMap
	widths   []int             // code lengths in bytes, from the CMap's codespace
	byteMap  *[256]string      // simple fonts: code to text, by encoding and differences
	noDecode bool              // a composite font without ToUnicode: codes are glyph ids
}

func (d *doc) fontFor(res dict, nameV any) *font {
	fonts := d.dictOf(res["Font"])
	n, _ := nameV.(name)
	if fonts == nil {
		return &font{simple: true}
	}
	fv := fonts[n]
	r, isRef := fv.(ref)
	if isRef {
		if f, ok := d.fonts[r.num]; ok {
			return f
		}
	}
	fd := d.dictOf(fv)
	f := d.newFont(fd)
	if isRef {
		d.fonts[r.num] = f
	}
	return f
}

// cmap is a ToUnicode CMap as read.
type cmap struct {
	toUni  map[uint32]string
	widths []int
}

func (d *doc) newFont(fd dict) *font {
	f := &font{simple: nameOf(fd["Subtype"]) != "Type0"}
	if o := d.streamOf(fd["ToUnicode"]); o != nil {
		// Each CMap is read once: fonts given inline in resources are
		// made again at each selection, their CMap is not.
		num := fd["ToUnicode"].(ref).num
		c, ok := d.cmaps[num]
		if !ok {
			c = &cmap{}
			if data, err := d.decode(o); err == nil || len(data) > 0 {
				c.toUni, c.widths = parseCMap(data, d.w)
			}
			d.cmaps[num] = c
		}
		f.toUni, f.widths = c.toUni, c.widths
	}
	if f.simple {
		f.byteMap = d.simpleEncoding(fd)
	} else if len(f.toUni) == 0 {
		f.noDecode = true
	}
	if len(f.widths) == 0 {
		if f.simple {
			f.widths = []int{1}
		} else {
			f.widths = []int{2}
		}
	}
	return f
}

func (f *font) decode(s []byte) string {
	if f.noDecode {
		return ""
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		matched := false
		if f.toUni != nil {
			for _, w := range f.widths {
				if i+w > len(s) {
					continue
				}
				var code uint32
				for _, c := range s[i : i+w] {
					code = code<<8 | uint32(c)
				}
				if t, ok := f.toUni[code]; ok {
					b.WriteString(t)
					i += w
					matched = true
					break
				}
			}
		}
		if matched {
			continue
		}
		if !f.simple {
			i += f.widths[0]
			continue
		}
		if f.byteMap != nil {
			b.WriteString(f.byteMap[s[i]])
		} else {
			b.WriteString(winAnsi(s[i]))
		}
		i++
	}
	return b.String()
}

var winAnsiTable = func() (t [256]string) {
	for i := range t {
		r := charmap.Windows1252.DecodeByte(byte(i))
		if r == utf8.RuneError || (i < 32 && i != '\t') {
			continue
		}
		t[i] = string(r)
	}
	return t
}()

func winAnsi(c byte) string { return winAnsiTable[c] }

// simpleEncoding builds the code-to-text table of a simple font from its
// /Encoding: a base encoding and /Differences (§9.6.6).
func (d *doc) simpleEncoding(fd dict) *[256]string {
	t := winAnsiTable
	enc := d.resolve(fd["Encoding"])
	var diffs array
	switch e := enc.(type) {
	case name:
		if e == "MacRomanEncoding" {
			t = macRoman()
		}
	case dict:
		if nameOf(e["BaseEncoding"]) == "MacRomanEncoding" {
			t = macRoman()
		}
		diffs, _ = d.resolve(e["Differences"]).(array)
	}
	if !d.w.Spend(int64(len(diffs))) {
		diffs = nil
	}
	code := 0
	for _, v := range diffs {
		switch v := v.(type) {
		case number:
			code = int(v)
		case name:
			if code >= 0 && code < 256 {
				t[code] = glyphText(string(v))
			}
			code++
		}
	}
	return &t
}

func macRoman() (t [256]string) {
	for i := range t {
		if i < 32 {
			continue
		}
		t[i] = string(charmap.Macintosh.DecodeByte(byte(i)))
	}
	return t
}

// glyphNames maps the glyph names that matter for reading French and
// English text and machine readable zones (Adobe Glyph List).
var glyphNames = map[string]string{
	"space": " ", "exclam": "!", "quotedbl": "\"", "numbersign": "#", "dollar": "$", "percent": "%",
	"ampersand": "&", "quotesingle": "'", "quoteright": "’", "quoteleft": "‘", "parenleft": "(",
	"parenright": ")", "asterisk": "*", "plus": "+", "comma": ",", "hyphen": "-", "minus": "-",
	"period": ".", "slash": "/", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4",
	"five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "colon": ":", "semicolon": ";",
	"less": "<", "equal": "=", "greater": ">", "question": "?", "at": "@", "bracketleft": "[",
	"backslash": "\\", "bracketright": "]", "underscore": "_", "endash": "–", "emdash": "—",
	"guillemotleft": "«", "guillemotright": "»", "degree": "°", "ordmasculine": "º", "nbspace": " ",
	"quotedblleft": "“", "quotedblright": "”", "bullet": "•", "ellipsis": "…", "Euro": "€",
	"eacute": "é", "egrave": "è", "ecircumflex": "ê", "edieresis": "ë", "agrave": "à", "acircumflex": "â",
	"adieresis": "ä", "ccedilla": "ç", "icircumflex": "î", "idieresis": "ï", "ocircumflex": "ô",
	"odieresis": "ö", "ugrave": "ù", "ucircumflex": "û", "udieresis": "ü", "ydieresis": "ÿ", "oe": "œ",
	"ae": "æ", "Eacute": "É", "Egrave": "È", "Ecircumflex": "Ê", "Agrave": "À", "Acircumflex": "Â",
	"Ccedilla": "Ç", "Icircumflex": "Î", "Ocircumflex": "Ô", "Ucircumflex": "Û", "OE": "Œ",
	"fi": "fi", "fl": "fl", "ff": "ff", "ffi": "ffi", "ffl": "ffl",
}

func glyphText(g string) string {
	if i := strings.IndexByte(g, '.'); i > 0 {
		g = g[:i] // "a.sc", "one.oldstyle"
	}
	if len(g) == 1 && (g[0] >= 'a' && g[0] <= 'z' || g[0] >= 'A' && g[0] <= 'Z') {
		return g
	}
	if t, ok := glyphNames[g]; ok {
		return t
	}
	for _, prefix := range []string{"uni", "u"} {
		if h, ok := strings.CutPrefix(g, prefix); ok && len(h) >= 4 && len(h) <= 6 {
			if v, err := strconv.ParseUint(h[:4], 16, 32); err == nil && utf8.ValidRune(rune(v)) {
				return string(rune(v))
			}
		}
	}
	return ""
}

// maxCMapEntries bounds the codes a ToUnicode CMap may define.
const maxCMapEntries = 1 << 17

// cmapEntryWork is the work charged for an entry a bfrange makes: a map
// entry and its string cost what lexing a hundred bytes does (0.7 µs
// measured, against 7 ns a byte lexed).
const cmapEntryWork = 100

// parseCMap reads a ToUnicode CMap (§9.10.3): its codespace ranges (for
// the byte lengths of codes), bfchar and bfrange entries. Each entry a
// range makes is charged to w, whether it is new or made again: a range
// repeated over the code space costs as much as it asks.
func parseCMap(data []byte, w *work.Budget) (map[uint32]string, []int) {
	m := map[uint32]string{}
	widthSet := map[int]bool{}
	lx := &lexer{b: data, w: w}
	var operands []any
	for len(m) < maxCMapEntries {
		t := lx.next()
		if t.kind == tEOF {
			break
		}
		if t.kind != tKeyword {
			v, _ := lx.objectFrom(t, 0)
			if len(operands) < 300 {
				operands = append(operands, v)
			}
			continue
		}
		switch string(t.str) {
		case "endcodespacerange":
			for i := 0; i+1 < len(operands); i += 2 {
				if s, ok := operands[i].(pdfString); ok && len(s) >= 1 && len(s) <= 4 {
					widthSet[len(s)] = true
				}
			}
		case "endbfchar":
			for i := 0; i+1 < len(operands); i += 2 {
				src, ok1 := operands[i].(pdfString)
				dst, ok2 := operands[i+1].(pdfString)
				if ok1 && ok2 && len(src) >= 1 && len(src) <= 4 {
					m[code(src)] = utf16be(dst)
					widthSet[len(src)] = true
				}
			}
		case "endbfrange":
			for i := 0; i+2 < len(operands); i += 3 {
				lo, ok1 := operands[i].(pdfString)
				hi, ok2 := operands[i+1].(pdfString)
				if !ok1 || !ok2 || len(lo) < 1 || len(lo) > 4 || len(hi) != len(lo) {
					continue
				}
				widthSet[len(lo)] = true
				a, b := code(lo), code(hi)
				if b < a || b-a > 0xFFFF {
					continue
				}
				n := int64(b - a + 1)
				if a2, ok := operands[i+2].(array); ok {
					n = int64(min(len(a2), int(b-a+1)))
				}
				if !w.Spend(n * cmapEntryWork) {
					break
				}
				switch dst := operands[i+2].(type) {
				case pdfString:
					base := []rune(utf16be(dst))
					if len(base) == 0 {
						continue
					}
					for c := a; c <= b && len(m) < maxCMapEntries; c++ {
						r := append([]rune(nil), base...)
						r[len(r)-1] += rune(c - a)
						m[c] = string(r)
					}
				case array:
					for j, e := range dst {
						if s, ok := e.(pdfString); ok && a+uint32(j) <= b {
							m[a+uint32(j)] = utf16be(s)
						}
					}
				}
			}
		}
		operands = operands[:0]
	}
	var widths []int
	for w := 4; w >= 1; w-- {
		if widthSet[w] {
			widths = append(widths, w)
		}
	}
	return m, widths
}

func code(s []byte) uint32 {
	var c uint32
	for _, b := range s {
		c = c<<8 | uint32(b)
	}
	return c
}

func utf16be(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
	}
	if len(b) == 1 {
		u = append(u, uint16(b[0]))
	}
	s := string(utf16.Decode(u))
	return string(bytes.ToValidUTF8([]byte(s), nil))
}
