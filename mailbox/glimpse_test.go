package mailbox_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot/internal/dovecottest"
	"github.com/recoverybot/recoverybot/mailbox"
	"github.com/recoverybot/recoverybot/parser"
)

// glimpses collects the Glimpses of uids, in the order fn saw them.
func glimpses(t *testing.T, c *mailbox.Conn, uids []uint32, textBound int64) ([]mailbox.Summary, []parser.Glimpse) {
	t.Helper()
	var sums []mailbox.Summary
	var gs []parser.Glimpse
	err := c.Glimpse(context.Background(), uids, textBound, func(s mailbox.Summary, g parser.Glimpse) error {
		sums = append(sums, s)
		gs = append(gs, g)
		return nil
	})
	if err != nil {
		t.Fatalf("Glimpse(%v) = %v", uids, err)
	}
	return sums, gs
}

// part finds the part with a section in an outline (depth first, the
// first match: a forwarded multipart shares its section with its
// message/rfc822 part).
func part(p *parser.Part, section string) *parser.Part {
	if p == nil {
		return nil
	}
	if p.Section == section {
		return p
	}
	for _, c := range p.Children {
		if f := part(c, section); f != nil {
			return f
		}
	}
	return nil
}

// shape writes an outline as "section type/subtype" lines, indented.
func shape(p *parser.Part) string {
	var b strings.Builder
	var walk func(p *parser.Part, depth int)
	walk = func(p *parser.Part, depth int) {
		fmt.Fprintf(&b, "%s%q %s/%s\n", strings.Repeat("  ", depth), p.Section, p.Type, p.Subtype)
		for _, c := range p.Children {
			walk(c, depth+1)
		}
	}
	if p != nil {
		walk(p, 0)
	}
	return b.String()
}

func base64Lines(data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	return b.String() + enc + "\r\n"
}

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

// attachmentMail is a short text with a file of n bytes.
func attachmentMail(n int) []byte {
	return append(crlf(`From: customer@example.org
To: contact@example.net
Subject: logs as promised
Message-ID: <big@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Here are the logs you asked for.
--b1
Content-Type: application/zip; name="logs.zip"
Content-Disposition: attachment; filename="logs.zip"
Content-Transfer-Encoding: base64

`), append(crlf(base64Lines(bytes.Repeat([]byte("0123456789abcdef"), n/16))), crlf("--b1--\n")...)...)
}

func TestDovecotGlimpseLargeAttachment(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t)
	raw := attachmentMail(3 << 20)
	if err := srv.Deliver(srv.User(), raw); err != nil {
		t.Fatal(err)
	}
	c := dialDovecot(t, srv)
	if _, err := c.Select(context.Background(), "INBOX"); err != nil {
		t.Fatal(err)
	}
	before := c.Stats()
	sums, gs := glimpses(t, c, []uint32{1}, 2048)
	after := c.Stats()
	if len(gs) != 1 || sums[0].UID != 1 || sums[0].Size < int64(len(raw)) || sums[0].InternalDate.IsZero() {
		t.Fatalf("Glimpse = %+v", sums)
	}
	g := gs[0]
	if fetched := after.Message - before.Message; fetched > 4<<10 {
		t.Errorf("glimpsing a %d-byte message fetched %d bytes of message data, want a few KiB", len(raw), fetched)
	}
	if received := after.Received - before.Received; received > 8<<10 {
		t.Errorf("glimpsing a %d-byte message received %d bytes, want a few KiB", len(raw), received)
	}
	if g.Size != sums[0].Size || !bytes.HasSuffix(g.Header, []byte("\r\n\r\n")) || !bytes.Contains(g.Header, []byte("Subject: logs as promised")) {
		t.Errorf("Glimpse size %d, header %q", g.Size, g.Header)
	}
	want := "\"\" multipart/mixed\n  \"1\" text/plain\n  \"2\" application/zip\n"
	if got := shape(g.Root); got != want {
		t.Fatalf("outline:\n%s\nwant:\n%s", got, want)
	}
	text, zip := g.Root.Children[0], g.Root.Children[1]
	if string(text.Text) != "Here are the logs you asked for." || text.Truncated || text.Params["charset"] != "utf-8" {
		t.Errorf("text part: %q truncated=%v params %v", text.Text, text.Truncated, text.Params)
	}
	if zip.Text != nil || zip.Disposition != "attachment" || zip.Filename != "logs.zip" || zip.Encoding != "base64" || zip.Size < 4<<20 {
		t.Errorf("attachment: %+v", zip)
	}
	flags, err := srv.Flags(srv.User(), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(flags[1], `\Seen`) {
		t.Errorf("the message is \\Seen after Glimpse: %v", flags[1])
	}
}

const forwardMail = `From: agent@example.net
To: contact@example.net
Subject: =?utf-8?q?Fwd=3A_see_below?=
Message-ID: <fwd@example.net>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Forwarding the customer's message, plain version, long enough to be cut.
--alt
Content-Type: text/html; charset=utf-8

<html><body><p>Forwarding the customer's message.</p></body></html>
--alt--
--outer
Content-Type: application/pdf; name="r.pdf"
Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--outer
Content-Type: message/rfc822

From: customer@old-isp.example
Subject: [RB-7Q4K-2M] my account
Message-ID: <inner@old-isp.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="inner"

--inner
Content-Type: text/plain

Inner text of the forwarded message.
--inner
Content-Type: message/rfc822

From: someone@deeper.example
Subject: nested forward

Deepest text.
--inner--
--outer--
`

func TestDovecotGlimpseOutline(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t)
	for _, m := range []string{forwardMail,
		"From: a@example.org\nSubject: single\nMessage-ID: <s@example.org>\n\nA single-part text that goes on and on.\n",
		"From: b@example.org\nSubject: html only\nMIME-Version: 1.0\nContent-Type: text/html; charset=iso-8859-1\n\n<html><body>Re: RB-7Q4K-2M</body></html>\n",
	} {
		if err := srv.Deliver(srv.User(), crlf(m)); err != nil {
			t.Fatal(err)
		}
	}
	c := dialDovecot(t, srv)
	if _, err := c.Select(context.Background(), "INBOX"); err != nil {
		t.Fatal(err)
	}
	sums, gs := glimpses(t, c, []uint32{3, 99, 1, 2, 1}, 40)
	if got := uids(sums); !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Fatalf("Glimpse saw UIDs %v, want [1 2 3] (99 does not exist)", got)
	}

	// The forward: alternative, attachment, a forwarded message that
	// forwards another.
	g := gs[0]
	want := `"" multipart/mixed
  "1" multipart/alternative
    "1.1" text/plain
    "1.2" text/html
  "2" application/pdf
  "3" message/rfc822
    "3" multipart/mixed
      "3.1" text/plain
      "3.2" message/rfc822
        "3.2.1" text/plain
`
	if got := shape(g.Root); got != want {
		t.Fatalf("outline:\n%s\nwant:\n%s", got, want)
	}
	plain, html := part(g.Root, "1.1"), part(g.Root, "1.2")
	if string(plain.Text) != "Forwarding the customer's message, plain" || !plain.Truncated || plain.Encoding != "quoted-printable" {
		t.Errorf("text/plain: %q truncated=%v encoding %q", plain.Text, plain.Truncated, plain.Encoding)
	}
	if !bytes.HasPrefix(html.Text, []byte("<html><body><p>Forwarding")) || len(html.Text) != 40 || !html.Truncated {
		t.Errorf("text/html: %q truncated=%v", html.Text, html.Truncated)
	}
	if pdf := part(g.Root, "2"); pdf.Filename != "résumé.pdf" || pdf.Disposition != "attachment" || pdf.Text != nil {
		t.Errorf("attachment: filename %q, disposition %q, text %q", pdf.Filename, pdf.Disposition, pdf.Text)
	}
	fwd := part(g.Root, "3")
	if fwd.Type != "message" || !bytes.Contains(fwd.Header, []byte("Subject: [RB-7Q4K-2M] my account\r\n")) || !bytes.HasSuffix(fwd.Header, []byte("\r\n\r\n")) {
		t.Errorf("forwarded header %q", fwd.Header)
	}
	if inner := part(g.Root, "3.1"); string(inner.Text) != "Inner text of the forwarded message." || inner.Truncated {
		t.Errorf("forwarded text %q truncated=%v", inner.Text, inner.Truncated)
	}
	if deeper := part(g.Root, "3.2"); !bytes.Contains(deeper.Header, []byte("Subject: nested forward")) {
		t.Errorf("nested forwarded header %q", deeper.Header)
	}
	if deepest := part(g.Root, "3.2.1"); string(deepest.Text) != "Deepest text." {
		t.Errorf("nested forwarded text %q", deepest.Text)
	}

	// A single-part text: section "", its text from BODY[1].
	single := gs[1].Root
	if single == nil || single.Section != "" || single.Type != "text" || single.Subtype != "plain" || len(single.Children) != 0 {
		t.Fatalf("single part: %s", shape(single))
	}
	if string(single.Text) != "A single-part text that goes on and on.\r" || !single.Truncated || !bytes.Contains(gs[1].Header, []byte("Subject: single")) {
		t.Errorf("single part text %q truncated=%v", single.Text, single.Truncated)
	}

	// HTML only.
	html = gs[2].Root
	if html == nil || html.Section != "" || html.Subtype != "html" || html.Params["charset"] != "iso-8859-1" {
		t.Fatalf("HTML only: %+v", html)
	}
	if string(html.Text) != "<html><body>Re: RB-7Q4K-2M</body></html>" || !html.Truncated {
		t.Errorf("HTML text %q truncated=%v", html.Text, html.Truncated)
	}

	// Nothing seen.
	flags, err := srv.Flags(srv.User(), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	for uid, f := range flags {
		if slices.Contains(f, `\Seen`) {
			t.Errorf("UID %d is \\Seen after Glimpse: %v", uid, f)
		}
	}

	// fn's error stops Glimpse as is, and the connection stays usable.
	stop := errors.New("stop")
	if err := c.Glimpse(context.Background(), []uint32{1, 2, 3}, 40, func(mailbox.Summary, parser.Glimpse) error { return stop }); err != stop {
		t.Errorf("Glimpse with a failing fn = %v, want its error as is", err)
	}
	if _, gs := glimpses(t, c, []uint32{2}, 0); len(gs) != 1 || gs[0].Root == nil || gs[0].Root.Text != nil {
		t.Errorf("Glimpse with no text bound: %+v", gs)
	}
	if err := c.Glimpse(context.Background(), []uint32{1}, -1, func(mailbox.Summary, parser.Glimpse) error { return nil }); err == nil {
		t.Error("Glimpse with a negative text bound: no error")
	}
}

func TestDovecotGlimpseBrokenMail(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t)
	broken := []string{
		// The boundary never appears.
		"From: a@example.org\nSubject: broken\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"nowhere\"\n\nno part at all\n",
		// A header and no body, no blank line.
		"From: b@example.org\nSubject: header only\n",
		// Nested multiparts, unterminated.
		"From: c@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nhello\n",
		// A header larger than GlimpseHeaderMax.
		"From: d@example.org\nX-Long: " + strings.Repeat("x", mailbox.GlimpseHeaderMax) + "\nSubject: long\n\nbody\n",
	}
	for _, m := range broken {
		if err := srv.Deliver(srv.User(), crlf(m)); err != nil {
			t.Fatal(err)
		}
	}
	c := dialDovecot(t, srv)
	if _, err := c.Select(context.Background(), "INBOX"); err != nil {
		t.Fatal(err)
	}
	sums, gs := glimpses(t, c, []uint32{1, 2, 3, 4}, 1024)
	if got := uids(sums); !slices.Equal(got, []uint32{1, 2, 3, 4}) {
		t.Fatalf("Glimpse saw UIDs %v, want every message", got)
	}
	for i, g := range gs {
		if g.Size == 0 {
			t.Errorf("UID %d: no size", i+1)
		}
	}
	if gs[0].Root != nil {
		// Dovecot describes it as a multipart of one empty text part.
		t.Logf("boundary missing: %s", shape(gs[0].Root))
	}
	if !bytes.Contains(gs[1].Header, []byte("Subject: header only")) {
		t.Errorf("header-only message: header %q", gs[1].Header)
	}
	if gs[1].Root != nil && gs[1].Root.Text == nil {
		t.Errorf("header-only message: outline without text: %+v", gs[1].Root)
	}
	if len(gs[3].Header) != mailbox.GlimpseHeaderMax || gs[3].Root != nil {
		t.Errorf("a header over the bound: %d bytes kept, outline %v; want %d bytes and none", len(gs[3].Header), gs[3].Root, mailbox.GlimpseHeaderMax)
	}
}

// Many messages of two shapes: several chunks, each with two kinds of
// section to fetch, pipelined.
func TestDovecotGlimpseMany(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t)
	const n = 130
	var raws [][]byte
	for i := 1; i <= n; i++ {
		if i%2 == 0 {
			raws = append(raws, message(i))
			continue
		}
		raws = append(raws, crlf(fmt.Sprintf("From: a%d@example.org\nSubject: m%d\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=z\n\n"+
			"--z\nContent-Type: text/plain\n\nplain %d\n--z\nContent-Type: text/html\n\n<p>html %d</p>\n--z--\n", i, i, i, i)))
	}
	if err := srv.SaveMany(srv.User(), "INBOX", raws); err != nil {
		t.Fatal(err)
	}
	c := dialDovecot(t, srv)
	if _, err := c.Select(context.Background(), "INBOX"); err != nil {
		t.Fatal(err)
	}
	all := make([]uint32, n)
	for i := range all {
		all[i] = uint32(n - i)
	}
	sums, gs := glimpses(t, c, all, 1024)
	if len(gs) != n {
		t.Fatalf("%d Glimpses, want %d", len(gs), n)
	}
	for i, g := range gs {
		uid := uint32(i + 1)
		if sums[i].UID != uid {
			t.Fatalf("Glimpse %d is UID %d, want UID order", i, sums[i].UID)
		}
		if g.Root == nil {
			t.Errorf("UID %d: no outline", uid)
			continue
		}
		if uid%2 == 0 {
			if want := fmt.Sprintf("body %d\r\n", uid); string(g.Root.Text) != want {
				t.Errorf("UID %d: text %q, want %q", uid, g.Root.Text, want)
			}
			continue
		}
		if len(g.Root.Children) != 2 || string(g.Root.Children[0].Text) != fmt.Sprintf("plain %d", uid) || string(g.Root.Children[1].Text) != fmt.Sprintf("<p>html %d</p>", uid) {
			t.Errorf("UID %d: %s texts %q", uid, shape(g.Root), [][]byte{part(g.Root, "1").Text, part(g.Root, "2").Text})
		}
	}
}
