package parser

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/jhillyerd/enmime/v2"
)

// envelopeDigest describes everything of an envelope the parser reads,
// part by part, for comparing two reads of one message.
func envelopeDigest(env *enmime.Envelope, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	// enmime reports some errors in map order: they are compared as sets.
	errs := func(es []*enmime.Error) string {
		var lines []string
		for _, e := range es {
			lines = append(lines, "  "+e.Error()+"\n")
		}
		slices.Sort(lines)
		return strings.Join(lines, "")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "errors %d\n%s", len(env.Errors), errs(env.Errors))
	_ = env.Root.DepthMatchAll(func(p *enmime.Part) bool {
		fmt.Fprintf(&b, "part %q type %q disp %q name %q charset %q content %x (%d bytes) header %v\n%s",
			p.PartID, p.ContentType, p.Disposition, p.FileName, p.Charset, sha256.Sum256(p.Content), len(p.Content), p.Header, errs(p.Errors))
		return false
	})
	return b.String()
}

// sameAsEnmime checks that reading raw lightened gives what enmime gives
// reading it whole, and reports whether anything was taken out.
func sameAsEnmime(t *testing.T, name string, raw []byte, minBody int) bool {
	t.Helper()
	want := envelopeDigest(newEnmime(1000).ReadEnvelope(bytes.NewReader(raw)))
	got := envelopeDigest(readLightened(raw, 1000, minBody))
	if got != want {
		t.Errorf("%s: lightened read differs from enmime's:\n got %s\nwant %s", name, got, want)
	}
	_, files := lighten(raw, minBody)
	return files != nil
}

func TestLightenedReadIsEnmimes(t *testing.T) {
	files := messageFiles(t)
	lightened := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if sameAsEnmime(t, f, raw, 1) {
			lightened++
		}
		sameAsEnmime(t, f, raw, lightMin)
	}
	// Most corpus messages with files are in base64: if few are taken
	// out, lighten has stopped recognising them.
	if lightened < 30 {
		t.Errorf("only %d of %d messages had a body taken out", lightened, len(files))
	}
}

// TestLightenLeavesWhatItCannotBeSureOf covers the shapes lighten must
// leave to enmime, each of which enmime reads its own way.
func TestLightenLeavesWhatItCannotBeSureOf(t *testing.T) {
	file := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("%PDF-1.4 document "), 2000))
	var lines []string
	for len(file) > 76 {
		lines, file = append(lines, file[:76]), file[76:]
	}
	body := strings.Join(append(lines, file), "\r\n")
	msg := func(partHeader, body, after string) []byte {
		return []byte("From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n" +
			"--XX\r\nContent-Type: text/plain\r\n\r\nHello\r\n" +
			"--XX\r\n" + partHeader + "\r\n" + body + "\r\n" + after)
	}
	pdf := "Content-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n"
	cases := []struct {
		name  string
		raw   []byte
		taken bool
	}{
		{"plain", msg(pdf, body, "--XX--\r\n"), true},
		{"LF line endings", bytes.ReplaceAll(msg(pdf, body, "--XX--\r\n"), []byte("\r\n"), []byte("\n")), true},
		{"padding inside", msg(pdf, body[:100]+"=="+body[100:], "--XX--\r\n"), true},
		{"a stray character", msg(pdf, body[:100]+"*"+body[100:], "--XX--\r\n"), false},
		{"8-bit byte", msg(pdf, body[:100]+"\xc1"+body[100:], "--XX--\r\n"), false},
		{"bad length", msg(pdf, body+"A", "--XX--\r\n"), false},
		{"no closing delimiter", msg(pdf, body, ""), false},
		{"delimiter with junk after", msg(pdf, body, "--XX-- trailing\r\n"), false},
		{"text part", msg("Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n", body, "--XX--\r\n"), false},
		{"quoted-printable", msg("Content-Type: application/pdf\r\nContent-Transfer-Encoding: quoted-printable\r\n", body, "--XX--\r\n"), false},
		{"two encodings", msg(pdf+"Content-Transfer-Encoding: 7bit\r\n", body, "--XX--\r\n"), false},
		{"no content type", msg("Content-Transfer-Encoding: base64\r\n", body, "--XX--\r\n"), false},
		{"outer boundary closes it", []byte("Content-Type: multipart/mixed; boundary=OUT\r\n\r\n--OUT\r\n" +
			"Content-Type: multipart/related; boundary=IN\r\n\r\n--IN\r\n" + pdf + "\r\n" + body + "\r\n--OUT--\r\n"), false},
		{"nested", []byte("Content-Type: multipart/mixed; boundary=OUT\r\n\r\n--OUT\r\n" +
			"Content-Type: multipart/related; boundary=IN\r\n\r\npreamble\r\n--IN\r\n" + pdf + "\r\n" + body + "\r\n--IN--\r\nepilogue\r\n--OUT\r\n" +
			pdf + "\r\n" + body + "\r\n--OUT--\r\n"), true},
		{"a stand-in in the message", msg(pdf, base64.StdEncoding.EncodeToString([]byte(standInTag+"0")), "--XX\r\n"+pdf+"\r\n"+body+"\r\n--XX--\r\n"), true},
		{"not multipart", []byte("Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body + "\r\n"), false},
	}
	for _, c := range cases {
		if taken := sameAsEnmime(t, c.name, c.raw, 1); taken != c.taken {
			t.Errorf("%s: taken out %v, want %v", c.name, taken, c.taken)
		}
	}
	// The stand-in forged in the message is found twice: the whole
	// message is read by enmime, and the forged part keeps its bytes.
	raw := cases[len(cases)-2].raw
	env, err := readLightened(raw, 1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	forged := env.Root.DepthMatchAll(func(p *enmime.Part) bool {
		return bytes.Equal(p.Content, []byte(standInTag+"0"))
	})
	real := env.Root.DepthMatchAll(func(p *enmime.Part) bool { return bytes.HasPrefix(p.Content, []byte("%PDF-1.4")) })
	if len(forged) != 1 || len(real) != 1 {
		t.Errorf("forged stand-in: %d parts keep it, %d hold the file; want 1 and 1", len(forged), len(real))
	}
}

// FuzzLighten checks, on arbitrary bytes, that the lightened read is
// enmime's own, every body taken out however small.
func FuzzLighten(f *testing.F) {
	for _, path := range messageFiles(f) {
		if b, err := os.ReadFile(path); err == nil && len(b) <= 16<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--X--\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		// As Parse does: enmime's time grows with the square of the
		// nesting, so deep structures never reach it.
		if _, exceeded := prescan(raw, 50, 1000, nil); exceeded {
			return
		}
		sameAsEnmime(t, "input", raw, 1)
	})
}

// TestUndeclaredCharsetReadsTheSameEveryTime: text that declares no
// charset is read by the walker, never by enmime's guess, which changes
// between runs for close charsets (a fuzzing finding: ISO-8859-1 one
// run, ISO-8859-2 the next).
func TestUndeclaredCharsetReadsTheSameEveryTime(t *testing.T) {
	raw := []byte("From: a@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" +
		"--B\r\nContent-Type: text/html\r\n\r\n0A0A0AA0A0AA0AA0A0A0A0A0A0A0A0A0AA0A0A0AA0<A0A0A0A0A0A0A0A0A91.&o7 \"81,%*x12b101228102Z0B07901277z12910y1171C00xY1000y07011A1&07X0C!Z907u91" +
		"<p>Za\xbf\xf3\xb3\xe6 g\xea\xb6l\xb1 ja\xbc\xf1 \xe9t\xe9 \xe0 la plage</p>\r\n" +
		"--B--\r\n")
	var first []byte
	for i := range 30 {
		m, err := Parse(raw, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = got
		} else if !bytes.Equal(got, first) {
			t.Fatalf("read %d differs from the first:\n%s\n%s", i, got, first)
		}
		for _, p := range envelopeParts(t, raw) {
			if p.ContentType == "text/html" && p.Charset != "" {
				t.Fatalf("enmime guessed charset %q for a part that declares none", p.Charset)
			}
		}
	}
}

func envelopeParts(t *testing.T, raw []byte) []*enmime.Part {
	t.Helper()
	env, err := readEnvelope(raw, 100)
	if err != nil {
		t.Fatal(err)
	}
	return env.Root.DepthMatchAll(func(*enmime.Part) bool { return true })
}
