package parser

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"net/textproto"
	"strings"
	"unicode/utf8"

	"github.com/recoverybot/recoverybot/internal/mailaddr"
)

// wordDecoder decodes RFC 2047 encoded words in any charset we know.
var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// decodeHeader decodes the encoded words of a header value and repairs
// raw 8-bit bytes that are not UTF-8 (RFC 6532 allows UTF-8; anything
// else is read as windows-1252, what such senders mean).
func decodeHeader(v string) string {
	v = strings.TrimSpace(v)
	if strings.Contains(v, "=?") {
		if d, err := wordDecoder.DecodeHeader(v); err == nil {
			v = d
		}
	}
	return oneLine(fixUTF8(v))
}

// fixUTF8 reads text that is not valid UTF-8 as windows-1252.
func fixUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return decodeWindows1252([]byte(s))
}

// addressField reads every address of every field named key. ok is false
// when a field could not be read as an address list.
func addressField(h textproto.MIMEHeader, key string) (addrs []string, count int, ok bool) {
	ok = true
	parser := mail.AddressParser{WordDecoder: wordDecoder}
	for _, v := range h.Values(key) {
		v = fixUTF8(v)
		if strings.TrimSpace(v) == "" {
			continue
		}
		list, err := parser.ParseList(v)
		if err != nil {
			// Some senders forget the commas between addresses.
			list, err = parser.ParseList(addCommas(v))
		}
		if err != nil {
			if a, lerr := lenientAddress(v); lerr == nil {
				list, err = []*mail.Address{a}, nil
			}
		}
		if err != nil {
			ok = false
			continue
		}
		for _, a := range list {
			count++
			if n, err := mailaddr.Normalize(a.Address); err == nil {
				addrs = append(addrs, n)
			} else {
				ok = false
			}
		}
	}
	return addrs, count, ok
}

// lenientAddress reads a field that holds exactly one angle address
// after a display name Go's parser refuses ("jane.doe@host <jane@x.org>",
// unquoted dots or @ in the name): the address is what mail clients show
// and what DMARC checks. Anything else stays unreadable.
func lenientAddress(v string) (*mail.Address, error) {
	v = strings.TrimSpace(v)
	lt, gt := strings.Count(v, "<"), strings.Count(v, ">")
	if lt != 1 || gt != 1 || !strings.HasSuffix(v, ">") || strings.Index(v, "<") > strings.Index(v, ">") {
		return nil, errors.New("not one angle address")
	}
	inner := v[strings.Index(v, "<")+1 : len(v)-1]
	return mail.ParseAddress(inner)
}

// addCommas inserts commas between "<…>" addresses separated only by
// white space: "A <a@x> B <b@y>".
func addCommas(v string) string {
	return strings.ReplaceAll(v, "> ", ">, ")
}

// messageIDs reads the message identifiers of an In-Reply-To, References
// or Message-ID field, without brackets.
func messageIDs(v string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' || r == '\r' || r == '\n' }) {
		f = strings.TrimSpace(strings.Trim(f, "<>"))
		if f != "" && len(f) < 1000 && len(out) < 200 {
			out = append(out, f)
		}
	}
	return out
}

// singleInstance are the fields RFC 5322 §3.6 allows at most once that
// recoverybot reads: a message with two of one is read one way by us and
// maybe the other way by a DKIM verifier or a mail client (SPEC §4).
var singleInstance = []string{"From", "Sender", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References"}

// repeatedHeaders lists the single-instance fields h holds more than
// once, in the order of singleInstance. Field names compare without
// regard to case (textproto canonicalises them as it reads).
func repeatedHeaders(h textproto.MIMEHeader) []string {
	var out []string
	for _, k := range singleInstance {
		if len(h.Values(k)) > 1 {
			out = append(out, k)
		}
	}
	return out
}

// readHeaders fills the header facts of m from the top-level header h.
func readHeaders(m *Message, h textproto.MIMEHeader) {
	m.RepeatedHeaders = repeatedHeaders(h)
	for _, k := range m.RepeatedHeaders {
		m.Findings = append(m.Findings, fmt.Sprintf("repeated header: %s (%d times)", k, len(h.Values(k))))
	}
	from, count, ok := addressField(h, "From")
	m.From = from
	switch {
	case len(h.Values("From")) > 1:
		m.Findings = append(m.Findings, "several From fields")
	case !ok:
		m.Findings = append(m.Findings, "unreadable From address")
	}
	if ok && count == 1 && len(from) == 1 && len(h.Values("From")) == 1 {
		m.Sender = from[0]
	}
	if s, _, _ := addressField(h, "Sender"); len(s) == 1 {
		m.SenderHdr = s[0]
	}
	m.ReplyTo, _, _ = addressField(h, "Reply-To")
	to, _, _ := addressField(h, "To")
	cc, _, _ := addressField(h, "Cc")
	m.To = append(to, cc...)
	m.Subject = decodeHeader(h.Get("Subject"))
	if d, err := mail.ParseDate(strings.TrimSpace(h.Get("Date"))); err == nil {
		m.Date = d.UTC()
	}
	if ids := messageIDs(h.Get("Message-Id")); len(ids) > 0 {
		m.MessageID = ids[0]
	}
	m.InReplyTo = messageIDs(h.Get("In-Reply-To"))
	m.References = messageIDs(h.Get("References"))
	m.AuthResults = authResults(h.Values("Authentication-Results"))
	m.DKIMSignatures = dkimSignatures(h.Values("Dkim-Signature"))
	automaticSignals(m, h)
}

// automaticSignals lists what shows that a program sent the message
// (RFC 3834 §2, §3.1.7; RFC 3464; the usual de facto headers). The
// multipart/report signal is added by the MIME walk.
func automaticSignals(m *Message, h textproto.MIMEHeader) {
	add := func(s string) { m.AutomaticSignals = append(m.AutomaticSignals, s) }
	if v := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); v != "" && !strings.HasPrefix(v, "no") {
		add("Auto-Submitted: " + firstWord(v))
	}
	switch v := strings.ToLower(strings.TrimSpace(h.Get("Precedence"))); v {
	case "bulk", "list", "junk", "auto_reply":
		add("Precedence: " + v)
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "X-Autogenerated", "X-Failed-Recipients", "List-Id", "List-Unsubscribe"} {
		if h.Get(k) != "" {
			add(k)
		}
	}
	if rp := h.Values("Return-Path"); len(rp) > 0 && strings.TrimSpace(rp[0]) == "<>" {
		add("null return path")
	}
	for _, a := range m.From {
		local, _, _ := strings.Cut(a, "@")
		if local == "mailer-daemon" || local == "postmaster" {
			add("From: " + local)
			break
		}
	}
}

func firstWord(s string) string {
	if i := strings.IndexAny(s, " ;\t("); i > 0 {
		return s[:i]
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// maxDroppedShown bounds the malformed header lines named in findings.
const maxDroppedShown = 5

// dropMalformedFields returns raw without the lines of its header block
// (up to the first empty line) that are not header fields: a line that
// is not a continuation and has no field name before a colon ("Fro :x",
// a name with a space or a control character; a line with no colon).
// Continuation lines that follow a dropped line go with it. Each dropped
// line is a finding; the rest of the header is read as if it were not
// there. raw is returned as it is when the header has no line to drop,
// or no field at all (then it is not a message).
func dropMalformedFields(raw []byte) ([]byte, []string) {
	end := min(len(raw), maxHeaderBytes)
	var keep [][2]int // spans of raw kept, in order
	var dropped []string
	fields, pos, start, dropping := 0, 0, 0, false
	for pos < end {
		next := end
		if i := bytes.IndexByte(raw[pos:end], '\n'); i >= 0 {
			next = pos + i + 1
		}
		line := bytes.TrimRight(raw[pos:next], "\r\n")
		switch {
		case len(line) == 0:
			next = pos // the blank line ends the header
		case line[0] == ' ' || line[0] == '\t':
			// A continuation goes with the line it continues.
		case isFieldLine(line):
			fields++
			if dropping {
				start, dropping = pos, false
			}
		default:
			if !dropping {
				keep = append(keep, [2]int{start, pos})
				dropping = true
			}
			dropped = append(dropped, string(line))
		}
		if next == pos {
			break
		}
		pos = next
	}
	if len(dropped) == 0 || fields == 0 {
		return raw, nil
	}
	if !dropping {
		keep = append(keep, [2]int{start, pos})
	}
	out := make([]byte, 0, len(raw))
	for _, k := range keep {
		out = append(out, raw[k[0]:k[1]]...)
	}
	out = append(out, raw[pos:]...)
	var findings []string
	for i, l := range dropped {
		if i == maxDroppedShown {
			findings = append(findings, fmt.Sprintf("%d malformed header lines more ignored", len(dropped)-i))
			break
		}
		if len(l) > 80 {
			l = l[:80] + "…"
		}
		findings = append(findings, fmt.Sprintf("malformed header line ignored: %q", fixUTF8(l)))
	}
	return out, findings
}

// isFieldLine reports whether line starts a header field: a name of
// printable ASCII but the colon (RFC 5322 §3.6.8), then the colon.
func isFieldLine(line []byte) bool {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return false
	}
	for _, c := range line[:colon] {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}
