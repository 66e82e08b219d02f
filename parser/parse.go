package parser

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/textproto"
	"strings"

	"github.com/jhillyerd/enmime/v2"

	"github.com/recoverybot/recoverybot/parser/internal/work"
)

// Options bound the work of Parse. The zero value uses the defaults.
type Options struct {
	MaxBytes        int64 // raw message size read in full; default 50 MiB (beyond: headers only)
	MaxParts        int   // MIME parts, forwarded messages' included; default 1000
	MaxDepth        int   // multipart nesting; default 50
	MaxMessageDepth int   // forwarded messages inside each other; default 5
	MaxImagePixels  int64 // largest image (width × height) a header may announce; default 100 million
	MaxPDFPages     int   // pages a PDF may have; default 300
	MaxTextBytes    int   // text kept and searched (Text, code candidates); default 1 MiB
	MaxPDFDecoded   int64 // bytes decompressed from the PDFs of a message, all together; default 64 MiB
	// MaxWork is the work one message may cost, in units of about one
	// byte read: bytes scanned, lexed, decompressed and converted,
	// entries of tables built, parts walked. Its documents (PDF, images,
	// winmail.dat) share three quarters of it, each taking at most a
	// quarter; a document that spends its share gets a
	// FindingLimitReached, and Parse returns ErrStopped. Reading the message's MIME structure is paid
	// on top, 2 units a byte (MaxBytes bounds it). Default 100 million,
	// about a second of CPU.
	MaxWork int64
}

// DefaultMaxWork is Options.MaxWork's default.
const DefaultMaxWork = 100_000_000

func (o Options) withDefaults() Options {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 50 << 20
	}
	if o.MaxParts <= 0 {
		o.MaxParts = 1000
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = 50
	}
	if o.MaxMessageDepth <= 0 {
		o.MaxMessageDepth = 5
	}
	if o.MaxImagePixels <= 0 {
		o.MaxImagePixels = 100_000_000
	}
	if o.MaxPDFPages <= 0 {
		o.MaxPDFPages = 300
	}
	if o.MaxTextBytes <= 0 {
		o.MaxTextBytes = 1 << 20
	}
	if o.MaxPDFDecoded <= 0 {
		o.MaxPDFDecoded = 64 << 20
	}
	if o.MaxWork <= 0 {
		o.MaxWork = DefaultMaxWork
	}
	return o
}

// Errors Parse returns, with the Message it could still read. Callers
// test them with errors.Is.
var (
	// ErrNotMessage: the bytes do not start with a header.
	ErrNotMessage = errors.New("parser: not a mail message")
	// ErrTooLarge: larger than Options.MaxBytes; only the header was read.
	ErrTooLarge = errors.New("parser: message too large")
	// ErrTooComplex: more parts or deeper nesting than the options allow;
	// only the header was read.
	ErrTooComplex = errors.New("parser: message too complex")
	// ErrMalformed: the MIME structure could not be read; the header and
	// the body as raw text were kept, documents may be missing.
	ErrMalformed = errors.New("parser: malformed MIME")
	// ErrInternal: the parser failed on this input (a bug); the Message
	// holds what was read before.
	ErrInternal = errors.New("parser: internal error")
	// ErrStopped: the work stopped before the end, because the context
	// was done (the error then also matches the context's error) or the
	// message itself, outside its documents, spent Options.MaxWork; the
	// Message holds what was read before, its header always. Or else a
	// document's analysis was stopped by its share of the work budget or
	// by the decompression budget (a bomb): the Message is complete but
	// for what that document holds, which has a FindingLimitReached.
	ErrStopped = errors.New("parser: stopped")
)

// maxHeaderBytes bounds the header block read when the body is not.
const maxHeaderBytes = 1 << 20

func newMessage() *Message {
	return &Message{ParserVersion: Version, Documents: []Document{}, AuthResults: []AuthResult{},
		CaseRefs: []Found{}, Codes: []Found{}, Findings: []string{}}
}

// Parse reads a raw message (RFC 5322, MIME). It always returns a
// non-nil Message, never panics, and bounds its time and memory by o.
// A non-nil error (ErrNotMessage, ErrTooLarge, ErrTooComplex,
// ErrMalformed, ErrStopped, ErrInternal) means the message could not be
// read completely: documents may be missing and the message deserves
// review; the Message then holds what could be read and Findings says
// why. Parse is ParseContext without a deadline.
func Parse(raw []byte, o Options) (*Message, error) {
	return ParseContext(context.Background(), raw, o)
}

// ParseContext is Parse stopped when ctx is done: the work stops soon
// after (the parser looks at ctx every few hundred microseconds of
// work), and ParseContext returns what it read with an error matching
// ErrStopped and ctx's error.
func ParseContext(ctx context.Context, raw []byte, o Options) (m *Message, err error) {
	o = o.withDefaults()
	m = newMessage()
	// Reading the MIME structure of the message (prescan, then the
	// skeleton and enmime) is paid on top of MaxWork, so that every
	// message MaxBytes admits can be read.
	wb := work.New(ctx, o.MaxWork+int64(len(raw))*(1+mimeWork))
	var w *walker
	defer func() {
		if r := recover(); r != nil {
			m.Findings = append(m.Findings, fmt.Sprintf("internal error: %v", r))
			err = fmt.Errorf("%w: %v", ErrInternal, r)
		}
	}()
	defer func() {
		if werr := wb.Err(); werr != nil && err == nil {
			if m.MessageID == "" && len(m.From) == 0 {
				headersOnly(m, raw)
			}
			m.Findings = append(m.Findings, fmt.Sprintf("%s: %v, the message was not read to the end", FindingLimitReached, werr))
			err = fmt.Errorf("%w: %w", ErrStopped, werr)
		}
		if err == nil && w != nil {
			err = w.stoppedError()
		}
	}()
	if !wb.Check() {
		return m, nil // the deferred check reports it
	}
	raw, repairs := repair(raw)
	m.Findings = append(m.Findings, repairs...)
	if !looksLikeMessage(raw) {
		m.Findings = append(m.Findings, "not a mail message: no header at the start")
		return m, ErrNotMessage
	}
	if int64(len(raw)) > o.MaxBytes {
		headersOnly(m, raw)
		m.Findings = append(m.Findings, fmt.Sprintf("message of %d bytes is larger than %d: only the header was read", len(raw), o.MaxBytes))
		return m, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(raw))
	}
	w = &walker{o: o, m: m, partsLeft: o.MaxParts, pdfLeft: o.MaxPDFDecoded, work: wb, docWork: wb.Sub(o.MaxWork / 4 * 3)}
	if err := w.top(raw); err != nil {
		return m, err
	}
	return m, nil
}

// repair removes what commonly precedes a message in a file: an mbox
// "From " line, blank lines, a UTF-8 byte order mark, white space before
// the first header; and the malformed lines of the header
// (dropMalformedFields).
func repair(raw []byte) ([]byte, []string) {
	var notes []string
	if r := bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")); len(r) != len(raw) {
		raw = r
		notes = append(notes, "byte order mark removed")
	}
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[i+1:]
			notes = append(notes, "mbox From_ line removed")
		}
	}
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) != len(raw) && len(trimmed) > 0 {
		raw = trimmed
		notes = append(notes, "white space before the header removed")
	}
	raw, dropped := dropMalformedFields(raw)
	return raw, append(notes, dropped...)
}

// looksLikeMessage reports whether raw starts with a header field:
// a field name (printable ASCII, no space) and a colon.
func looksLikeMessage(raw []byte) bool {
	line := raw
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || colon > 200 {
		return false
	}
	for _, c := range line[:colon] {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// headersOnly fills m from the header block alone.
func headersOnly(m *Message, raw []byte) textproto.MIMEHeader {
	h := readHeaderBlock(raw)
	readHeaders(m, h)
	m.Automatic = len(m.AutomaticSignals) > 0
	return h
}

func readHeaderBlock(raw []byte) textproto.MIMEHeader {
	if len(raw) > maxHeaderBytes {
		raw = raw[:maxHeaderBytes]
	}
	h, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader()
	if h == nil {
		h = textproto.MIMEHeader{}
	}
	return h
}

// bodyAfterHeader returns what follows the header block.
func bodyAfterHeader(raw []byte) []byte {
	for _, sep := range []string{"\r\n\r\n", "\n\n"} {
		if i := bytes.Index(raw, []byte(sep)); i >= 0 {
			return raw[i+len(sep):]
		}
	}
	return nil
}

// newEnmime returns the enmime parser for a message with partsLeft parts
// to spend.
func newEnmime(partsLeft int) *enmime.Parser {
	return enmime.NewParser(
		enmime.MaxMIMEParts(max(partsLeft, 1)),
		enmime.SkipMalformedParts(true),
		enmime.MultipartWOBoundaryAsSinglePart(true),
		enmime.DisableCharacterDetection(true),
		// DisableCharacterDetection spares only parts that declare a
		// charset: enmime still guesses the others' with chardet, whose
		// guess between close charsets (ISO-8859-1 or -2) changes from one
		// run to the next. The walker reads undeclared text itself
		// (textOf), the same way every time.
		enmime.MinCharsetDetectRunes(math.MaxInt),
		enmime.DisableTextConversion(true),
		enmime.MaxStoredPartErrors(50),
		// Keep what could be decoded of a damaged part, whatever its
		// type: a part is never dropped (its errors become findings).
		enmime.SetReadPartErrorPolicy(func(*enmime.Part, error) bool { return true }),
	)
}

// countParts counts the parts of an enmime tree, containers included.
func countParts(p *enmime.Part) int {
	n := 0
	_ = p.DepthMatchAll(func(*enmime.Part) bool { n++; return false })
	return n
}

func cleanError(err error) string {
	s := oneLine(err.Error())
	s = strings.TrimPrefix(s, "Failed to ReadParts: ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
