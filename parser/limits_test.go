package parser

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot/parser/internal/testpdf"
)

// measure parses raw once and returns the time it took and the bytes it
// allocated.
func measure(t *testing.T, raw []byte, o Options) (*Message, time.Duration, uint64, error) {
	t.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	m, err := Parse(raw, o)
	d := time.Since(start)
	runtime.ReadMemStats(&after)
	if m == nil {
		t.Fatal("nil message")
	}
	return m, d, after.TotalAlloc - before.TotalAlloc, err
}

func bounded(t *testing.T, what string, d time.Duration, alloc uint64, maxAlloc uint64) {
	t.Helper()
	t.Logf("%s: %s, %d MiB allocated", what, d.Round(time.Millisecond), alloc>>20)
	if d > 20*time.Second {
		t.Errorf("%s took %s", what, d)
	}
	if alloc > maxAlloc {
		t.Errorf("%s allocated %d MiB, more than %d MiB", what, alloc>>20, maxAlloc>>20)
	}
}

// largeMessage is a 30 MB message: a photo-sized attachment and a long
// text body.
func largeMessage() []byte {
	blob := make([]byte, 21<<20)
	rand.Read(blob)
	copy(blob, jpegBytes(64, 64)[:200])
	var b bytes.Buffer
	b.WriteString("From: a@example.org\r\nTo: contact@example.net\r\nSubject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	line := "Bonjour, voici mon passeport et le code 4F7K-2M9Q, merci de votre aide.\r\n"
	for b.Len() < 2<<20 {
		b.WriteString(line)
	}
	b.WriteString("\r\n--b\r\nContent-Type: image/jpeg; name=\"passeport.jpg\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(blob)
	for i := 0; i < len(enc); i += 76 {
		b.WriteString(enc[i:min(i+76, len(enc))] + "\r\n")
	}
	b.WriteString("--b--\r\n")
	return b.Bytes()
}

func TestLargeMessage(t *testing.T) {
	raw := largeMessage()
	if len(raw) < 30<<20 {
		t.Fatalf("message of %d bytes", len(raw))
	}
	m, d, alloc, err := measure(t, raw, Options{})
	if err != nil || len(m.Documents) != 1 || len(m.Codes) != 1 || m.Documents[0].Size != 21<<20 {
		t.Errorf("err %v, %d documents, %d codes", err, len(m.Documents), len(m.Codes))
	}
	bounded(t, "30 MB message", d, alloc, 20*uint64(len(raw)))

	// Beyond MaxBytes only the header is read.
	m, d, alloc, err = measure(t, raw, Options{MaxBytes: 10 << 20})
	if !errors.Is(err, ErrTooLarge) || m.Sender != "a@example.org" || len(m.Documents) != 0 {
		t.Errorf("err %v, sender %q", err, m.Sender)
	}
	bounded(t, "30 MB message over the limit", d, alloc, 4<<20)
}

func TestDeepMultipart(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("From: a@example.org\r\nSubject: deep\r\nMIME-Version: 1.0\r\n")
	const depth = 5000
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\nhello\r\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	m, d, alloc, err := measure(t, b.Bytes(), Options{})
	if !errors.Is(err, ErrTooComplex) || m.Sender != "a@example.org" || m.Subject != "deep" {
		t.Errorf("err %v, message %+v", err, m)
	}
	bounded(t, "5,000-level multipart", d, alloc, 64<<20)

	// Within the limits, a deep but legal tree is read.
	b.Reset()
	b.WriteString("From: a@example.org\r\nSubject: deep\r\nMIME-Version: 1.0\r\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("Content-Type: application/pdf; name=kbis.pdf\r\n\r\n%PDF-1.4\r\n")
	for i := 39; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	if m, err := Parse(b.Bytes(), Options{}); err != nil || len(m.Documents) != 1 {
		t.Errorf("40 levels: err %v, %d documents", err, len(m.Documents))
	}
}

func TestDeepForwards(t *testing.T) {
	// 5,000 messages each forwarding the previous one as message/rfc822.
	var b bytes.Buffer
	for i := 5000; i >= 1; i-- {
		fmt.Fprintf(&b, "From: a@example.org\r\nSubject: level %d\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"f%d\"\r\n\r\n--f%d\r\nContent-Type: text/plain\r\n\r\nfwd\r\n--f%d\r\nContent-Type: message/rfc822\r\n\r\n", i, i, i, i)
	}
	b.WriteString("From: a@example.org\r\nSubject: level 0\r\nContent-Type: application/pdf; name=kbis.pdf\r\n\r\n%PDF-1.4\r\n")
	for i := 1; i <= 5000; i++ {
		fmt.Fprintf(&b, "\r\n--f%d--\r\n", i)
	}
	m, d, alloc, err := measure(t, b.Bytes(), Options{})
	if err != nil || len(m.Documents) != 1 || !strings.HasPrefix(m.Documents[0].Findings[0], FindingNestedTooDeep) {
		t.Errorf("err %v, documents %+v", err, m.Documents)
	}
	bounded(t, "5,000-level forward", d, alloc, 400<<20)
}

func TestManyParts(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n")
	for i := 0; i < 20000; i++ {
		b.WriteString("--x\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n")
	}
	b.WriteString("--x--\r\n")
	m, d, alloc, err := measure(t, b.Bytes(), Options{})
	if !errors.Is(err, ErrTooComplex) {
		t.Errorf("err %v, %d documents", err, len(m.Documents))
	}
	bounded(t, "20,000 parts", d, alloc, 64<<20)
}

func TestNotAMessage(t *testing.T) {
	for _, raw := range [][]byte{nil, []byte("%PDF-1.4\n"), []byte("\x89PNG\r\n\x1a\n"), []byte("hello world\n"), bytes.Repeat([]byte{0}, 1000)} {
		m, err := Parse(raw, Options{})
		if m == nil || !errors.Is(err, ErrNotMessage) || len(m.Findings) == 0 {
			t.Errorf("%.10q: %v %+v", raw, err, m)
		}
	}
}

func TestManyPDFBombsShareABudget(t *testing.T) {
	// 200 PDFs of 16 MiB of zeros each: 3 GiB to inflate if each had its
	// own budget; the message's budget stops it at MaxPDFDecoded.
	bomb := testpdf.Bomb(16 << 20)
	var b bytes.Buffer
	b.WriteString("From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(bomb)
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, "--x\r\nContent-Type: application/pdf; name=kbis%d.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n", i, enc)
	}
	b.WriteString("--x--\r\n")
	m, d, alloc, err := measure(t, b.Bytes(), Options{MaxPDFDecoded: 32 << 20})
	if !errors.Is(err, ErrStopped) || !strings.HasSuffix(err.Error(), "; 197 documents more") || len(m.Documents) != 200 {
		t.Fatalf("err %v, %d documents", err, len(m.Documents))
	}
	limited := 0
	for _, doc := range m.Documents {
		for _, f := range doc.Findings {
			if strings.HasPrefix(f, FindingLimitReached) {
				limited++
			}
		}
	}
	if limited < 190 {
		t.Errorf("only %d documents report the limit", limited)
	}
	bounded(t, "200 PDF bombs", d, alloc, 512<<20)
}
