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
		Reason:        "Le document d'identité est illisible.",
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
	toProfile := d.Kind.NeedsCode() || tmpl == OwnerNotice
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
	if tmpl == Rejected && !strings.Contains(visible(r.html), d.Reason) {
		t.Errorf("reason missing:\n%s", r.html)
	}
	if tmpl != Rejected && strings.Contains(all, d.Reason) {
		t.Errorf("reason shown in %s", tmpl)
	}
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
		"rejected without reason":       {Rejected, totp, func(d *Data) { d.Reason = "" }},
		"rejected blank reason":         {Rejected, ip, func(d *Data) { d.Reason = " \n\t" }},
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
	f.Fuzz(func(t *testing.T, loc, ref, kind, holder, code string, ttl int64, mailbox, provider, reason, masked, profile, newEmail string, reissued bool) {
		d := Data{
			Locale: loc, Ref: ref, Kind: recoverybot.Kind(kind), HolderKind: recoverybot.HolderKind(holder),
			Code: code, CodeTTL: time.Duration(ttl), Reissued: reissued, Mailbox: mailbox, Provider: provider,
			Reason: reason, MaskedContact: masked, ProfileEmail: profile, NewEmail: newEmail,
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
