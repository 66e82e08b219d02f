package parser

import (
	"strconv"
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/parser/internal/testpdf"
	"github.com/recoverybot/recoverybot/parser/mrz"
)

func classifyName(name string) recoverybot.DocumentType {
	e := newEvidence()
	classifyFilename(e, name)
	return e.decide()
}

func TestClassifyFilename(t *testing.T) {
	for name, want := range map[string]recoverybot.DocumentType{
		"cni.jpg":                       recoverybot.DocIdentity,
		"CNI_recto.jpg":                 recoverybot.DocIdentity,
		"carte_d'identité.pdf":          recoverybot.DocIdentity,
		"Carte d’identite verso.jpeg":   recoverybot.DocIdentity,
		"piece-identite.png":            recoverybot.DocIdentity,
		"PASSEPORT.pdf":                 recoverybot.DocIdentity,
		"scan_passport_jean.pdf":        recoverybot.DocIdentity,
		"monpasseport.heic":             recoverybot.DocIdentity,
		"identity-card.png":             recoverybot.DocIdentity,
		"Kbis.pdf":                      recoverybot.DocCompanyRegistration,
		"extrait-kbis-2024.pdf":         recoverybot.DocCompanyRegistration,
		"K-bis société.pdf":             recoverybot.DocCompanyRegistration,
		"infogreffe_extrait.pdf":        recoverybot.DocCompanyRegistration,
		"statuts.pdf":                   recoverybot.DocAssociationStatutes,
		"Statuts association 2019.docx": recoverybot.DocAssociationStatutes,
		"bylaws.pdf":                    recoverybot.DocAssociationStatutes,
		"IMG_1234.jpg":                  recoverybot.DocOther,
		"facture-2024-117.pdf":          recoverybot.DocOther,
		"extrait.pdf":                   recoverybot.DocOther, // "extrait" alone: of what?
		"recto.jpg":                     recoverybot.DocOther,
		"technique.pdf":                 recoverybot.DocOther, // "cni" inside a word
		"image001.png":                  recoverybot.DocOther,
	} {
		if got := classifyName(name); got != want {
			t.Errorf("%q: %s, want %s", name, got, want)
		}
	}
}

func pad(s string, n int) string { return s + strings.Repeat("<", n-len(s)) }
func cd(s string) string         { return strconv.Itoa(mrz.CheckDigit(s)) }

// passportMRZ is the ICAO 9303 specimen passport zone.
const passportMRZ = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"

func frenchIDMRZ() string {
	l1 := "IDFRA" + pad("MARTIN", 25) + "750123"
	num := "880692310285"
	l2 := num + cd(num) + pad("ELODIE", 14) + "850712" + cd("850712") + "F"
	return l1 + "\n" + l2 + cd(l1+l2)
}

func TestClassifyPDFText(t *testing.T) {
	cases := []struct {
		name  string
		pages [][]string
		want  recoverybot.DocumentType
		siren []string
		rna   []string
	}{
		{"kbis", [][]string{{"Greffe du tribunal de commerce de Lyon", "EXTRAIT KBIS", "Immatriculation au RCS, numéro 552 100 554 R.C.S. Lyon"}},
			recoverybot.DocCompanyRegistration, []string{"552100554"}, nil},
		{"invoice with RCS and SIREN", [][]string{{"FACTURE n° 2024-117", "SARL Exemple, RCS Paris 552 100 554", "Total TTC 120,00 €"}},
			recoverybot.DocOther, []string{"552100554"}, nil},
		{"association statutes", [][]string{{"STATUTS", "Article 1 : Il est fondé entre les adhérents aux présents statuts une association régie par la loi du 1er juillet 1901", "RNA W751234567"}},
			recoverybot.DocAssociationStatutes, nil, []string{"W751234567"}},
		{"company statutes", [][]string{{"STATUTS", "Société à responsabilité limitée au capital social de 1 000 euros", "Le gérant"}},
			recoverybot.DocOther, nil, nil},
		{"passport scan with OCR layer", [][]string{{"PASSEPORT", "REPUBLIQUE FRANCAISE"}, strings.Split(passportMRZ, "\n")},
			recoverybot.DocIdentity, nil, nil},
		{"old French ID card", [][]string{strings.Split(frenchIDMRZ(), "\n")}, recoverybot.DocIdentity, nil, nil},
		{"bad check digits only", [][]string{strings.Split(strings.Replace(passportMRZ, "7408122F", "7408123F", 1), "\n")}, recoverybot.DocOther, nil, nil},
		{"nothing", [][]string{{"Bonjour"}}, recoverybot.DocOther, nil, nil},
	}
	o := Options{}.withDefaults()
	for _, c := range cases {
		for _, opt := range []testpdf.Options{{}, {ToUnicode: true}} {
			t.Run(c.name, func(t *testing.T) {
				d := newDocument(testpdf.Build(c.pages, opt), "application/pdf", "document.pdf", "", "attachment", "2", nil, o, nil, nil)
				if d.doc.Type != c.want || strings.Join(d.doc.SIREN, ",") != strings.Join(c.siren, ",") || strings.Join(d.doc.RNA, ",") != strings.Join(c.rna, ",") {
					t.Errorf("type %s siren %v rna %v, want %s %v %v; signals %q", d.doc.Type, d.doc.SIREN, d.doc.RNA, c.want, c.siren, c.rna, d.doc.Signals)
				}
				if c.want != recoverybot.DocOther && len(d.doc.Signals) == 0 {
					t.Error("no signals")
				}
			})
		}
	}
}

func TestMessageMentions(t *testing.T) {
	o := Options{}.withDefaults()
	photo := jpegBytes(800, 600)
	logo := pngBytes(120, 40)
	scan := testpdf.Build([][]string{{"page"}}, testpdf.Options{})
	doc := func(data []byte, mt, name string) *docWork {
		return newDocument(data, mt, name, "", "attachment", "2", nil, o, nil, nil)
	}
	cases := []struct {
		name    string
		subject string
		text    string
		docs    []*docWork
		want    []recoverybot.DocumentType
	}{
		{"one photo, ID mentioned", "", "Bonjour, ci-joint ma carte d'identité.", []*docWork{doc(photo, "image/jpeg", "IMG_1234.jpg")},
			[]recoverybot.DocumentType{recoverybot.DocIdentity}},
		{"recto verso", "Pièce d’identité", "Voici recto et verso", []*docWork{doc(photo, "image/jpeg", "IMG_1.jpg"), doc(photo, "image/jpeg", "IMG_2.jpg")},
			[]recoverybot.DocumentType{recoverybot.DocIdentity, recoverybot.DocIdentity}},
		{"ID and Kbis, photo and PDF", "", "ci-joint ma carte d'identité et le Kbis", []*docWork{doc(photo, "image/jpeg", "IMG_1234.jpg"), doc(scan, "application/pdf", "scan.pdf")},
			[]recoverybot.DocumentType{recoverybot.DocIdentity, recoverybot.DocCompanyRegistration}},
		{"Kbis already named, ID by elimination", "", "ci-joint ma CNI et le Kbis", []*docWork{doc(scan, "application/pdf", "kbis.pdf"), doc(scan, "application/pdf", "scan0001.pdf")},
			[]recoverybot.DocumentType{recoverybot.DocCompanyRegistration, recoverybot.DocIdentity}},
		{"ID and Kbis, two PDFs: ambiguous", "", "ci-joint ma carte d'identité et le Kbis", []*docWork{doc(scan, "application/pdf", "a.pdf"), doc(scan, "application/pdf", "b.pdf")},
			[]recoverybot.DocumentType{recoverybot.DocOther, recoverybot.DocOther}},
		{"signature logo stays other", "", "ci-joint mon passeport", []*docWork{doc(photo, "image/jpeg", "IMG_1.jpg"), doc(logo, "image/png", "image001.png")},
			[]recoverybot.DocumentType{recoverybot.DocIdentity, recoverybot.DocOther}},
		{"nothing said", "", "Bonjour", []*docWork{doc(photo, "image/jpeg", "IMG_1.jpg")},
			[]recoverybot.DocumentType{recoverybot.DocOther}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assignFromMessage(c.docs, messageMentions(c.subject, c.text))
			for i, d := range c.docs {
				if d.doc.Type != c.want[i] {
					t.Errorf("document %d (%s): %s, want %s; signals %q", i, d.doc.Filename, d.doc.Type, c.want[i], d.doc.Signals)
				}
			}
		})
	}
}

// TestTypeNeedsItsBytes: a document's type requires bytes that are what
// the type needs (an image or a PDF), whatever its name, its text or the
// message say; what pointed to the type stays in the signals.
func TestTypeNeedsItsBytes(t *testing.T) {
	attach := func(name, ctype string, data []byte) string {
		return "--b\nContent-Type: " + ctype + "\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"" + name + "\"\n\n" + b64(data)
	}
	tests := []struct {
		name, subject, part string
		want                recoverybot.DocumentType
	}{
		{"text named cni.jpg", "Mes documents", attach("cni.jpg", "image/jpeg", []byte("this is not a photo of anything\n")), recoverybot.DocOther},
		{"text declared as text", "Mes documents", attach("cni.jpg", "text/plain", []byte("carte nationale d'identité\n")), recoverybot.DocOther},
		{"a text layer naming the type", "Mes documents", attach("scan.txt", "text/plain", []byte("Extrait Kbis\nGreffe du tribunal de commerce\n")), recoverybot.DocOther},
		{"HTML named kbis.pdf", "Mes documents", attach("kbis.pdf", "application/pdf", []byte("<html><body>Extrait Kbis</body></html>")), recoverybot.DocOther},
		{"a zip the message calls statuts", "Voici nos statuts", attach("docs.zip", "application/zip", []byte("PK\x03\x04rest of a zip")), recoverybot.DocOther},
		{"a real JPEG named cni.jpg", "Mes documents", attach("cni.jpg", "image/jpeg", jpegBytes(400, 300)), recoverybot.DocIdentity},
		{"a real PNG the message calls a passport", "Mon passeport", attach("IMG_0001.png", "image/png", pngBytes(400, 300)), recoverybot.DocIdentity},
	}
	for _, tt := range tests {
		m := parseString(t, "From: a@example.org\nSubject: "+tt.subject+"\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nBonjour\n"+tt.part+"--b--\n")
		if len(m.Documents) != 1 {
			t.Fatalf("%s: %d documents", tt.name, len(m.Documents))
		}
		d := m.Documents[0]
		if d.Type != tt.want {
			t.Errorf("%s: type %s (media type %s, signals %q), want %s", tt.name, d.Type, d.MediaType, d.Signals, tt.want)
		}
	}
}
