package parser

import (
	"bufio"
	"bytes"
	"net/textproto"
	"regexp"
	"strings"
)

// readDeliveryStatus reads a message/delivery-status body (RFC 3464
// §2.2, §2.3): the per-message fields, then one block per recipient. It
// keeps the first recipient whose action is "failed", else the first.
func readDeliveryStatus(b *Bounce, content []byte) {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(content)))
	var first, failed *Bounce
	for i := 0; i < 200; i++ {
		h, err := r.ReadMIMEHeader()
		if len(h) > 0 && (h.Get("Final-Recipient") != "" || h.Get("Original-Recipient") != "" || h.Get("Action") != "") {
			rb := &Bounce{
				Recipient: recipientAddress(h.Get("Final-Recipient"), h.Get("Original-Recipient")),
				Action:    strings.ToLower(firstWord(strings.TrimSpace(h.Get("Action")))),
				Status:    firstWord(strings.TrimSpace(h.Get("Status"))),
			}
			if first == nil {
				first = rb
			}
			if failed == nil && rb.Action == "failed" {
				failed = rb
			}
		}
		if err != nil {
			break
		}
	}
	pick := failed
	if pick == nil {
		pick = first
	}
	if pick != nil {
		b.Recipient, b.Action, b.Status = pick.Recipient, pick.Action, pick.Status
	}
}

// recipientAddress reads "rfc822; user@example.org".
func recipientAddress(fields ...string) string {
	for _, f := range fields {
		if _, addr, ok := strings.Cut(f, ";"); ok {
			addr = strings.Trim(strings.TrimSpace(addr), "<>")
			if addr != "" {
				return strings.ToLower(addr)
			}
		}
	}
	return ""
}

// headerMessageID reads the Message-ID of a header block (a
// text/rfc822-headers part, or the start of a returned message).
func headerMessageID(content []byte) string {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(content)))
	h, _ := r.ReadMIMEHeader()
	if ids := messageIDs(h.Get("Message-Id")); len(ids) > 0 {
		return ids[0]
	}
	return ""
}

var messageIDLine = regexp.MustCompile(`(?im)^\s*>?\s*Message-ID:\s*<([^>\s]{1,300})>`)

// textMessageID finds a "Message-ID: <…>" line in the text of a bounce
// that is not a delivery status notification.
func textMessageID(text string) string {
	if m := messageIDLine.FindStringSubmatch(text); m != nil {
		return m[1]
	}
	return ""
}
