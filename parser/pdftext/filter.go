package pdftext

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/ascii85"
	"errors"
	"fmt"
	"io"

	"github.com/recoverybot/recoverybot/parser/internal/work"
)

// errBudget is returned when the decompression budget is spent.
var errBudget = errors.New("decompression limit reached")

// errWork is returned when the work budget is spent.
var errWork = errors.New("work budget spent")

// decode applies a stream's filters (§7.4), drawing on the document's
// decompression budget. Partial output of a damaged stream is returned
// with its error.
func (d *doc) decode(o *object) ([]byte, error) {
	filters := o.dict["Filter"]
	parms := o.dict["DecodeParms"]
	if parms == nil {
		parms = o.dict["DP"]
	}
	var fs []string
	var ps []dict
	switch f := d.resolve(filters).(type) {
	case name:
		fs = []string{string(f)}
		ps = []dict{d.dictOf(parms)}
	case array:
		pa, _ := d.resolve(parms).(array)
		for i, e := range f {
			fs = append(fs, nameOf(d.resolve(e)))
			var p dict
			if i < len(pa) {
				p = d.dictOf(pa[i])
			}
			ps = append(ps, p)
		}
	}
	data := o.stream
	if len(fs) > 8 {
		return nil, fmt.Errorf("%d filters", len(fs))
	}
	for i, f := range fs {
		remaining := d.lim.MaxDecoded - d.decoded
		if remaining <= 0 {
			d.limited["decoded"] = true
			return nil, errBudget
		}
		limit := min(remaining, d.lim.MaxStream)
		out, err := applyFilter(f, ps[i], data, limit, d.w)
		d.decoded += int64(len(out))
		if errors.Is(err, errBudget) {
			d.limited["decoded"] = true
			return out, err
		}
		if errors.Is(err, errWork) {
			return out, err
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w", f, err)
		}
		data = out
	}
	return data, nil
}

// applyFilter decodes data through filter f, at most limit bytes, each
// byte read and written charged to w.
func applyFilter(f string, p dict, data []byte, limit int64, w *work.Budget) ([]byte, error) {
	if !w.Spend(int64(len(data))) {
		return nil, errWork
	}
	switch f {
	case "FlateDecode", "Fl":
		out, err := inflate(data, limit, w)
		if err != nil && !errors.Is(err, errBudget) && !errors.Is(err, errWork) && len(out) == 0 {
			return out, err
		}
		if p != nil && !errors.Is(err, errWork) {
			if !w.Spend(int64(len(out))) {
				return out, errWork
			}
			out = predict(out, p)
		}
		return out, budgetErr(err)
	case "ASCIIHexDecode", "AHx":
		l := &lexer{b: append(append([]byte{'<'}, data...), '>')}
		return l.hexString(), nil
	case "ASCII85Decode", "A85":
		if i := bytes.Index(data, []byte("~>")); i >= 0 {
			data = data[:i]
		}
		data = bytes.TrimPrefix(bytes.TrimSpace(data), []byte("<~"))
		return readLimited(ascii85.NewDecoder(bytes.NewReader(data)), limit, w)
	case "RunLengthDecode", "RL":
		return runLength(data, limit, w)
	case "":
		return data, nil
	}
	return nil, fmt.Errorf("unsupported filter")
}

func budgetErr(err error) error {
	if errors.Is(err, errBudget) || errors.Is(err, errWork) {
		return err
	}
	return nil
}

// inflate decompresses zlib data, or raw deflate data as some writers
// produce, at most limit bytes.
func inflate(data []byte, limit int64, w *work.Budget) ([]byte, error) {
	var r io.Reader
	zr, err := zlib.NewReader(bytes.NewReader(data))
	if err == nil {
		r = zr
	} else {
		r = flate.NewReader(bytes.NewReader(data))
	}
	return readLimited(r, limit, w)
}

// readLimited reads r to its end or to limit bytes, charging w each byte
// read. A read error after some output (a truncated stream) keeps what
// was read; a spent budget returns it with errWork.
func readLimited(r io.Reader, limit int64, w *work.Budget) ([]byte, error) {
	buf := &meteredBuffer{w: w}
	n, err := io.Copy(buf, io.LimitReader(r, limit+1))
	if errors.Is(err, errWork) {
		return buf.b.Bytes(), errWork
	}
	if n > limit {
		return buf.b.Bytes()[:limit], errBudget
	}
	if err != nil && buf.b.Len() > 0 {
		return buf.b.Bytes(), nil
	}
	return buf.b.Bytes(), err
}

// meteredBuffer is a buffer whose writes are charged to a work budget.
// It is no io.ReaderFrom, so that io.Copy writes to it in chunks.
type meteredBuffer struct {
	b bytes.Buffer
	w *work.Budget
}

func (m *meteredBuffer) Write(p []byte) (int, error) {
	if !m.w.Spend(int64(len(p))) {
		return 0, errWork
	}
	return m.b.Write(p)
}

func runLength(data []byte, limit int64, w *work.Budget) ([]byte, error) {
	var out []byte
	for i := 0; i < len(data); {
		n := int(data[i])
		i++
		switch {
		case n == 128:
			return out, nil
		case n < 128:
			end := min(i+n+1, len(data))
			out = append(out, data[i:end]...)
			i = end
		default:
			if i >= len(data) {
				return out, nil
			}
			out = append(out, bytes.Repeat(data[i:i+1], 257-n)...)
			i++
		}
		if !w.Spend(int64(n&0x7f) + 1) {
			return out, errWork
		}
		if int64(len(out)) > limit {
			return out[:limit], errBudget
		}
	}
	return out, nil
}

// predict undoes a PNG predictor (§7.4.4.4); TIFF predictor 2 and
// unknown predictors leave the data as is.
func predict(data []byte, p dict) []byte {
	pred, _ := p["Predictor"].(number)
	if pred < 10 {
		return data
	}
	cols, _ := p["Columns"].(number)
	colors, _ := p["Colors"].(number)
	bpc, _ := p["BitsPerComponent"].(number)
	if cols <= 0 {
		cols = 1
	}
	if colors <= 0 {
		colors = 1
	}
	if bpc <= 0 {
		bpc = 8
	}
	if cols > 1<<20 || colors > 64 || bpc > 16 {
		return data
	}
	bpp := max(1, int(colors*bpc+7)/8)
	rowLen := (int(cols*colors*bpc) + 7) / 8
	if rowLen <= 0 {
		return data
	}
	out := make([]byte, 0, len(data))
	prev := make([]byte, rowLen)
	for i := 0; i+1 <= len(data); i += rowLen + 1 {
		ft := data[i]
		end := min(i+1+rowLen, len(data))
		row := append([]byte(nil), data[i+1:end]...)
		for len(row) < rowLen {
			row = append(row, 0)
		}
		for j := range row {
			var a, c byte
			if j >= bpp {
				a = row[j-bpp]
				c = prev[j-bpp]
			}
			b := prev[j]
			switch ft {
			case 1:
				row[j] += a
			case 2:
				row[j] += b
			case 3:
				row[j] += byte((int(a) + int(b)) / 2)
			case 4:
				row[j] += paeth(a, b, c)
			}
		}
		out = append(out, row...)
		prev = row
	}
	return out
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
