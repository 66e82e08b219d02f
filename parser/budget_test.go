package parser

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot/parser/internal/testpdf"
	"github.com/recoverybot/recoverybot/parser/internal/work"
)

type file struct {
	name, ctype string
	data        []byte
}

// mailWith is a customer's message: a text with a code, then files.
func mailWith(files ...file) []byte {
	var b bytes.Buffer
	b.WriteString("From: Jean <jean@example.org>\r\nTo: contact@example.net\r\nSubject: [RC-4F7K2M] mes documents\r\nMessage-ID: <bomb@example.org>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"Bonjour, voici mes documents, le code est 4F7K-2M9Q.\r\n")
	for _, f := range files {
		fmt.Fprintf(&b, "--b\r\nContent-Type: %s; name=%q\r\nContent-Disposition: attachment; filename=%q\r\nContent-Transfer-Encoding: base64\r\n\r\n",
			f.ctype, f.name, f.name)
		enc := base64.StdEncoding.EncodeToString(f.data)
		for i := 0; i < len(enc); i += 76 {
			b.WriteString(enc[i:min(i+76, len(enc))] + "\r\n")
		}
	}
	b.WriteString("--b--\r\n")
	return b.Bytes()
}

// bombMail carries a Flate bomb and a CMap bomb, then a genuine photo and
// a genuine Kbis.
func bombMail() []byte {
	kbis := testpdf.Build([][]string{{"Greffe du tribunal de commerce de Paris", "Extrait Kbis",
		"Immatriculation au RCS, numéro 552 100 554 R.C.S. Paris"}}, testpdf.Options{})
	return mailWith(
		file{"flate.pdf", "application/pdf", testpdf.Bomb(60 << 20)},
		file{"cmap.pdf", "application/pdf", testpdf.CMapBomb(300, 1000)},
		file{"cni.jpg", "image/jpeg", jpegBytes(640, 480)},
		file{"kbis.pdf", "application/pdf", kbis},
	)
}

func hasPrefix(list []string, prefix string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

// The bombs a message carries stop at their share of its work budget,
// each with a finding, and the error says the message was not read
// completely (it deserves review); the rest of it is read as usual: the
// text and its code, the photo behind them, the Kbis and its SIREN.
func TestBombsSpendTheirShare(t *testing.T) {
	m, err := Parse(bombMail(), Options{})
	if !errors.Is(err, ErrStopped) || !strings.Contains(err.Error(), "cmap.pdf (part 3): PDF not read to the end: work budget spent") ||
		!strings.Contains(err.Error(), "flate.pdf (part 2): PDF not read to the end") {
		t.Errorf("err %v", err)
	}
	if len(m.Documents) != 4 {
		t.Fatalf("%d documents", len(m.Documents))
	}
	// The Flate bomb meets the bound of one stream's decompression
	// (16 MiB) first; the CMap bomb, the work budget.
	if d := m.Documents[0]; !slices.Contains(d.Findings, FindingLimitReached+": PDF decoded") {
		t.Errorf("%s: findings %q, want a limit reached", d.Filename, d.Findings)
	}
	if d := m.Documents[1]; !slices.Contains(d.Findings, FindingLimitReached+": PDF work") {
		t.Errorf("%s: findings %q, want the work budget reached", d.Filename, d.Findings)
	}
	if photo := m.Documents[2]; photo.Width != 640 || len(photo.Findings) != 0 {
		t.Errorf("photo behind the bombs: %d×%d, findings %q", photo.Width, photo.Height, photo.Findings)
	}
	if k := m.Documents[3]; !slices.Contains(k.SIREN, "552100554") || len(k.Findings) != 0 {
		t.Errorf("Kbis behind the bombs: SIREN %q, findings %q", k.SIREN, k.Findings)
	}
	if len(m.Codes) != 1 || m.Codes[0].Value != "4F7K2M9Q" || len(m.CaseRefs) != 1 {
		t.Errorf("codes %+v, references %+v", m.Codes, m.CaseRefs)
	}
}

// A message whose own reading (here its text) spends Options.MaxWork is
// stopped: ParseContext says so, and the Message has its header.
func TestMessageBudgetSpent(t *testing.T) {
	raw := mailWith()
	m, err := Parse(raw, Options{MaxWork: 100})
	if !errors.Is(err, ErrStopped) || !errors.Is(err, work.ErrSpent) {
		t.Fatalf("err %v, want ErrStopped for the work budget", err)
	}
	if m.Sender != "jean@example.org" || m.MessageID != "bomb@example.org" || !hasPrefix(m.Findings, FindingLimitReached+": work budget spent") {
		t.Errorf("sender %q, Message-ID %q, findings %q", m.Sender, m.MessageID, m.Findings)
	}
	if m, err := Parse(raw, Options{}); err != nil || len(m.Codes) != 1 {
		t.Errorf("default budget: %v, %d codes", err, len(m.Codes))
	}
}

// countdown is a context cancelled at its n-th look: the parser looks at
// its context every few tens of thousands of units of work, so the looks
// after the one that saw the cancellation count the work done after it.
type countdown struct {
	context.Context
	cancel context.CancelFunc
	left   atomic.Int64
	looks  atomic.Int64
}

func newCountdown(n int64) *countdown {
	ctx, cancel := context.WithCancel(context.Background())
	c := &countdown{Context: ctx, cancel: cancel}
	c.left.Store(n)
	return c
}

func (c *countdown) Err() error {
	c.looks.Add(1)
	if c.left.Add(-1) <= 0 {
		c.cancel()
	}
	return c.Context.Err()
}

// A parse whose context is cancelled in the middle of a bomb returns at
// the next look at the context, with ErrStopped and the context's error,
// the header read; nothing of it runs after (the parse is a plain call:
// when it has returned, its work is over).
func TestParseContextStops(t *testing.T) {
	raw := bombMail()
	for _, n := range []int64{1, 3, 40} {
		ctx := newCountdown(n)
		done := make(chan struct{})
		var m *Message
		var err error
		go func() {
			defer close(done)
			m, err = ParseContext(ctx, raw, Options{})
		}()
		<-done
		if !errors.Is(err, ErrStopped) || !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled at look %d: err %v", n, err)
			continue
		}
		if m.Sender != "jean@example.org" || !hasPrefix(m.Findings, FindingLimitReached+": context canceled") {
			t.Errorf("cancelled at look %d: sender %q, findings %q", n, m.Sender, m.Findings)
		}
		// The look that saw the cancellation, and context.Cause's look
		// to read why: no work after it.
		if looks := ctx.looks.Load(); looks != n+1 {
			t.Errorf("cancelled at look %d: %d looks", n, looks)
		}
	}
}

// A deadline already past stops the parse before any work: the header
// is read all the same, so the message can be tied to its case.
func TestParseContextDeadlinePassed(t *testing.T) {
	ctx, cancel := context.WithDeadlineCause(context.Background(), time.Unix(0, 0), errors.New("parsing took longer than 30s"))
	defer cancel()
	m, err := ParseContext(ctx, bombMail(), Options{})
	if !errors.Is(err, ErrStopped) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "longer than 30s") {
		t.Fatalf("err %v", err)
	}
	if m.Sender != "jean@example.org" || m.Subject != "[RC-4F7K2M] mes documents" || len(m.Documents) != 0 {
		t.Errorf("sender %q, subject %q, %d documents", m.Sender, m.Subject, len(m.Documents))
	}
}

// The bombs are kept as files for the tests of the pipeline and the
// benchmark, which cannot build them (testpdf is the parser's):
// testdata/bombs/cmap.pdf is testpdf.CMapBomb(300, 1000), flate.pdf
// testpdf.Bomb(60 MiB); -genfixtures rewrites them. Each, alone in a
// message, stops the parse at its budget.
func TestBombFiles(t *testing.T) {
	for name, pdf := range map[string]func() []byte{
		"cmap.pdf":  func() []byte { return testpdf.CMapBomb(300, 1000) },
		"flate.pdf": func() []byte { return testpdf.Bomb(60 << 20) },
	} {
		path := filepath.Join("..", "testdata", "bombs", name)
		if *genFixtures {
			if err := os.WriteFile(path, pdf(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(mailWith(file{name, "application/pdf", data}), Options{})
		if !errors.Is(err, ErrStopped) || len(m.Documents) != 1 || !hasPrefix(m.Documents[0].Findings, FindingLimitReached+": PDF") {
			t.Errorf("%s: err %v, %d documents", name, err, len(m.Documents))
		}
	}
}

// HTML whose tree costs microseconds a tag to build (formatting
// elements reopened in each of 260,000 paragraphs: 8 s of CPU before
// the budget) spends the message's work budget before it is built: the
// parse is stopped, the header read.
func TestHTMLBomb(t *testing.T) {
	raw := "From: Jean <jean@example.org>\r\nSubject: hello\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
		strings.Repeat("<p><b><i>x", 260_000)
	m, err := Parse([]byte(raw), Options{})
	if !errors.Is(err, ErrStopped) || !errors.Is(err, work.ErrSpent) || m.Sender != "jean@example.org" {
		t.Errorf("err %v, sender %q", err, m.Sender)
	}
	// The same HTML, short, is read.
	raw = raw[:len(raw)-len("<p><b><i>x")*(260_000-1000)]
	if m, err := Parse([]byte(raw), Options{}); err != nil || !strings.Contains(m.Text, "**x**") {
		t.Errorf("short: err %v, text %.40q", err, m.Text)
	}
}

// BenchmarkBombs measures what the bombs cost with the default budget:
// each should take about a second at most (go test -bench Bombs
// -run XXX ./parser/; the figures are in the README).
func BenchmarkBombs(b *testing.B) {
	html := func(tags int) []byte {
		return []byte("From: Jean <jean@example.org>\r\nSubject: hello\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
			strings.Repeat("<p><b><i>x", tags/3))
	}
	cmap := testpdf.CMapBomb(300, 1000)
	flate := testpdf.Bomb(60 << 20)
	for name, raw := range map[string][]byte{
		"cmap x4":  mailWith(file{"1.pdf", "application/pdf", cmap}, file{"2.pdf", "application/pdf", cmap}, file{"3.pdf", "application/pdf", cmap}, file{"4.pdf", "application/pdf", cmap}),
		"flate x4": mailWith(file{"1.pdf", "application/pdf", flate}, file{"2.pdf", "application/pdf", flate}, file{"3.pdf", "application/pdf", flate}, file{"4.pdf", "application/pdf", flate}),
		// The largest HTML bomb the budget lets through, and the
		// smallest it stops.
		"html in budget": html(95_000),
		"html stopped":   html(100_000),
		"mixed":          bombMail(),
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				Parse(raw, Options{})
			}
		})
	}
}
