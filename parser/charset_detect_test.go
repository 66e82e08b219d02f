package parser

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
)

func TestUndeclaredCharset(t *testing.T) {
	raw, err := os.ReadFile("../testdata/corpus/thunderbird/message-reader_data_noCharsetKOI8U.eml")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := Parse(raw, Options{})
	if !strings.Contains(m.Text, "Моя семья") {
		t.Errorf("KOI8 text without charset not decoded: %q", m.Text[:min(len(m.Text), 60)])
	}
	// French without a charset stays windows-1252.
	for _, s := range []string{"Bonjour, voici ma pièce d'identité et le Kbis. Très cordialement, Hélène", "Ça va ? Où est le reçu ?"} {
		b, _ := charmap.Windows1252.NewEncoder().Bytes([]byte(s))
		if got, _ := textOf(b, "", true); got != s {
			t.Errorf("textOf(%q) = %q", s, got)
		}
	}
}
