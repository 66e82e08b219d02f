// Package testpdf builds small PDF files for the parser's tests and
// fixtures: pages of text in a standard or a ToUnicode-mapped font, and
// the hostile features the parser must notice (encryption, JavaScript,
// embedded files, object streams, truncation).
package testpdf

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"strings"

	"golang.org/x/text/encoding/charmap"
)

// Options choose the features of the file.
type Options struct {
	ToUnicode    bool // text in a Type0 font whose codes only its ToUnicode CMap explains
	ObjectStream bool // page and font dictionaries inside a compressed object stream
	Encrypt      bool // an /Encrypt dictionary in the trailer
	JavaScript   bool // an /OpenAction running JavaScript
	OpenAtPage   bool // an /OpenAction that is a plain destination (not active content)
	EmbeddedFile bool // an embedded file in the name tree
	Truncate     bool // cut in the middle, without %%EOF
	NoCompress   bool // content streams uncompressed
}

// Build returns a PDF whose pages show the given lines of text.
func Build(pages [][]string, o Options) []byte {
	type obj struct {
		num  int
		body string
	}
	var objs []obj
	next := 1
	alloc := func() int { next++; return next - 1 }
	catalog, pagesNum, font := alloc(), alloc(), alloc()
	var toUni int
	glyphs := map[rune]int{}
	if o.ToUnicode {
		toUni = alloc()
		for _, p := range pages {
			for _, l := range p {
				for _, r := range l {
					if _, ok := glyphs[r]; !ok {
						glyphs[r] = len(glyphs) + 3
					}
				}
			}
		}
	}
	var pageNums, contentNums []int
	for range pages {
		pageNums = append(pageNums, alloc())
		contentNums = append(contentNums, alloc())
	}
	var inStream []obj
	add := func(num int, body string, compressible bool) {
		if o.ObjectStream && compressible {
			inStream = append(inStream, obj{num, body})
			return
		}
		objs = append(objs, obj{num, body})
	}
	cat := fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R", pagesNum)
	if o.JavaScript {
		cat += " /OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >>"
	}
	if o.OpenAtPage {
		cat += fmt.Sprintf(" /OpenAction [%d 0 R /Fit]", pageNums[0])
	}
	if o.EmbeddedFile {
		ef := alloc()
		objs = append(objs, obj{ef, streamObj("<< /Type /EmbeddedFile >>", []byte("MZ not really"), false)})
		cat += fmt.Sprintf(" /Names << /EmbeddedFiles << /Names [(setup.exe) << /Type /Filespec /F (setup.exe) /EF << /F %d 0 R >> >>] >> >>", ef)
	}
	cat += " >>"
	objs = append(objs, obj{catalog, cat})
	var kids []string
	for _, n := range pageNums {
		kids = append(kids, fmt.Sprintf("%d 0 R", n))
	}
	add(pagesNum, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(pages)), true)
	if o.ToUnicode {
		add(font, fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /ABCDEF+Arial /Encoding /Identity-H /DescendantFonts [] /ToUnicode %d 0 R >>", toUni), true)
		var b strings.Builder
		b.WriteString("/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n1 begincodespacerange <0000> <FFFF> endcodespacerange\n")
		fmt.Fprintf(&b, "%d beginbfchar\n", len(glyphs))
		for r, g := range glyphs {
			fmt.Fprintf(&b, "<%04X> <%04X>\n", g, r)
		}
		b.WriteString("endbfchar\nendcmap CMapName currentdict /CMap defineresource pop end end\n")
		objs = append(objs, obj{toUni, streamObj("<< >>", []byte(b.String()), !o.NoCompress)})
	} else {
		add(font, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>", true)
	}
	for i, p := range pages {
		add(pageNums[i], fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>", pagesNum, font, contentNums[i]), true)
		var c strings.Builder
		c.WriteString("BT /F1 11 Tf 1 0 0 1 60 780 Tm 14 TL\n")
		for j, l := range p {
			if j > 0 {
				c.WriteString("T* ")
			}
			if o.ToUnicode {
				c.WriteString("<")
				for _, r := range l {
					fmt.Fprintf(&c, "%04X", glyphs[r])
				}
				c.WriteString("> Tj\n")
			} else {
				enc, _ := charmap.Windows1252.NewEncoder().String(l)
				c.WriteString("(" + escape(enc) + ") Tj\n")
			}
		}
		c.WriteString("ET\n")
		objs = append(objs, obj{contentNums[i], streamObj("<< >>", []byte(c.String()), !o.NoCompress)})
	}
	if len(inStream) > 0 {
		var header, body strings.Builder
		for _, s := range inStream {
			fmt.Fprintf(&header, "%d %d ", s.num, body.Len())
			body.WriteString(s.body + "\n")
		}
		h := header.String()
		data := h + body.String()
		objs = append(objs, obj{alloc(), streamObj(fmt.Sprintf("<< /Type /ObjStm /N %d /First %d >>", len(inStream), len(h)), []byte(data), true)})
	}
	var out bytes.Buffer
	out.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := map[int]int{}
	for _, ob := range objs {
		offsets[ob.num] = out.Len()
		fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", ob.num, ob.body)
	}
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", next)
	for n := 1; n < next; n++ {
		fmt.Fprintf(&out, "%010d 00000 n \n", offsets[n])
	}
	trailer := fmt.Sprintf("<< /Size %d /Root %d 0 R", next, catalog)
	if o.Encrypt {
		trailer += " /Encrypt << /Filter /Standard /V 2 /R 3 /Length 128 /P -3904 /O <00> /U <00> >>"
	}
	trailer += " >>"
	fmt.Fprintf(&out, "trailer\n%s\nstartxref\n%d\n%%%%EOF\n", trailer, xref)
	b := out.Bytes()
	if o.Truncate {
		b = b[:len(b)*2/3]
	}
	return b
}

func streamObj(dict string, data []byte, compress bool) string {
	if compress {
		var z bytes.Buffer
		w := zlib.NewWriter(&z)
		w.Write(data)
		w.Close()
		data = z.Bytes()
		dict = strings.TrimSuffix(dict, ">>") + " /Filter /FlateDecode >>"
	}
	dict = strings.TrimSuffix(dict, ">>") + fmt.Sprintf(" /Length %d >>", len(data))
	return dict + "\nstream\n" + string(data) + "\nendstream"
}

func escape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`)
	return r.Replace(s)
}

// Bomb returns a PDF whose one content stream inflates to n zero bytes.
func Bomb(n int) []byte {
	var z bytes.Buffer
	w, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zero := make([]byte, 1<<20)
	for left := n; left > 0; left -= len(zero) {
		w.Write(zero[:min(left, len(zero))])
	}
	w.Close()
	var out bytes.Buffer
	out.WriteString("%PDF-1.4\n")
	fmt.Fprintf(&out, "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n")
	fmt.Fprintf(&out, "3 0 obj\n<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>\nendobj\n")
	fmt.Fprintf(&out, "4 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n", z.Len())
	out.Write(z.Bytes())
	out.WriteString("\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
	return out.Bytes()
}

// CMapBomb returns a small PDF whose one page selects, ops times, a
// Type0 font given inline in its resources, whose ToUnicode CMap maps
// the whole two-byte code space ranges times over (bfrange entries
// <0000> <FFFF>, a hundred to a block). Both streams are compressed: a
// few hundred bytes ask a reader that parses the CMap again at every
// font selection, and expands each range, for ops × ranges × 65,536
// map entries.
func CMapBomb(ranges, ops int) []byte {
	var cm strings.Builder
	cm.WriteString("1 begincodespacerange <0000> <FFFF> endcodespacerange\n")
	for left := ranges; left > 0; left -= 100 {
		n := min(left, 100)
		fmt.Fprintf(&cm, "%d beginbfrange\n", n)
		for range n {
			cm.WriteString("<0000> <FFFF> <0000>\n")
		}
		cm.WriteString("endbfrange\n")
	}
	content := "BT " + strings.Repeat("/F1 1 Tf ", ops) + "<0041> Tj ET\n"
	var out bytes.Buffer
	out.WriteString("%PDF-1.4\n")
	out.WriteString("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n")
	out.WriteString("3 0 obj\n<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 << /Subtype /Type0 /ToUnicode 5 0 R >> >> >> /Contents 4 0 R >>\nendobj\n")
	fmt.Fprintf(&out, "4 0 obj\n%s\nendobj\n", streamObj("<< >>", []byte(content), true))
	fmt.Fprintf(&out, "5 0 obj\n%s\nendobj\n", streamObj("<< >>", []byte(cm.String()), true))
	out.WriteString("trailer\n<< /Root 1 0 R >>\n%%EOF\n")
	return out.Bytes()
}
