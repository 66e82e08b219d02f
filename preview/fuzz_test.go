package preview_test

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot/preview"
)

// FuzzRender: no input makes Render panic, every error is one line
// wrapping a sentinel, and every page is a PNG that decodes to its
// stated size. pdftoppm is not run: a PDF is an ErrRender.
func FuzzRender(f *testing.F) {
	f.Add(exifJPEG(f, 16, 12))
	f.Add(textPNG(f, 5, 4, "comment"))
	f.Add(twoFrameGIF(f))
	f.Add(bombPNG(100000, 100000))
	f.Add(bombPNG(3, 2))
	f.Add(buildPDF(a4, "x"))
	f.Add([]byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`))
	f.Add([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"))
	f.Add([]byte("\xFF\xD8\xFF\xC0\x00\x11\x08\x03\xE8\x75\x30\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"))
	r := preview.New(preview.Options{MaxPixels: 1 << 20, Pdftoppm: filepath.Join(f.TempDir(), "no-pdftoppm")})
	f.Fuzz(func(t *testing.T, data []byte) {
		pages, err := r.Render(context.Background(), data)
		if bytes.HasPrefix(data, []byte("%PDF-")) && !errors.Is(err, preview.ErrRender) {
			t.Fatalf("a PDF without pdftoppm: %v, want ErrRender", err)
		}
		if err != nil {
			if pages != nil {
				t.Fatalf("pages with an error: %v", err)
			}
			if !errors.Is(err, preview.ErrUnsupported) && !errors.Is(err, preview.ErrTooLarge) && !errors.Is(err, preview.ErrRender) {
				t.Fatalf("error %q wraps no sentinel", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error on more than one line: %q", err)
			}
			return
		}
		if len(pages) != 1 {
			t.Fatalf("%d pages for an image", len(pages))
		}
		for _, p := range pages {
			cfg, err := png.DecodeConfig(bytes.NewReader(p.PNG))
			if err != nil || cfg.Width != p.Width || cfg.Height != p.Height {
				t.Fatalf("page %d×%d: header %v, %v", p.Width, p.Height, cfg, err)
			}
			if int64(p.Width)*int64(p.Height) > 1<<20 {
				t.Fatalf("page of %d×%d pixels, more than MaxPixels", p.Width, p.Height)
			}
			if _, err := png.Decode(bytes.NewReader(p.PNG)); err != nil {
				t.Fatalf("page does not decode: %v", err)
			}
		}
	})
}
