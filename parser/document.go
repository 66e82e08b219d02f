package parser

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"
	"golang.org/x/text/unicode/norm"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/parser/internal/work"
	"github.com/recoverybot/recoverybot/parser/pdftext"
)

// docWork is a document being built, with what classification needs.
type docWork struct {
	doc    Document
	pixels int64
	// stopped says what stopped the document's analysis before its end
	// (the work budget, the decompression budget); "" when nothing did.
	stopped string
}

// candidate reports whether what the message says may decide the
// document's type: an image large enough to be a photo or a scan (not a
// logo in a signature), a PDF or an office document, not a program.
func (d *docWork) candidate() bool {
	for _, f := range d.doc.Findings {
		if strings.HasPrefix(f, FindingExecutable) || strings.HasPrefix(f, FindingEmpty) {
			return false
		}
	}
	mt := d.doc.MediaType
	switch {
	case strings.HasPrefix(mt, "image/"):
		if d.pixels > 0 {
			return d.pixels >= 200*200
		}
		return d.doc.Size >= 10<<10
	case mt == "application/pdf", isOfficeType(mt), mt == "application/x-ole-storage":
		return true
	}
	return false
}

// extensions gives the media type a file name extension promises, for
// the formats that matter here.
var extensions = map[string]string{
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".jpe": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
	".pdf": "application/pdf", ".heic": "image/heic", ".heif": "image/heif", ".webp": "image/webp",
	".tif": "image/tiff", ".tiff": "image/tiff", ".bmp": "image/bmp", ".avif": "image/avif",
}

// defaultExtension names a file that came without a name.
var defaultExtension = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "application/pdf": ".pdf", "image/heic": ".heic",
	"image/heif": ".heif", "image/webp": ".webp", "image/tiff": ".tif", "image/bmp": ".bmp", "image/avif": ".avif",
	"message/rfc822": ".eml", "text/plain": ".txt", "text/html": ".html", "text/calendar": ".ics",
}

var executableExtensions = map[string]bool{
	".exe": true, ".scr": true, ".bat": true, ".cmd": true, ".com": true, ".js": true, ".jse": true, ".vbs": true,
	".vbe": true, ".jar": true, ".msi": true, ".ps1": true, ".lnk": true, ".hta": true, ".wsf": true, ".pif": true,
	".cpl": true, ".dll": true, ".sh": true, ".apk": true, ".dmg": true, ".iso": true,
}

// genericTypes say nothing about the content.
var genericTypes = map[string]bool{
	"": true, "application/octet-stream": true, "binary/octet-stream": true, "application/x-download": true,
	"application/force-download": true, "application/unknown": true, "application/binary": true,
	"application/octetstream": true, "application/download": true, "text/plain": true,
}

// newDocument builds and examines a document: hash, sniffed type,
// hostile content, classification from its name and text layer.
// pdfBudget is the decompression budget left for PDFs, shared by the
// documents of a message; nil gives this document the whole of
// o.MaxPDFDecoded. wb is the document's work budget: what is left
// unread when it is spent is a FindingLimitReached.
func newDocument(data []byte, declared, name, nameNote, origin, part string, decodeErrors []string, o Options, pdfBudget *int64, wb *work.Budget) *docWork {
	sum := sha256.Sum256(data)
	declared = strings.ToLower(declared)
	d := &docWork{doc: Document{
		Type: recoverybot.DocOther, Filename: name, DeclaredType: declared, Size: int64(len(data)),
		SHA256: hex.EncodeToString(sum[:]), Origin: origin, Part: part, Data: data,
		Signals: []string{}, Findings: []string{},
	}}
	doc := &d.doc
	doc.MediaType = sniff(data, declared)
	if doc.Filename == "" {
		// The name says what the bytes are when they say it, else what
		// the sender declared.
		ext := defaultExtension[magic(data)]
		if ext == "" {
			ext = defaultExtension[declared]
		}
		if ext == "" {
			ext = defaultExtension[doc.MediaType]
		}
		if ext == "" {
			ext = ".bin"
		}
		doc.Filename = "unnamed" + ext
	}
	add := func(f string) { doc.Findings = append(doc.Findings, f) }
	if nameNote != "" {
		add(FindingFilenameChange + ": " + nameNote)
	}
	if len(data) == 0 {
		add(FindingEmpty)
	}
	for _, e := range decodeErrors {
		add(FindingUndecodable + ": " + e)
	}
	known := magic(data) != ""
	if !genericTypes[declared] && known && family(declared) != family(doc.MediaType) && declared != doc.MediaType {
		add(fmt.Sprintf("%s: declared %s, content is %s", FindingTypeMismatch, declared, doc.MediaType))
	}
	ext := strings.ToLower(path.Ext(doc.Filename))
	if want, ok := extensions[ext]; ok && known && want != doc.MediaType && !(want == "image/heif" && doc.MediaType == "image/heic") {
		add(fmt.Sprintf("%s: name ends in %s, content is %s", FindingTypeMismatch, ext, doc.MediaType))
	}
	if executableExtensions[ext] || doc.MediaType == "application/x-msdownload" || doc.MediaType == "application/x-elf" {
		add(FindingExecutable)
	}

	e := newEvidence()
	classifyFilename(e, doc.Filename)
	if !wb.Spend(documentWork) {
		add(FindingLimitReached + ": work budget spent, not analysed")
		d.stopped = "work budget spent, not analysed"
		doc.Type = e.decide()
		doc.Signals = append(doc.Signals, e.signals...)
		doc.Findings = dedupe(doc.Findings)
		return d
	}
	// The image header readers read at most every byte once.
	if imageHeaderTypes[doc.MediaType] && len(data) > 0 && !wb.Spend(int64(len(data))/imageWork) {
		add(FindingLimitReached + ": work budget spent, image not analysed")
		d.stopped = "work budget spent, image not analysed"
	} else if info, ok := inspectImage(doc.MediaType, data); ok && len(data) > 0 {
		doc.Width, doc.Height = clampInt(info.width), clampInt(info.height)
		d.pixels = pixels(info.width, info.height)
		switch {
		case d.pixels > o.MaxImagePixels:
			add(fmt.Sprintf("%s: %d×%d", FindingTooManyPixels, info.width, info.height))
		case info.corrupt != "":
			add(FindingUndecodable + ": " + info.corrupt)
		case info.width == 0 || info.height == 0:
			add(FindingUndecodable + ": no dimensions in the header")
		}
		if info.truncated {
			add(FindingTruncated)
		}
	}
	switch {
	case doc.MediaType == "application/pdf":
		budget := o.MaxPDFDecoded
		if pdfBudget != nil {
			budget = max(*pdfBudget, 1)
		}
		rep := pdftext.Analyze(data, pdftext.Limits{MaxDecoded: budget, MaxPages: o.MaxPDFPages, Work: wb})
		if pdfBudget != nil {
			*pdfBudget -= rep.Decoded
		}
		doc.Pages = rep.Pages
		if rep.Pages > o.MaxPDFPages {
			add(fmt.Sprintf("%s: %d pages", FindingTooManyPages, rep.Pages))
		}
		if rep.Encrypted {
			add(FindingEncrypted)
		}
		if len(rep.Active) > 0 {
			add(FindingActiveContent + ": " + strings.Join(rep.Active, " "))
		}
		if rep.Truncated {
			add(FindingTruncated)
		}
		if rep.Pages == 0 && !rep.Truncated {
			add(FindingUndecodable + ": no pages")
		}
		for _, l := range rep.Limited {
			if l != "pages" {
				add(FindingLimitReached + ": PDF " + l)
			}
			switch l {
			case "work":
				d.stopped = "PDF not read to the end: work budget spent"
			case "decoded":
				d.stopped = "PDF not read to the end: decompression limit reached"
			}
		}
		tl := classifyText(e, rep.Text, "pdf text")
		doc.SIREN, doc.RNA = tl.siren, tl.rna
	case doc.MediaType == "text/plain" && len(data) <= 1<<20:
		if !wb.Spend(int64(len(data)) * textWork) {
			add(FindingLimitReached + ": work budget spent, text not read")
			d.stopped = "work budget spent, text not read"
			break
		}
		t, _ := textOf(data, "", true)
		tl := classifyText(e, t, "text")
		doc.SIREN, doc.RNA = tl.siren, tl.rna
	}
	doc.Type = e.decide()
	doc.Signals = append(doc.Signals, e.signals...)
	requireMediaType(doc)
	doc.Findings = dedupe(doc.Findings)
	return d
}

func dedupe(list []string) []string {
	out := list[:0]
	seen := map[string]bool{}
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// family is the top-level type, with the usual aliases folded.
func family(t string) string {
	switch t {
	case "image/jpg", "image/pjpeg":
		return "image/jpeg"
	case "application/x-pdf":
		return "application/pdf"
	}
	if strings.HasPrefix(t, "image/") || t == "application/pdf" {
		return t
	}
	f, _, _ := strings.Cut(t, "/")
	return f
}

func pixels(w, h int64) int64 {
	if w <= 0 || h <= 0 {
		return 0
	}
	if w > (1<<62)/h {
		return 1 << 62
	}
	return w * h
}

func clampInt(v int64) int {
	if v > 1<<31-1 {
		return 1<<31 - 1
	}
	return int(v)
}

// partFilename returns a part's file name from Content-Disposition's
// filename or Content-Type's name, RFC 2231 and RFC 2047 decoded, then
// sanitised; note says what sanitising changed.
func partFilename(p *enmime.Part) (name, note string) {
	raw := ""
	for _, hp := range [][2]string{{"Content-Disposition", "filename"}, {"Content-Type", "name"}} {
		v := p.Header.Get(hp[0])
		if v == "" {
			continue
		}
		if _, params, err := mime.ParseMediaType(v); err == nil && params[hp[1]] != "" {
			raw = params[hp[1]]
			break
		}
	}
	if raw == "" {
		raw = p.FileName
	}
	if raw == "" {
		return "", ""
	}
	if strings.Contains(raw, "=?") {
		if d, err := wordDecoder.DecodeHeader(raw); err == nil {
			raw = d
		}
	}
	if !utf8.ValidString(raw) {
		if cs := p.ContentTypeParams["charset"]; cs != "" {
			if s, err := decodeCharset(cs, []byte(raw)); err == nil && utf8.ValidString(s) {
				raw = s
			}
		}
		raw = fixUTF8(raw)
	}
	return sanitizeFilename(raw)
}

// maxFilename bounds a file name, in bytes.
const maxFilename = 180

// sanitizeFilename makes a name safe to show and to store: no directory
// part, no control or bidirectional-override characters (which disguise
// "gpj.exe" as "exe.jpg"), none of the characters file systems refuse,
// NFC form, a bounded length that keeps the extension. note says what
// changed, "" when nothing did.
func sanitizeFilename(s string) (name, note string) {
	orig := s
	var notes []string
	s = norm.NFC.String(s)
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
		notes = append(notes, "directory part removed")
	}
	var b strings.Builder
	dropped := false
	for _, r := range s {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r),
			r == '\u200b', r == '\u200c', r == '\u200d', r == '\u2060', r == '\ufeff', r == '\u00ad':
			dropped = true
			continue
		case strings.ContainsRune(`<>:"|?*`, r):
			r = '_'
			dropped = true
		case unicode.IsSpace(r):
			r = ' '
		}
		b.WriteRune(r)
	}
	if dropped {
		notes = append(notes, "control or reserved characters removed")
	}
	s = strings.Trim(oneLine(b.String()), " .")
	if len(s) > maxFilename {
		ext := path.Ext(s)
		if len(ext) > 16 {
			ext = ""
		}
		base := strings.ToValidUTF8(s[:maxFilename-len(ext)], "")
		s = base + ext
		notes = append(notes, "shortened")
	}
	if s == "" && orig != "" {
		notes = append(notes, "nothing left of the name")
	}
	return s, strings.Join(notes, ", ")
}
