package parser

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"
)

func testImage(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := 0; x < w; x++ {
		img.Set(x, x%h, color.RGBA{uint8(x), 0, 0, 255})
	}
	return img
}

func jpegBytes(w, h int) []byte {
	var b bytes.Buffer
	jpeg.Encode(&b, testImage(w, h), nil)
	return b.Bytes()
}

func pngBytes(w, h int) []byte {
	var b bytes.Buffer
	png.Encode(&b, testImage(w, h))
	return b.Bytes()
}

// pngBomb is a PNG whose header announces w × h pixels, with valid CRCs
// and hardly any data: what a decompression bomb looks like before
// anything is decoded.
func pngBomb(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}

func TestSniff(t *testing.T) {
	var g bytes.Buffer
	gif.Encode(&g, testImage(10, 10), nil)
	heic := append([]byte{0, 0, 0, 24}, []byte("ftypheic\x00\x00\x00\x00mif1heic")...)
	cases := []struct {
		data     []byte
		declared string
		want     string
	}{
		{jpegBytes(8, 8), "image/png", "image/jpeg"},
		{pngBytes(8, 8), "application/octet-stream", "image/png"},
		{g.Bytes(), "", "image/gif"},
		{heic, "application/octet-stream", "image/heic"},
		{append([]byte{0, 0, 0, 20}, []byte("ftypmif1\x00\x00\x00\x00mif1")...), "", "image/heif"},
		{[]byte("RIFF\x10\x00\x00\x00WEBPVP8 "), "image/jpeg", "image/webp"},
		{[]byte("II*\x00\x08\x00\x00\x00"), "", "image/tiff"},
		{[]byte("%PDF-1.7\n"), "image/jpeg", "application/pdf"},
		{[]byte("\r\n%PDF-1.4\n"), "", "application/pdf"},
		{[]byte("PK\x03\x04rest"), "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{[]byte("PK\x03\x04rest"), "image/jpeg", "application/zip"},
		{[]byte("MZ\x90\x00"), "image/jpeg", "application/x-msdownload"},
		{[]byte("Bonjour"), "application/pdf", "text/plain"},
	}
	for _, c := range cases {
		if got := sniff(c.data, c.declared); got != c.want {
			t.Errorf("sniff(%.12q, %s) = %s, want %s", c.data, c.declared, got, c.want)
		}
	}
}

func TestImageHeaders(t *testing.T) {
	o := Options{}.withDefaults()
	cases := []struct {
		name     string
		data     []byte
		declared string
		w, h     int
		finding  string // a finding prefix expected, or ""
	}{
		{"jpeg", jpegBytes(640, 480), "image/jpeg", 640, 480, ""},
		{"png", pngBytes(300, 200), "image/png", 300, 200, ""},
		{"png bomb", pngBomb(50000, 50000), "image/png", 50000, 50000, FindingTooManyPixels},
		{"png overflowing dimensions", pngBomb(0xFFFFFFFF, 0xFFFFFFFF), "image/png", 1<<31 - 1, 1<<31 - 1, FindingTooManyPixels},
		{"truncated jpeg", jpegBytes(640, 480)[:600], "image/jpeg", 640, 480, FindingTruncated},
		{"truncated png", pngBytes(300, 200)[:100], "image/png", 300, 200, FindingTruncated},
		{"jpeg labelled png", jpegBytes(64, 64), "image/png", 64, 64, FindingTypeMismatch},
		{"gif bomb", append([]byte("GIF89a\xff\xff\xff\xff\x00\x00\x00"), 0x3B), "image/gif", 65535, 65535, ""},
		{"webp", []byte("RIFF\x1e\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00\x3f\x1f\x00\x3f\x1f\x00"), "image/webp", 8000, 8000, ""},
		{"webp bomb", []byte("RIFF\x1e\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff"), "image/webp", 16777216, 16777216, FindingTooManyPixels},
		{"tiff bomb", append([]byte("II*\x00\x08\x00\x00\x00\x02\x00\x00\x01\x04\x00\x01\x00\x00\x00\x40\x9c\x00\x00\x01\x01\x04\x00\x01\x00\x00\x00\x40\x9c\x00\x00"), make([]byte, 8)...), "image/tiff", 40000, 40000, FindingTooManyPixels},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDocument(c.data, c.declared, "scan.bin", "", "attachment", "2", nil, o, nil, nil)
			if d.doc.Width != c.w || d.doc.Height != c.h {
				t.Errorf("%d×%d, want %d×%d", d.doc.Width, d.doc.Height, c.w, c.h)
			}
			found := c.finding == ""
			for _, f := range d.doc.Findings {
				if c.finding != "" && len(f) >= len(c.finding) && f[:len(c.finding)] == c.finding {
					found = true
				}
			}
			if !found {
				t.Errorf("findings %v, want %s", d.doc.Findings, c.finding)
			}
		})
	}
}

func TestSanitizeFilename(t *testing.T) {
	cases := []struct{ in, want string }{
		{"cni.jpg", "cni.jpg"},
		{"C:\\Users\\jean\\Documents\\kbis.pdf", "kbis.pdf"},
		{"../../etc/passwd", "passwd"},
		{"photo\u202egpj.exe", "photogpj.exe"},
		{"a\x00b\r\nc.pdf", "abc.pdf"},
		{"what?*.pdf", "what__.pdf"},
		{"...", ""},
		{"Pie\u0300ce d'identite\u0301.pdf", "Pièce d'identité.pdf"},
	}
	for _, c := range cases {
		if got, _ := sanitizeFilename(c.in); got != c.want {
			t.Errorf("sanitizeFilename(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	long := string(bytes.Repeat([]byte("é"), 200)) + ".pdf"
	if got, note := sanitizeFilename(long); len(got) > maxFilename || got[len(got)-4:] != ".pdf" || note == "" {
		t.Errorf("long name: %q (%d bytes) %q", got, len(got), note)
	}
}
