package parser

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// glimpseOf builds the Glimpse of raw as an IMAP server would give it:
// the header, the outline of the parts (BODYSTRUCTURE), the first bound
// bytes of every part Look reads the text of (Part.NeedsText) and the
// header of every forwarded message. Root is nil when the structure
// cannot be read, as a server that cannot describe it.
func glimpseOf(raw []byte, bound int) Glimpse {
	g := Glimpse{Size: int64(len(raw))}
	header, body := splitHeader(raw)
	g.Header = header
	// Servers read a header leniently, as Parse does: its lines that
	// are no field are left out.
	clean, _ := dropMalformedFields(header)
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(clean))).ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return g
	}
	g.Root = describe(h, body, "", "text/plain", bound, 0)
	return g
}

// splitHeader splits raw after the blank line that ends its header.
func splitHeader(raw []byte) (header, body []byte) {
	crlf, lf := bytes.Index(raw, []byte("\r\n\r\n")), bytes.Index(raw, []byte("\n\n"))
	switch {
	case crlf < 0 && lf < 0:
		return raw, nil
	case crlf < 0 || (lf >= 0 && lf < crlf):
		return raw[:lf+2], raw[lf+2:]
	default:
		return raw[:crlf+4], raw[crlf+4:]
	}
}

// describe outlines one entity of header h and body body; nil when it
// cannot.
func describe(h textproto.MIMEHeader, body []byte, section, defType string, bound, depth int) *Part {
	if depth > 30 {
		return nil
	}
	mt, params, _ := mime.ParseMediaType(h.Get("Content-Type"))
	if mt == "" {
		mt = defType
	}
	if params == nil {
		params = map[string]string{}
	}
	p := &Part{Section: section, Params: params, Size: int64(len(body)),
		Encoding: strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))}
	p.Type, p.Subtype, _ = strings.Cut(mt, "/")
	if d, dp, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil {
		p.Disposition, p.Filename = d, dp["filename"]
	}
	if p.Filename == "" {
		p.Filename = params["name"]
	}
	sub := func(i int) string {
		if section == "" {
			return strconv.Itoa(i)
		}
		return section + "." + strconv.Itoa(i)
	}
	switch {
	case p.Type == "multipart":
		if params["boundary"] == "" {
			return nil
		}
		def := "text/plain"
		if p.Subtype == "digest" {
			def = "message/rfc822"
		}
		r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for i := 1; ; i++ {
			part, err := r.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil
			}
			b, err := io.ReadAll(part)
			if err != nil {
				return nil
			}
			c := describe(part.Header, b, sub(i), def, bound, depth+1)
			if c == nil {
				return nil
			}
			p.Children = append(p.Children, c)
		}
	case p.NeedsHeader():
		header, inner := splitHeader(body)
		p.Header = header
		ih, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(header))).ReadMIMEHeader()
		if err != nil && len(ih) == 0 {
			return p // described as a leaf: Look cannot judge it
		}
		c := describe(ih, inner, sub(1), "text/plain", bound, depth+1)
		if c == nil {
			return nil
		}
		p.Children = []*Part{c}
	case p.NeedsText():
		p.Text = body[:min(len(body), bound)]
		p.Truncated = len(body) > bound
	}
	return p
}

// TestLookFindsWhatScanFinds: on every corpus message and fixture, Look
// on the Glimpse a server gives (texts fetched whole) is sure only of
// what Scan is sure of, and then finds every reference Scan finds with
// the same header facts; with texts cut short it finds nothing Scan
// does not.
func TestLookFindsWhatScanFinds(t *testing.T) {
	files := messageFiles(t)
	if len(files) < 100 {
		t.Fatalf("only %d messages found", len(files))
	}
	scanSure, lookSure, refs := 0, 0, 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		scanned, sok := Scan(raw)
		looked, lok := Look(glimpseOf(raw, 1<<30))
		if sok {
			scanSure++
		}
		if lok && !sok {
			// The server read a structure Scan refuses: Look must
			// then find what Parse finds, and not miss a bounce or a
			// winmail.dat.
			full, _ := Parse(raw, Options{})
			for _, r := range full.CaseRefs {
				if !hasRef(looked.CaseRefs, r.Value) {
					t.Errorf("%s: Parse finds %s, Look does not", f, r.Value)
				}
			}
			if full.Bounce != nil {
				t.Errorf("%s: Look is sure of a bounce", f)
			}
			for _, d := range full.Documents {
				if strings.Contains(d.Origin, "winmail.dat/") {
					t.Errorf("%s: Look is sure of a winmail.dat", f)
				}
			}
		}
		if lok {
			lookSure++
			for _, r := range scanned.CaseRefs {
				refs++
				if !hasRef(looked.CaseRefs, r.Value) {
					t.Errorf("%s: Scan finds %s, Look does not", f, r.Value)
				}
			}
		}
		if scanned.Sender != looked.Sender || scanned.MessageID != looked.MessageID || scanned.Subject != looked.Subject ||
			!scanned.Date.Equal(looked.Date) || !slices.Equal(scanned.InReplyTo, looked.InReplyTo) ||
			!slices.Equal(scanned.References, looked.References) || !slices.Equal(scanned.AutomaticSignals, looked.AutomaticSignals) ||
			len(scanned.AuthResults) != len(looked.AuthResults) {
			t.Errorf("%s: Look's header facts differ from Scan's", f)
		}
		for _, bound := range []int{0, 1, 7, 64} {
			short, _ := Look(glimpseOf(raw, bound))
			for _, r := range short.CaseRefs {
				if !hasRef(scanned.CaseRefs, r.Value) {
					t.Errorf("%s: Look with %d bytes finds %s, Scan does not", f, bound, r.Value)
				}
			}
		}
	}
	t.Logf("Look sure of %d, Scan of %d, %d references compared", lookSure, scanSure, refs)
	if lookSure < scanSure*9/10 || refs == 0 {
		t.Errorf("Look is sure of %d messages, Scan of %d; %d references compared", lookSure, scanSure, refs)
	}
}

func TestLookReferencesEverywhere(t *testing.T) {
	const ref = "RC-7KQ2M9"
	filler := strings.Repeat("Bonjour, ceci est une ligne de texte. ", 20)
	b64 := base64.StdEncoding.EncodeToString([]byte("Bonjour, mon dossier est le rc-7kq2m9, merci. " + filler))
	mixed := func(parts ...string) string {
		s := "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"
		for _, p := range parts {
			s += "--x\r\n" + p + "\r\n"
		}
		return s + "--x--\r\n"
	}
	tests := []struct {
		name  string
		raw   string
		bound int
		ref   string
		sure  bool
	}{
		{"subject", "From: a@b.example\r\nSubject: =?utf-8?q?Re=3A_=5BRC-7KQ2M9=5D_r=C3=A9cup=C3=A9ration?=\r\n\r\nhello\r\n", 1 << 20, ref, true},
		{"base64 cut mid-quantum", "From: a@b.example\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64 + "\r\n", 70, ref, true},
		{"base64 whole", "From: a@b.example\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64 + "\r\n", 1 << 20, ref, true},
		{"quoted-printable cut mid-escape", "From: a@b.example\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nr=C3=A9f=C3=A9rence RC-7KQ2M9 =C3=A9t=C3=A9\r\n" + filler + "\r\n", 38, ref, true},
		{"quoted-printable escape in the ref", "From: a@b.example\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nref RC=2D7KQ2M9=\r\n" + filler + "\r\n", 17, ref, true},
		{"past the bound", "From: a@b.example\r\nContent-Type: text/plain\r\n\r\n" + filler + " RC-7KQ2M9\r\n", 100, "", true},
		{"html only, entities, tags split", "From: a@b.example\r\nContent-Type: text/html\r\n\r\n<p>ref <b>RC&#45;</b><i>7KQ2M9</i></p>\r\n", 1 << 20, ref, true},
		{"html in latin-1", "From: a@b.example\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>r=E9f&eacute;rence&nbsp;: <span>RC-</span>7kq2m9</p>\r\n", 1 << 20, ref, true},
		{"forwarded subject", mixed("Content-Type: text/plain\r\n\r\nsee below", "Content-Type: message/rfc822\r\n\r\nSubject: [RC-7KQ2M9] code\r\n\r\nbody"), 1 << 20, ref, true},
		{"forwarded encoded subject", mixed("Content-Type: text/plain\r\n\r\nsee below", "Content-Type: message/rfc822\r\n\r\nSubject: =?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte("réf RC-7KQ2M9"))+"?=\r\n\r\nbody"), 1 << 20, ref, true},
		{"forwarded text", mixed("Content-Type: text/plain\r\n\r\nsee below", "Content-Type: message/rfc822\r\n\r\nSubject: fwd\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"+b64), 1 << 20, ref, true},
		{"attached text not read", mixed("Content-Type: text/plain\r\n\r\nhi", "Content-Type: text/plain; name=a.txt\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nRC-7KQ2M9"), 1 << 20, "", true},
		{"delivery report", "From: a@b.example\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nx\r\n--x--\r\n", 1 << 20, "", false},
		{"delivery status", mixed("Content-Type: text/plain\r\n\r\nhi", "Content-Type: message/delivery-status\r\n\r\nAction: failed"), 1 << 20, "", false},
		{"mailer-daemon", "From: MAILER-DAEMON@mx.example\r\nSubject: RC-7KQ2M9\r\n\r\nhi\r\n", 1 << 20, "", false},
		{"winmail.dat attached", mixed("Content-Type: text/plain\r\n\r\nhi", "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=winmail.dat\r\n\r\nxx"), 1 << 20, "", false},
		{"tnef", mixed("Content-Type: text/plain\r\n\r\nhi", "Content-Type: application/ms-tnef\r\n\r\nxx"), 1 << 20, "", false},
		{"utf-16", "From: a@b.example\r\nContent-Type: text/plain; charset=utf-16\r\n\r\nxx\r\n", 1 << 20, "", false},
		{"unknown encoding", "From: a@b.example\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nxx\r\n", 1 << 20, "", false},
		{"broken base64, whole", "From: a@b.example\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD=QUJD\r\n", 1 << 20, "", false},
	}
	for _, tt := range tests {
		m, sure := Look(glimpseOf([]byte(tt.raw), tt.bound))
		if sure != tt.sure {
			t.Errorf("%s: sure = %v", tt.name, sure)
		}
		if tt.ref != "" && !hasRef(m.CaseRefs, tt.ref) {
			t.Errorf("%s: refs %+v lack %s", tt.name, m.CaseRefs, tt.ref)
		}
		if tt.ref == "" && tt.sure && len(m.CaseRefs) != 0 {
			t.Errorf("%s: refs %+v", tt.name, m.CaseRefs)
		}
	}
}

// TestLookUnjudgeable: a Glimpse Look cannot judge makes it unsure, the
// header facts read all the same.
func TestLookUnjudgeable(t *testing.T) {
	raw := []byte("From: jane@example.org\r\nMessage-ID: <a@b>\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" +
		"--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: s\r\n\r\nbody\r\n--x--\r\n")
	tests := []struct {
		name  string
		spoil func(g *Glimpse)
	}{
		{"no root", func(g *Glimpse) { g.Root = nil }},
		{"text not fetched", func(g *Glimpse) { g.Root.Children[0].Text = nil }},
		{"forwarded header not fetched", func(g *Glimpse) { g.Root.Children[1].Header = nil }},
		{"forwarded body not described", func(g *Glimpse) { g.Root.Children[1].Children = nil }},
		{"multipart without parts", func(g *Glimpse) { g.Root.Children = nil }},
		{"no type", func(g *Glimpse) { g.Root.Children[0].Type = "" }},
		{"nil part", func(g *Glimpse) { g.Root.Children[0] = nil }},
	}
	if _, sure := Look(glimpseOf(raw, 1<<20)); !sure {
		t.Fatal("Look is not sure of the whole Glimpse")
	}
	for _, tt := range tests {
		g := glimpseOf(raw, 1<<20)
		tt.spoil(&g)
		m, sure := Look(g)
		if sure {
			t.Errorf("%s: Look is sure", tt.name)
		}
		if m.Sender != "jane@example.org" || m.MessageID != "a@b" {
			t.Errorf("%s: header facts %q %q", tt.name, m.Sender, m.MessageID)
		}
	}
}

// FuzzLook builds the Glimpse of arbitrary bytes, its texts cut at a
// bound the input chooses, and looks at it: Look never panics, and
// finds nothing Scan does not when the texts are whole.
func FuzzLook(f *testing.F) {
	for _, s := range messageFiles(f) {
		if b, err := os.ReadFile(s); err == nil && len(b) <= 16<<10 {
			f.Add(b, uint16(len(b)))
		}
	}
	f.Add([]byte("From: a@b.example\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nUkMtN0tRMk05\r\n"), uint16(5))
	f.Add([]byte("From: a@b.example\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nRC=2D7KQ2M9\r\n"), uint16(3))
	f.Fuzz(func(t *testing.T, raw []byte, bound uint16) {
		g := glimpseOf(raw, int(bound))
		m, _ := Look(g)
		if m == nil || m.CaseRefs == nil {
			t.Fatal("no message")
		}
		whole, wsure := Look(glimpseOf(raw, len(raw)))
		if scanned, ssure := Scan(raw); wsure && ssure {
			for _, r := range whole.CaseRefs {
				if !hasRef(scanned.CaseRefs, r.Value) {
					t.Errorf("Look finds %s, Scan does not", r.Value)
				}
			}
		}
	})
}
