package outbound

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	gomail "github.com/emersion/go-message/mail"
	"github.com/jhillyerd/enmime/v2"
)

func sampleMail() Mail {
	return Mail{
		From:          "contact@example.net",
		FromName:      "Support Éxample Hébergement",
		To:            "jean.dupont@example.org",
		Subject:       "[RC-7KQ2M9] Récupération de l'accès à votre profil : documents à fournir",
		Text:          "Bonjour,\n\nMerci de nous envoyer la copie de la carte d'identité ou du passeport du gérant.\nÀ bientôt — l'équipe.\n",
		HTML:          "<!DOCTYPE html>\n<html lang=\"fr\"><body><p>Bonjour,</p>\n<p>Merci de nous envoyer la copie de la carte d&#39;identité.</p>\n<p>=_ is not a boundary and neither is --=_rb_x</p></body></html>\n",
		MessageID:     "rc-7kq2m9.ack-12.abcdefgh@example.net",
		InReplyTo:     "CAF=x+y_z@mail.gmail.com",
		References:    []string{"first.one@example.org", "CAF=x+y_z@mail.gmail.com"},
		AutoSubmitted: AutoReplied,
		Date:          time.Date(2025, 3, 14, 15, 9, 26, 0, time.FixedZone("CET", 3600)),
	}
}

// parsed is what an independent reader sees in a composed message.
type parsed struct {
	header     mail.Header
	subject    string
	from       *mail.Address
	to         *mail.Address
	date       time.Time
	text, html string
}

// parseStd reads raw with the standard library only: net/mail for the
// header, mime/multipart and quoted-printable for the parts.
func parseStd(t *testing.T, raw []byte) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("net/mail cannot read the message: %v\n%s", err, raw)
	}
	var p parsed
	p.header = msg.Header
	dec := new(mime.WordDecoder)
	if p.subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("decode Subject: %v", err)
	}
	if p.from, err = mail.ParseAddress(msg.Header.Get("From")); err != nil {
		t.Fatalf("parse From %q: %v", msg.Header.Get("From"), err)
	}
	if p.to, err = mail.ParseAddress(msg.Header.Get("To")); err != nil {
		t.Fatalf("parse To %q: %v", msg.Header.Get("To"), err)
	}
	if p.date, err = msg.Header.Date(); err != nil {
		t.Fatalf("parse Date: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		pt, pp, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil || !strings.EqualFold(pp["charset"], "utf-8") {
			t.Fatalf("part Content-Type %q: %v", part.Header.Get("Content-Type"), err)
		}
		if cte := part.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
			t.Fatalf("part Content-Transfer-Encoding %q", cte)
		}
		body, err := io.ReadAll(quotedprintable.NewReader(part))
		if err != nil {
			t.Fatalf("read %s part: %v", pt, err)
		}
		switch pt {
		case "text/plain":
			p.text = crlfToLF(string(body))
		case "text/html":
			p.html = crlfToLF(string(body))
		default:
			t.Fatalf("unexpected part %s", pt)
		}
	}
	return p
}

func crlfToLF(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

func TestComposeRoundTrip(t *testing.T) {
	m := sampleMail()
	raw, err := Compose(m)
	if err != nil {
		t.Fatal(err)
	}

	// The standard library's view.
	p := parseStd(t, raw)
	if p.subject != m.Subject {
		t.Errorf("Subject = %q, want %q", p.subject, m.Subject)
	}
	if p.from.Address != m.From || p.from.Name != m.FromName {
		t.Errorf("From = %q <%s>, want %q <%s>", p.from.Name, p.from.Address, m.FromName, m.From)
	}
	if p.to.Address != m.To || p.to.Name != "" {
		t.Errorf("To = %v, want %s", p.to, m.To)
	}
	if !p.date.Equal(m.Date) {
		t.Errorf("Date = %v, want %v", p.date, m.Date)
	}
	if p.text != m.Text {
		t.Errorf("text part = %q, want %q", p.text, m.Text)
	}
	if p.html != m.HTML {
		t.Errorf("HTML part = %q, want %q", p.html, m.HTML)
	}
	for name, want := range map[string]string{
		"Message-Id":               "<" + m.MessageID + ">",
		"In-Reply-To":              "<" + m.InReplyTo + ">",
		"References":               "<first.one@example.org> <CAF=x+y_z@mail.gmail.com>",
		"Auto-Submitted":           "auto-replied",
		"X-Auto-Response-Suppress": "All",
		"Mime-Version":             "1.0",
		"Precedence":               "",
		"Cc":                       "",
		"Bcc":                      "",
		"Reply-To":                 "",
	} {
		if got := p.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}

	// go-message's view of the threading headers.
	gm, err := gomail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if id, err := gm.Header.MessageID(); err != nil || id != m.MessageID {
		t.Errorf("go-message Message-ID = %q, %v", id, err)
	}
	if ids, err := gm.Header.MsgIDList("References"); err != nil || strings.Join(ids, " ") != strings.Join(m.References, " ") {
		t.Errorf("go-message References = %q, %v", ids, err)
	}

	// enmime's view.
	env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(env.Errors) > 0 {
		t.Errorf("enmime found errors: %v", env.Errors)
	}
	if got := env.GetHeader("Subject"); got != m.Subject {
		t.Errorf("enmime Subject = %q, want %q", got, m.Subject)
	}
	if got := crlfToLF(env.Text); got != m.Text {
		t.Errorf("enmime text = %q, want %q", got, m.Text)
	}
	if got := crlfToLF(env.HTML); got != m.HTML {
		t.Errorf("enmime HTML = %q, want %q", got, m.HTML)
	}
	from, err := env.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != m.FromName || from[0].Address != m.From {
		t.Errorf("enmime From = %v, %v", from, err)
	}
	if got := env.GetHeader("In-Reply-To"); got != "<"+m.InReplyTo+">" {
		t.Errorf("enmime In-Reply-To = %q", got)
	}
	if got := env.GetHeader("Auto-Submitted"); got != "auto-replied" {
		t.Errorf("enmime Auto-Submitted = %q", got)
	}
	if got := env.GetHeader("X-Auto-Response-Suppress"); got != "All" {
		t.Errorf("enmime X-Auto-Response-Suppress = %q", got)
	}
	if len(env.Attachments)+len(env.Inlines)+len(env.OtherParts) != 0 {
		t.Errorf("enmime sees %d attachments, %d inlines, %d other parts", len(env.Attachments), len(env.Inlines), len(env.OtherParts))
	}

	checkWireFormat(t, raw)
}

// checkWireFormat checks what any MTA expects: 7-bit, CRLF only, lines
// within the RFC 5322 §2.1.1 limits.
func checkWireFormat(t *testing.T, raw []byte) {
	t.Helper()
	for i, c := range raw {
		if c >= 0x80 || c == 0 {
			t.Fatalf("byte %#x at %d: the message must be 7-bit", c, i)
		}
		if c == '\n' && (i == 0 || raw[i-1] != '\r') {
			t.Fatalf("bare LF at %d", i)
		}
		if c == '\r' && (i+1 == len(raw) || raw[i+1] != '\n') {
			t.Fatalf("bare CR at %d", i)
		}
	}
	if !bytes.HasSuffix(raw, []byte("\r\n")) {
		t.Errorf("message does not end with CRLF")
	}
	for _, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line of %d characters (limit 78): %q", len(line), line)
		}
	}
}

func TestComposeAutoGenerated(t *testing.T) {
	m := sampleMail()
	m.AutoSubmitted = AutoGenerated
	m.InReplyTo, m.References, m.FromName = "", nil, ""
	raw, err := Compose(m)
	if err != nil {
		t.Fatal(err)
	}
	p := parseStd(t, raw)
	if got := p.header.Get("Auto-Submitted"); got != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", got)
	}
	for _, name := range []string{"In-Reply-To", "References"} {
		if _, ok := p.header[name]; ok {
			t.Errorf("%s written although not given", name)
		}
	}
	if p.from.Name != "" || p.from.Address != m.From {
		t.Errorf("From = %v", p.from)
	}
}

func TestComposeSubjects(t *testing.T) {
	for _, subject := range []string{
		"[RC-7KQ2M9] Your request has been approved",
		"[RC-7KQ2M9] Votre demande a été acceptée",
		"[RC-7KQ2M9] Récupération de l'accès à votre profil Example Hosting : une ligne d'objet assez longue pour être pliée sur plusieurs lignes, avec des accents éèàç",
		"[RC-7KQ2M9] " + strings.Repeat("long ", 40),
		"[RC-7KQ2M9] " + strings.Repeat("x", 200),
		"[RC-7KQ2M9] looks =?utf-8?q?encoded?= but is not",
		"[RC-7KQ2M9] two  spaces   and\ta tab",
		"Éé à l'œuvre 🔐 [RC-7KQ2M9]",
		"_underscores_ and ?questions? and = signs",
		"日本語の件名 [RC-7KQ2M9]",
	} {
		m := sampleMail()
		m.Subject = subject
		raw, err := Compose(m)
		if err != nil {
			t.Errorf("Compose(%q): %v", subject, err)
			continue
		}
		want := strings.TrimSpace(subject)
		if got := parseStd(t, raw).subject; got != want {
			t.Errorf("net/mail Subject = %q, want %q", got, want)
		}
		env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if got := env.GetHeader("Subject"); got != want {
			t.Errorf("enmime Subject = %q, want %q", got, want)
		}
		gm, err := gomail.CreateReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := gm.Header.Subject(); err != nil || got != want {
			t.Errorf("go-message Subject = %q, %v; want %q", got, err, want)
		}
		if strings.Contains(subject, "[RC-7KQ2M9]") && !strings.HasPrefix(subject, "É") && !strings.HasPrefix(subject, "日") &&
			!bytes.Contains(raw, []byte("Subject: [RC-7KQ2M9]")) {
			t.Errorf("the reference is not readable in the raw Subject of %q", subject)
		}
		checkWireFormat(t, raw)
	}
}

func TestComposeDeterministic(t *testing.T) {
	a, err := Compose(sampleMail())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compose(sampleMail())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("the same Mail composed twice gives different bytes")
	}
	m := sampleMail()
	m.Text += "x"
	c, _ := Compose(m)
	if bytes.Equal(a, c) {
		t.Error("different text, same bytes")
	}
}

// TestComposeRefusesCRLF tries a header injection through every header
// value Compose writes.
func TestComposeRefusesCRLF(t *testing.T) {
	fields := []struct {
		header string
		set    func(*Mail, string)
	}{
		{"From", func(m *Mail, v string) { m.From = "contact@example.net" + v }},
		{"From", func(m *Mail, v string) { m.FromName = "Support" + v }},
		{"To", func(m *Mail, v string) { m.To = v + "jean@example.org" }},
		{"Subject", func(m *Mail, v string) { m.Subject = "[RC-7KQ2M9] Hello" + v }},
		{"Message-ID", func(m *Mail, v string) { m.MessageID = "a" + v + "@example.net" }},
		{"In-Reply-To", func(m *Mail, v string) { m.InReplyTo = "x@example.org" + v }},
		{"References", func(m *Mail, v string) { m.References = []string{"ok@example.org", "x@example.org" + v} }},
		{"Auto-Submitted", func(m *Mail, v string) { m.AutoSubmitted = "auto-replied" + v }},
	}
	injections := []string{"\r\nBcc: victim@example.com", "\nBcc: victim@example.com", "\r", "\n", "\r\n\r\n<html>"}
	for _, f := range fields {
		for _, inj := range injections {
			m := sampleMail()
			f.set(&m, inj)
			raw, err := Compose(m)
			if err == nil {
				t.Errorf("%s with %q: accepted:\n%s", f.header, inj, raw)
				continue
			}
			if !errors.Is(err, ErrHeaderInjection) {
				t.Errorf("%s with %q: error %v does not wrap ErrHeaderInjection", f.header, inj, err)
			}
			if !strings.Contains(err.Error(), f.header) {
				t.Errorf("%s with %q: error %q does not name the header", f.header, inj, err)
			}
		}
	}
}

func TestComposeRefusesBadValues(t *testing.T) {
	for name, change := range map[string]func(*Mail){
		"From not an address":      func(m *Mail) { m.From = "contact" },
		"From with a display name": func(m *Mail) { m.From = "Support <contact@example.net>" },
		"From two addresses":       func(m *Mail) { m.From = "a@example.net, b@example.net" },
		"From empty":               func(m *Mail) { m.From = "" },
		"To empty":                 func(m *Mail) { m.To = "" },
		"To with a display name":   func(m *Mail) { m.To = "Jean <jean@example.org>" },
		"display name with NUL":    func(m *Mail) { m.FromName = "Sup\x00port" },
		"Subject empty":            func(m *Mail) { m.Subject = "  " },
		"Subject control char":     func(m *Mail) { m.Subject = "a\x1bb" },
		"Subject invalid UTF-8":    func(m *Mail) { m.Subject = "a\xffb" },
		"Message-ID empty":         func(m *Mail) { m.MessageID = "" },
		"Message-ID no @":          func(m *Mail) { m.MessageID = "abc" },
		"Message-ID with brackets": func(m *Mail) { m.MessageID = "<a@b>" },
		"Message-ID with space":    func(m *Mail) { m.MessageID = "a b@c" },
		"Message-ID non-ASCII":     func(m *Mail) { m.MessageID = "é@example.net" },
		"Auto-Submitted empty":     func(m *Mail) { m.AutoSubmitted = "" },
		"Auto-Submitted no":        func(m *Mail) { m.AutoSubmitted = "no" },
		"Date zero":                func(m *Mail) { m.Date = time.Time{} },
		"Text empty":               func(m *Mail) { m.Text = "" },
		"HTML empty":               func(m *Mail) { m.HTML = "\n" },
		"Text invalid UTF-8":       func(m *Mail) { m.Text = "\xc3(" },
	} {
		m := sampleMail()
		change(&m)
		if raw, err := Compose(m); err == nil {
			t.Errorf("%s: accepted:\n%s", name, raw)
		}
	}
}

// TestComposeThreadingBestEffort checks that identifiers taken from a
// customer's message cannot fail the reply: the bad ones are left out.
func TestComposeThreadingBestEffort(t *testing.T) {
	bad := []string{"", "no-at", "a@b@", "é@example.org", "a b@c", "<x@y>", "(comment)", "x@", "@y", strings.Repeat("x", 950) + "@y"}
	for _, id := range bad {
		if ValidMessageID(id) {
			t.Errorf("ValidMessageID(%q) = true", id)
		}
	}
	for _, id := range []string{"a@b", "CAF=x+y_z@mail.gmail.com", "1.2.3@[127.0.0.1]", "..odd..@host."} {
		if !ValidMessageID(id) {
			t.Errorf("ValidMessageID(%q) = false", id)
		}
	}
	m := sampleMail()
	m.InReplyTo = "garbage"
	m.References = append([]string{"root@example.org"}, bad...)
	for i := range 30 {
		m.References = append(m.References, fmt.Sprintf("r%d@example.org", i))
	}
	raw, err := Compose(m)
	if err != nil {
		t.Fatal(err)
	}
	p := parseStd(t, raw)
	if _, ok := p.header["In-Reply-To"]; ok {
		t.Errorf("malformed In-Reply-To written: %q", p.header.Get("In-Reply-To"))
	}
	gm, err := gomail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	refs, err := gm.Header.MsgIDList("References")
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != MaxReferences || refs[0] != "root@example.org" || refs[1] != "r11@example.org" || refs[len(refs)-1] != "r29@example.org" {
		t.Errorf("References = %q", refs)
	}
	for _, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line of %d characters", len(line))
		}
	}
}

func TestComposeNormalizesNewlines(t *testing.T) {
	m := sampleMail()
	m.Text = "line one\r\nline two\rline three\n"
	raw, err := Compose(m)
	if err != nil {
		t.Fatal(err)
	}
	checkWireFormat(t, raw)
	if got := parseStd(t, raw).text; got != "line one\nline two\nline three\n" {
		t.Errorf("text = %q", got)
	}
}

func TestMessageID(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	a := MessageID(key, "RC-7KQ2M9", "instructions-1", "example.net")
	if a != MessageID(key, "RC-7KQ2M9", "instructions-1", "example.net") {
		t.Error("MessageID is not deterministic")
	}
	// Keyed: another key, another identifier (a bounce cannot be forged
	// from the reference alone).
	if b := MessageID(bytes.Repeat([]byte{8}, 32), "RC-7KQ2M9", "instructions-1", "example.net"); b == a {
		t.Errorf("two keys give the same identifier %q", a)
	}
	if !strings.HasPrefix(a, "rc-7kq2m9.instructions-1.") || !strings.HasSuffix(a, "@example.net") {
		t.Errorf("MessageID = %q", a)
	}
	if b := MessageID(key, "RC-7KQ2M9", "contact@example.net", "contact@Example.NET"); !strings.HasSuffix(b, "@example.net") {
		t.Errorf("an address as domain: %q", b)
	}
	seen := map[string]string{}
	for _, args := range [][3]string{
		{"RC-7KQ2M9", "instructions-1", "example.net"},
		{"RC-7KQ2M9", "instructions-2", "example.net"},
		{"RC-7KQ2M8", "instructions-1", "example.net"},
		{"RC-7KQ2M9", "instructions-1", "example.org"},
		{"RC-7KQ2M9", "ack 1", "example.net"},
		{"RC-7KQ2M9", "ack/1", "example.net"},
		{"RC-7KQ2M9", "ack-<12>", "example.net"},
		{"", "", "example.net"},
	} {
		id := MessageID(key, args[0], args[1], args[2])
		if prev, ok := seen[id]; ok {
			t.Errorf("%v and %v give the same identifier %q", args, prev, id)
		}
		seen[id] = args[0] + "|" + args[1] + "|" + args[2]
		if err := checkMsgID("Message-ID", id, true); err != nil {
			t.Errorf("MessageID%v = %q: %v", args, id, err)
		}
		m := sampleMail()
		m.MessageID = id
		raw, err := Compose(m)
		if err != nil {
			t.Fatalf("Compose with %q: %v", id, err)
		}
		gm, err := gomail.CreateReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := gm.Header.MessageID(); err != nil || got != id {
			t.Errorf("Message-ID read back as %q, %v; want %q", got, err, id)
		}
	}
}

// FuzzCompose feeds arbitrary header values to Compose. Whatever it
// accepts must read back as the same values, with no extra header field.
func FuzzCompose(f *testing.F) {
	f.Add("[RC-7KQ2M9] Bonjour", "Support", "x@example.org")
	f.Add("a\r\nBcc: v@example.com", "S\nX: y", "a@b\r\nc")
	f.Add("=?utf-8?q?=41?=", "\"quoted\" <name>", "CAF=x+y@[127.0.0.1]")
	f.Add("  ", "é", "a@b")
	f.Add("x", "=?utf-8?q?=41?=", "")
	f.Add("x", " Sup\\port \"team\" ", "")
	f.Fuzz(func(t *testing.T, subject, fromName, inReplyTo string) {
		m := sampleMail()
		m.Subject, m.FromName, m.InReplyTo = subject, fromName, inReplyTo
		m.References = nil
		raw, err := Compose(m)
		if err != nil {
			return
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("accepted but unreadable: %v\n%q", err, raw)
		}
		want := map[string]bool{"Date": true, "From": true, "To": true, "Subject": true, "Message-Id": true,
			"Auto-Submitted": true, "X-Auto-Response-Suppress": true, "Mime-Version": true, "Content-Type": true}
		if ValidMessageID(inReplyTo) {
			want["In-Reply-To"] = true
		}
		for k, vs := range msg.Header {
			if !want[k] || len(vs) != 1 {
				t.Fatalf("unexpected header field %s: %q", k, vs)
			}
		}
		if len(msg.Header) != len(want) {
			t.Fatalf("header fields %v, want %v", msg.Header, want)
		}
		gm, err := gomail.CreateReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := gm.Header.Subject(); err != nil || got != strings.TrimSpace(subject) {
			t.Fatalf("Subject %q read back as %q, %v", subject, got, err)
		}
		from, err := gm.Header.AddressList("From")
		if err != nil || len(from) != 1 || from[0].Name != fromName || from[0].Address != m.From {
			t.Fatalf("From name %q read back as %v, %v", fromName, from, err)
		}
	})
}
