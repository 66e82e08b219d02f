// Package testfiles makes documents whose bytes are what they claim to be,
// for tests and the benchmark: a JPEG that decodes, a PDF with a page.
// A document's type counts only with such bytes
// (recoverybot.Document.Satisfies), so a header followed by junk no
// longer passes for a photo.
package testfiles

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
)

// JPEG returns a 320×240 baseline JPEG carrying padding in comment
// segments (COM, ITU T.81 §B.2.4.5) after its start marker: a file of
// about len(padding) bytes more that still decodes, different for
// different padding.
func JPEG(padding []byte) []byte {
	img := image.NewGray(image.Rect(0, 0, 320, 240))
	for y := range 240 {
		for x := range 320 {
			img.SetGray(x, y, color.Gray{Y: uint8(x ^ y)})
		}
	}
	var enc bytes.Buffer
	if err := jpeg.Encode(&enc, img, &jpeg.Options{Quality: 50}); err != nil {
		panic(fmt.Sprintf("testfiles: encode JPEG: %v", err)) // an in-memory image always encodes
	}
	b := enc.Bytes()
	out := append([]byte{}, b[:2]...) // SOI
	for len(padding) > 0 {
		n := min(len(padding), 65533)
		out = append(out, 0xFF, 0xFE, byte((n+2)>>8), byte(n+2))
		out = append(out, padding[:n]...)
		padding = padding[n:]
	}
	return append(out, b[2:]...)
}

// PDF returns a one-page PDF whose page shows text in Helvetica.
func PDF(text string) []byte {
	content := fmt.Sprintf("BT /F1 12 Tf 72 720 Td (%s) Tj ET", text)
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	return PDFOf(objects)
}

// PDFOf writes a PDF of the given objects, numbered from 1 in order, the
// first being the catalog, with its cross-reference table and trailer.
func PDFOf(objects []string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return b.Bytes()
}
