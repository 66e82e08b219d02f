package testfiles

import (
	"bytes"
	b64 "encoding/base64"
	"image/jpeg"
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/parser"
)

// TestFilesCount: the files made here decode, and a message carrying
// them gives documents that satisfy their requirement.
func TestFilesCount(t *testing.T) {
	photo := JPEG(bytes.Repeat([]byte{0xFF, 0xD9, 1}, 70000))
	if _, err := jpeg.Decode(bytes.NewReader(photo)); err != nil {
		t.Fatalf("the JPEG does not decode: %v", err)
	}
	raw := "From: a@example.org\r\nSubject: docs\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n" +
		attach("cni.jpg", "image/jpeg", photo) + attach("kbis.pdf", "application/pdf", PDF("Extrait Kbis")) + "--b--\r\n"
	m, err := parser.Parse([]byte(raw), parser.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []recoverybot.DocumentType{recoverybot.DocIdentity, recoverybot.DocCompanyRegistration}
	if len(m.Documents) != len(want) {
		t.Fatalf("%d documents", len(m.Documents))
	}
	for i, d := range m.Documents {
		doc := recoverybot.Document{Type: d.Type, MediaType: d.MediaType, Findings: d.Findings}
		if d.Type != want[i] || !doc.Satisfies() {
			t.Errorf("%s: type %s, media type %s, findings %q: does not count", d.Filename, d.Type, d.MediaType, d.Findings)
		}
	}
}

func attach(name, ctype string, data []byte) string {
	var b strings.Builder
	b.WriteString("--b\r\nContent-Type: " + ctype + "\r\nContent-Disposition: attachment; filename=" + name + "\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return b.String()
}

func base64(data []byte) string { return b64.StdEncoding.EncodeToString(data) }
