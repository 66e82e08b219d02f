// Package pdftext reads what recoverybot needs from a PDF: its text layer,
// its page count, and whether it is encrypted or carries active content
// (JavaScript, launch actions, embedded files, open actions).
//
// It is a small extractor written for this project rather than a PDF
// library. The one candidate in the module proxy, github.com/ledongthuc/pdf,
// panics on corrupt files and reads whole streams into memory whatever
// they decompress to: recovering from the panics is easy, but a goroutine
// with a deadline cannot stop a Flate bomb from exhausting memory, and a
// goroutine that outlives its deadline keeps burning CPU. Here every
// decompression draws on a byte budget, every loop on a bounded input or
// counter, and Analyze recovers from any panic as a last resort.
//
// How it reads (ISO 32000-1): it does not trust the cross-reference
// table. It scans the file for "n g obj" headers, as repair tools do, so
// that truncated and damaged files still give their objects; object
// streams (§7.5.7) are unpacked; pages are the objects of /Type /Page.
// Text comes from the text-showing operators of each page's content
// streams and of the form XObjects they draw (§9.4), decoded through the
// font's ToUnicode CMap (§9.10.3) or, for simple fonts, through its
// encoding and /Differences. Scanned documents without a text layer give
// no text: there is no OCR here.
package pdftext

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/recoverybot/recoverybot/parser/internal/work"
)

// Limits bound the work Analyze does. Zero fields take the defaults.
type Limits struct {
	MaxDecoded int64 // bytes decompressed over all streams; default 64 MiB
	MaxStream  int64 // bytes decompressed from one stream; default 16 MiB
	MaxObjects int   // objects read; default 200,000
	MaxPages   int   // pages whose text is read; default 200
	MaxText    int   // bytes of text kept; default 1 MiB
	MaxOps     int   // content stream operators interpreted; default 5,000,000
	// Work is the work budget Analyze draws on (bytes lexed, scanned and
	// decompressed, CMap entries made); when it is spent or its context
	// done, Analyze stops and reports "work" in Limited. Nil: a budget of
	// DefaultWork units of its own.
	Work *work.Budget
}

// DefaultWork is the work budget of Analyze when Limits.Work is nil:
// about a second of CPU.
const DefaultWork = 200_000_000

func (l Limits) withDefaults() Limits {
	if l.MaxDecoded <= 0 {
		l.MaxDecoded = 64 << 20
	}
	if l.MaxStream <= 0 {
		l.MaxStream = 16 << 20
	}
	if l.MaxObjects <= 0 {
		l.MaxObjects = 200000
	}
	if l.MaxPages <= 0 {
		l.MaxPages = 200
	}
	if l.MaxText <= 0 {
		l.MaxText = 1 << 20
	}
	if l.MaxOps <= 0 {
		l.MaxOps = 5000000
	}
	if l.Work == nil {
		l.Work = work.New(context.Background(), DefaultWork)
	}
	return l
}

// Report is what Analyze found.
type Report struct {
	// Version is the header's version ("1.7"); empty when there is no
	// %PDF- header in the first kilobyte.
	Version string
	// Pages counts the page objects.
	Pages int
	// Encrypted is true when a trailer names an /Encrypt dictionary. The
	// text of an encrypted file is not read.
	Encrypted bool
	// Active lists the active content found, each once and sorted:
	// "/JavaScript", "/JS", "/Launch", "/EmbeddedFile", "/OpenAction",
	// "/AA", "/RichMedia", "/SubmitForm", "/ImportData", "/GoToE", "/XFA".
	Active []string
	// Text is the text layer, pages in object order, lines separated by
	// newlines.
	Text string
	// Truncated is true when the file has no %%EOF marker or a stream
	// runs past the end of the file.
	Truncated bool
	// Limited names the limits that were reached ("decoded", "objects",
	// "pages", "text", "operators", "work"): what lies beyond was not
	// read. "work" is the work budget (Limits.Work): spent, or its
	// context done.
	Limited []string
	// Problems lists damage found: unreadable streams, unsupported
	// filters, an internal error.
	Problems []string
	// Decoded is the number of bytes decompressed, to charge a budget
	// shared by several files.
	Decoded int64
}

// Analyze reads data as a PDF file. It never panics and its work is
// bounded by l.
func Analyze(data []byte, l Limits) (rep Report) {
	l = l.withDefaults()
	d := &doc{b: data, lim: l, w: l.Work, objs: map[int]*object{}, limited: map[string]bool{}, active: map[string]bool{},
		fonts: map[int]*font{}, cmaps: map[int]*cmap{}}
	defer func() {
		if r := recover(); r != nil {
			rep = d.report()
			rep.Problems = append(rep.Problems, fmt.Sprintf("internal error: %v", r))
		}
	}()
	if !d.w.OK() {
		d.limited["work"] = true
		return d.report()
	}
	d.header()
	d.scan()
	d.unpackObjectStreams()
	d.trailers()
	d.findActive()
	d.findPages()
	if !d.encrypted {
		d.extractText()
	}
	if d.w.Err() != nil {
		d.limited["work"] = true
	}
	return d.report()
}

type object struct {
	value  any
	stream []byte // raw stream data; nil when not a stream
	dict   dict   // the stream's dictionary (also value)
}

type doc struct {
	b         []byte
	lim       Limits
	w         *work.Budget
	version   string
	objs      map[int]*object
	order     []int // object numbers in file order, each once
	trailer   []dict
	encrypted bool
	truncated bool
	pages     []int
	active    map[string]bool
	limited   map[string]bool
	problems  []string
	decoded   int64
	ops       int
	text      strings.Builder
	fonts     map[int]*font
	cmaps     map[int]*cmap // ToUnicode CMaps read, by object number
}

func (d *doc) problem(format string, args ...any) {
	if len(d.problems) < 10 {
		d.problems = append(d.problems, fmt.Sprintf(format, args...))
	}
}

func (d *doc) report() Report {
	r := Report{Version: d.version, Pages: len(d.pages), Encrypted: d.encrypted, Truncated: d.truncated,
		Text: d.text.String(), Problems: d.problems, Decoded: d.decoded}
	for k := range d.active {
		r.Active = append(r.Active, "/"+k)
	}
	sort.Strings(r.Active)
	for k := range d.limited {
		r.Limited = append(r.Limited, k)
	}
	sort.Strings(r.Limited)
	return r
}

func (d *doc) header() {
	head := d.b
	if len(head) > 1024 {
		head = head[:1024]
	}
	if i := bytes.Index(head, []byte("%PDF-")); i >= 0 {
		v := head[i+5:]
		n := 0
		for n < len(v) && n < 4 && (v[n] == '.' || v[n] >= '0' && v[n] <= '9') {
			n++
		}
		d.version = string(v[:n])
	}
	tail := d.b
	if len(tail) > 4096 {
		tail = tail[len(tail)-4096:]
	}
	if !bytes.Contains(tail, []byte("%%EOF")) {
		d.truncated = true
	}
}

// scan finds every "n g obj … endobj" in the file. A later definition of
// an object number replaces an earlier one, as incremental updates do.
// An object's value is read no further than the next "endobj", so that
// one damaged object cannot swallow the ones after it.
func (d *doc) scan() {
	b := d.b
	noEndobjAfter := len(b) + 1 // no "endobj" at or after this offset
	for i := 0; i < len(b); {
		j := bytes.Index(b[i:], []byte("obj"))
		if j < 0 || !d.w.Spend(int64(j)+3) {
			return
		}
		k := i + j
		i = k + 3
		num, ok := objectHeader(b, k)
		if !ok || !hasKeywordAt(b, k, "obj") {
			continue
		}
		if len(d.order) >= d.lim.MaxObjects {
			d.limited["objects"] = true
			return
		}
		region := len(b)
		if k < noEndobjAfter {
			e := bytes.Index(b[k+3:], []byte("endobj"))
			if e >= 0 {
				region = k + 3 + e
			} else {
				noEndobjAfter = k
			}
			// The search for "endobj" is work: read again for each
			// "obj" before the next "endobj", it is what costs most
			// in a file of headers without objects.
			if !d.w.Spend(int64(max(e, 0))) {
				return
			}
		}
		lx := &lexer{b: b[:region], pos: k + 3, w: d.w}
		v, _ := lx.object(0)
		o := &object{value: v}
		if dv, ok := v.(dict); ok {
			o.dict = dv
		}
		t := lx.next()
		end := lx.pos
		if t.kind == tKeyword && string(t.str) == "stream" && o.dict != nil {
			o.stream, end = d.streamData(lx.pos, o.dict)
		}
		if _, seen := d.objs[num]; !seen {
			d.order = append(d.order, num)
		}
		d.objs[num] = o
		if end > i {
			i = end
		}
	}
}

// objectHeader reads backwards from the "obj" at k: "num gen obj".
func objectHeader(b []byte, k int) (int, bool) {
	p := k - 1
	skip := func() bool {
		n := 0
		for p >= 0 && isWhite(b[p]) {
			p--
			n++
		}
		return n > 0
	}
	digits := func() (int, bool) {
		end := p
		for p >= 0 && b[p] >= '0' && b[p] <= '9' && end-p < 10 {
			p--
		}
		if p == end {
			return 0, false
		}
		v := 0
		for _, c := range b[p+1 : end+1] {
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	if !skip() {
		return 0, false
	}
	if _, ok := digits(); !ok {
		return 0, false
	}
	if !skip() {
		return 0, false
	}
	num, ok := digits()
	if !ok {
		return 0, false
	}
	if p >= 0 && !isWhite(b[p]) && !isDelim(b[p]) {
		return 0, false
	}
	return num, true
}

// streamData returns the raw data of a stream whose keyword ends at pos,
// and where scanning resumes.
func (d *doc) streamData(pos int, sd dict) ([]byte, int) {
	b := d.b
	if pos < len(b) && b[pos] == '\r' {
		pos++
	}
	if pos < len(b) && b[pos] == '\n' {
		pos++
	}
	if n, ok := sd["Length"].(number); ok && n >= 0 && float64(pos)+float64(n) <= float64(len(b)) {
		end := pos + int(n)
		q := end
		for q < len(b) && isWhite(b[q]) {
			q++
		}
		if hasKeywordAt(b, q, "endstream") {
			return b[pos:end], q + len("endstream")
		}
	}
	e := bytes.Index(b[pos:], []byte("endstream"))
	if e < 0 {
		d.truncated = true
		return b[pos:], len(b)
	}
	end := pos + e
	data := b[pos:end]
	data = bytes.TrimSuffix(data, []byte("\n"))
	data = bytes.TrimSuffix(data, []byte("\r"))
	return data, end + len("endstream")
}

// resolve follows indirect references, a bounded number of times.
func (d *doc) resolve(v any) any {
	for i := 0; i < 16; i++ {
		r, ok := v.(ref)
		if !ok {
			return v
		}
		o := d.objs[r.num]
		if o == nil {
			return nil
		}
		v = o.value
	}
	return nil
}

func (d *doc) dictOf(v any) dict {
	dv, _ := d.resolve(v).(dict)
	return dv
}

// streamOf returns the object a value refers to when it is a stream.
func (d *doc) streamOf(v any) *object {
	r, ok := v.(ref)
	if !ok {
		return nil
	}
	o := d.objs[r.num]
	if o == nil || o.stream == nil {
		return nil
	}
	return o
}

func nameOf(v any) string {
	n, _ := v.(name)
	return string(n)
}

// unpackObjectStreams reads the objects compressed in /Type /ObjStm
// streams (§7.5.7). An object defined directly in the file wins.
func (d *doc) unpackObjectStreams() {
	for _, num := range append([]int(nil), d.order...) {
		o := d.objs[num]
		if o.stream == nil || nameOf(o.dict["Type"]) != "ObjStm" {
			continue
		}
		data, err := d.decode(o)
		if err != nil {
			if err != errBudget && err != errWork {
				d.problem("object stream %d: %v", num, err)
			}
			continue
		}
		n, _ := o.dict["N"].(number)
		first, _ := o.dict["First"].(number)
		if n < 0 || first < 0 || int(first) > len(data) {
			continue
		}
		type entry struct{ num, off int }
		var entries []entry
		hl := &lexer{b: data[:int(first)], w: d.w}
		for i := 0; i < int(n) && i < d.lim.MaxObjects; i++ {
			t1, t2 := hl.next(), hl.next()
			if t1.kind != tNumber || t2.kind != tNumber {
				break
			}
			off := int(first) + int(t2.num)
			if off < int(first) || off >= len(data) {
				continue
			}
			entries = append(entries, entry{int(t1.num), off})
		}
		sort.SliceStable(entries, func(i, j int) bool { return entries[i].off < entries[j].off })
		for i, e := range entries {
			if _, exists := d.objs[e.num]; exists {
				continue
			}
			if len(d.order) >= d.lim.MaxObjects {
				d.limited["objects"] = true
				return
			}
			end := len(data)
			if i+1 < len(entries) {
				end = entries[i+1].off
			}
			v, _ := (&lexer{b: data[:end], pos: e.off, w: d.w}).object(0)
			io := &object{value: v}
			if dv, ok := v.(dict); ok {
				io.dict = dv
			}
			d.objs[e.num] = io
			d.order = append(d.order, e.num)
		}
	}
}

// trailers reads the trailer dictionaries and cross-reference stream
// dictionaries: they say whether the file is encrypted (§7.6.1).
func (d *doc) trailers() {
	b := d.b
	for i := 0; i < len(b); {
		j := bytes.Index(b[i:], []byte("trailer"))
		if j < 0 || !d.w.Spend(int64(j)+7) {
			break
		}
		k := i + j
		i = k + 7
		if !hasKeywordAt(b, k, "trailer") {
			continue
		}
		if v, _ := (&lexer{b: b, pos: k + 7, w: d.w}).object(0); v != nil {
			if dv, ok := v.(dict); ok {
				d.trailer = append(d.trailer, dv)
			}
		}
	}
	for _, num := range d.order {
		if o := d.objs[num]; o.dict != nil && nameOf(o.dict["Type"]) == "XRef" {
			d.trailer = append(d.trailer, o.dict)
		}
	}
	for _, t := range d.trailer {
		if _, ok := t["Encrypt"]; ok {
			d.encrypted = true
		}
	}
}

// activeNames are the names that announce active content or embedded
// files (§12.6, §7.11.4).
var activeNames = map[name]bool{
	"JavaScript": true, "JS": true, "Launch": true, "EmbeddedFile": true, "EmbeddedFiles": true,
	"RichMedia": true, "SubmitForm": true, "ImportData": true, "GoToE": true, "XFA": true, "AA": true,
}

func (d *doc) findActive() {
	for _, num := range d.order {
		d.walkActive(d.objs[num].value, 0)
	}
}

func (d *doc) walkActive(v any, depth int) {
	if depth > maxNesting || !d.w.Spend(1) {
		return
	}
	switch v := v.(type) {
	case name:
		if activeNames[v] {
			d.flag(v)
		}
	case array:
		for _, e := range v {
			d.walkActive(e, depth+1)
		}
	case dict:
		for k, e := range v {
			switch {
			case activeNames[k]:
				d.flag(k)
			case k == "EF":
				d.flag("EmbeddedFile")
			case k == "OpenAction":
				// An open action is active content when it is an
				// action dictionary; a destination array only sets
				// the first page shown.
				if _, isDict := d.resolve(e).(dict); isDict {
					d.flag("OpenAction")
				}
			}
			d.walkActive(e, depth+1)
		}
	}
}

func (d *doc) flag(n name) {
	if n == "EmbeddedFiles" {
		n = "EmbeddedFile"
	}
	d.active[string(n)] = true
}

func (d *doc) findPages() {
	for _, num := range d.order {
		if o := d.objs[num]; o.dict != nil && nameOf(o.dict["Type"]) == "Page" {
			d.pages = append(d.pages, num)
		}
	}
}
