package parser

import (
	"bytes"
	"io"
	"strings"
)

// Look is Scan for a message not downloaded, read from what the server
// told of it (a Glimpse): the header facts of Scan (sender, Message-ID,
// Subject, Date, threading, automatic signals, Authentication-Results)
// and the case references found in the Subject, in the fetched bytes of
// the text parts (plain and HTML, transfer encoding decoded), and in the
// headers and text parts of forwarded messages. It decodes no
// attachment.
//
// sure is false when the message must be downloaded and parsed whole to
// be judged:
//   - whenever Scan would not be sure: a delivery report
//     (multipart/report, message/delivery-status), a mail from a mailer
//     daemon or postmaster, a winmail.dat (application/ms-tnef or a
//     file of that name), a text part in a charset that is not a
//     superset of ASCII (UTF-16, UTF-32, UTF-7);
//   - when the Glimpse cannot be judged: no Root, a node of no type, a
//     multipart without parts, a forwarded message whose header or body
//     outline is missing or which is not in 7bit, 8bit or binary, a text
//     part (Part.NeedsText) whose Text was not fetched or whose transfer
//     encoding is not one of 7bit, 8bit, binary, base64,
//     quoted-printable, or more than 2000 parts or 20 levels.
//
// So every text part Look reads must have been fetched: there is no
// count of "more text parts than fetched", a part that NeedsText without
// Text makes Look unsure.
//
// A text part fetched only in part (Truncated, or fewer bytes than its
// Size) is read up to where it stops, the last incomplete base64 quantum
// or quoted-printable escape dropped: a reference in those first bytes
// is found, one only past them is not. Such a message is then left
// undownloaded unless something else ties it to a case; the intake
// still pulls it when its sender has an open case or its In-Reply-To or
// References name one of our mails, which Look reports whatever the
// bound.
//
// Look never panics: a failure inside it is recovered and makes it
// unsure.
func Look(g Glimpse) (m *Message, sure bool) {
	m = newMessage()
	defer func() {
		if recover() != nil {
			sure = false
		}
	}()
	if _, _, ok := readTop(m, g.Header); !ok || fromDaemon(m) {
		return m, false
	}
	s := &scanner{refs: map[string]bool{}}
	s.add(ExtractRefs(m.Subject, WhereSubject))
	if g.Root == nil || !s.look(g.Root, WhereBody, 0) {
		return m, false
	}
	m.CaseRefs = append(m.CaseRefs, s.found...)
	return m, true
}

// NeedsText reports whether Look reads the text of p, so that it must be
// fetched (Part.Text, its first bytes at least): a text part that is not
// a file.
func (p *Part) NeedsText() bool {
	return strings.EqualFold(p.Type, "text") && !p.isFile()
}

// NeedsHeader reports whether Look reads the header of the message p
// forwards (Part.Header): p is a message/rfc822 or message/global part.
func (p *Part) NeedsHeader() bool {
	return strings.EqualFold(p.Type, "message") && (strings.EqualFold(p.Subtype, "rfc822") || strings.EqualFold(p.Subtype, "global"))
}

// isFile is Scan's isFile for a described part: an attachment, or a part
// with a file name, unless it is a forwarded message.
func (p *Part) isFile() bool {
	if strings.EqualFold(p.Type, "message") {
		return false
	}
	return strings.EqualFold(p.Disposition, "attachment") || p.Filename != ""
}

// look reads one described part; it reports false when it cannot be sure
// of what the part says. where is where its text goes.
func (s *scanner) look(p *Part, where string, depth int) bool {
	s.parts++
	if p == nil || depth > 20 || s.parts > 2000 || p.Type == "" || p.Subtype == "" {
		return false
	}
	mt := strings.ToLower(p.Type + "/" + p.Subtype)
	if mustParse(mt, p.Filename) {
		return false
	}
	if p.isFile() {
		return true // a file, even a text one, is not read
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if len(p.Children) == 0 {
			return false
		}
		for _, c := range p.Children {
			if !s.look(c, where, depth+1) {
				return false
			}
		}
		return true
	case p.NeedsHeader():
		if p.Header == nil || len(p.Children) != 1 || !identity(p.Encoding) {
			return false
		}
		m := newMessage()
		if _, _, ok := readTop(m, p.Header); !ok {
			return false
		}
		s.add(ExtractRefs(m.Subject, WhereForwarded))
		return s.look(p.Children[0], WhereForwarded, depth+1)
	case strings.HasPrefix(mt, "text/"):
		if p.Text == nil || !textCharset(p.Params["charset"]) {
			return false
		}
		truncated := p.Truncated || int64(len(p.Text)) < p.Size
		data, ok := decodePrefix(p.Encoding, p.Text, truncated)
		if !ok {
			return false
		}
		if mt == "text/html" && where == WhereBody {
			where = WhereHTML
		}
		s.add(ExtractRefs(refText(mt, data), where))
		return true
	}
	// Any other part is a file: not read.
	return true
}

// identity reports whether a transfer encoding leaves the bytes as they
// are.
func identity(cte string) bool {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "", "7bit", "8bit", "binary":
		return true
	}
	return false
}

// decodePrefix decodes the transfer encoding of the first bytes of a
// part; truncated says the part goes on past them, so that an incomplete
// base64 quantum or quoted-printable escape at the end is dropped rather
// than an error. ok is false for an unknown encoding, or for bytes that
// do not decode though the part is whole.
func decodePrefix(cte string, b []byte, truncated bool) (data []byte, ok bool) {
	enc := strings.ToLower(strings.TrimSpace(cte))
	switch {
	case identity(enc):
		return b, true
	case enc == "base64":
		if truncated {
			clean := make([]byte, 0, len(b))
			for _, c := range b {
				if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' {
					clean = append(clean, c)
				}
			}
			b = clean[:len(clean)/4*4]
		}
	case enc == "quoted-printable":
		if truncated {
			if i := bytes.LastIndexByte(b, '='); i >= 0 && i >= len(b)-2 {
				b = b[:i]
			}
		}
	default:
		return nil, false
	}
	data, err := io.ReadAll(decoder(enc, bytes.NewReader(b)))
	if err != nil && !truncated {
		return nil, false
	}
	return data, true
}
