package tnef_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/recoverybot/recoverybot/parser/internal/work"
	"github.com/recoverybot/recoverybot/parser/tnef"
)

// winmail extracts the winmail.dat of a corpus message with the standard
// library only.
func winmail(t testing.TB, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err != nil {
			t.Fatalf("no winmail.dat in %s: %v", path, err)
		}
		if strings.Contains(strings.ToLower(p.Header.Get("Content-Type")), "ms-tnef") {
			data, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, p))
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
}

func TestCorpusRichText(t *testing.T) {
	m, err := tnef.Decode(winmail(t, "../../testdata/corpus/jstedfast__mimekit/tnef_rich-text.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Warnings) != 0 || !m.HasRTF {
		t.Errorf("warnings %v, rtf %v", m.Warnings, m.HasRTF)
	}
	if len(m.Attachments) != 3 {
		t.Fatalf("%d attachments, want 3", len(m.Attachments))
	}
	a := m.Attachments[0]
	if a.Name() != "kitten-playing-with-a-christmas-tree.jpg" || a.Title != "KITTEN~1.JPG" || len(a.Data) != 375081 || !bytes.HasPrefix(a.Data, []byte{0xFF, 0xD8, 0xFF}) {
		t.Errorf("first attachment %q %q %d bytes", a.Name(), a.Title, len(a.Data))
	}
	for _, e := range m.Attachments[1:] {
		if e.Method != 5 || e.Embedded == nil {
			t.Errorf("attachment %q: method %d, embedded %v", e.Name(), e.Method, e.Embedded != nil)
		}
	}
	if inner := m.Attachments[2].Embedded; inner == nil || len(inner.Attachments) != 1 || inner.Attachments[0].Name() != a.Name() {
		t.Errorf("embedded message's attachment not decoded")
	}
}

func TestCorpusUkrainian(t *testing.T) {
	m, err := tnef.Decode(winmail(t, "../../testdata/corpus/jstedfast__mimekit/tnef_ukr.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "rr test 7" || len(m.Attachments) != 0 || !bytes.Contains(m.HTML, []byte("koi8-r")) {
		t.Errorf("subject %q, %d attachments, html %d bytes", m.Subject, len(m.Attachments), len(m.HTML))
	}
}

// stream builds a TNEF stream from attributes.
type stream struct{ bytes.Buffer }

func newStream() *stream {
	s := &stream{}
	binary.Write(s, binary.LittleEndian, uint32(tnef.Signature))
	binary.Write(s, binary.LittleEndian, uint16(0x0001))
	return s
}

func (s *stream) attr(level byte, id uint32, data []byte) *stream {
	s.WriteByte(level)
	binary.Write(s, binary.LittleEndian, id)
	binary.Write(s, binary.LittleEndian, uint32(len(data)))
	s.Write(data)
	var sum uint16
	for _, c := range data {
		sum += uint16(c)
	}
	binary.Write(s, binary.LittleEndian, sum)
	return s
}

// props builds a MAPI property list.
func props(list ...[]byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint32(len(list)))
	for _, p := range list {
		b.Write(p)
	}
	return b.Bytes()
}

func prop(typ, id uint16, value []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, typ)
	binary.Write(&b, binary.LittleEndian, id)
	switch typ {
	case 0x001F, 0x001E, 0x0102, 0x000D:
		binary.Write(&b, binary.LittleEndian, uint32(1))
		binary.Write(&b, binary.LittleEndian, uint32(len(value)))
		b.Write(value)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	default:
		b.Write(value)
	}
	return b.Bytes()
}

func namedProp(typ uint16, value []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, typ)
	binary.Write(&b, binary.LittleEndian, uint16(0x8001))
	b.Write(make([]byte, 16)) // GUID
	binary.Write(&b, binary.LittleEndian, uint32(1))
	name := utf16le("Keywords\x00")
	binary.Write(&b, binary.LittleEndian, uint32(len(name)))
	b.Write(name)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	binary.Write(&b, binary.LittleEndian, uint32(1))
	binary.Write(&b, binary.LittleEndian, uint32(len(value)))
	b.Write(value)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

func utf16le(s string) []byte {
	var b bytes.Buffer
	for _, u := range utf16.Encode([]rune(s)) {
		binary.Write(&b, binary.LittleEndian, u)
	}
	return b.Bytes()
}

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func TestBuilt(t *testing.T) {
	pdf := []byte("%PDF-1.4 extrait kbis")
	inner := newStream().
		attr(2, 0x00069002, u32(1)).
		attr(2, 0x00018010, []byte("CNI.JPG\x00")).
		attr(2, 0x0006800F, []byte{0xFF, 0xD8, 0xFF, 0xE0})
	s := newStream().
		attr(1, 0x00069007, u32(1252)).
		attr(1, 0x00018004, []byte("Pi\xe8ces jointes\x00")).
		attr(1, 0x00069003, props(
			prop(0x001F, 0x1000, utf16le("Bonjour, voici le Kbis.\x00")),
			namedProp(0x001F, utf16le("x\x00")),
		)).
		attr(2, 0x00069002, u32(1)).
		attr(2, 0x00018010, []byte("KBIS~1.PDF\x00")).
		attr(2, 0x0006800F, pdf).
		attr(2, 0x00069005, props(
			prop(0x001F, 0x3707, utf16le("Extrait Kbis société.pdf\x00")),
			prop(0x001E, 0x370E, []byte("application/pdf\x00")),
			prop(0x0003, 0x3705, u32(1)),
		)).
		attr(2, 0x00069002, u32(1)).
		attr(2, 0x00069005, props(
			prop(0x0003, 0x3705, u32(5)),
			prop(0x000D, 0x3701, append([]byte{0x07, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46}, inner.Bytes()...)),
		))
	m, err := tnef.Decode(s.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Pièces jointes" || m.Body != "Bonjour, voici le Kbis." || len(m.Warnings) != 0 {
		t.Errorf("subject %q body %q warnings %v", m.Subject, m.Body, m.Warnings)
	}
	if len(m.Attachments) != 2 {
		t.Fatalf("%d attachments", len(m.Attachments))
	}
	a := m.Attachments[0]
	if a.Name() != "Extrait Kbis société.pdf" || a.MIMEType != "application/pdf" || !bytes.Equal(a.Data, pdf) || a.Method != 1 {
		t.Errorf("attachment %+v", a)
	}
	e := m.Attachments[1].Embedded
	if e == nil || len(e.Attachments) != 1 || e.Attachments[0].Name() != "CNI.JPG" {
		t.Fatalf("embedded message not decoded: %+v", m.Attachments[1])
	}

	// Damage: a flipped byte breaks a checksum, a cut stream truncates
	// the last attribute; what was read stays.
	bad := bytes.Clone(s.Bytes())
	bad[60] ^= 0xFF
	if m, err := tnef.Decode(bad); err != nil || len(m.Warnings) == 0 {
		t.Errorf("checksum damage not reported: %v %v", err, m)
	}
	cut := s.Bytes()[:len(s.Bytes())-40]
	if m, err := tnef.Decode(cut); err != nil || len(m.Warnings) == 0 || len(m.Attachments) == 0 {
		t.Errorf("truncation not reported: %v %+v", err, m)
	}
	if _, err := tnef.Decode([]byte("not tnef")); err != tnef.ErrNotTNEF {
		t.Errorf("got %v", err)
	}
}

func TestNestingBounded(t *testing.T) {
	// Each level embeds the previous one: decoding stops at MaxDepth.
	data := newStream().attr(2, 0x00069002, u32(1)).Bytes()
	iid := []byte{0x07, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46}
	for i := 0; i < 50; i++ {
		data = newStream().attr(2, 0x00069002, u32(1)).attr(2, 0x00069005, props(prop(0x000D, 0x3701, append(bytes.Clone(iid), data...)))).Bytes()
	}
	m, err := tnef.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	depth := 0
	for m != nil && len(m.Attachments) > 0 {
		m = m.Attachments[0].Embedded
		depth++
	}
	if depth > tnef.MaxDepth+1 {
		t.Errorf("decoded %d levels, limit %d", depth, tnef.MaxDepth)
	}
}

func FuzzTNEF(f *testing.F) {
	f.Add(winmail(f, "../../testdata/corpus/jstedfast__mimekit/tnef_ukr.eml"))
	rich := winmail(f, "../../testdata/corpus/jstedfast__mimekit/tnef_rich-text.eml")
	f.Add(rich[:4096])
	f.Add(newStream().attr(1, 0x00069003, props(prop(0x001F, 0x1000, utf16le("x")), namedProp(0x001F, utf16le("y")))).Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := tnef.Decode(data)
		if err != nil {
			return
		}
		total := 0
		var count func(*tnef.Message, int)
		count = func(m *tnef.Message, depth int) {
			if depth > tnef.MaxDepth+1 {
				t.Fatalf("nested %d deep", depth)
			}
			for _, a := range m.Attachments {
				total += len(a.Data)
				if a.Embedded != nil {
					count(a.Embedded, depth+1)
				}
			}
		}
		count(m, 0)
		if total > len(data)*(tnef.MaxDepth+2) {
			t.Fatalf("%d bytes of attachments from %d bytes", total, len(data))
		}
	})
}

// A winmail.dat read on a budget stops when the budget is spent, with a
// warning, and keeps what it read; on a nil budget it reads all.
func TestDecodeWork(t *testing.T) {
	data := winmail(t, "../../testdata/corpus/jstedfast__mimekit/tnef_rich-text.eml")
	full, err := tnef.DecodeWork(data, nil)
	if err != nil || len(full.Warnings) != 0 {
		t.Fatalf("nil budget: %v, warnings %q", err, full.Warnings)
	}
	w := work.New(context.Background(), int64(len(data)/2))
	m, err := tnef.DecodeWork(data, w)
	if err != nil || !slices.Contains(m.Warnings, "work budget spent: rest ignored") || !errors.Is(w.Err(), work.ErrSpent) {
		t.Fatalf("half a budget: %v, warnings %q, work %v", err, m.Warnings, w.Err())
	}
	if w.Spent() > int64(len(data)/2) || len(m.Attachments) > len(full.Attachments) {
		t.Errorf("spent %d of %d units, %d attachments", w.Spent(), len(data)/2, len(m.Attachments))
	}
}
