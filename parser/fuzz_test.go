package parser

import (
	"os"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/parser/internal/testpdf"
)

// FuzzParse runs the whole parser on arbitrary bytes, seeded with the
// corpus and the fixtures (those under 16 KB: larger seeds make the
// mutator down without adding shapes). Crashers found are kept in
// testdata/fuzz/FuzzParse and run with every test.
func FuzzParse(f *testing.F) {
	for _, s := range messageFiles(f) {
		if b, err := os.ReadFile(s); err == nil && len(b) <= 16<<10 {
			f.Add(b)
		}
	}
	// The bombs: a CMap repeated over the code space, a Flate bomb.
	f.Add(mailWith(file{"cmap.pdf", "application/pdf", testpdf.CMapBomb(300, 1000)}))
	f.Add(mailWith(file{"flate.pdf", "application/octet-stream", testpdf.Bomb(4 << 20)}))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, _ := Parse(raw, Options{MaxPDFDecoded: 4 << 20, MaxWork: 20_000_000})
		if m == nil {
			t.Fatal("nil message")
		}
		checkMessage(t, m)
	})
}

// checkMessage checks what every Message must be, whatever the input.
func checkMessage(t *testing.T, m *Message) {
	t.Helper()
	if m.ParserVersion != Version || m.Documents == nil || m.Codes == nil || m.CaseRefs == nil || m.Findings == nil || m.AuthResults == nil {
		t.Fatalf("incomplete message %+v", m)
	}
	if m.Sender != "" && (len(m.From) != 1 || m.From[0] != m.Sender) {
		t.Fatalf("sender %q with From %q", m.Sender, m.From)
	}
	for i, k := range m.RepeatedHeaders {
		if !slices.Contains(singleInstance, k) || slices.Contains(m.RepeatedHeaders[:i], k) {
			t.Fatalf("repeated headers %q", m.RepeatedHeaders)
		}
	}
	for _, a := range m.From {
		if n, err := recoverybot.NormalizeAddress(a); err != nil || n != a {
			t.Fatalf("From address %+q not normalised: %q, %v", a, n, err)
		}
	}
	if !utf8.ValidString(m.Subject) || !utf8.ValidString(m.Text) {
		t.Fatal("invalid UTF-8 in subject or text")
	}
	for _, d := range m.Documents {
		if !d.Type.Valid() || d.Size != int64(len(d.Data)) || hash(d.Data) != d.SHA256 || d.MediaType == "" {
			t.Fatalf("document %+v", d)
		}
		if d.Filename == "" || strings.ContainsAny(d.Filename, "/\\\x00") || strings.IndexFunc(d.Filename, unicode.IsControl) >= 0 || !utf8.ValidString(d.Filename) {
			t.Fatalf("file name %q", d.Filename)
		}
	}
	for _, c := range m.Codes {
		if canon, err := recoverybot.NormalizeCode(c.Value); err != nil || canon != c.Value || c.Masked != MaskedCode {
			t.Fatalf("code candidate %+v", c)
		}
	}
	for _, r := range m.CaseRefs {
		if canon, err := recoverybot.ParseRef(r.Value); err != nil || canon != r.Value {
			t.Fatalf("reference %+v", r)
		}
	}
}
