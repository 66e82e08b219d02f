package preview

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The sentinel errors of Render. Each error Render returns wraps one of
// them (or the caller's context error) and is one line that never quotes
// the document.
var (
	// ErrUnsupported: the bytes are not a format this package previews
	// (SVG, HTML, HEIC, office files, unknown). The original is
	// then only downloadable, through an audited action elsewhere.
	ErrUnsupported = errors.New("preview: unsupported document type")
	// ErrTooLarge: an image or a page has more pixels than
	// Options.MaxPixels, would take more memory to decode than they
	// allow, or pdftoppm wrote more than Options.MaxOutput.
	ErrTooLarge = errors.New("preview: document too large to preview")
	// ErrTimeout: pdftoppm ran longer than Options.Timeout (or used up
	// its CPU limit) and was killed with its whole process group.
	ErrTimeout = errors.New("preview: rendering timed out")
	// ErrRender: the document is malformed, pdftoppm failed or is
	// missing, or its output is not what it should be.
	ErrRender = errors.New("preview: cannot render document")
)

// Defaults of Options.
const (
	defaultMaxPixels = 40_000_000
	defaultMaxPages  = 10
	defaultTimeout   = 20 * time.Second
	defaultDPI       = 110
	defaultMaxOutput = 64 << 20
	defaultPdftoppm  = "pdftoppm"

	// maxPixelsCeiling caps Options.MaxPixels whatever it says: a
	// gigapixel image takes 4 GiB, and beyond this the memory estimates
	// of the decoding would overflow.
	maxPixelsCeiling = 1 << 30

	// concurrentRenders bounds the renders one Renderer runs at once, so
	// that an agent paging through a case cannot start a pdftoppm and an
	// image decode per document in parallel: the memory bounds below
	// hold per render, this multiplies them by at most 2.
	concurrentRenders = 2
	// defaultMaxSide keeps a 12-megapixel phone photo's preview to a few
	// megabytes of PNG, still sharp enough to read an ID card.
	defaultMaxSide = 2000
)

// Options bound the work. Zero values mean the defaults in brackets.
type Options struct {
	MaxPixels int64         // [40_000_000] decoded width*height allowed per image/page, checked from the header (image.DecodeConfig) BEFORE decoding
	MaxSide   int           // [2000] a preview's longest side in pixels: larger images are scaled down
	MaxPages  int           // [10] PDF pages rendered
	Timeout   time.Duration // [20s] whole pdftoppm run
	DPI       int           // [110] PDF render resolution
	MaxOutput int64         // [64 MiB] total bytes pdftoppm may write
	Pdftoppm  string        // ["pdftoppm" looked up in PATH]
	TempDir   string        // [os.TempDir()] where pdftoppm works, in a fresh private dir removed afterwards
}

// withDefaults returns o with every zero (or negative) field replaced by
// its default.
func (o Options) withDefaults() Options {
	if o.MaxPixels <= 0 {
		o.MaxPixels = defaultMaxPixels
	}
	o.MaxPixels = min(o.MaxPixels, maxPixelsCeiling)
	if o.MaxPages <= 0 {
		o.MaxPages = defaultMaxPages
	}
	if o.MaxSide <= 0 {
		o.MaxSide = defaultMaxSide
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.DPI <= 0 {
		o.DPI = defaultDPI
	}
	if o.MaxOutput <= 0 {
		o.MaxOutput = defaultMaxOutput
	}
	if o.Pdftoppm == "" {
		o.Pdftoppm = defaultPdftoppm
	}
	return o
}

// Page is one re-encoded image: a PNG made here from decoded pixels, so
// it carries nothing of the original file but its pixels.
type Page struct {
	PNG           []byte
	Width, Height int
}

// Renderer makes previews under the bounds of its Options. It is safe
// for concurrent use; at most two renders run at once, the others wait
// (or give up with their context).
type Renderer struct {
	o   Options
	sem chan struct{}
}

// New returns a Renderer bounded by o, defaults filled in. It does not
// look for pdftoppm: a missing one is an ErrRender from the first PDF.
func New(o Options) *Renderer {
	return &Renderer{o: o.withDefaults(), sem: make(chan struct{}, concurrentRenders)}
}

// Render sniffs data (a declared type is never asked for, so never
// trusted) and returns its preview: one Page for a JPEG, PNG, GIF (its
// first frame), WebP or TIFF (its first image), scaled down to MaxSide, one Page per page for a PDF, at most
// Options.MaxPages. Anything else is ErrUnsupported.
func (r *Renderer) Render(ctx context.Context, data []byte) ([]Page, error) {
	f := sniff(data)
	if f.kind == kindUnsupported {
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, f.name)
	}
	select {
	case r.sem <- struct{}{}:
		defer func() { <-r.sem }()
	case <-ctx.Done():
		return nil, fmt.Errorf("preview: wait for a render slot: %w", ctx.Err())
	}
	if f.kind == kindPDF {
		return r.renderPDF(ctx, data)
	}
	p, err := r.reencode(f, data)
	if err != nil {
		return nil, err
	}
	return []Page{p}, nil
}

type kind int

const (
	kindUnsupported kind = iota
	kindJPEG
	kindPNG
	kindGIF
	kindWebP
	kindTIFF
	kindPDF
)

// format is what the bytes show: a kind and its name for messages.
type format struct {
	kind kind
	name string
}

// sniff recognises a format by its signature, as parser does: the image
// signatures at offset 0, a PDF header anywhere in the first 1024 bytes
// (where PDF readers look for it, ISO 32000-1 §7.5.2 and its implementation
// note). Everything else is named by http.DetectContentType's class, never
// by its own bytes.
func sniff(b []byte) format {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return format{kindJPEG, "jpeg"}
	case bytes.HasPrefix(b, pngSignature):
		return format{kindPNG, "png"}
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return format{kindGIF, "gif"}
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return format{kindWebP, "webp"}
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return format{kindTIFF, "tiff"}
	case bytes.Contains(b[:min(len(b), 1024)], []byte("%PDF-")):
		return format{kindPDF, "pdf"}
	}
	if len(b) == 0 {
		return format{kindUnsupported, "empty"}
	}
	t, _, _ := strings.Cut(http.DetectContentType(b), ";")
	return format{kindUnsupported, t}
}
