package parser

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"

	"github.com/recoverybot/recoverybot/parser/internal/work"
	"github.com/recoverybot/recoverybot/parser/tnef"
)

// Work charged beyond the bytes read (see Options.MaxWork).
const (
	partWork     = 256 // a MIME part walked
	documentWork = 256 // a document hashed, sniffed and classified
	// mimeWork is charged per byte of a message or forwarded message
	// for reading its MIME structure: the skeleton taken out
	// (light.go), then enmime's reading, which decodes every part;
	// prescan charges its own. The message itself gets these units on
	// top of Options.MaxWork (see ParseContext).
	mimeWork = 1
	// imageWork is the bytes of an image whose header is read per unit
	// charged: the readers skip from segment to segment and search the
	// end marker, a fraction of a nanosecond a byte.
	imageWork = 16
	// htmlWork is charged per byte of HTML made into text (a parse
	// into a tree, then a walk of the tree), and htmlTagWork per start
	// tag, whose cost in the tree builder goes from a fraction of a
	// microsecond to ten (formatting elements reopened in each
	// paragraph).
	htmlWork    = 8
	htmlTagWork = 1024
	// textWork is charged per byte of text searched for references and
	// code candidates, and split into new and quoted lines.
	textWork = 4
)

// textPiece is a body text part, as read.
type textPiece struct {
	text     string
	html     bool
	alt      bool   // an HTML alternative to a plain part of the same multipart/alternative
	where    string // WhereBody or WhereForwarded
	fallback bool   // a winmail.dat body: used only when the message has no other
}

// walker walks a message's MIME tree, forwarded messages and winmail.dat
// included, collecting body text and documents.
type walker struct {
	o         Options
	m         *Message
	partsLeft int
	docs      []*docWork
	pieces    []textPiece
	// pdfLeft is what is left of the decompression budget the PDFs of
	// the message share: a thousand small Flate bombs must not each get
	// the whole budget.
	pdfLeft int64
	// rawBody is the body of a message that is not MIME at all (no
	// Content-Type): enmime converts it as if it were Latin-1, so its
	// text is read from these bytes instead.
	rawBody []byte
	// work is the message's work budget; docWork the part of it its
	// documents share.
	work, docWork *work.Budget
	// stopped lists the first documents whose analysis a budget
	// stopped, and why; nStopped counts them all. The message was not
	// read completely.
	stopped  []string
	nStopped int
}

func (w *walker) stop(s string) {
	w.nStopped++
	if len(w.stopped) < 3 {
		w.stopped = append(w.stopped, s)
	}
}

// stoppedError is the ErrStopped of documents stopped, or nil.
func (w *walker) stoppedError() error {
	if w.nStopped == 0 {
		return nil
	}
	s := strings.Join(w.stopped, "; ")
	if more := w.nStopped - len(w.stopped); more > 0 {
		s += fmt.Sprintf("; %d documents more", more)
	}
	return fmt.Errorf("%w: %s", ErrStopped, s)
}

// docBudget is the work budget of the next document: a quarter of the
// message's, or what the documents have left.
func (w *walker) docBudget() *work.Budget {
	return w.docWork.Sub(w.o.MaxWork / 4)
}

// walkCtx is where in the tree the walk is.
type walkCtx struct {
	msgDepth   int    // 0 in the message itself, 1 in a forwarded message…
	origin     string // "forwarded/", "winmail.dat/" prefixes of Document.Origin
	path       string // prefix of Document.Part for nested messages
	where      string // where body text goes: WhereBody, WhereForwarded, or "" (not read)
	parentType string
	inAlt      bool
	inReport   bool
}

// reportParts are the machine-readable parts of reports (RFC 3462,
// RFC 3464, RFC 3798, RFC 5965, RFC 6533): not documents.
var reportParts = map[string]bool{
	"message/delivery-status": true, "message/global-delivery-status": true,
	"message/disposition-notification": true, "message/global-disposition-notification": true,
	"message/feedback-report": true, "text/rfc822-headers": true, "text/global-headers": true,
	"message/global-headers": true,
}

// signatureTypes are the signature parts of multipart/signed (RFC 1847,
// RFC 8551, RFC 3156): not documents.
var signatureTypes = map[string]bool{
	"application/pkcs7-signature": true, "application/x-pkcs7-signature": true, "application/pgp-signature": true,
}

// top parses the message itself.
func (w *walker) top(raw []byte) error {
	s, exceeded := prescan(raw, w.o.MaxDepth, w.partsLeft, w.work)
	if !w.work.Spend(int64(len(raw)) * mimeWork) {
		return nil // ParseContext reports it
	}
	if exceeded {
		headersOnly(w.m, raw)
		w.m.Findings = append(w.m.Findings, fmt.Sprintf("MIME structure beyond the limits (%d parts, %d levels deep at least): only the header was read", s.parts, s.depth))
		return fmt.Errorf("%w: %d parts, depth %d", ErrTooComplex, s.parts, s.depth)
	}
	env, err := readEnvelope(raw, w.partsLeft)
	var tooMany *enmime.TooManyPartsError
	if errors.As(err, &tooMany) {
		headersOnly(w.m, raw)
		w.m.Findings = append(w.m.Findings, fmt.Sprintf("more than %d MIME parts: only the header was read", tooMany.Limit))
		return fmt.Errorf("%w: more than %d parts", ErrTooComplex, tooMany.Limit)
	}
	if err != nil {
		headersOnly(w.m, raw)
		w.m.Findings = append(w.m.Findings, "unreadable MIME structure, body read as plain text: "+cleanError(err))
		body := bodyAfterHeader(raw)
		w.pieces = append(w.pieces, textPiece{text: fixUTF8(string(body[:min(len(body), w.o.MaxTextBytes)])), where: WhereBody})
		w.finish()
		return fmt.Errorf("%w: %s", ErrMalformed, cleanError(err))
	}
	readHeaders(w.m, env.Root.Header)
	if env.Root.FirstChild == nil && env.Root.Header.Get("Content-Type") == "" {
		switch strings.ToLower(strings.TrimSpace(env.Root.Header.Get("Content-Transfer-Encoding"))) {
		case "", "7bit", "8bit", "binary":
			w.rawBody = bodyAfterHeader(raw)
		}
	}
	seen := map[string]bool{}
	for _, e := range env.Errors {
		s := cleanError(e)
		if !seen[s] && len(seen) < 30 {
			seen[s] = true
			w.m.Findings = append(w.m.Findings, s)
		}
	}
	w.partsLeft -= countParts(env.Root)
	w.walk(env.Root, walkCtx{where: WhereBody})
	w.finish()
	return nil
}

func (w *walker) walk(p *enmime.Part, c walkCtx) {
	if !w.work.Spend(partWork) {
		return
	}
	ct := strings.ToLower(p.ContentType)
	if p.FirstChild != nil || strings.HasPrefix(ct, "multipart/") {
		w.multipart(p, ct, c)
		return
	}
	if ct == "" {
		// RFC 2046 §5.1.5: in a digest, parts are messages by default;
		// elsewhere text (RFC 2045 §5.2).
		if c.parentType == "multipart/digest" {
			ct = "message/rfc822"
		} else {
			ct = "text/plain"
		}
	}
	disp := strings.ToLower(p.Disposition)
	name, nameNote := partFilename(p)
	switch {
	case isBodyText(ct, c.inAlt) && disp != "attachment" && name == "":
		w.text(p, ct, c)
	case reportParts[ct]:
		w.reportPart(p, ct, c)
	case signatureTypes[ct] && c.parentType == "multipart/signed":
		// The signature of the enclosing part: not a document.
	case ct == "message/rfc822" || ct == "message/global":
		w.forwarded(p, c, name, nameNote)
	case isTNEF(ct, name, p.Content):
		w.tnef(p, c, name, nameNote)
	default:
		w.partDocument(p, ct, name, nameNote, c)
	}
}

// isBodyText reports whether a part of type ct is text a person reads:
// plain and HTML text, enriched text (RFC 1896), and any text inside a
// multipart/alternative (a calendar alternative of an invitation).
func isBodyText(ct string, inAlt bool) bool {
	switch ct {
	case "text/plain", "text/html", "text/enriched", "text/richtext":
		return true
	}
	return inAlt && strings.HasPrefix(ct, "text/")
}

func isTNEF(ct, name string, data []byte) bool {
	return ct == "application/ms-tnef" || ct == "application/vnd.ms-tnef" ||
		strings.EqualFold(name, "winmail.dat") && bytes.HasPrefix(data, []byte{0x78, 0x9F, 0x3E, 0x22})
}

func (w *walker) multipart(p *enmime.Part, ct string, c walkCtx) {
	if ct == "multipart/report" && c.msgDepth == 0 {
		_, params, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		rt := strings.ToLower(params["report-type"])
		signal := "multipart/report"
		if rt != "" {
			signal += ": " + rt
		}
		w.m.AutomaticSignals = append(w.m.AutomaticSignals, signal)
		if rt == "delivery-status" || rt == "global-delivery-status" {
			if w.m.Bounce == nil {
				w.m.Bounce = &Bounce{}
			}
		}
	}
	start := len(w.pieces)
	for ch := p.FirstChild; ch != nil; ch = ch.NextSibling {
		cc := c
		cc.parentType = ct
		switch ct {
		case "multipart/alternative":
			cc.inAlt = true
		case "multipart/report":
			cc.inReport = true
		default:
			cc.inAlt = false
		}
		w.walk(ch, cc)
	}
	if ct == "multipart/alternative" {
		hasPlain := false
		for _, pc := range w.pieces[start:] {
			if !pc.html {
				hasPlain = true
			}
		}
		if hasPlain {
			for i := start; i < len(w.pieces); i++ {
				if w.pieces[i].html {
					w.pieces[i].alt = true
				}
			}
		}
	}
}

var metaCharset = regexp.MustCompile(`(?i)<meta[^>]{0,200}charset\s*=\s*["']?\s*([a-z0-9_.:-]{1,40})`)

func (w *walker) text(p *enmime.Part, ct string, c walkCtx) {
	switch {
	case c.where == "":
		return
	case ct == "text/enriched" || ct == "text/richtext":
		ct = "text/plain"
	case ct != "text/plain" && ct != "text/html":
		return
	}
	converted := true
	for _, e := range p.Errors {
		if e.Name == enmime.ErrorCharsetConversion {
			converted = false
		}
	}
	declared := p.Charset
	if ct == "text/html" && declared == "" && !utf8.Valid(p.Content) {
		if mm := metaCharset.FindSubmatch(p.Content[:min(len(p.Content), 4096)]); mm != nil {
			declared, converted = string(mm[1]), false
		}
	}
	content := p.Content
	if p.Parent == nil && w.rawBody != nil && !utf8.Valid(w.rawBody) {
		content, declared, converted = w.rawBody, "", true
	}
	if !w.work.Spend(int64(len(content))) {
		return
	}
	s, note := textOf(content, declared, converted)
	if converted {
		if u, ok := mislabelledUTF8(s, declared); ok {
			s, note = u, "text declared "+strings.ToLower(declared)+" is UTF-8"
		}
	}
	s = strings.TrimPrefix(s, "\ufeff")
	if note != "" {
		w.finding(note)
	}
	if len(s) > 4*w.o.MaxTextBytes {
		s = s[:4*w.o.MaxTextBytes]
	}
	w.pieces = append(w.pieces, textPiece{text: s, html: ct == "text/html", where: c.where})
}

func (w *walker) finding(s string) {
	for _, f := range w.m.Findings {
		if f == s {
			return
		}
	}
	if len(w.m.Findings) < 60 {
		w.m.Findings = append(w.m.Findings, s)
	}
}

func (w *walker) reportPart(p *enmime.Part, ct string, c walkCtx) {
	if c.msgDepth != 0 {
		return
	}
	switch ct {
	case "message/delivery-status", "message/global-delivery-status":
		if w.m.Bounce == nil {
			w.m.Bounce = &Bounce{}
		}
		readDeliveryStatus(w.m.Bounce, p.Content)
	case "text/rfc822-headers", "text/global-headers", "message/global-headers":
		if w.m.Bounce != nil && w.m.Bounce.OriginalMessageID == "" {
			w.m.Bounce.OriginalMessageID = headerMessageID(p.Content)
		}
	}
}

// forwarded reads a message/rfc822 part: its documents are documents of
// the message (SPEC §6); its text is read as forwarded text, except in a
// report, where it is the returned message.
func (w *walker) forwarded(p *enmime.Part, c walkCtx, name, nameNote string) {
	if c.inReport {
		// The returned message of a report: not something the sender
		// sent as a document; it names the mail that bounced.
		if c.msgDepth == 0 && w.m.Bounce != nil && w.m.Bounce.OriginalMessageID == "" {
			w.m.Bounce.OriginalMessageID = headerMessageID(p.Content)
		}
		return
	}
	fail := func(finding string) {
		d := w.partDocument(p, "message/rfc822", name, nameNote, c)
		d.doc.Findings = append(d.doc.Findings, finding)
	}
	content, _ := repair(p.Content)
	switch {
	case c.msgDepth+1 > w.o.MaxMessageDepth:
		fail(fmt.Sprintf("%s: more than %d forwarded messages inside each other", FindingNestedTooDeep, w.o.MaxMessageDepth))
		return
	case !looksLikeMessage(content):
		fail(FindingUndecodable + ": not a message")
		return
	}
	s, exceeded := prescan(content, w.o.MaxDepth, w.partsLeft, w.work)
	if !w.work.Spend(int64(len(content)) * mimeWork) {
		return
	}
	if exceeded {
		fail(fmt.Sprintf("%s: forwarded message with %d parts, %d levels deep at least", FindingLimitReached, s.parts, s.depth))
		return
	}
	env, err := readEnvelope(content, w.partsLeft)
	if err != nil {
		fail(FindingUndecodable + ": " + cleanError(err))
		return
	}
	w.partsLeft -= countParts(env.Root)
	nc := walkCtx{msgDepth: c.msgDepth + 1, origin: c.origin + "forwarded/", path: c.path + p.PartID + "/", where: WhereForwarded}
	if c.where == "" {
		nc.where = ""
	}
	if nc.where != "" {
		if s := decodeHeader(env.Root.Header.Get("Subject")); s != "" {
			w.pieces = append(w.pieces, textPiece{text: "Subject: " + s, where: nc.where})
		}
	}
	w.walk(env.Root, nc)
}

// tnef reads a winmail.dat: its files are documents, its body is text
// when the message has no other.
func (w *walker) tnef(p *enmime.Part, c walkCtx, name, nameNote string) {
	wb := w.docBudget()
	tm, err := tnef.DecodeWork(p.Content, wb)
	if wb.Err() != nil {
		w.stop(fmt.Sprintf("%s (part %s): winmail.dat not read to the end: %v", name, c.path+p.PartID, wb.Err()))
	}
	if err != nil {
		d := w.partDocument(p, strings.ToLower(p.ContentType), name, nameNote, c)
		d.doc.Findings = append(d.doc.Findings, FindingUndecodable+": not a TNEF stream")
		return
	}
	w.tnefMessage(tm, c, c.origin+"winmail.dat/", c.path+p.PartID+"/tnef:", 0)
}

func (w *walker) tnefMessage(tm *tnef.Message, c walkCtx, origin, path string, depth int) {
	for _, warn := range tm.Warnings {
		w.finding("winmail.dat: " + warn)
	}
	if c.where != "" {
		where := c.where
		if depth > 0 {
			where = WhereForwarded
		}
		if tm.Body != "" {
			w.pieces = append(w.pieces, textPiece{text: tm.Body, where: where, fallback: depth == 0})
		}
		if len(tm.HTML) > 0 {
			s, _ := textOf(tm.HTML, htmlCharset(tm.HTML), false)
			w.pieces = append(w.pieces, textPiece{text: s, html: true, where: where, fallback: depth == 0, alt: tm.Body != ""})
		}
	}
	for i, a := range tm.Attachments {
		if w.partsLeft <= 0 {
			w.finding(fmt.Sprintf("%s: more than %d parts, winmail.dat files left out", FindingLimitReached, w.o.MaxParts))
			return
		}
		w.partsLeft--
		p := path + strconv.Itoa(i+1)
		if a.Embedded != nil {
			w.tnefMessage(a.Embedded, c, origin+"forwarded/", p+"/tnef:", depth+1)
			continue
		}
		declared := strings.ToLower(strings.TrimSpace(a.MIMEType))
		if declared == "" {
			declared = "application/octet-stream"
		}
		fname, note := sanitizeFilename(a.Name())
		w.addDocument(a.Data, declared, fname, note, origin+"attachment", p, nil)
	}
}

func htmlCharset(b []byte) string {
	if mm := metaCharset.FindSubmatch(b[:min(len(b), 4096)]); mm != nil {
		return string(mm[1])
	}
	return ""
}

// partDocument makes a document of a MIME part.
func (w *walker) partDocument(p *enmime.Part, ct, name, nameNote string, c walkCtx) *docWork {
	kind := "part"
	switch strings.ToLower(p.Disposition) {
	case "attachment":
		kind = "attachment"
	case "inline":
		kind = "inline"
	}
	var errs []string
	for _, e := range p.Errors {
		if e.Name == enmime.ErrorMalformedBase64 || e.Name == enmime.ErrorContentEncoding || e.Name == enmime.ErrorMalformedChildPart {
			errs = append(errs, oneLine(e.Detail))
		}
	}
	d := w.addDocument(p.Content, ct, name, nameNote, c.origin+kind, c.path+p.PartID, errs)
	switch {
	case ct == "message/partial" || ct == "message/external-body":
		d.doc.Findings = append(d.doc.Findings, FindingPartial+": "+ct)
	case ct == "application/pkcs7-mime" || ct == "application/x-pkcs7-mime" || c.parentType == "multipart/encrypted":
		// RFC 8551 enveloped or opaque-signed data, RFC 3156 OpenPGP:
		// what is inside is not read.
		d.doc.Findings = append(d.doc.Findings, FindingEncrypted+": S/MIME or OpenPGP content, not read")
	}
	return d
}

func (w *walker) addDocument(data []byte, declared, name, nameNote, origin, part string, decodeErrors []string) *docWork {
	d := newDocument(data, declared, name, nameNote, origin, part, decodeErrors, w.o, &w.pdfLeft, w.docBudget())
	w.docs = append(w.docs, d)
	if d.stopped != "" {
		w.stop(fmt.Sprintf("%s (part %s): %s", d.doc.Filename, part, d.stopped))
	}
	return d
}

// finish turns the pieces of text into Text, NewText, references and
// code candidates, and completes the classification of documents.
func (w *walker) finish() {
	m := w.m
	refs := newFoundSet()
	codes := newFoundSet()
	refs.add(ExtractRefs(m.Subject, WhereSubject))
	codes.add(ExtractCodes(m.Subject, WhereSubject))

	var body []textPiece
	hasBody := false
	for _, pc := range w.pieces {
		if pc.where == WhereBody && !pc.fallback && strings.TrimSpace(pc.text) != "" {
			hasBody = true
		}
	}
	for _, pc := range w.pieces {
		if pc.where == WhereBody && pc.fallback == !hasBody {
			body = append(body, pc)
		}
	}
	budget := w.o.MaxTextBytes
	capText := func(s string) string {
		if len(s) > budget {
			w.finding(fmt.Sprintf("%s: text longer than %d bytes, the rest not read", FindingLimitReached, w.o.MaxTextBytes))
			s = strings.ToValidUTF8(s[:budget], "")
		}
		budget -= len(s)
		return s
	}
	var text, newText []string
	var alts []string
	for _, pc := range body {
		t := pc.text
		where := WhereBody
		if pc.html {
			t = w.htmlText(t)
			where = WhereHTML
		}
		if !w.spendText(t) {
			break
		}
		if pc.alt {
			alts = append(alts, t)
			continue
		}
		t = capText(t)
		lines := splitQuoted(t)
		all, fresh := joinLines(lines, false), joinLines(lines, true)
		text = append(text, all)
		newText = append(newText, fresh)
		quoted := quotedOnly(lines)
		refs.add(ExtractRefs(fresh, where))
		refs.add(ExtractRefs(quoted, WhereQuoted))
		codes.add(ExtractCodes(fresh, where))
		codes.add(ExtractCodes(quoted, WhereQuoted))
	}
	m.Text = strings.Join(nonEmpty(text), "\n\n")
	m.NewText = strings.Join(nonEmpty(newText), "\n\n")
	for _, t := range alts {
		if !w.spendText(t) {
			break
		}
		t = capText(t)
		lines := splitQuoted(t)
		fresh, quoted := joinLines(lines, true), quotedOnly(lines)
		refs.add(ExtractRefs(fresh, WhereHTML))
		refs.add(ExtractRefs(quoted, WhereQuoted))
		codes.add(ExtractCodes(fresh, WhereHTML))
		codes.add(ExtractCodes(quoted, WhereQuoted))
	}
	for _, pc := range w.pieces {
		if pc.where != WhereForwarded || pc.alt {
			continue
		}
		t := pc.text
		if pc.html {
			t = w.htmlText(t)
		}
		if !w.spendText(t) {
			break
		}
		t = capText(t)
		refs.add(ExtractRefs(t, WhereForwarded))
		codes.add(ExtractCodes(t, WhereForwarded))
	}
	m.CaseRefs = refs.list
	m.Codes = codes.list

	if m.Bounce == nil && hasSignal(m.AutomaticSignals, "From: ") {
		m.Bounce = &Bounce{OriginalMessageID: textMessageID(m.Text)}
	}
	m.Automatic = len(m.AutomaticSignals) > 0

	assignFromMessage(w.docs, messageMentions(m.Subject, m.NewText))
	for _, d := range w.docs {
		requireMediaType(&d.doc)
		m.Documents = append(m.Documents, d.doc)
	}
}

// spendText charges the work of searching text of at most MaxTextBytes.
func (w *walker) spendText(t string) bool {
	return w.work.Spend(int64(min(len(t), w.o.MaxTextBytes)) * textWork)
}

func (w *walker) htmlText(html string) string {
	n := min(len(html), 4*w.o.MaxTextBytes)
	if !w.work.Spend(int64(n)*htmlWork) || !w.work.Spend(htmlStartTags(html[:n])*htmlTagWork) {
		return ""
	}
	t, capped := htmlToText(html, 4*w.o.MaxTextBytes)
	if capped {
		w.finding(fmt.Sprintf("%s: HTML longer than %d bytes, the rest not read", FindingLimitReached, 4*w.o.MaxTextBytes))
	}
	return t
}

func quotedOnly(lines []line) string {
	var b strings.Builder
	for _, l := range lines {
		if l.quoted {
			b.WriteString(l.text)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}

func hasSignal(signals []string, prefix string) bool {
	for _, s := range signals {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// foundSet keeps the first of each value, in order.
type foundSet struct {
	list []Found
	seen map[string]bool
}

func newFoundSet() *foundSet { return &foundSet{list: []Found{}, seen: map[string]bool{}} }

func (s *foundSet) add(fs []Found) {
	for _, f := range fs {
		if !s.seen[f.Value] && len(s.list) < 50 {
			s.seen[f.Value] = true
			s.list = append(s.list, f)
		}
	}
}
