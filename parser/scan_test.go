package parser

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScanFindsWhatParseFinds: on every corpus message and fixture, when
// Scan is sure, it has every reference Parse has and the same header
// facts; it never decodes a document.
func TestScanFindsWhatParseFinds(t *testing.T) {
	var files []string
	for _, pattern := range []string{"../testdata/corpus/*/*", "../testdata/parser/*.eml"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	if len(files) < 100 {
		t.Fatalf("only %d messages found", len(files))
	}
	sure := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".json") || strings.HasSuffix(f, ".tsv") || strings.HasSuffix(f, ".md") || strings.HasSuffix(f, ".pub") {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		scanned, ok := Scan(raw)
		if len(scanned.Documents) != 0 {
			t.Errorf("%s: Scan decoded documents", f)
		}
		if !ok {
			continue
		}
		sure++
		full, _ := Parse(raw, Options{})
		for _, r := range full.CaseRefs {
			if !hasRef(scanned.CaseRefs, r.Value) {
				t.Errorf("%s: Parse finds %s, Scan does not", f, r.Value)
			}
		}
		if scanned.Sender != full.Sender || scanned.MessageID != full.MessageID || scanned.Automatic != full.Automatic && full.Bounce == nil {
			t.Errorf("%s: Scan header facts %q %q %v differ from Parse's %q %q %v", f, scanned.Sender, scanned.MessageID,
				scanned.Automatic, full.Sender, full.MessageID, full.Automatic)
		}
	}
	if sure < len(files)/2 {
		t.Errorf("Scan is sure of only %d of %d messages", sure, len(files))
	}
}

func hasRef(fs []Found, ref string) bool {
	for _, f := range fs {
		if f.Value == ref {
			return true
		}
	}
	return false
}

func TestScanReferencesEverywhere(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte("Bonjour, mon dossier est le rc-7kq2m9, merci."))
	tests := []struct {
		name string
		raw  string
		ref  string
		sure bool
	}{
		{"subject", "From: a@b.example\r\nSubject: =?utf-8?q?Re=3A_=5BRC-7KQ2M9=5D_r=C3=A9cup=C3=A9ration?=\r\n\r\nhello\r\n", "RC-7KQ2M9", true},
		{"base64 body", "From: a@b.example\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64 + "\r\n", "RC-7KQ2M9", true},
		{"html split by tags", "From: a@b.example\r\nContent-Type: text/html\r\n\r\n<p>ref <b>RC-</b><i>7KQ2M9</i></p>\r\n", "RC-7KQ2M9", true},
		{"forwarded", "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nsee below\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: [RC-7KQ2M9] code\r\n\r\nbody\r\n--x--\r\n", "RC-7KQ2M9", true},
		{"nothing", "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\ninvoice\r\n--x\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--x--\r\n", "", true},
		{"delivery report", "From: MAILER-DAEMON@mx.example\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x--\r\n", "", false},
		{"broken MIME", "From: a@b.example\r\nContent-Type: multipart/mixed\r\n\r\nno boundary\r\n", "", false},
		{"winmail.dat", "From: a@b.example\r\nContent-Type: application/ms-tnef\r\n\r\nxx\r\n", "", false},
		{"winmail.dat attached", "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x\r\nContent-Type: application/ms-tnef; name=winmail.dat\r\nContent-Disposition: attachment; filename=winmail.dat\r\n\r\nxx\r\n--x--\r\n", "", false},
		{"html entities", "From: a@b.example\r\nContent-Type: text/html\r\n\r\n<p>ref RC&#45;7KQ2M9</p>\r\n", "RC-7KQ2M9", true},
	}
	for _, tt := range tests {
		m, sure := Scan([]byte(tt.raw))
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

func FuzzScan(f *testing.F) {
	f.Add([]byte("From: a@b.example\r\nSubject: [RC-7KQ2M9]\r\n\r\nhi\r\n"))
	f.Add([]byte("From: a@b.example\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: x\r\n\r\n--x--\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, _ := Scan(raw)
		if m == nil {
			t.Fatal("nil message")
		}
	})
}
