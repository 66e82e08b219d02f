package parser

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"mime"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/jhillyerd/enmime/v2"
)

// enmime reads the body of a multipart message one byte at a time (its
// boundary reader peeks at every byte), which made the files of a message
// most of the time spent parsing it: some 40 MB/s. readEnvelope lets
// enmime read a skeleton of the message instead, in which the bodies of
// large base64 files are replaced by short stand-ins, decodes those
// bodies itself with the standard library, and puts them back into the
// parts enmime made of the stand-ins.
//
// A body is taken out only when enmime cannot read it any other way: a
// leaf part, not text, whose Content-Transfer-Encoding is base64, whose
// lines hold nothing but the base64 alphabet, padding and spaces (enmime
// strips spaces and padding silently, and would report anything else),
// which decodes without error, and which the delimiter line of its own
// multipart ends. None of those bytes can start a delimiter or a header,
// so enmime splits the skeleton exactly as it splits the message. The
// result is checked all the same: unless every stand-in comes back as
// the whole content of exactly one part, enmime reads the whole message.

// lightMin is the smallest body worth taking out.
const lightMin = 8 << 10

// standInTag starts the decoded bytes of every stand-in.
const standInTag = "\x00\xffrecoverybot stand-in "

// readEnvelope reads raw with enmime, its large files taken out and put
// back (see above).
func readEnvelope(raw []byte, partsLeft int) (*enmime.Envelope, error) {
	return readLightened(raw, partsLeft, lightMin)
}

// readLightened is readEnvelope taking out the bodies of minBody bytes or
// more.
func readLightened(raw []byte, partsLeft, minBody int) (*enmime.Envelope, error) {
	skeleton, files := lighten(raw, minBody)
	if files == nil {
		return newEnmime(partsLeft).ReadEnvelope(bytes.NewReader(raw))
	}
	env, err := newEnmime(partsLeft).ReadEnvelope(bytes.NewReader(skeleton))
	if err == nil && putBack(env.Root, files) {
		return env, nil
	}
	return newEnmime(partsLeft).ReadEnvelope(bytes.NewReader(raw))
}

// putBack replaces the content of the parts that hold a stand-in with
// the file it stands for, and reports whether every stand-in was found
// exactly once.
func putBack(root *enmime.Part, files [][]byte) bool {
	found := make([]*enmime.Part, len(files))
	ok := true
	_ = root.DepthMatchAll(func(p *enmime.Part) bool {
		c := p.Content
		if !bytes.HasPrefix(c, []byte(standInTag)) {
			return false
		}
		i, err := strconv.Atoi(string(c[len(standInTag):]))
		if err != nil || i < 0 || i >= len(files) || found[i] != nil || len(p.Errors) > 0 {
			ok = false
			return false
		}
		found[i] = p
		return false
	})
	for _, p := range found {
		if p == nil {
			ok = false
		}
	}
	if !ok {
		return false
	}
	for i, p := range found {
		p.Content = files[i]
	}
	return true
}

// lighten returns raw with the bodies of its base64 files of minBody bytes
// or more replaced by stand-ins, and those bodies decoded, in
// stand-in order; files is nil when there is nothing to take out.
func lighten(raw []byte, minBody int) (skeleton []byte, files [][]byte) {
	h, bodyStart, ok := partHeader(raw, 0)
	if !ok {
		return nil, nil
	}
	b := multipartBoundary(h)
	if b == "" {
		return nil, nil
	}
	l := lightener{raw: raw, min: max(minBody, 1)}
	if _, ok := l.multipart(bodyStart, []string{b}); !ok || len(l.spans) == 0 {
		return nil, nil
	}
	var out bytes.Buffer
	out.Grow(len(raw) / 4)
	prev := 0
	for i, s := range l.spans {
		out.Write(raw[prev:s.start])
		out.WriteString(base64.StdEncoding.EncodeToString([]byte(standInTag + strconv.Itoa(i))))
		out.WriteString(s.eol)
		prev = s.end
		files = append(files, s.data)
	}
	out.Write(raw[prev:])
	return out.Bytes(), files
}

// span is a body taken out: raw[start:end], its line ending and its
// decoded bytes.
type span struct {
	start, end int
	eol        string
	data       []byte
}

type lightener struct {
	raw   []byte
	min   int
	spans []span
}

// maxLightDepth bounds the nesting lighten follows; deeper messages are
// read by enmime alone.
const maxLightDepth = 20

// multipart reads the body of a multipart from pos, whose boundaries are
// stack (its own last), up to and including its closing delimiter line.
// It returns where that line ends, and false when the structure is not
// one it is sure to read as enmime does.
func (l *lightener) multipart(pos int, stack []string) (next int, ok bool) {
	if len(stack) > maxLightDepth {
		return 0, false
	}
	own := len(stack) - 1
	// The preamble, up to the first delimiter.
	for {
		line, end := l.line(pos)
		if end == pos {
			return 0, false // no delimiter at all
		}
		level, closing := delimiter(line, stack)
		switch {
		case level == own && closing:
			return end, true // no parts
		case level == own:
			pos = end
		case level >= 0:
			return 0, false // an outer boundary closes it
		default:
			pos = end
			continue
		}
		break
	}
	// The parts: pos is where the header of one starts.
	for {
		h, bodyStart, ok := partHeader(l.raw, pos)
		if !ok {
			return 0, false
		}
		if b := multipartBoundary(h); b != "" {
			if pos, ok = l.multipart(bodyStart, append(stack[:len(stack):len(stack)], b)); !ok {
				return 0, false
			}
		} else {
			pos = bodyStart
		}
		// The body (or a nested multipart's epilogue), up to the next
		// delimiter line of a boundary of the stack.
		clean := b64Leaf(h)
		start := pos
		for {
			line, end := l.line(pos)
			if end == pos {
				return 0, false // the message ends inside the multipart
			}
			level, closing := delimiter(line, stack)
			if level < 0 {
				if clean && !base64Line(line) {
					clean = false
				}
				pos = end
				continue
			}
			if level != own {
				return 0, false
			}
			if clean && pos-start >= l.min {
				l.take(start, pos)
			}
			if closing {
				return end, true
			}
			pos = end
			break
		}
	}
}

// take takes out the base64 body raw[start:end] if it decodes as enmime
// would decode it.
func (l *lightener) take(start, end int) {
	body := l.raw[start:end]
	eol := "\n"
	if bytes.HasSuffix(body, []byte("\r\n")) {
		eol = "\r\n"
	}
	// enmime strips white space and padding, then decodes without
	// padding. The standard decoder skips line endings itself: when the
	// only padding is at the end and there are no spaces, the body is
	// decoded as it is.
	text := bytes.TrimRight(body, "\r\n=")
	if bytes.IndexByte(text, '=') >= 0 || bytes.IndexByte(text, ' ') >= 0 || bytes.IndexByte(text, '\t') >= 0 {
		stripped := make([]byte, 0, len(body))
		for _, c := range body {
			switch c {
			case '\r', '\n', ' ', '\t', '=':
			default:
				stripped = append(stripped, c)
			}
		}
		text = stripped
	}
	data := make([]byte, base64.RawStdEncoding.DecodedLen(len(text)))
	n, err := base64.RawStdEncoding.Decode(data, text)
	if err != nil {
		return
	}
	l.spans = append(l.spans, span{start: start, end: end, eol: eol, data: data[:n]})
}

// line returns the line at pos, with its line ending, and where the next
// one starts (pos at the end of raw).
func (l *lightener) line(pos int) ([]byte, int) {
	if pos >= len(l.raw) {
		return nil, pos
	}
	i := bytes.IndexByte(l.raw[pos:], '\n')
	if i < 0 {
		return l.raw[pos:], len(l.raw)
	}
	return l.raw[pos : pos+i+1], pos + i + 1
}

// delimiter says whether line is the delimiter line of a boundary of
// stack, the innermost that matches, and whether it closes its multipart:
// "--" boundary, then "--" to close, then spaces and the line ending. A
// line that begins so but goes on otherwise is not one, and not a line
// lighten can be sure of either: it is read as a delimiter of no
// boundary, and the base64 check refuses it.
func delimiter(line []byte, stack []string) (level int, closing bool) {
	if len(line) < 2 || line[0] != '-' || line[1] != '-' {
		return -1, false
	}
	rest := line[2:]
	for i := len(stack) - 1; i >= 0; i-- {
		b := stack[i]
		if !bytes.HasPrefix(rest, []byte(b)) {
			continue
		}
		tail := rest[len(b):]
		closing := bytes.HasPrefix(tail, []byte("--"))
		if closing {
			tail = tail[2:]
		}
		if len(bytes.TrimRight(tail, " \t\r\n")) == 0 {
			return i, closing
		}
	}
	return -1, false
}

// base64Line reports whether line holds only what enmime's base64
// cleaner strips silently or keeps: the alphabet, padding, spaces.
func base64Line(line []byte) bool {
	for _, c := range line {
		if !base64Clean[c] {
			return false
		}
	}
	return true
}

// base64Clean lists the bytes base64Line accepts.
var base64Clean = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t\r\n") {
		t[c] = true
	}
	return t
}()

// partHeader reads the header that starts at pos, as net/textproto does,
// and returns it with where the body starts. ok is false when the header
// is malformed or the message ends inside it.
func partHeader(raw []byte, pos int) (textproto.MIMEHeader, int, bool) {
	switch {
	case bytes.HasPrefix(raw[pos:], []byte("\r\n")):
		return textproto.MIMEHeader{}, pos + 2, true // no header
	case bytes.HasPrefix(raw[pos:], []byte("\n")):
		return textproto.MIMEHeader{}, pos + 1, true
	}
	end := bytes.Index(raw[pos:], []byte("\n\r\n"))
	lf := bytes.Index(raw[pos:], []byte("\n\n"))
	switch {
	case end < 0 && lf < 0:
		return nil, 0, false
	case end < 0 || (lf >= 0 && lf < end):
		end = pos + lf + 2
	default:
		end = pos + end + 3
	}
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw[pos:end]))).ReadMIMEHeader()
	if err != nil {
		return nil, 0, false
	}
	return h, end, true
}

// multipartBoundary returns the boundary of a multipart header, or "".
func multipartBoundary(h textproto.MIMEHeader) string {
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		return ""
	}
	return params["boundary"]
}

// b64Leaf reports whether h is the header of a part lighten may take the
// body out of: a file (not text, not a message, not a multipart) in
// base64.
func b64Leaf(h textproto.MIMEHeader) bool {
	if len(h.Values("Content-Type")) != 1 || len(h.Values("Content-Transfer-Encoding")) != 1 {
		return false
	}
	if !strings.EqualFold(strings.TrimSpace(h.Get("Content-Transfer-Encoding")), "base64") {
		return false
	}
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return false
	}
	major, _, _ := strings.Cut(mt, "/")
	return major != "text" && major != "message" && major != "multipart"
}
