package outbound

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jhillyerd/enmime/v2"

	"github.com/recoverybot/recoverybot"
)

const (
	testRef   = "RC-7KQ2M9"
	testCode  = "7KQ2-M9AB"
	testEmail = "ancienne.adresse@example.org"
	testNew   = "nouvelle.adresse@example.com"
)

// testWhen is when the approved change takes effect, in the notices.
var testWhen = time.Date(2026, 12, 4, 21, 30, 0, 0, time.UTC)

// whenWords is testWhen as each locale writes it.
var whenWords = map[string]string{"fr": "4 décembre 2026 à 21:30 UTC", "en": "4 December 2026 at 21:30 UTC"}

// fullData returns Data with every field a template may need filled, so
// that each test removes or changes one thing.
func fullData(loc string, k recoverybot.Kind, h recoverybot.HolderKind) Data {
	d := Data{
		Locale:        loc,
		Ref:           testRef,
		Kind:          k,
		HolderKind:    h,
		HolderName:    "Dupont Conseil SARL",
		Required:      recoverybot.RequiredDocuments(h),
		Missing:       recoverybot.Missing(k, h, recoverybot.Progress{}),
		Mailbox:       "contact@example.net",
		ProfileEmail:  testEmail,
		NewEmail:      testNew,
		MaskedContact: "j***@example.org",
		RejectReason:  recoverybot.RejectDocumentsMismatch,
		Reason:        "Le document d'identité est illisible.",
		AskReason:     recoverybot.AskUnreadable,
		Document:      recoverybot.DocIdentity,
		EffectiveAt:   testWhen,
		Provider:      "Example Hosting",
	}
	if k.NeedsCode() {
		d.Code, d.CodeTTL = testCode, 24*time.Hour
	}
	return d
}

// applies reports whether template t exists for kind k.
func applies(t Template, k recoverybot.Kind) bool {
	return t != OwnerNotice || k == recoverybot.KindLostEmail
}

// wording is what each requirement must read like, per locale and holder
// kind, in the words of the provider's help page. It is written out here
// rather than taken from the package so that a change of wording shows.
var wording = map[string]map[recoverybot.HolderKind][]string{
	"fr": {
		recoverybot.HolderIndividual:  {"copie de la carte d'identité ou du passeport"},
		recoverybot.HolderCompany:     {"copie de la carte d'identité ou du passeport du gérant", "l'extrait KBIS de l'entreprise"},
		recoverybot.HolderAssociation: {"copie de la carte d'identité ou du passeport du président", "les statuts de l'association"},
	},
	"en": {
		recoverybot.HolderIndividual:  {"a copy of the holder's ID card or passport"},
		recoverybot.HolderCompany:     {"a copy of the manager's ID card or passport", "the company's registration extract (KBIS)"},
		recoverybot.HolderAssociation: {"a copy of the president's ID card or passport", "the association's statutes"},
	},
}

var otherWording = map[string]struct{ code, sender string }{
	"fr": {"le code reçu par email", "un message envoyé depuis l'adresse email du profil"},
	"en": {"the code you received by email", "a message sent from the profile's email address"},
}

// wrongWording lists phrases that must not appear for holder kind h: the
// documents of the other holder kinds.
func wrongWording(loc string, h recoverybot.HolderKind) []string {
	var out []string
	for other, ws := range wording[loc] {
		if other == h {
			continue
		}
		for _, w := range ws {
			if !slices.Contains(wording[loc][h], w) && !strings.HasPrefix(wording[loc][h][0], w) {
				out = append(out, w)
			}
		}
	}
	if loc == "fr" {
		switch h {
		case recoverybot.HolderIndividual:
			out = append(out, "du gérant", "du président", "KBIS", "statuts")
		case recoverybot.HolderCompany:
			out = append(out, "du président", "statuts")
		case recoverybot.HolderAssociation:
			out = append(out, "du gérant", "KBIS")
		}
	} else {
		switch h {
		case recoverybot.HolderIndividual:
			out = append(out, "manager", "president", "KBIS", "statutes")
		case recoverybot.HolderCompany:
			out = append(out, "president", "statutes")
		case recoverybot.HolderAssociation:
			out = append(out, "manager", "KBIS")
		}
	}
	return out
}

// visible returns the text a reader of the HTML part sees, roughly: tags
// dropped, entities decoded, non-breaking spaces as spaces.
func visible(h string) string {
	h = regexp.MustCompile(`(?s)<head>.*</head>`).ReplaceAllString(h, "")
	h = regexp.MustCompile(`<[^>]*>`).ReplaceAllString(h, "")
	h = html.UnescapeString(h)
	return strings.ReplaceAll(h, "\u00a0", " ")
}

type rendered struct{ subject, text, html string }

// all returns the three parts, the HTML as a reader sees it.
func (r rendered) all() string { return r.subject + "\n" + r.text + "\n" + visible(r.html) }

func render(t *testing.T, tmpl Template, d Data) rendered {
	t.Helper()
	s, tx, h, err := Render(tmpl, d)
	if err != nil {
		t.Fatalf("Render(%s, %s/%s/%s): %v", tmpl, d.Locale, d.Kind, d.HolderKind, err)
	}
	return rendered{s, tx, h}
}

// TestRenderMatrix renders every template in every locale for every kind
// and holder kind, and checks what each must say.
func TestRenderMatrix(t *testing.T) {
	for _, loc := range recoverybot.Locales {
		for _, k := range recoverybot.Kinds {
			for _, h := range recoverybot.HolderKinds {
				for _, tmpl := range Templates {
					if !applies(tmpl, k) {
						continue
					}
					variants := []bool{false}
					if tmpl == Instructions && k.NeedsCode() {
						variants = append(variants, true)
					}
					for _, reissued := range variants {
						name := fmt.Sprintf("%s/%s/%s/%s/reissued=%v", loc, tmpl, k, h, reissued)
						t.Run(name, func(t *testing.T) {
							d := fullData(loc, k, h)
							d.Reissued = reissued
							r := render(t, tmpl, d)
							checkRendered(t, tmpl, d, r)
						})
					}
				}
			}
		}
	}
}

func checkRendered(t *testing.T, tmpl Template, d Data, r rendered) {
	t.Helper()
	loc := d.Locale
	if !strings.HasPrefix(r.subject, "["+testRef+"] ") {
		t.Errorf("subject %q does not start with [%s]", r.subject, testRef)
	}
	if strings.ContainsAny(r.subject, "\r\n") || len(r.subject) > 120 {
		t.Errorf("subject %q", r.subject)
	}
	greeting, signature := "Bonjour,", "L'équipe support Example Hosting"
	if loc == "en" {
		greeting, signature = "Hello,", "The Example Hosting support team"
	}
	for _, part := range []string{r.text, visible(r.html)} {
		if !strings.Contains(part, greeting) || !strings.Contains(part, signature) {
			t.Errorf("greeting %q or signature %q missing:\n%s", greeting, signature, part)
		}
		if !strings.Contains(part, testRef) {
			t.Errorf("reference missing:\n%s", part)
		}
	}
	checkTidy(t, r)
	if !strings.Contains(r.html, `<html lang="`+loc+`">`) {
		t.Errorf("HTML is not marked as %s", loc)
	}

	// The documents, in the words of the help page.
	if tmpl == Instructions || tmpl == Acknowledgement || tmpl == Reminder {
		for _, part := range []string{r.text, visible(r.html)} {
			for _, w := range wording[loc][d.HolderKind] {
				if !strings.Contains(part, w) {
					t.Errorf("%q missing:\n%s", w, part)
				}
			}
			for _, w := range wrongWording(loc, d.HolderKind) {
				if strings.Contains(part, w) {
					t.Errorf("%q shown to a %s:\n%s", w, d.HolderKind, part)
				}
			}
		}
	}
	if tmpl == Acknowledgement || tmpl == Reminder {
		ow := otherWording[loc]
		for _, part := range []string{r.text, visible(r.html)} {
			if d.Kind.NeedsCode() != strings.Contains(part, ow.code) {
				t.Errorf("code requirement %q shown=%v for %s:\n%s", ow.code, !d.Kind.NeedsCode(), d.Kind, part)
			}
			if d.Kind.NeedsCode() != strings.Contains(part, ow.sender) {
				t.Errorf("sender requirement %q shown=%v for %s:\n%s", ow.sender, !d.Kind.NeedsCode(), d.Kind, part)
			}
		}
	}

	all := r.all()
	// The code, in Instructions of the code kinds only.
	if tmpl == Instructions && d.Kind.NeedsCode() {
		for _, part := range []string{r.text, visible(r.html)} {
			if !strings.Contains(part, testCode) {
				t.Errorf("code missing from instructions:\n%s", part)
			}
			ttl := map[string]string{"fr": "valable 24 heures", "en": "valid for 24 hours"}[loc]
			if !strings.Contains(part, ttl) {
				t.Errorf("%q missing:\n%s", ttl, part)
			}
			replaces := map[string]string{"fr": "remplace le précédent", "en": "replaces the previous one"}[loc]
			if d.Reissued != strings.Contains(part, replaces) {
				t.Errorf("reissued=%v but %q shown=%v:\n%s", d.Reissued, replaces, !d.Reissued, part)
			}
		}
		if strings.Contains(r.subject, testCode) {
			t.Errorf("code in the subject %q", r.subject)
		}
	} else if strings.Contains(all, testCode) || strings.Contains(all, strings.ReplaceAll(testCode, "-", "")) {
		t.Errorf("code shown outside the code instructions:\n%s", all)
	}
	if tmpl == Instructions {
		fromProfile := map[string]string{"fr": "depuis l'adresse email du profil", "en": "sent from the profile's email address"}[loc]
		if d.Kind.NeedsCode() != strings.Contains(r.text, fromProfile) {
			t.Errorf("%q shown=%v for %s:\n%s", fromProfile, !d.Kind.NeedsCode(), d.Kind, r.text)
		}
		if !strings.Contains(r.text, d.Mailbox) || !strings.Contains(r.text, "["+testRef+"]") {
			t.Errorf("how to answer (mailbox, [ref]) missing:\n%s", r.text)
		}
		purpose := map[string]map[recoverybot.Kind]string{
			"fr": {
				recoverybot.KindLostEmail:   "nous vous indiquerons l'adresse email du profil",
				recoverybot.KindTOTPLockout: "nous désactiverons l'authentification TOTP",
				recoverybot.KindIPLockout:   "nous supprimerons les adresses IP autorisées",
			},
			"en": {
				recoverybot.KindLostEmail:   "we will tell you the profile's email address",
				recoverybot.KindTOTPLockout: "we will disable TOTP on your profile",
				recoverybot.KindIPLockout:   "we will remove the allowed IP addresses",
			},
		}[loc][d.Kind]
		if !d.Reissued && !strings.Contains(r.text, purpose) {
			t.Errorf("%q missing:\n%s", purpose, r.text)
		}
	}

	// The profile's address, revealed only on approval of a lost-email
	// case; the contact address never in full in the owner notice.
	revealsEmail := tmpl == Approved && d.Kind == recoverybot.KindLostEmail
	if revealsEmail != strings.Contains(all, testEmail) {
		t.Errorf("profile email shown=%v in %s of %s:\n%s", !revealsEmail, tmpl, d.Kind, all)
	}
	if revealsEmail != strings.Contains(all, testNew) {
		t.Errorf("new email shown=%v in %s of %s:\n%s", !revealsEmail, tmpl, d.Kind, all)
	}
	if tmpl == OwnerNotice {
		for _, part := range []string{r.text, visible(r.html)} {
			if !strings.Contains(part, "j***@example.org") {
				t.Errorf("masked contact missing:\n%s", part)
			}
			object := map[string]string{"fr": "répondez simplement à ce message pour vous y opposer", "en": "reply to this message to object"}[loc]
			if !strings.Contains(part, object) {
				t.Errorf("%q missing:\n%s", object, part)
			}
		}
	}
	// The holder's name goes only to the profile's own address.
	toProfile := d.Kind.NeedsCode() || tmpl == OwnerNotice || tmpl == ApprovalNotice
	if !toProfile && strings.Contains(all, d.HolderName) {
		t.Errorf("holder name shown to the contact address of a %s case:\n%s", d.Kind, all)
	}

	if tmpl == Approved {
		what := map[string]map[recoverybot.Kind]string{
			"fr": {
				recoverybot.KindLostEmail:   "L'adresse email de votre profil Example Hosting est : " + testEmail,
				recoverybot.KindTOTPLockout: "L'authentification à deux facteurs (TOTP) a été désactivée sur votre profil",
				recoverybot.KindIPLockout:   "Les adresses IP autorisées ont été supprimées de votre profil",
			},
			"en": {
				recoverybot.KindLostEmail:   "The email address of your Example Hosting profile is: " + testEmail,
				recoverybot.KindTOTPLockout: "2FA (TOTP) has been disabled on your profile",
				recoverybot.KindIPLockout:   "The allowed IP addresses have been removed from your profile",
			},
		}[loc][d.Kind]
		for _, part := range []string{r.text, visible(r.html)} {
			if !strings.Contains(part, what) {
				t.Errorf("%q missing:\n%s", what, part)
			}
		}
	}
	if tmpl == Reminder || tmpl == Expired {
		what := map[string]map[Template]string{
			"fr": {Reminder: "est toujours ouverte, mais nous ne pouvons pas encore la traiter", Expired: "a expiré"},
			"en": {Reminder: "is still open, but we cannot proceed yet", Expired: "has expired"},
		}[loc][tmpl]
		for _, part := range []string{r.subject, r.text, visible(r.html)} {
			if part != r.subject && !strings.Contains(part, what) {
				t.Errorf("%q missing:\n%s", what, part)
			}
		}
		subject := map[string]map[Template]string{
			"fr": {Reminder: "Votre demande attend toujours des justificatifs", Expired: "Votre demande a expiré"},
			"en": {Reminder: "Your request is still waiting for documents", Expired: "Your request has expired"},
		}[loc][tmpl]
		if r.subject != "["+testRef+"] "+subject {
			t.Errorf("subject %q, want %q", r.subject, subject)
		}
	}
	showsReason := tmpl == Rejected || tmpl == AskAgain
	if showsReason && (!strings.Contains(visible(r.html), d.Reason) || !strings.Contains(r.text, d.Reason)) {
		t.Errorf("reason missing:\n%s\n%s", r.text, r.html)
	}
	if !showsReason && strings.Contains(all, d.Reason) {
		t.Errorf("reason shown in %s", tmpl)
	}
	if tmpl == Rejected {
		for _, part := range []string{r.text, visible(r.html)} {
			if w := rejectWording[loc][recoverybot.RejectDocumentsMismatch]; !strings.Contains(part, w) {
				t.Errorf("%q missing:\n%s", w, part)
			}
		}
	}

	if tmpl == AskAgain {
		for _, part := range []string{r.text, visible(r.html)} {
			for _, w := range []string{wording[loc][d.HolderKind][0], askWording[loc][d.AskReason], askAttach[loc], d.Mailbox, "[" + testRef + "]"} {
				if !strings.Contains(part, w) {
					t.Errorf("%q missing:\n%s", w, part)
				}
			}
			for _, w := range wrongWording(loc, d.HolderKind) {
				if strings.Contains(part, w) {
					t.Errorf("%q shown to a %s:\n%s", w, d.HolderKind, part)
				}
			}
			fromProfile := map[string]string{"fr": "depuis l'adresse email du profil", "en": "from the profile's email address"}[loc]
			if d.Kind.NeedsCode() != strings.Contains(part, fromProfile) {
				t.Errorf("%q shown=%v for %s:\n%s", fromProfile, !d.Kind.NeedsCode(), d.Kind, part)
			}
		}
	}

	if tmpl == ApprovalNotice {
		what := map[string]map[recoverybot.Kind]string{
			"fr": {
				recoverybot.KindLostEmail:   "L'adresse email du profil, celle à laquelle vous recevez ce message, a été remplacée par " + MaskAddress(testNew),
				recoverybot.KindTOTPLockout: "L'authentification à deux facteurs (TOTP) a été désactivée sur le profil",
				recoverybot.KindIPLockout:   "Les adresses IP autorisées ont été supprimées du profil",
			},
			"en": {
				recoverybot.KindLostEmail:   "The profile's email address, the one at which you receive this message, has been replaced with " + MaskAddress(testNew),
				recoverybot.KindTOTPLockout: "Two-factor authentication (TOTP) has been disabled on the profile",
				recoverybot.KindIPLockout:   "The allowed IP addresses have been removed from the profile",
			},
		}[loc][d.Kind]
		done := map[string]string{"fr": "Cette modification a été effectuée le ", "en": "This change was made on "}[loc] + whenWords[loc]
		object := map[string]string{"fr": "Si vous n'avez pas fait cette demande, signalez-le-nous sans attendre", "en": "If you did not make this request, object at once"}[loc]
		for _, part := range []string{r.text, visible(r.html)} {
			for _, w := range []string{what, done, object, d.Mailbox, "[" + testRef + "]", d.HolderName} {
				if !strings.Contains(part, w) {
					t.Errorf("%q missing:\n%s", w, part)
				}
			}
		}
		subject := map[string]string{"fr": "Modification de votre profil Example Hosting", "en": "Change to your Example Hosting profile"}[loc]
		if r.subject != "["+testRef+"] "+subject {
			t.Errorf("subject %q, want %q", r.subject, subject)
		}
	}
}

// rejectWording is each RejectReason as the customer reads it, written
// out so that a change of wording shows. RejectOther has none.
var rejectWording = map[string]map[recoverybot.RejectReason]string{
	"fr": {
		recoverybot.RejectDocumentsMismatch: "Les documents envoyés ne correspondent pas au profil.",
		recoverybot.RejectNotHolder:         "Nous n'avons pas pu établir que vous êtes le titulaire du profil ou son représentant légal.",
		recoverybot.RejectForged:            "Un document envoyé semble avoir été modifié.",
		recoverybot.RejectIncomplete:        "Nous n'avons pas reçu l'ensemble des justificatifs demandés.",
	},
	"en": {
		recoverybot.RejectDocumentsMismatch: "The documents you sent do not match the profile.",
		recoverybot.RejectNotHolder:         "We could not establish that you are the holder of the profile or its legal representative.",
		recoverybot.RejectForged:            "A document you sent appears to have been altered.",
		recoverybot.RejectIncomplete:        "We did not receive everything we asked for.",
	},
}

// askWording is the start of what each AskReason tells the customer.
var askWording = map[string]map[recoverybot.AskReason]string{
	"fr": {
		recoverybot.AskUnreadable:  "La copie reçue est illisible (floue, trop sombre ou trop petite). Merci d'envoyer une photo ou un scan net",
		recoverybot.AskExpired:     "Le document reçu a expiré. Merci d'envoyer un document en cours de validité.",
		recoverybot.AskWrongPerson: "Le document reçu ne concerne pas le titulaire du profil. Merci d'envoyer le document indiqué ci-dessus",
		recoverybot.AskCropped:     "Une partie du document reçu est coupée ou masquée. Merci d'envoyer une photo ou un scan du document entier",
	},
	"en": {
		recoverybot.AskUnreadable:  "The copy we received cannot be read: it is blurred, too dark or too small. Please send a sharp photo or scan",
		recoverybot.AskExpired:     "The document we received has expired. Please send a document that is still valid.",
		recoverybot.AskWrongPerson: "The document we received does not concern the holder of the profile. Please send the document named above",
		recoverybot.AskCropped:     "Part of the document we received is cut off or hidden. Please send a photo or scan of the whole document",
	},
}

// askAttach is how AskAgain tells the customer to send the document.
var askAttach = map[string]string{
	"fr": "Répondez à ce message en joignant le justificatif",
	"en": "Reply to this message with the document attached",
}

// checkTidy catches what careless templates leave behind.
func checkTidy(t *testing.T, r rendered) {
	t.Helper()
	for name, part := range map[string]string{"text": r.text, "html": r.html} {
		for _, bad := range []string{"<no value>", "\n\n\n", "{{", "}}", "%!", " ,", "( )", "()"} {
			if strings.Contains(part, bad) {
				t.Errorf("%s part contains %q:\n%s", name, bad, part)
			}
		}
		for i, line := range strings.Split(part, "\n") {
			if strings.TrimRight(line, " \t") != line {
				t.Errorf("%s line %d has trailing white space: %q", name, i+1, line)
			}
		}
		if !strings.HasSuffix(part, "\n") || strings.HasSuffix(part, "\n\n") {
			t.Errorf("%s part does not end with exactly one newline", name)
		}
	}
	if strings.Contains(r.text, "<") || strings.Contains(r.text, "&#") || strings.Contains(r.text, "&nbsp;") {
		t.Errorf("markup in the text part:\n%s", r.text)
	}
}

func TestRenderLostEmailWithoutNewEmail(t *testing.T) {
	for _, loc := range recoverybot.Locales {
		d := fullData(loc, recoverybot.KindLostEmail, recoverybot.HolderIndividual)
		d.NewEmail = ""
		r := render(t, Approved, d)
		if !strings.Contains(r.text, testEmail) || strings.Contains(r.text, testNew) {
			t.Errorf("%s:\n%s", loc, r.text)
		}
		changed := map[string]string{"fr": "remplacée", "en": "replaced"}[loc]
		if strings.Contains(r.all(), changed) {
			t.Errorf("%s: says the address was changed although it was not:\n%s", loc, r.text)
		}
		// The same address given as new is no change either.
		d.NewEmail = strings.ToUpper(testEmail)
		if r := render(t, Approved, d); strings.Contains(r.all(), changed) {
			t.Errorf("%s: unchanged address reported as changed", loc)
		}
	}
}

func TestRenderLocale(t *testing.T) {
	for in, want := range map[string]string{
		"": "Bonjour", "fr": "Bonjour", "FR": "Bonjour", "fr-CA": "Bonjour", "de": "Bonjour", "xx\r\n": "Bonjour",
		"en": "Hello", "EN": "Hello", "en-GB": "Hello", "en_US": "Hello", " en ": "Hello",
	} {
		d := fullData(in, recoverybot.KindTOTPLockout, recoverybot.HolderIndividual)
		r := render(t, UnderReview, d)
		if !strings.HasPrefix(r.text, want) {
			t.Errorf("locale %q: text starts %q, want %q", in, r.text[:10], want)
		}
	}
}

func TestRenderEscapesHTML(t *testing.T) {
	d := fullData("en", recoverybot.KindLostEmail, recoverybot.HolderCompany)
	d.Reason = `<script>alert("x")</script> & <b>bold</b>`
	d.Provider = `Evil <img src=x onerror=alert(1)>`
	r := render(t, Rejected, d)
	if strings.Contains(r.html, "<script>") || strings.Contains(r.html, "<img") || strings.Contains(r.html, "<b>bold") {
		t.Errorf("HTML not escaped:\n%s", r.html)
	}
	if !strings.Contains(visible(r.html), d.Reason) {
		t.Errorf("escaped reason does not read back:\n%s", r.html)
	}
	if !strings.Contains(r.text, d.Reason) {
		t.Errorf("text reason changed:\n%s", r.text)
	}
}

// TestRenderRefusesIncomplete checks that no mail goes out half-filled.
func TestRenderRefusesIncomplete(t *testing.T) {
	type tc struct {
		tmpl   Template
		kind   recoverybot.Kind
		change func(*Data)
	}
	lost, totp, ip := recoverybot.KindLostEmail, recoverybot.KindTOTPLockout, recoverybot.KindIPLockout
	cases := map[string]tc{
		"code kind without code":       {Instructions, totp, func(d *Data) { d.Code = "" }},
		"ip code kind without code":    {Instructions, ip, func(d *Data) { d.Code = "" }},
		"malformed code":               {Instructions, totp, func(d *Data) { d.Code = "hello" }},
		"code without lifetime":        {Instructions, ip, func(d *Data) { d.CodeTTL = 0 }},
		"negative lifetime":            {Instructions, ip, func(d *Data) { d.CodeTTL = -time.Hour }},
		"lost-email with a code":       {Instructions, lost, func(d *Data) { d.Code, d.CodeTTL = testCode, time.Hour }},
		"lost-email reissued":          {Instructions, lost, func(d *Data) { d.Reissued = true }},
		"instructions without mailbox": {Instructions, lost, func(d *Data) { d.Mailbox = "" }},
		"bad mailbox":                  {Instructions, totp, func(d *Data) { d.Mailbox = "contact" }},
		"no holder kind":               {Instructions, lost, func(d *Data) { d.HolderKind = "" }},
		"unknown holder kind":          {Instructions, lost, func(d *Data) { d.HolderKind = "particulier" }},
		"unknown document":             {Instructions, lost, func(d *Data) { d.Required = []recoverybot.DocumentType{"passport"} }},
		"document other":               {Instructions, lost, func(d *Data) { d.Required = []recoverybot.DocumentType{recoverybot.DocOther} }},
		"document of another holder": {Instructions, lost, func(d *Data) {
			d.HolderKind = recoverybot.HolderIndividual
			d.Required = []recoverybot.DocumentType{recoverybot.DocCompanyRegistration}
		}},
		"no reference":                  {UnderReview, lost, func(d *Data) { d.Ref = "" }},
		"lower-case reference":          {UnderReview, lost, func(d *Data) { d.Ref = "rc-7kq2m9" }},
		"reference with a newline":      {UnderReview, lost, func(d *Data) { d.Ref = testRef + "\n" }},
		"no kind":                       {UnderReview, "", nil},
		"unknown kind":                  {UnderReview, "password", nil},
		"no provider":                   {UnderReview, lost, func(d *Data) { d.Provider = " " }},
		"owner notice unmasked":         {OwnerNotice, lost, func(d *Data) { d.MaskedContact = "jean@example.org" }},
		"owner notice no contact":       {OwnerNotice, lost, func(d *Data) { d.MaskedContact = "" }},
		"owner notice for totp":         {OwnerNotice, totp, nil},
		"ack with nothing missing":      {Acknowledgement, lost, func(d *Data) { d.Missing = nil }},
		"ack with unknown missing":      {Acknowledgement, lost, func(d *Data) { d.Missing = []recoverybot.Requirement{"other"} }},
		"ack without holder kind":       {Acknowledgement, totp, func(d *Data) { d.HolderKind = "" }},
		"ack without mailbox":           {Acknowledgement, totp, func(d *Data) { d.Mailbox = "" }},
		"reminder with nothing missing": {Reminder, lost, func(d *Data) { d.Missing = nil }},
		"reminder without mailbox":      {Reminder, totp, func(d *Data) { d.Mailbox = "" }},
		"approved without email":        {Approved, lost, func(d *Data) { d.ProfileEmail = "" }},
		"approved with bad email":       {Approved, lost, func(d *Data) { d.ProfileEmail = "x\n@example.org" }},
		"approved with bad new email":   {Approved, lost, func(d *Data) { d.NewEmail = "not an address" }},
		"rejected without reason":       {Rejected, totp, func(d *Data) { d.Reason, d.RejectReason = "", "" }},
		"rejected blank reason":         {Rejected, ip, func(d *Data) { d.Reason, d.RejectReason = " \n\t", "" }},
		"rejected other without text":   {Rejected, ip, func(d *Data) { d.Reason, d.RejectReason = " ", recoverybot.RejectOther }},
		"rejected unknown reason":       {Rejected, lost, func(d *Data) { d.RejectReason = "rude" }},
		"ask again without reason":      {AskAgain, lost, func(d *Data) { d.AskReason = "" }},
		"ask again unknown reason":      {AskAgain, totp, func(d *Data) { d.AskReason = "ugly" }},
		"ask again without document":    {AskAgain, lost, func(d *Data) { d.Document = "" }},
		"ask again document other":      {AskAgain, lost, func(d *Data) { d.Document = recoverybot.DocOther }},
		"ask again for the code":        {AskAgain, totp, func(d *Data) { d.Document = recoverybot.DocumentType(recoverybot.NeedCode) }},
		"ask again without holder kind": {AskAgain, ip, func(d *Data) { d.HolderKind = "" }},
		"ask again without mailbox":     {AskAgain, lost, func(d *Data) { d.Mailbox = "" }},
		"ask again another holder's document": {AskAgain, lost, func(d *Data) {
			d.HolderKind = recoverybot.HolderIndividual
			d.Document = recoverybot.DocCompanyRegistration
		}},
		"notice without time":          {ApprovalNotice, totp, func(d *Data) { d.EffectiveAt = time.Time{} }},
		"notice without mailbox":       {ApprovalNotice, ip, func(d *Data) { d.Mailbox = "" }},
		"notice with bad new email":    {ApprovalNotice, lost, func(d *Data) { d.NewEmail = "not an address" }},
		"notice with unmasked contact": {ApprovalNotice, lost, func(d *Data) { d.NewEmail, d.MaskedContact = "", "jean@example.org" }},
	}
	for name, c := range cases {
		for _, loc := range recoverybot.Locales {
			d := fullData(loc, c.kind, recoverybot.HolderCompany)
			if c.change != nil {
				c.change(&d)
			}
			s, tx, h, err := Render(c.tmpl, d)
			if err == nil {
				t.Errorf("%s (%s): rendered:\n%s\n%s", name, loc, s, tx)
				continue
			}
			if !errors.Is(err, ErrIncomplete) {
				t.Errorf("%s (%s): error %v does not wrap ErrIncomplete", name, loc, err)
			}
			if s != "" || tx != "" || h != "" {
				t.Errorf("%s (%s): output returned with the error", name, loc)
			}
		}
	}
	if _, _, _, err := Render("welcome", fullData("fr", lost, recoverybot.HolderCompany)); err == nil {
		t.Error("unknown template rendered")
	}
}

// TestRenderRejectReasons checks the reason from the list and the
// agent's text of a rejection, alone or together: one of them at least.
func TestRenderRejectReasons(t *testing.T) {
	const text = "Le nom sur la pièce d'identité n'est pas celui du gérant."
	for _, loc := range recoverybot.Locales {
		for _, reason := range recoverybot.RejectReasons {
			for _, withText := range []bool{false, true} {
				d := fullData(loc, recoverybot.KindLostEmail, recoverybot.HolderCompany)
				d.RejectReason, d.Reason = reason, ""
				if withText {
					d.Reason = text
				}
				name := fmt.Sprintf("%s/%s/text=%v", loc, reason, withText)
				s, tx, h, err := Render(Rejected, d)
				if reason == recoverybot.RejectOther && !withText {
					if !errors.Is(err, ErrIncomplete) {
						t.Errorf("%s: %v, want ErrIncomplete:\n%s", name, err, tx)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				r := rendered{s, tx, h}
				checkTidy(t, r)
				for _, part := range []string{r.text, visible(r.html)} {
					w, worded := rejectWording[loc][reason]
					if worded != (reason != recoverybot.RejectOther) {
						t.Fatalf("%s: no wording written out in the test", name)
					}
					if worded && !strings.Contains(part, w) {
						t.Errorf("%s: %q missing:\n%s", name, w, part)
					}
					if withText != strings.Contains(part, text) {
						t.Errorf("%s: agent's text shown=%v:\n%s", name, !withText, part)
					}
					if worded && withText && strings.Index(part, w) > strings.Index(part, text) {
						t.Errorf("%s: the agent's text comes before the reason:\n%s", name, part)
					}
					// The reason is in the customer's language only.
					for other, ws := range rejectWording {
						if other != loc && strings.Contains(part, ws[reason]) && ws[reason] != "" {
							t.Errorf("%s: %s wording shown:\n%s", name, other, part)
						}
					}
				}
			}
		}

		// Reason only reads as it did before the list: "Reason: <text>".
		d := fullData(loc, recoverybot.KindTOTPLockout, recoverybot.HolderIndividual)
		d.RejectReason, d.Reason = "", text
		r := render(t, Rejected, d)
		label := map[string]string{"fr": "Motif : ", "en": "Reason: "}[loc]
		for _, part := range []string{r.text, visible(r.html)} {
			if !strings.Contains(part, label+text) {
				t.Errorf("%s: reason only: %q missing:\n%s", loc, label+text, part)
			}
			for _, w := range rejectWording[loc] {
				if strings.Contains(part, w) {
					t.Errorf("%s: reason only shows %q:\n%s", loc, w, part)
				}
			}
		}

		// Neither: refused.
		d.Reason = ""
		if _, _, _, err := Render(Rejected, d); !errors.Is(err, ErrIncomplete) {
			t.Errorf("%s: neither reason nor text: %v, want ErrIncomplete", loc, err)
		}
	}
}

// TestRenderAskAgain asks again for every document of every holder kind
// for every reason, and checks that the mail names the document in the
// help page's words and says what to send instead.
func TestRenderAskAgain(t *testing.T) {
	docWords := map[string]map[recoverybot.DocumentType]string{
		"fr": {recoverybot.DocCompanyRegistration: "l'extrait KBIS de l'entreprise", recoverybot.DocAssociationStatutes: "les statuts de l'association"},
		"en": {recoverybot.DocCompanyRegistration: "the company's registration extract (KBIS)", recoverybot.DocAssociationStatutes: "the association's statutes"},
	}
	subject := map[string]string{"fr": "Merci de nous renvoyer un justificatif", "en": "Please send a document again"}
	for _, loc := range recoverybot.Locales {
		for _, h := range recoverybot.HolderKinds {
			for _, doc := range recoverybot.RequiredDocuments(h) {
				for _, reason := range recoverybot.AskReasons {
					name := fmt.Sprintf("%s/%s/%s/%s", loc, h, doc, reason)
					d := fullData(loc, recoverybot.KindLostEmail, h)
					d.Document, d.AskReason, d.Reason = doc, reason, ""
					r := render(t, AskAgain, d)
					checkTidy(t, r)
					if r.subject != "["+testRef+"] "+subject[loc] {
						t.Errorf("%s: subject %q", name, r.subject)
					}
					want := wording[loc][h][0]
					if doc != recoverybot.DocIdentity {
						want = docWords[loc][doc]
					}
					for _, part := range []string{r.text, visible(r.html)} {
						for _, w := range []string{want, askWording[loc][reason], askAttach[loc]} {
							if w == "" || !strings.Contains(part, w) {
								t.Errorf("%s: %q missing:\n%s", name, w, part)
							}
						}
						for other, w := range askWording[loc] {
							if other != reason && strings.Contains(part, w) {
								t.Errorf("%s: the words of %s shown:\n%s", name, other, part)
							}
						}
						note := map[string]string{"fr": "Note de notre équipe", "en": "Note from our team"}[loc]
						if strings.Contains(part, note) {
							t.Errorf("%s: a note without the agent's text:\n%s", name, part)
						}
					}
				}
			}
		}
	}
}

// TestRenderApprovalNotice checks the notice to the profile's own address:
// a new address only masked, the wording of a change that waits, and the
// moment in UTC.
func TestRenderApprovalNotice(t *testing.T) {
	for _, loc := range recoverybot.Locales {
		// An email change: the new address masked, never in clear.
		d := fullData(loc, recoverybot.KindLostEmail, recoverybot.HolderIndividual)
		r := render(t, ApprovalNotice, d)
		local, _, _ := strings.Cut(testNew, "@")
		if all := r.all() + r.html; strings.Contains(all, testNew) || strings.Contains(all, local) || !strings.Contains(r.text, MaskAddress(testNew)) {
			t.Errorf("%s: new address not masked:\n%s", loc, all)
		}
		replaced := map[string]string{"fr": "a été remplacée par", "en": "has been replaced with"}[loc]
		given := map[string]string{"fr": "communiquée à la personne qui a fait la demande", "en": "given to the person who made the request"}[loc]
		if !strings.Contains(r.text, replaced) || strings.Contains(r.text, given) {
			t.Errorf("%s: change not told as a change:\n%s", loc, r.text)
		}

		// The address told, not changed: who it was told to, masked; the
		// same address given as new is no change either.
		for _, newEmail := range []string{"", strings.ToUpper(testEmail)} {
			d.NewEmail = newEmail
			r = render(t, ApprovalNotice, d)
			for _, part := range []string{r.text, visible(r.html)} {
				if !strings.Contains(part, given+", ") || !strings.Contains(part, d.MaskedContact) || strings.Contains(part, replaced) {
					t.Errorf("%s: new=%q: address told reads wrong:\n%s", loc, newEmail, part)
				}
			}
		}
		d.MaskedContact = ""
		if r = render(t, ApprovalNotice, d); !strings.Contains(r.text, given+".") {
			t.Errorf("%s: address told without a contact:\n%s", loc, r.text)
		}

		// Delayed: what will happen, and until when to object.
		for _, k := range recoverybot.Kinds {
			d := fullData(loc, k, recoverybot.HolderCompany)
			d.EffectiveAt = testWhen.In(time.FixedZone("Paris", 3600)) // the same instant
			now, later := render(t, ApprovalNotice, d), rendered{}
			d.Delayed = true
			later = render(t, ApprovalNotice, d)
			checkTidy(t, later)
			done := map[string]string{"fr": "Cette modification a été effectuée le ", "en": "This change was made on "}[loc] + whenWords[loc]
			ahead := map[string]string{
				"fr": "Cette modification prendra effet le " + whenWords[loc] + ", sauf si vous vous y opposez d'ici là.",
				"en": "This change will take effect on " + whenWords[loc] + ", unless you object before then.",
			}[loc]
			future := map[string]string{"fr": "sera", "en": "will be"}[loc]
			for i, part := range []string{later.text, visible(later.html)} {
				if !strings.Contains(part, ahead) || strings.Contains(part, done) {
					t.Errorf("%s/%s: delayed notice:\n%s", loc, k, part)
				}
				if !strings.Contains(part, future) {
					t.Errorf("%s/%s: delayed notice not in the future tense:\n%s", loc, k, part)
				}
				if nowPart := []string{now.text, visible(now.html)}[i]; !strings.Contains(nowPart, done) || strings.Contains(nowPart, ahead) {
					t.Errorf("%s/%s: notice:\n%s", loc, k, nowPart)
				}
			}
			if later.subject == now.subject || !strings.HasPrefix(later.subject, "["+testRef+"] ") {
				t.Errorf("%s/%s: subjects %q and %q", loc, k, now.subject, later.subject)
			}
		}
	}
}

func TestDateWords(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	for _, c := range []struct {
		loc  string
		t    time.Time
		want string
	}{
		{"en", testWhen, "4 December 2026 at 21:30 UTC"},
		{"fr", testWhen, "4 décembre 2026 à 21:30 UTC"},
		{"fr", time.Date(2027, 1, 1, 0, 30, 0, 0, paris), "31 décembre 2026 à 23:30 UTC"},
		{"fr", time.Date(2026, 8, 1, 9, 5, 0, 0, time.UTC), "1er août 2026 à 09:05 UTC"},
		{"en", time.Date(2026, 8, 1, 9, 5, 0, 0, time.UTC), "1 August 2026 at 09:05 UTC"},
	} {
		if got := dateWords(c.loc, c.t); got != c.want {
			t.Errorf("dateWords(%s, %v) = %q, want %q", c.loc, c.t, got, c.want)
		}
	}
}

// TestRenderDerivesRequired checks that an empty Required is filled from
// the requirement table.
func TestRenderDerivesRequired(t *testing.T) {
	d := fullData("fr", recoverybot.KindLostEmail, recoverybot.HolderAssociation)
	d.Required = nil
	r := render(t, Instructions, d)
	for _, w := range wording["fr"][recoverybot.HolderAssociation] {
		if !strings.Contains(r.text, w) {
			t.Errorf("%q missing:\n%s", w, r.text)
		}
	}
}

// TestRenderComposes sends every rendered mail through Compose and reads
// it back with enmime: what the customer's client shows is what was
// rendered.
func TestRenderComposes(t *testing.T) {
	for _, loc := range recoverybot.Locales {
		for _, tmpl := range Templates {
			d := fullData(loc, recoverybot.KindTOTPLockout, recoverybot.HolderCompany)
			if tmpl == OwnerNotice {
				d = fullData(loc, recoverybot.KindLostEmail, recoverybot.HolderCompany)
			}
			r := render(t, tmpl, d)
			m := sampleMail()
			m.Subject, m.Text, m.HTML = r.subject, r.text, r.html
			raw, err := Compose(m)
			if err != nil {
				t.Fatalf("%s/%s: %v", loc, tmpl, err)
			}
			checkWireFormat(t, raw)
			env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if env.GetHeader("Subject") != r.subject || crlfToLF(env.Text) != r.text || crlfToLF(env.HTML) != r.html {
				t.Errorf("%s/%s: enmime reads back something else", loc, tmpl)
			}
		}
	}
}

func TestTemplateFiles(t *testing.T) {
	files, err := templateFiles()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"templates/layout.html.tmpl"}
	for _, loc := range recoverybot.Locales {
		want = append(want, "templates/"+loc+"/common.txt.tmpl", "templates/"+loc+"/common.html.tmpl")
		for _, tmpl := range Templates {
			want = append(want, fmt.Sprintf("templates/%s/%s.txt.tmpl", loc, tmpl), fmt.Sprintf("templates/%s/%s.html.tmpl", loc, tmpl))
		}
	}
	slices.Sort(files)
	slices.Sort(want)
	if !slices.Equal(files, want) {
		t.Errorf("template files:\n%v\nwant:\n%v", files, want)
	}
	if _, err := loadTemplates(); err != nil {
		t.Fatal(err)
	}
}

func TestMaskAddress(t *testing.T) {
	for in, want := range map[string]string{
		"jean.dupont@example.org": "j***@example.org",
		"j@example.org":           "j***@example.org",
		"élodie@example.fr":       "é***@example.fr",
		" x@y.z ":                 "x***@y.z",
		"@example.org":            "***@example.org",
		"nothing":                 "***",
	} {
		if got := MaskAddress(in); got != want {
			t.Errorf("MaskAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDurationWords(t *testing.T) {
	for _, c := range []struct {
		loc  string
		d    time.Duration
		want string
	}{
		{"fr", 24 * time.Hour, "24 heures"},
		{"fr", time.Hour, "1 heure"},
		{"fr", 30 * time.Minute, "30 minutes"},
		{"fr", 90 * time.Minute, "1 h 30 min"},
		{"en", 24 * time.Hour, "24 hours"},
		{"en", time.Hour, "1 hour"},
		{"en", time.Minute, "1 minute"},
		{"en", 48*time.Hour + 29*time.Second, "48 hours"},
	} {
		if got := durationWords(c.loc, c.d); got != c.want {
			t.Errorf("durationWords(%s, %v) = %q, want %q", c.loc, c.d, got, c.want)
		}
	}
}

// FuzzRender checks that no Data makes a template panic, and that what
// renders never carries the code outside the code instructions.
func FuzzRender(f *testing.F) {
	f.Add("fr", testRef, "totp-lockout", "company", "ABCD-EFGH", int64(time.Hour), "contact@example.net", "Example", "reason", "j***@x.org", "a@b.org", "", false)
	f.Add("en", testRef, "lost-email", "association", "", int64(0), "contact@example.net", "{{.Code}}", "<b>", "*@", "a@b.org", "c@d.org", true)
	f.Add("", "RC-ZZZZZZ", "ip-lockout", "individual", "abcd efgh", int64(-1), "x", "P", "", "", "", "", true)
	f.Add("en", testRef, "lost-email", "company", "", int64(1796419800), "contact@example.net", "P", "unreadable", "identity_document", "a@b.org", "new@c.org", true)
	f.Add("fr", testRef, "totp-lockout", "individual", "", int64(0), "contact@example.net", "P", "documents_mismatch", "*@x", "a@b.org", "", false)
	f.Fuzz(func(t *testing.T, loc, ref, kind, holder, code string, ttl int64, mailbox, provider, reason, masked, profile, newEmail string, reissued bool) {
		d := Data{
			Locale: loc, Ref: ref, Kind: recoverybot.Kind(kind), HolderKind: recoverybot.HolderKind(holder),
			Code: code, CodeTTL: time.Duration(ttl), Reissued: reissued, Mailbox: mailbox, Provider: provider,
			Reason: reason, MaskedContact: masked, ProfileEmail: profile, NewEmail: newEmail,
			RejectReason: recoverybot.RejectReason(reason), AskReason: recoverybot.AskReason(reason),
			Document: recoverybot.DocumentType(masked), EffectiveAt: time.Unix(ttl, 0), Delayed: reissued,
			Missing: []recoverybot.Requirement{recoverybot.NeedCode, recoverybot.Requirement(recoverybot.DocIdentity)},
		}
		canon, codeErr := recoverybot.NormalizeCode(code)
		for _, tmpl := range Templates {
			s, tx, h, err := Render(tmpl, d)
			if err != nil {
				continue
			}
			if s == "" || tx == "" || h == "" || strings.ContainsAny(s, "\r\n") {
				t.Fatalf("%s: empty part or multi-line subject %q", tmpl, s)
			}
			_, addrErr := recoverybot.NormalizeAddress(newEmail)
			if tmpl == ApprovalNotice && addrErr == nil && strings.Contains(s+tx+h, newEmail) &&
				!strings.Contains(provider+reason+ref+masked+mailbox+profile+MaskAddress(newEmail), newEmail) {
				t.Fatalf("%s shows the new address in clear", tmpl)
			}
			if tmpl != Instructions && codeErr == nil && len(canon) == 8 {
				shown := canon[:4] + "-" + canon[4:]
				all := s + tx + h
				// The code may legitimately appear inside other fields
				// (a provider named after it); only check when it does
				// not.
				if strings.Contains(all, shown) && !strings.Contains(provider+reason+ref+masked+mailbox+profile+newEmail, shown) {
					t.Fatalf("%s shows the code", tmpl)
				}
			}
		}
	})
}
