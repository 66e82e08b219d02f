package pdftext_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot/parser/internal/testpdf"
	"github.com/recoverybot/recoverybot/parser/internal/work"
	"github.com/recoverybot/recoverybot/parser/pdftext"
)

var kbis = [][]string{{
	"Greffe du tribunal de commerce de Paris",
	"Extrait Kbis",
	"Immatriculation au RCS, numéro 552 100 554 R.C.S. Paris",
}, {"Page deux : gérant, Élodie Martin"}}

func TestText(t *testing.T) {
	for name, o := range map[string]testpdf.Options{
		"standard font":    {},
		"uncompressed":     {NoCompress: true},
		"ToUnicode CMap":   {ToUnicode: true},
		"object stream":    {ObjectStream: true},
		"destination only": {OpenAtPage: true},
	} {
		t.Run(name, func(t *testing.T) {
			r := pdftext.Analyze(testpdf.Build(kbis, o), pdftext.Limits{})
			if r.Pages != 2 || r.Encrypted || r.Truncated || len(r.Active) != 0 || len(r.Problems) != 0 {
				t.Fatalf("report %+v", r)
			}
			for _, want := range []string{"Extrait Kbis", "Greffe du tribunal de commerce de Paris", "552 100 554", "Élodie Martin"} {
				if !strings.Contains(r.Text, want) {
					t.Errorf("text lacks %q:\n%s", want, r.Text)
				}
			}
			if !strings.Contains(r.Text, "Extrait Kbis\nImmatriculation") {
				t.Errorf("lines not separated:\n%s", r.Text)
			}
			if r.Version != "1.7" {
				t.Errorf("version %q", r.Version)
			}
		})
	}
}

func TestHostile(t *testing.T) {
	cases := []struct {
		name  string
		o     testpdf.Options
		check func(pdftext.Report) bool
	}{
		{"encrypted", testpdf.Options{Encrypt: true}, func(r pdftext.Report) bool { return r.Encrypted && r.Text == "" }},
		{"javascript", testpdf.Options{JavaScript: true}, func(r pdftext.Report) bool {
			return slices.Contains(r.Active, "/JavaScript") && slices.Contains(r.Active, "/JS") && slices.Contains(r.Active, "/OpenAction")
		}},
		{"embedded file", testpdf.Options{EmbeddedFile: true}, func(r pdftext.Report) bool { return slices.Equal(r.Active, []string{"/EmbeddedFile"}) }},
		{"truncated", testpdf.Options{Truncate: true}, func(r pdftext.Report) bool { return r.Truncated }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if r := pdftext.Analyze(testpdf.Build(kbis, c.o), pdftext.Limits{}); !c.check(r) {
				t.Errorf("report %+v", r)
			}
		})
	}
}

func TestObfuscatedName(t *testing.T) {
	pdf := []byte("%PDF-1.4\n1 0 obj << /Type /Catalog /OpenAction << /S /J#61vaScript /J#53 (x) >> >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF")
	r := pdftext.Analyze(pdf, pdftext.Limits{})
	if !slices.Contains(r.Active, "/JavaScript") || !slices.Contains(r.Active, "/JS") {
		t.Errorf("hex-escaped names not decoded: %v", r.Active)
	}
}

func TestBombBounded(t *testing.T) {
	pdf := testpdf.Bomb(64 << 20)
	start := time.Now()
	r := pdftext.Analyze(pdf, pdftext.Limits{MaxDecoded: 4 << 20})
	if !slices.Contains(r.Limited, "decoded") {
		t.Errorf("decompression limit not reported: %+v", r.Limited)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestGarbageNeverPanics(t *testing.T) {
	inputs := [][]byte{
		nil,
		[]byte("%PDF-"),
		[]byte("%PDF-1.4\n1 0 obj << /Length 99999999 >> stream\nabc"),
		[]byte("%PDF-1.4\n" + strings.Repeat("[", 100000)),
		[]byte("%PDF-1.4\n1 0 obj " + strings.Repeat("<<", 50000)),
		[]byte("%PDF-1.4\n" + strings.Repeat(")", 100000) + strings.Repeat(">", 100000)),
		[]byte("%PDF-1.4\n" + strings.Repeat("1 0 obj ", 20000)),
		[]byte("%PDF-1.4\n5 0 obj << /Type /ObjStm /N 999999 /First 0 >> stream\n1 0 2 0 3 0\nendstream endobj"),
		[]byte("%PDF-1.4\n1 0 obj << /Type /Page /Contents 1 0 R /Resources 1 0 R /Parent 1 0 R >> endobj"),
	}
	for i, in := range inputs {
		start := time.Now()
		pdftext.Analyze(in, pdftext.Limits{})
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("input %d took %s", i, d)
		}
	}
}

func FuzzAnalyze(f *testing.F) {
	f.Add(testpdf.Build(kbis, testpdf.Options{}))
	f.Add(testpdf.Build(kbis, testpdf.Options{ToUnicode: true, ObjectStream: true, JavaScript: true}))
	f.Add(testpdf.Build(kbis, testpdf.Options{NoCompress: true, EmbeddedFile: true, Encrypt: true}))
	f.Add(testpdf.CMapBomb(300, 1))
	f.Add(testpdf.CMapBomb(2, 1000))
	f.Add(testpdf.Bomb(4 << 20))
	seeds, _ := filepath.Glob("testdata/*.pdf")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w := work.New(context.Background(), 20_000_000)
		r := pdftext.Analyze(data, pdftext.Limits{MaxDecoded: 1 << 20, Work: w})
		if w.Spent() > 20_000_000 {
			t.Fatalf("spent %d units", w.Spent())
		}
		if len(r.Text) > 1<<20 {
			t.Fatalf("text of %d bytes", len(r.Text))
		}
		if bytes.HasPrefix(data, []byte("%PDF-1")) && r.Version == "" {
			t.Fatalf("version not read from %q", data[:6])
		}
	})
}
