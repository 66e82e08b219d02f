package parser

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/parser/mrz"
)

// Classification weighs signals: a strong one (3) decides alone, weaker
// ones (2, 1) only together. A type needs classifyThreshold points and
// more than any other type; otherwise the document is DocOther, with the
// signals that were found still listed. Never a guess presented as fact.
const classifyThreshold = 3

// fold lower-cases s and removes its accents, so that "Pièce d’identité"
// and "piece d'identite" read the same.
func fold(s string) string {
	s = norm.NFKD.String(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r == '’' || r == '‘' || r == '`' || r == '´':
			r = '\''
		case r == '\u00a0' || r == '\u202f':
			r = ' '
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// squash keeps only letters and digits: text layers split and join words
// unpredictably, so phrases are matched without their spaces.
func squash(folded string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, folded)
}

// cue is a word or phrase that points to a document type.
type cue struct {
	typ    recoverybot.DocumentType
	weight int
	phrase string // folded; matched as whole words in file names, squashed in text layers
	label  string // as shown in signals
}

var filenameCues = []cue{
	{recoverybot.DocIdentity, 3, "cni", "cni"},
	{recoverybot.DocIdentity, 3, "carte d identite", "carte d'identité"},
	{recoverybot.DocIdentity, 3, "piece d identite", "pièce d'identité"},
	{recoverybot.DocIdentity, 3, "identite", "identité"},
	{recoverybot.DocIdentity, 3, "passeport", "passeport"},
	{recoverybot.DocIdentity, 3, "passport", "passport"},
	{recoverybot.DocIdentity, 3, "identity", "identity"},
	{recoverybot.DocIdentity, 3, "id card", "id card"},
	{recoverybot.DocIdentity, 3, "idcard", "id card"},
	{recoverybot.DocIdentity, 3, "titre de sejour", "titre de séjour"},
	{recoverybot.DocIdentity, 1, "id", "id"},
	{recoverybot.DocIdentity, 1, "recto", "recto"},
	{recoverybot.DocIdentity, 1, "verso", "verso"},
	{recoverybot.DocCompanyRegistration, 3, "kbis", "kbis"},
	{recoverybot.DocCompanyRegistration, 3, "k bis", "k-bis"},
	{recoverybot.DocCompanyRegistration, 3, "infogreffe", "infogreffe"},
	{recoverybot.DocCompanyRegistration, 3, "registre du commerce", "registre du commerce"},
	{recoverybot.DocCompanyRegistration, 1, "extrait", "extrait"},
	{recoverybot.DocCompanyRegistration, 1, "rcs", "rcs"},
	{recoverybot.DocAssociationStatutes, 3, "statuts", "statuts"},
	{recoverybot.DocAssociationStatutes, 3, "statut", "statut"},
	{recoverybot.DocAssociationStatutes, 3, "bylaws", "bylaws"},
	{recoverybot.DocAssociationStatutes, 3, "articles of association", "articles of association"},
}

// substringCues are file name cues long and distinctive enough to count
// inside a longer word ("scan_kbis2024", "monpasseport").
var substringCues = map[string]bool{"kbis": true, "passeport": true, "passport": true, "identite": true, "identity": true, "statuts": true, "infogreffe": true, "cartedidentite": true}

var textCues = []cue{
	{recoverybot.DocCompanyRegistration, 3, "extrait kbis", "extrait Kbis"},
	{recoverybot.DocCompanyRegistration, 3, "extrait k bis", "extrait K bis"},
	{recoverybot.DocCompanyRegistration, 3, "greffe du tribunal de commerce", "greffe du tribunal de commerce"},
	{recoverybot.DocCompanyRegistration, 2, "registre du commerce et des societes", "registre du commerce et des sociétés"},
	{recoverybot.DocCompanyRegistration, 2, "kbis", "Kbis"},
	{recoverybot.DocCompanyRegistration, 2, "infogreffe", "Infogreffe"},
	{recoverybot.DocCompanyRegistration, 1, "immatriculation", "immatriculation"},
	{recoverybot.DocAssociationStatutes, 3, "loi du 1er juillet 1901", "loi du 1er juillet 1901"},
	{recoverybot.DocAssociationStatutes, 3, "loi du 1 juillet 1901", "loi du 1er juillet 1901"},
	{recoverybot.DocAssociationStatutes, 2, "statuts", "statuts"},
	{recoverybot.DocAssociationStatutes, 1, "association", "association"},
	{recoverybot.DocAssociationStatutes, 1, "assemblee generale", "assemblée générale"},
	{recoverybot.DocIdentity, 3, "carte nationale d identite", "carte nationale d'identité"},
	{recoverybot.DocIdentity, 3, "identity card", "identity card"},
	{recoverybot.DocIdentity, 2, "passeport", "passeport"},
	{recoverybot.DocIdentity, 2, "passport", "passport"},
	{recoverybot.DocIdentity, 2, "titre de sejour", "titre de séjour"},
}

// companyStatutesCues show that statutes are a company's, not an
// association's.
var companyStatutesCues = []string{"capital social", "societe a responsabilite limitee", "societe par actions simplifiee", "sarl", "sas au capital", "gerant"}

var (
	sirenPattern = regexp.MustCompile(`\b(\d{3})[ \x{00a0}.]?(\d{3})[ \x{00a0}.]?(\d{3})\b`)
	rnaPattern   = regexp.MustCompile(`(?i)\bW ?(\d{9})\b`)
	rcsPattern   = regexp.MustCompile(`(?i)\br\.? ?c\.? ?s\.?(\s|$)`)
)

// evidence accumulates the signals about one document.
type evidence struct {
	score   map[recoverybot.DocumentType]int
	signals []string
	seen    map[string]bool
}

func newEvidence() *evidence {
	return &evidence{score: map[recoverybot.DocumentType]int{}, seen: map[string]bool{}}
}

func (e *evidence) add(t recoverybot.DocumentType, weight int, signal string) {
	if e.seen[signal] {
		return
	}
	e.seen[signal] = true
	e.score[t] += weight
	e.signals = append(e.signals, signal)
}

// decide returns the type the evidence supports, DocOther when none does.
func (e *evidence) decide() recoverybot.DocumentType {
	best, bestScore, tie := recoverybot.DocOther, 0, false
	for _, t := range []recoverybot.DocumentType{recoverybot.DocIdentity, recoverybot.DocCompanyRegistration, recoverybot.DocAssociationStatutes} {
		switch s := e.score[t]; {
		case s > bestScore:
			best, bestScore, tie = t, s, false
		case s == bestScore && s > 0:
			tie = true
		}
	}
	if bestScore < classifyThreshold {
		return recoverybot.DocOther
	}
	if tie {
		e.signals = append(e.signals, "conflicting signals")
		return recoverybot.DocOther
	}
	return best
}

// filenameWords splits a folded file name, without its extension, into
// words.
func filenameWords(filename string) []string {
	f := fold(filename)
	if i := strings.LastIndexByte(f, '.'); i > 0 {
		f = f[:i]
	}
	return strings.FieldsFunc(f, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') })
}

func classifyFilename(e *evidence, filename string) {
	words := filenameWords(filename)
	joined := " " + strings.Join(words, " ") + " "
	squashed := strings.Join(words, "")
	matched := map[string]bool{} // squashed phrases already counted
	for _, c := range filenameCues {
		key := strings.ReplaceAll(c.phrase, " ", "")
		if matched[key] {
			continue
		}
		if strings.Contains(joined, " "+c.phrase+" ") || substringCues[key] && strings.Contains(squashed, key) {
			matched[key] = true
			e.add(c.typ, c.weight, "filename: "+c.label)
		}
	}
	if !matched["cartedidentite"] && (strings.Contains(squashed, "cartedidentite") || strings.Contains(squashed, "pieceidentite") || strings.Contains(squashed, "piecedidentite")) {
		e.add(recoverybot.DocIdentity, 3, "filename: carte d'identité")
	}
}

// textLayer is what classification read in a document's text.
type textLayer struct {
	siren []string
	rna   []string
}

func classifyText(e *evidence, text, source string) textLayer {
	var tl textLayer
	if strings.TrimSpace(text) == "" {
		return tl
	}
	folded := fold(text)
	squashed := squash(folded)
	matched := map[string]bool{}
	for _, c := range textCues {
		key := squash(c.phrase)
		if !matched[key] && strings.Contains(squashed, key) {
			matched[key] = true
			e.add(c.typ, c.weight, fmt.Sprintf("%s: %q", source, c.label))
		}
	}
	if rcsPattern.MatchString(folded) {
		e.add(recoverybot.DocCompanyRegistration, 1, source+": \"RCS\"")
	}
	for _, m := range sirenPattern.FindAllStringSubmatch(folded, 50) {
		s := m[1] + m[2] + m[3]
		if recoverybot.ValidSIREN(s) && s != "000000000" && !contains(tl.siren, s) {
			tl.siren = append(tl.siren, s)
			e.add(recoverybot.DocCompanyRegistration, 1, source+": SIREN (Luhn valid)")
		}
	}
	for _, m := range rnaPattern.FindAllStringSubmatch(text, 20) {
		r := "W" + m[1]
		if recoverybot.ValidRNA(r) && !contains(tl.rna, r) {
			tl.rna = append(tl.rna, r)
			e.add(recoverybot.DocAssociationStatutes, 2, source+": RNA number")
		}
	}
	if e.seen[fmt.Sprintf("%s: %q", source, "statuts")] && !hasAssociationCue(e, source) {
		for _, c := range companyStatutesCues {
			if strings.Contains(" "+folded+" ", " "+c+" ") {
				// A company's statutes: not what an association sends.
				e.score[recoverybot.DocAssociationStatutes] -= 2
				e.signals = append(e.signals, source+": statutes of a company, not of an association")
				break
			}
		}
	}
	for _, z := range mrz.Find(text) {
		kind := "identity card"
		if z.Format == mrz.TD3 {
			kind = "passport"
		}
		if z.Valid {
			e.add(recoverybot.DocIdentity, 3, fmt.Sprintf("%s: MRZ %s %s, %d check digits valid", source, z.Format, kind, z.Checked))
		} else {
			e.add(recoverybot.DocIdentity, 1, fmt.Sprintf("%s: MRZ-like %s lines, check digits fail", source, z.Format))
		}
	}
	return tl
}

func hasAssociationCue(e *evidence, source string) bool {
	for _, s := range e.signals {
		if strings.HasPrefix(s, source+": ") && (strings.Contains(s, "association") || strings.Contains(s, "1901") || strings.Contains(s, "RNA")) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// messageCues are what a customer writes about what they attach.
var messageCues = []cue{
	{recoverybot.DocIdentity, 0, "carte d'identite", "carte d'identité"},
	{recoverybot.DocIdentity, 0, "carte d identite", "carte d'identité"},
	{recoverybot.DocIdentity, 0, "carte identite", "carte d'identité"},
	{recoverybot.DocIdentity, 0, "piece d'identite", "pièce d'identité"},
	{recoverybot.DocIdentity, 0, "piece identite", "pièce d'identité"},
	{recoverybot.DocIdentity, 0, "cni", "CNI"},
	{recoverybot.DocIdentity, 0, "passeport", "passeport"},
	{recoverybot.DocIdentity, 0, "passport", "passport"},
	{recoverybot.DocIdentity, 0, "identity card", "identity card"},
	{recoverybot.DocIdentity, 0, "id card", "ID card"},
	{recoverybot.DocIdentity, 0, "titre de sejour", "titre de séjour"},
	{recoverybot.DocCompanyRegistration, 0, "kbis", "Kbis"},
	{recoverybot.DocCompanyRegistration, 0, "k-bis", "Kbis"},
	{recoverybot.DocCompanyRegistration, 0, "k bis", "Kbis"},
	{recoverybot.DocCompanyRegistration, 0, "registre du commerce", "registre du commerce"},
	{recoverybot.DocAssociationStatutes, 0, "statuts", "statuts"},
	{recoverybot.DocAssociationStatutes, 0, "bylaws", "bylaws"},
	{recoverybot.DocAssociationStatutes, 0, "articles of association", "articles of association"},
}

// messageMentions returns the document types the sender's own words
// (subject and new text, never the quote: our own mail lists every
// document) say are attached, each with the words that said it.
func messageMentions(subject, newText string) map[recoverybot.DocumentType]string {
	text := " " + fold(subject+"\n"+newText) + " "
	words := " " + strings.Join(strings.FieldsFunc(text, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '\'' || r == '-')
	}), " ") + " "
	out := map[recoverybot.DocumentType]string{}
	for _, c := range messageCues {
		if _, done := out[c.typ]; done {
			continue
		}
		if strings.Contains(words, " "+c.phrase+" ") || strings.Contains(words, " "+c.phrase+"s ") {
			out[c.typ] = c.label
		}
	}
	return out
}

// assignFromMessage gives a type to documents nothing else classified,
// from what the message says is attached, when that is unambiguous:
// the mentioned types no classified document covers yet, and the
// documents that could be them (images, PDFs and office documents of a
// reasonable size). One type left: every such document is of it. An
// identity document and one other type left: the images are the
// identity document, the PDFs and office documents the other.
func assignFromMessage(docs []*docWork, mentions map[recoverybot.DocumentType]string) {
	if len(mentions) == 0 {
		return
	}
	covered := map[recoverybot.DocumentType]bool{}
	var open []*docWork
	for _, d := range docs {
		if d.doc.Type != recoverybot.DocOther {
			covered[d.doc.Type] = true
			continue
		}
		if d.candidate() {
			open = append(open, d)
		}
	}
	var left []recoverybot.DocumentType
	for _, t := range []recoverybot.DocumentType{recoverybot.DocIdentity, recoverybot.DocCompanyRegistration, recoverybot.DocAssociationStatutes} {
		if _, ok := mentions[t]; ok && !covered[t] {
			left = append(left, t)
		}
	}
	if len(open) == 0 || len(left) == 0 {
		return
	}
	assign := func(d *docWork, t recoverybot.DocumentType, why string) {
		d.doc.Type = t
		d.doc.Signals = append(d.doc.Signals, why)
	}
	switch len(left) {
	case 1:
		t := left[0]
		for _, d := range open {
			assign(d, t, fmt.Sprintf("message says %q is attached", mentions[t]))
		}
	case 2:
		if left[0] != recoverybot.DocIdentity {
			return
		}
		other := left[1]
		var images, files []*docWork
		for _, d := range open {
			if strings.HasPrefix(d.doc.MediaType, "image/") {
				images = append(images, d)
			} else {
				files = append(files, d)
			}
		}
		if len(images) == 0 || len(files) == 0 {
			return
		}
		for _, d := range images {
			assign(d, recoverybot.DocIdentity, fmt.Sprintf("message says %q and %q are attached; the photo taken as the first", mentions[recoverybot.DocIdentity], mentions[other]))
		}
		for _, d := range files {
			assign(d, other, fmt.Sprintf("message says %q and %q are attached; the file taken as the second", mentions[recoverybot.DocIdentity], mentions[other]))
		}
	}
}

// requireMediaType makes a document whose bytes are not what its type
// needs (recoverybot.AcceptsMediaType: an image or a PDF) DocOther,
// whatever its name or text say: a text file named cni.jpg is no
// identity document. The signals keep what pointed to the type.
func requireMediaType(doc *Document) {
	if doc.Type == recoverybot.DocOther || recoverybot.AcceptsMediaType(doc.Type, doc.MediaType) {
		return
	}
	doc.Signals = append(doc.Signals, fmt.Sprintf("content is %s, not an image or a PDF: not a %s", doc.MediaType, doc.Type))
	doc.Type = recoverybot.DocOther
}
