package parser

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
)

// Scan is the cheap first look at a message that lets the intake skip the
// full Parse of mail that is not about any case (most of a shared support
// mailbox): the header facts of Parse (sender, Message-ID, threading,
// automatic signals, Subject) and the case references found anywhere in
// its text — every text part decoded, forwarded messages included —
// without decoding attachments or analysing documents.
//
// sure is false when the message needs the full Parse whatever it says: a
// delivery report (multipart/report, message/delivery-status) or a mail
// from a mailer daemon (its bounce may be about our mail), a winmail.dat,
// attached or not (its body is not text), or MIME that Scan could not
// walk. Scan finds every reference Parse finds, and possibly more; it
// never panics.
func Scan(raw []byte) (m *Message, sure bool) {
	m = &Message{ParserVersion: Version, Documents: []Document{}, AuthResults: []AuthResult{},
		CaseRefs: []Found{}, Codes: []Found{}, Findings: []string{}}
	defer func() {
		if recover() != nil {
			sure = false
		}
	}()
	h, body, ok := readTop(m, raw)
	if !ok || fromDaemon(m) {
		return m, false
	}
	s := &scanner{refs: map[string]bool{}}
	s.add(ExtractRefs(m.Subject, WhereSubject))
	if !s.walk(h.Get("Content-Type"), h.Get("Content-Transfer-Encoding"), body, 0) {
		return m, false
	}
	m.CaseRefs = append(m.CaseRefs, s.found...)
	return m, true
}

type scanner struct {
	refs  map[string]bool
	found []Found
	parts int
}

func (s *scanner) add(fs []Found) {
	for _, f := range fs {
		if !s.refs[f.Value] {
			s.refs[f.Value] = true
			s.found = append(s.found, f)
		}
	}
}

// readTop reads the header of raw into m and returns it with the body
// that follows; ok is false when raw does not start with a header. Its
// malformed lines are ignored, each a finding (dropMalformedFields).
func readTop(m *Message, raw []byte) (h textproto.MIMEHeader, body io.Reader, ok bool) {
	raw, dropped := dropMalformedFields(raw)
	m.Findings = append(m.Findings, dropped...)
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, false
	}
	h = textproto.MIMEHeader(msg.Header)
	readHeaders(m, h)
	m.Automatic = len(m.AutomaticSignals) > 0
	return h, msg.Body, true
}

// fromDaemon reports whether m comes from a mailer daemon or a
// postmaster: its bounce may be about our mail, whatever its structure.
func fromDaemon(m *Message) bool {
	for _, a := range m.From {
		local, _, _ := strings.Cut(a, "@")
		if local == "mailer-daemon" || local == "postmaster" {
			return true
		}
	}
	return false
}

// mustParse reports whether a part of media type mt (lower case) and
// file name filename makes a message need the full Parse, whatever else
// it says: a delivery report, or a winmail.dat, whose text is not text.
func mustParse(mt, filename string) bool {
	switch mt {
	case "multipart/report", "message/delivery-status", "message/global-delivery-status",
		"application/ms-tnef", "application/vnd.ms-tnef":
		return true
	}
	return strings.EqualFold(filename, "winmail.dat")
}

// textCharset reports whether text in charset cs can be searched for
// references as it is, undecoded: every charset that is a superset of
// ASCII can, UTF-16, UTF-32 and UTF-7 cannot.
func textCharset(cs string) bool {
	cs = strings.ToLower(cs)
	return !strings.HasPrefix(cs, "utf-16") && !strings.HasPrefix(cs, "utf-32") && !strings.HasPrefix(cs, "ucs") && cs != "utf-7"
}

var tag = regexp.MustCompile(`<[^>]{0,1000}>`)

// refText is the text of a text part of media type mt to search for
// references: HTML without its tags, its entities decoded.
func refText(mt string, data []byte) string {
	if !strings.Contains(mt, "html") {
		return string(data)
	}
	return html.UnescapeString(tag.ReplaceAllString(string(data), ""))
}

// walk reads one MIME entity; it reports false when it cannot be sure of
// what the entity says.
func (s *scanner) walk(contentType, cte string, body io.Reader, depth int) bool {
	s.parts++
	if depth > 20 || s.parts > 2000 {
		return false
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if contentType == "" {
		mt, err = "text/plain", nil
	}
	if err != nil {
		return false
	}
	if mustParse(mt, "") {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if params["boundary"] == "" {
			return false
		}
		r := multipart.NewReader(body, params["boundary"])
		for {
			p, err := r.NextRawPart()
			if err == io.EOF {
				return true
			}
			if err != nil {
				return false
			}
			def := ""
			if mt == "multipart/digest" {
				def = "message/rfc822"
			}
			ct := p.Header.Get("Content-Type")
			if ct == "" {
				ct = def
			}
			if mustParse(mediaType(ct), fileName(p.Header)) {
				return false
			}
			if isFile(p.Header.Get("Content-Disposition"), ct) {
				// A file, even a text one: Parse does not read
				// references in files either.
				continue
			}
			if !s.walk(ct, p.Header.Get("Content-Transfer-Encoding"), p, depth+1) {
				return false
			}
		}
	case mt == "message/rfc822" || mt == "message/global":
		msg, err := mail.ReadMessage(bufio.NewReader(decoder(cte, body)))
		if err != nil {
			return false
		}
		hdr := textproto.MIMEHeader(msg.Header)
		s.add(ExtractRefs(decodeHeader(hdr.Get("Subject")), WhereForwarded))
		return s.walk(hdr.Get("Content-Type"), hdr.Get("Content-Transfer-Encoding"), msg.Body, depth+1)
	case strings.HasPrefix(mt, "text/"):
		if !textCharset(params["charset"]) {
			return false
		}
		data, err := io.ReadAll(io.LimitReader(decoder(cte, body), 8<<20))
		if err != nil {
			return false
		}
		s.add(ExtractRefs(refText(mt, data), WhereBody))
		return true
	}
	// Any other part is a file: not read.
	return true
}

// isFile reports whether a part with this disposition is a file rather
// than text to read: an attachment, or any part with a file name, unless
// it is a forwarded message.
func isFile(disposition, contentType string) bool {
	if strings.HasPrefix(strings.ToLower(contentType), "message/") {
		return false
	}
	d, params, err := mime.ParseMediaType(disposition)
	if err != nil {
		return false
	}
	return d == "attachment" || params["filename"] != ""
}

// mediaType is the media type of a Content-Type, lower case, or "".
func mediaType(contentType string) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt
}

// fileName is the file name a part's header gives it: the disposition's
// filename, else the type's name.
func fileName(h textproto.MIMEHeader) string {
	if _, params, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil && params["filename"] != "" {
		return params["filename"]
	}
	_, params, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return params["name"]
}

func decoder(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &base64Cleaner{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// base64Cleaner drops what is not base64 (line ends, stray characters),
// as mail readers do.
type base64Cleaner struct{ r io.Reader }

func (c *base64Cleaner) Read(p []byte) (int, error) {
	for {
		n, err := c.r.Read(p)
		j := 0
		for _, b := range p[:n] {
			if b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '+' || b == '/' || b == '=' {
				p[j] = b
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}
