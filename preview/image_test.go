package preview_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"runtime"
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot/preview"
)

// TestJPEGDropsEXIF: a JPEG with EXIF GPS data comes out a PNG of the
// same size without any of the EXIF bytes.
func TestJPEGDropsEXIF(t *testing.T) {
	t.Parallel()
	in := exifJPEG(t, 64, 48)
	if !bytes.Contains(in, []byte(gpsSecret)) || !bytes.Contains(in, []byte("Exif\x00\x00")) {
		t.Fatal("the fixture carries no EXIF")
	}
	if _, err := jpeg.Decode(bytes.NewReader(in)); err != nil {
		t.Fatalf("the fixture does not decode: %v", err)
	}
	pages, err := preview.New(preview.Options{}).Render(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 1 {
		t.Fatalf("%d pages, want 1", len(pages))
	}
	checkPages(t, pages)
	p := pages[0]
	if p.Width != 64 || p.Height != 48 {
		t.Errorf("%d×%d, want 64×48", p.Width, p.Height)
	}
	for _, leak := range []string{"Exif", gpsSecret, "II*\x00", "\x30\x00\x00\x00\x01\x00\x00\x00\x33\x00\x00\x00"} {
		if bytes.Contains(p.PNG, []byte(leak)) {
			t.Errorf("the preview contains %q", leak)
		}
	}
}

// TestPNGDropsText: a PNG's text chunk does not survive; its pixels do.
func TestPNGDropsText(t *testing.T) {
	t.Parallel()
	in := textPNG(t, 9, 7, "secret comment")
	pages, err := preview.New(preview.Options{}).Render(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	checkPages(t, pages)
	if bytes.Contains(pages[0].PNG, []byte("secret comment")) {
		t.Error("the preview keeps the tEXt chunk")
	}
	want, _ := png.Decode(bytes.NewReader(in))
	got, _ := png.Decode(bytes.NewReader(pages[0].PNG))
	if !samePixels(want, got) {
		t.Error("the pixels changed")
	}
}

// TestGIFFirstFrame: a GIF gives its first frame only.
func TestGIFFirstFrame(t *testing.T) {
	t.Parallel()
	in := twoFrameGIF(t)
	pages, err := preview.New(preview.Options{}).Render(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 1 {
		t.Fatalf("%d pages, want 1", len(pages))
	}
	checkPages(t, pages)
	if p := pages[0]; p.Width != 10 || p.Height != 8 {
		t.Errorf("%d×%d, want the first frame's 10×8", p.Width, p.Height)
	}
	all, err := gif.DecodeAll(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := png.Decode(bytes.NewReader(pages[0].PNG))
	if !samePixels(all.Image[0], got) {
		t.Error("the pixels are not the first frame's")
	}
}

// TestPixelBomb: a PNG declaring 100000×100000 pixels is refused from
// its header, before the 40 GB its pixels would take are asked for.
// Not parallel: it measures the bytes allocated by the whole process.
func TestPixelBomb(t *testing.T) {
	bomb := bombPNG(100000, 100000)
	r := preview.New(preview.Options{})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := r.Render(context.Background(), bomb)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, preview.ErrTooLarge) {
		t.Fatalf("Render = %v, want ErrTooLarge", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("refusing the bomb allocated %d bytes", n)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error on more than one line: %q", err)
	}
}

// TestSizeBounds: MaxPixels holds exactly, and the decode memory bound
// refuses what the pixel bound lets through when the decoding would take
// more than 8 bytes per allowed pixel (a colour JPEG is counted at 13).
func TestSizeBounds(t *testing.T) {
	t.Parallel()
	jpg := exifJPEG(t, 64, 48) // 3072 pixels
	png := textPNG(t, 64, 48, "x")
	cases := []struct {
		name      string
		data      []byte
		maxPixels int64
		want      error
	}{
		{"png at the bound", png, 3072, nil},
		{"png over the bound", png, 3071, preview.ErrTooLarge},
		{"jpeg within the memory budget", jpg, 3072 * 13 / 8, nil},
		{"jpeg over the memory budget", jpg, 3072, preview.ErrTooLarge},
		{"bomb past the ceiling of MaxPixels", bombPNG(1<<20, 1<<20), 1 << 62, preview.ErrTooLarge},
	}
	for _, c := range cases {
		_, err := preview.New(preview.Options{MaxPixels: c.maxPixels}).Render(context.Background(), c.data)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: Render = %v, want %v", c.name, err, c.want)
		}
	}
}

// TestUnsupported: active content and formats without a decoder here
// get no preview, whatever a file name or label says.
func TestUnsupported(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"svg with script":      `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(document.cookie)</script></svg>`,
		"bare svg":             `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`,
		"html named cni.jpg":   "<!DOCTYPE html><html><body><script>fetch('/cases')</script></body></html>",
		"html after spaces":    "\n\n   <html><img src=x onerror=alert(1)>",
		"tiff":                 "II*\x00\x08\x00\x00\x00\x00\x00",
		"webp":                 "RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00",
		"text":                 "hello",
		"empty":                "",
		"jpeg magic too short": "\xFF\xD8",
	}
	r := preview.New(preview.Options{})
	for name, data := range cases {
		pages, err := r.Render(context.Background(), []byte(data))
		if !errors.Is(err, preview.ErrUnsupported) || pages != nil {
			t.Errorf("%s: Render = %d pages, %v; want ErrUnsupported", name, len(pages), err)
			continue
		}
		if strings.Contains(err.Error(), "script") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: the error quotes the document: %q", name, err)
		}
	}
}

// TestMalformedImage: an image cut short or corrupt is ErrRender, and
// the error does not quote it.
func TestMalformedImage(t *testing.T) {
	t.Parallel()
	jpg := exifJPEG(t, 64, 48)
	gifBytes := twoFrameGIF(t)
	// Header (6), logical screen (7), global colour table (768), then a
	// block of an unknown type: gif's error quotes its byte.
	badBlock := append(append([]byte{}, gifBytes[:781]...), 0x99)
	cases := map[string][]byte{
		"jpeg cut in its header": jpg[:40],
		"jpeg cut in its scan":   jpg[:len(jpg)-200],
		"png signature only":     []byte("\x89PNG\r\n\x1a\n"),
		"png of zero pixels":     bombPNG(0, 10),
		"gif header only":        []byte("GIF89a\x01\x00"),
		"gif with a bad block":   badBlock,
	}
	r := preview.New(preview.Options{})
	for name, data := range cases {
		_, err := r.Render(context.Background(), data)
		if !errors.Is(err, preview.ErrRender) {
			t.Errorf("%s: Render = %v, want ErrRender", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "0x99") {
			t.Errorf("%s: the error quotes the document: %q", name, err)
		}
	}
}

func samePixels(a, b image.Image) bool {
	ab, bb := a.Bounds(), b.Bounds()
	if ab.Dx() != bb.Dx() || ab.Dy() != bb.Dy() {
		return false
	}
	for y := range ab.Dy() {
		for x := range ab.Dx() {
			r1, g1, b1, a1 := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, a2 := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				return false
			}
		}
	}
	return true
}
