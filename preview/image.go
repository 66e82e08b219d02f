package preview

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
)

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// decodeBytesPerPixel is the decode memory budget, in bytes per pixel
// Options.MaxPixels allows: an image whose decoding (with the conversion
// the re-encoding needs) is estimated to take more than
// 8 × MaxPixels bytes is refused even when its pixel count passes.
const decodeBytesPerPixel = 8

// reencode decodes an image of format f, after checking from its header
// that its pixels and its decoding memory are within bounds, and encodes
// the pixels anew as a PNG. Only pixels cross: metadata (EXIF, XMP, ICC
// profiles, comments, text chunks, later GIF frames) is never read into
// the result.
func (r *Renderer) reencode(f format, data []byte) (Page, error) {
	var (
		decodeConfig func(io.Reader) (image.Config, error)
		decode       func(io.Reader) (image.Image, error)
	)
	switch f.kind {
	case kindJPEG:
		decodeConfig, decode = jpeg.DecodeConfig, jpeg.Decode
	case kindPNG:
		decodeConfig, decode = png.DecodeConfig, png.Decode
	case kindGIF:
		// gif.Decode reads the first frame only and stops.
		decodeConfig, decode = gif.DecodeConfig, gif.Decode
	default:
		return Page{}, fmt.Errorf("%w: %s", ErrUnsupported, f.name)
	}
	cfg, err := decodeConfig(bytes.NewReader(data))
	if err != nil {
		return Page{}, fmt.Errorf("%w: read %s header: %s", ErrRender, f.name, describe(err))
	}
	if err := r.checkSize(f, cfg); err != nil {
		return Page{}, err
	}
	img, err := decode(bytes.NewReader(data))
	if err != nil {
		return Page{}, fmt.Errorf("%w: decode %s: %s", ErrRender, f.name, describe(err))
	}
	return encode(img)
}

// checkSize refuses an image whose header declares no pixels, more than
// MaxPixels, or a decoding estimated to need more than the memory budget.
func (r *Renderer) checkSize(f format, cfg image.Config) error {
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return fmt.Errorf("%w: %s of %d×%d pixels", ErrRender, f.name, cfg.Width, cfg.Height)
	}
	// Width and height are at most 2³¹-1 each in every format read here,
	// and MaxPixels at most maxPixelsCeiling, so the products below fit
	// an int64.
	pixels := int64(cfg.Width) * int64(cfg.Height)
	if pixels > r.o.MaxPixels {
		return fmt.Errorf("%w: %s of %d×%d pixels, more than %d", ErrTooLarge, f.name, cfg.Width, cfg.Height, r.o.MaxPixels)
	}
	if need, budget := pixels*decodeCost(f.kind, cfg.ColorModel), r.o.MaxPixels*decodeBytesPerPixel; need > budget {
		return fmt.Errorf("%w: %s of %d×%d pixels needs about %d MiB to decode, more than %d MiB", ErrTooLarge, f.name, cfg.Width, cfg.Height, need>>20, budget>>20)
	}
	return nil
}

// decodeCost estimates the bytes per pixel that decoding and re-encoding
// an image take at their peak: the decoded image, the coefficients a
// progressive JPEG keeps (two bytes per pixel per component; assumed for
// every JPEG, as its header is not read further), and the RGBA copy that
// encode makes of a YCbCr or CMYK image.
func decodeCost(k kind, m color.Model) int64 {
	if k == kindGIF {
		return 1 // a paletted frame
	}
	if k == kindJPEG {
		switch m {
		case color.GrayModel:
			return 1 + 2
		case color.CMYKModel:
			return 4 + 4*2 + 4
		default: // YCbCr, at most 4:4:4
			return 3 + 3*2 + 4
		}
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.RGBAModel, color.NRGBAModel:
		return 4
	default: // RGBA64, NRGBA64 and anything unforeseen
		return 8
	}
}

// encode writes img as a PNG. The encoder has fast paths for the gray,
// RGBA, NRGBA and paletted images Go's decoders make; a YCbCr or CMYK
// image (a JPEG) is first converted to RGBA, which image/draw does
// quickly, where the encoder would convert pixel by pixel through
// interfaces.
func encode(img image.Image) (Page, error) {
	switch img.(type) {
	case *image.YCbCr, *image.CMYK:
		b := img.Bounds()
		rgba := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(rgba, rgba.Bounds(), img, b.Min, draw.Src)
		img = rgba
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		// An in-memory image of positive size always encodes.
		return Page{}, fmt.Errorf("%w: encode png: %v", ErrRender, err)
	}
	b := img.Bounds()
	return Page{PNG: buf.Bytes(), Width: b.Dx(), Height: b.Dy()}, nil
}

// describe says why a decoder failed without quoting it: some decoders'
// messages carry bytes of the image (gif's "unknown block type: 0x..").
func describe(err error) string {
	var pngUnsupported png.UnsupportedError
	var jpegUnsupported jpeg.UnsupportedError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "truncated"
	case errors.As(err, &pngUnsupported), errors.As(err, &jpegUnsupported):
		return "unsupported feature"
	}
	return "malformed"
}
