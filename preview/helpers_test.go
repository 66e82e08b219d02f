package preview_test

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot/internal/testfiles"
	"github.com/recoverybot/recoverybot/preview"
)

// gpsSecret is in the GPS directory of exifJPEG's EXIF: it must not
// reach a preview.
const gpsSecret = "GPS-SECRET-48.8584N-2.2945E"

// exifJPEG returns a w×h colour JPEG with an APP1 EXIF segment (CIPA
// DC-008 §4.5.4) whose GPS directory holds a latitude and gpsSecret.
func exifJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 5), uint8(x ^ y), 255})
		}
	}
	var enc bytes.Buffer
	if err := jpeg.Encode(&enc, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	// TIFF structure, little-endian: IFD0 at 8 with one entry, the GPS
	// IFD pointer (0x8825); the GPS IFD with GPSLatitudeRef (1),
	// GPSLatitude (2, three rationals) and GPSMapDatum (18, ASCII).
	le := binary.LittleEndian
	var tiff []byte
	tiff = append(tiff, "II*\x00"...)
	tiff = le.AppendUint32(tiff, 8)
	entry := func(tag, typ uint16, count, value uint32) {
		tiff = le.AppendUint16(tiff, tag)
		tiff = le.AppendUint16(tiff, typ)
		tiff = le.AppendUint32(tiff, count)
		tiff = le.AppendUint32(tiff, value)
	}
	const gpsIFD = 8 + 2 + 12 + 4
	tiff = le.AppendUint16(tiff, 1)
	entry(0x8825, 4, 1, gpsIFD)
	tiff = le.AppendUint32(tiff, 0)
	const gpsData = gpsIFD + 2 + 3*12 + 4
	datum := gpsSecret + "\x00"
	tiff = le.AppendUint16(tiff, 3)
	entry(1, 2, 2, uint32('N'))
	entry(2, 5, 3, gpsData)
	entry(18, 2, uint32(len(datum)), gpsData+24)
	tiff = le.AppendUint32(tiff, 0)
	for _, r := range [][2]uint32{{48, 1}, {51, 1}, {2964, 100}} {
		tiff = le.AppendUint32(tiff, r[0])
		tiff = le.AppendUint32(tiff, r[1])
	}
	tiff = append(tiff, datum...)
	app1 := append([]byte("Exif\x00\x00"), tiff...)

	b := enc.Bytes()
	out := append([]byte{}, b[:2]...) // SOI
	out = append(out, 0xFF, 0xE1, byte((len(app1)+2)>>8), byte(len(app1)+2))
	out = append(out, app1...)
	return append(out, b[2:]...)
}

// chunk returns a PNG chunk with its CRC (PNG §5.3).
func chunk(typ string, data []byte) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(append([]byte(typ), data...)))
}

// bombPNG returns a PNG of a few dozen bytes whose header declares w×h
// RGBA pixels: decoding it would allocate 4·w·h bytes.
func bombPNG(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8 bits, RGBA, deflate, no filter, not interlaced
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(make([]byte, 1024))
	zw.Close()
	b := []byte("\x89PNG\r\n\x1a\n")
	b = append(b, chunk("IHDR", ihdr)...)
	b = append(b, chunk("IDAT", z.Bytes())...)
	return append(b, chunk("IEND", nil)...)
}

// textPNG returns a w×h PNG with a tEXt chunk carrying secret.
func textPNG(t testing.TB, w, h int, secret string) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 31)
	}
	var enc bytes.Buffer
	if err := png.Encode(&enc, img); err != nil {
		t.Fatal(err)
	}
	b := enc.Bytes()
	// tEXt after IHDR: signature (8) + IHDR chunk (25).
	out := append([]byte{}, b[:33]...)
	out = append(out, chunk("tEXt", []byte("Comment\x00"+secret))...)
	return append(out, b[33:]...)
}

// twoFrameGIF returns a GIF whose logical screen is 20×16, with a first
// frame of 10×8 at (2, 3) and a second covering the screen.
func twoFrameGIF(t testing.TB) []byte {
	t.Helper()
	first := image.NewPaletted(image.Rect(2, 3, 12, 11), palette.Plan9)
	for i := range first.Pix {
		first.Pix[i] = uint8(i)
	}
	second := image.NewPaletted(image.Rect(0, 0, 20, 16), palette.Plan9)
	var b bytes.Buffer
	err := gif.EncodeAll(&b, &gif.GIF{
		Image:  []*image.Paletted{first, second},
		Delay:  []int{10, 10},
		Config: image.Config{ColorModel: color.Palette(palette.Plan9), Width: 20, Height: 16},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// buildPDF returns a PDF with one page per text, each of the given
// MediaBox, in Helvetica.
func buildPDF(mediaBox string, texts ...string) []byte {
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"", // the page tree, once the pages are numbered
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var kids []string
	for _, text := range texts {
		page := len(objects) + 1
		kids = append(kids, fmt.Sprintf("%d 0 R", page))
		content := fmt.Sprintf("BT /F1 24 Tf 72 720 Td (%s) Tj ET", text)
		objects = append(objects,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [%s] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", mediaBox, page+1),
			fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	}
	objects[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(texts))
	return testfiles.PDFOf(objects)
}

// checkPages fails unless every page is a PNG of only the chunks this
// package's encoder writes, decoding to the page's stated size.
func checkPages(t testing.TB, pages []preview.Page) {
	t.Helper()
	for i, p := range pages {
		img, err := png.Decode(bytes.NewReader(p.PNG))
		if err != nil {
			t.Fatalf("page %d: not a PNG: %v", i+1, err)
		}
		if b := img.Bounds(); b.Dx() != p.Width || b.Dy() != p.Height {
			t.Fatalf("page %d: decodes to %v, states %d×%d", i+1, b, p.Width, p.Height)
		}
		for _, typ := range chunkTypes(t, p.PNG) {
			switch typ {
			case "IHDR", "PLTE", "tRNS", "IDAT", "IEND":
			default:
				t.Errorf("page %d: chunk %q", i+1, typ)
			}
		}
	}
}

// chunkTypes lists the chunk types of a PNG.
func chunkTypes(t testing.TB, b []byte) []string {
	t.Helper()
	var types []string
	for i := 8; i+12 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[i:]))
		types = append(types, string(b[i+4:i+8]))
		i += 12 + n
	}
	return types
}
