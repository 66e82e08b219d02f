package outbound

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	"github.com/recoverybot/recoverybot"
)

// Template names one of the mails recoverybot sends: the domain's
// recoverybot.Template, which the rules name too.
type Template = recoverybot.Template

// The mails recoverybot sends. Each exists in every locale of
// recoverybot.Locales, as templates/<locale>/<name>.txt.tmpl (which also
// defines the subject) and templates/<locale>/<name>.html.tmpl.
const (
	// Instructions opens a case: what to send, where, the reference, and
	// for the code kinds the code and how long it is valid. Sent to the
	// case's contact address. With Data.Reissued it announces a new code
	// that replaces the previous one.
	Instructions = recoverybot.TemplateInstructions
	// OwnerNotice tells the profile's own address that a lost-email case
	// was opened, with the contact address masked, so that a real owner
	// can object by replying.
	OwnerNotice = recoverybot.TemplateOwnerNotice
	// Acknowledgement answers a customer's message: received, and what is
	// still missing.
	Acknowledgement = recoverybot.TemplateAcknowledgement
	// UnderReview tells the customer that everything is there and that an
	// agent reviews it.
	UnderReview = recoverybot.TemplateUnderReview
	// Approved announces the approval and what was done: for lost-email,
	// the profile's address (and the new one); for totp-lockout, TOTP
	// disabled; for ip-lockout, the allowed IP addresses removed.
	Approved = recoverybot.TemplateApproved
	// Rejected announces the rejection: the reason from the list, in the
	// customer's words, and the agent's own text.
	Rejected = recoverybot.TemplateRejected
	// AskAgain asks the customer to send one document again, saying what
	// was wrong with the one received and what to send instead. The case
	// waits for it.
	AskAgain = recoverybot.TemplateAskAgain
	// ApprovalNotice tells the profile's own address (the old one, for an
	// email change) that an approval changed the profile: what was done,
	// when, and how to object (NIST SP 800-63B-4 §4.2.3). It never shows
	// the code, a document or a new address in clear.
	ApprovalNotice = recoverybot.TemplateApprovalNotice
	// Reminder reminds a customer whose case still waits for evidence of
	// what is missing (never the code itself), once per case.
	Reminder = recoverybot.TemplateReminder
	// Expired tells the customer that the case expired without complete
	// evidence and is closed.
	Expired = recoverybot.TemplateExpired
)

// Templates lists every template.
var Templates = recoverybot.Templates

// Data fills a template. Which fields a template needs is said on each
// field; Render refuses Data that lacks one, and ignores the fields a
// template does not use. Nothing here may come from a customer's message.
type Data struct {
	// Locale is "fr" or "en"; empty or anything else means "fr". A region
	// ("en-GB") is ignored.
	Locale string
	// Ref is the case reference, RC-XXXXXX. Every template; always in the
	// subject as [RC-XXXXXX] so that replies carry it.
	Ref string
	// Kind is the kind of the case. Every template.
	Kind recoverybot.Kind
	// HolderKind decides the wording of the documents. Instructions,
	// Acknowledgement, Reminder and AskAgain.
	HolderKind recoverybot.HolderKind
	// HolderName is the profile's holder, shown only in mail to the
	// profile's own address (OwnerNotice, ApprovalNotice and the code
	// kinds), never to the unverified contact address of a lost-email
	// case. Optional.
	HolderName string
	// Required lists the documents to send, as RequiredDocuments gives
	// them; empty means RequiredDocuments(HolderKind). Instructions.
	Required []recoverybot.DocumentType
	// Missing lists what the case still lacks, as recoverybot.Missing
	// gives it; it must not be empty. Acknowledgement and Reminder.
	Missing []recoverybot.Requirement
	// Code is the verification code, XXXX-XXXX, and CodeTTL its lifetime.
	// Instructions of the code kinds only; a code given for a lost-email
	// case is refused. No other template shows it.
	Code    string
	CodeTTL time.Duration
	// Reissued makes Instructions announce a new code replacing the
	// previous one. Code kinds only.
	Reissued bool
	// Mailbox is the address customers write to (contact@…). Instructions,
	// Acknowledgement, Reminder, AskAgain and ApprovalNotice.
	Mailbox string
	// ProfileEmail is the profile's address, revealed by Approved for a
	// lost-email case (required there), and NewEmail the address it was
	// changed to, if it was (optional). ApprovalNotice of a lost-email
	// case says the address was changed when NewEmail is set (and differs
	// from ProfileEmail, when that is given), and shows NewEmail only
	// masked (MaskAddress).
	ProfileEmail string
	NewEmail     string
	// MaskedContact is the contact address as MaskAddress shows it.
	// OwnerNotice (required); ApprovalNotice of a lost-email case whose
	// address was told, not changed (optional: who it was told to).
	MaskedContact string
	// RejectReason is the reason from the list, worded in the customer's
	// locale, and Reason the agent's own text after it. Rejected needs one
	// of the two at least, and Reason with RejectOther; a Rejected with
	// Reason only reads as before the list existed. Reason is also the
	// agent's optional note in AskAgain.
	RejectReason recoverybot.RejectReason
	Reason       string
	// AskReason is why a document is asked for again, and Document which
	// one: one of RequiredDocuments(HolderKind). AskAgain (both required).
	AskReason recoverybot.AskReason
	Document  recoverybot.DocumentType
	// EffectiveAt is when the approved change took effect or, with
	// Delayed, will take effect unless the owner objects before then.
	// ApprovalNotice (EffectiveAt required), written in UTC.
	EffectiveAt time.Time
	Delayed     bool
	// Provider is the provider's name, used in the text and the
	// signature, e.g. "Example Hosting". Every template.
	Provider string
}

// ErrIncomplete is wrapped by the errors Render returns for Data that
// lacks something the template needs, or holds something it must not.
var ErrIncomplete = errors.New("outbound: incomplete mail data")

//go:embed templates
var templateFS embed.FS

// view is what the templates see: every value already checked and in
// words, so that executing a template cannot fail on Data.
type view struct {
	Locale     string
	Ref        string
	LostEmail  bool
	TOTP       bool
	IP         bool
	CodeKind   bool
	HolderName string
	Required   []string
	Missing    []string
	// MissingCode and MissingSender say whether Missing includes the code
	// or the authenticated sender, to explain how to provide them.
	MissingCode   bool
	MissingSender bool
	Code          string
	CodeTTL       string
	Reissued      bool
	Mailbox       string
	ProfileEmail  string
	NewEmail      string
	MaskedContact string
	// RejectReason is the list's reason in words (empty for RejectOther),
	// Reason the agent's text.
	RejectReason string
	Reason       string
	// Document is the document asked for again, in the help page's words;
	// AskProblem says what was wrong with the one received and AskRemedy
	// what to send instead.
	Document   string
	AskProblem string
	AskRemedy  string
	// ChangedEmail says that the profile's address was changed (not only
	// told), to MaskedNew: NewEmail masked. EffectiveAt is the moment in
	// words; Delayed, that it lies ahead.
	ChangedEmail bool
	MaskedNew    string
	EffectiveAt  string
	Delayed      bool
	Provider     string
	// Subject is set for the HTML part, for its <title>.
	Subject string
}

// Render returns the subject, the plain text and the HTML of template t
// filled with d, in d's locale. It fails, wrapping ErrIncomplete, when d
// lacks a field t needs: a mail never goes out half-filled.
func Render(t Template, d Data) (subject, text, html string, err error) {
	v, err := newView(t, d)
	if err != nil {
		return "", "", "", fmt.Errorf("outbound: render %s: %w", t, err)
	}
	sets, err := loadTemplates()
	if err != nil {
		return "", "", "", err
	}
	set, ok := sets[setKey{v.Locale, t}]
	if !ok {
		return "", "", "", fmt.Errorf("outbound: render: unknown template %q", t)
	}

	var b bytes.Buffer
	if err := set.text.ExecuteTemplate(&b, "subject", v); err != nil {
		return "", "", "", fmt.Errorf("outbound: render %s subject: %w", t, err)
	}
	subject = strings.Join(strings.Fields(b.String()), " ")
	v.Subject = subject

	b.Reset()
	if err := set.text.Execute(&b, v); err != nil {
		return "", "", "", fmt.Errorf("outbound: render %s text: %w", t, err)
	}
	text = tidyText(b.String())

	b.Reset()
	if err := set.html.Execute(&b, v); err != nil {
		return "", "", "", fmt.Errorf("outbound: render %s html: %w", t, err)
	}
	html = tidyText(b.String())
	return subject, text, html, nil
}

// newView checks d against what t needs and puts it in words.
func newView(t Template, d Data) (view, error) {
	v := view{Locale: locale(d.Locale)}
	if !slices.Contains(Templates, t) {
		return v, fmt.Errorf("unknown template %q", t)
	}
	ref, err := recoverybot.ParseRef(d.Ref)
	if err != nil || ref != d.Ref {
		return v, fmt.Errorf("%w: reference %q is not of the form RC-XXXXXX", ErrIncomplete, d.Ref)
	}
	v.Ref = ref
	if _, err := recoverybot.ParseKind(string(d.Kind)); err != nil || string(d.Kind) != strings.TrimSpace(string(d.Kind)) {
		return v, fmt.Errorf("%w: kind %q", ErrIncomplete, d.Kind)
	}
	v.LostEmail = d.Kind == recoverybot.KindLostEmail
	v.TOTP = d.Kind == recoverybot.KindTOTPLockout
	v.IP = d.Kind == recoverybot.KindIPLockout
	v.CodeKind = d.Kind.NeedsCode()
	if v.Provider = oneLine(d.Provider); v.Provider == "" {
		return v, fmt.Errorf("%w: no provider name", ErrIncomplete)
	}
	if v.CodeKind || t == OwnerNotice || t == ApprovalNotice {
		v.HolderName = oneLine(d.HolderName)
	}

	needsHolder := t == Instructions || t == Acknowledgement || t == Reminder || t == AskAgain
	if needsHolder && !slices.Contains(recoverybot.HolderKinds, d.HolderKind) {
		return v, fmt.Errorf("%w: holder kind %q", ErrIncomplete, d.HolderKind)
	}
	if needsHolder || t == ApprovalNotice {
		if _, err := recoverybot.NormalizeAddress(d.Mailbox); err != nil {
			return v, fmt.Errorf("%w: mailbox: %v", ErrIncomplete, err)
		}
		v.Mailbox = d.Mailbox
	}

	switch t {
	case Instructions:
		required := d.Required
		if len(required) == 0 {
			required = recoverybot.RequiredDocuments(d.HolderKind)
		}
		for _, doc := range required {
			w, ok := requirementWords(v.Locale, d.HolderKind, recoverybot.Requirement(doc))
			if !ok || doc == recoverybot.DocOther {
				return v, fmt.Errorf("%w: required document %q", ErrIncomplete, doc)
			}
			v.Required = append(v.Required, w)
		}
		if !v.CodeKind {
			if d.Code != "" {
				return v, fmt.Errorf("%w: a %s case has no code", ErrIncomplete, d.Kind)
			}
			if d.Reissued {
				return v, fmt.Errorf("%w: a %s case has no code to reissue", ErrIncomplete, d.Kind)
			}
			break
		}
		canon, err := recoverybot.NormalizeCode(d.Code)
		if err != nil {
			return v, fmt.Errorf("%w: no valid code for a %s case", ErrIncomplete, d.Kind)
		}
		v.Code = canon[:4] + "-" + canon[4:]
		if d.CodeTTL < time.Minute {
			return v, fmt.Errorf("%w: code lifetime %v", ErrIncomplete, d.CodeTTL)
		}
		v.CodeTTL = durationWords(v.Locale, d.CodeTTL)
		v.Reissued = d.Reissued

	case OwnerNotice:
		if !v.LostEmail {
			return v, fmt.Errorf("%w: an owner notice is for lost-email cases, not %s", ErrIncomplete, d.Kind)
		}
		m := oneLine(d.MaskedContact)
		if m == "" || !strings.Contains(m, "*") || !strings.Contains(m, "@") {
			return v, fmt.Errorf("%w: masked contact address %q (see MaskAddress)", ErrIncomplete, d.MaskedContact)
		}
		v.MaskedContact = m

	case Acknowledgement, Reminder:
		if len(d.Missing) == 0 {
			return v, fmt.Errorf("%w: nothing missing (send UnderReview instead)", ErrIncomplete)
		}
		for _, r := range d.Missing {
			w, ok := requirementWords(v.Locale, d.HolderKind, r)
			if !ok {
				return v, fmt.Errorf("%w: missing requirement %q", ErrIncomplete, r)
			}
			v.Missing = append(v.Missing, w)
			v.MissingCode = v.MissingCode || r == recoverybot.NeedCode
			v.MissingSender = v.MissingSender || r == recoverybot.NeedAuthenticatedSender
		}

	case Approved:
		if !v.LostEmail {
			break
		}
		if _, err := recoverybot.NormalizeAddress(d.ProfileEmail); err != nil {
			return v, fmt.Errorf("%w: profile email: %v", ErrIncomplete, err)
		}
		v.ProfileEmail = d.ProfileEmail
		if d.NewEmail != "" {
			if _, err := recoverybot.NormalizeAddress(d.NewEmail); err != nil {
				return v, fmt.Errorf("%w: new email: %v", ErrIncomplete, err)
			}
			if !strings.EqualFold(d.NewEmail, d.ProfileEmail) {
				v.NewEmail = d.NewEmail
			}
		}

	case Rejected:
		v.Reason = strings.TrimSpace(normalizeNewlines(d.Reason))
		if d.RejectReason == "" && v.Reason == "" {
			return v, fmt.Errorf("%w: no reason", ErrIncomplete)
		}
		if d.RejectReason == recoverybot.RejectOther && v.Reason == "" {
			return v, fmt.Errorf("%w: reason %q without the agent's text", ErrIncomplete, d.RejectReason)
		}
		if d.RejectReason != "" && d.RejectReason != recoverybot.RejectOther {
			w, ok := rejectWords(v.Locale, d.RejectReason)
			if !ok {
				return v, fmt.Errorf("%w: reject reason %q", ErrIncomplete, d.RejectReason)
			}
			v.RejectReason = w
		}

	case AskAgain:
		w, ok := requirementWords(v.Locale, d.HolderKind, recoverybot.Requirement(d.Document))
		if !ok || !slices.Contains(recoverybot.RequiredDocuments(d.HolderKind), d.Document) {
			return v, fmt.Errorf("%w: document %q asked again of a %s", ErrIncomplete, d.Document, d.HolderKind)
		}
		v.Document = w
		if v.AskProblem, v.AskRemedy, ok = askWords(v.Locale, d.AskReason); !ok {
			return v, fmt.Errorf("%w: ask reason %q", ErrIncomplete, d.AskReason)
		}
		v.Reason = strings.TrimSpace(normalizeNewlines(d.Reason))

	case ApprovalNotice:
		if d.EffectiveAt.IsZero() {
			return v, fmt.Errorf("%w: no effective time", ErrIncomplete)
		}
		v.EffectiveAt = dateWords(v.Locale, d.EffectiveAt)
		v.Delayed = d.Delayed
		if !v.LostEmail {
			break
		}
		if d.NewEmail != "" {
			if _, err := recoverybot.NormalizeAddress(d.NewEmail); err != nil {
				return v, fmt.Errorf("%w: new email: %v", ErrIncomplete, err)
			}
			v.ChangedEmail = !strings.EqualFold(d.NewEmail, d.ProfileEmail)
			v.MaskedNew = MaskAddress(d.NewEmail)
		}
		if !v.ChangedEmail && d.MaskedContact != "" {
			m := oneLine(d.MaskedContact)
			if !strings.Contains(m, "*") || !strings.Contains(m, "@") {
				return v, fmt.Errorf("%w: masked contact address %q (see MaskAddress)", ErrIncomplete, d.MaskedContact)
			}
			v.MaskedContact = m
		}
	}
	return v, nil
}

// rejectWords says a RejectReason to the customer. RejectOther has no
// words of its own: the agent's text says why.
func rejectWords(loc string, r recoverybot.RejectReason) (string, bool) {
	var words map[recoverybot.RejectReason]string
	switch loc {
	case "en":
		words = map[recoverybot.RejectReason]string{
			recoverybot.RejectDocumentsMismatch: "The documents you sent do not match the profile.",
			recoverybot.RejectNotHolder:         "We could not establish that you are the holder of the profile or its legal representative.",
			recoverybot.RejectForged:            "A document you sent appears to have been altered.",
			recoverybot.RejectIncomplete:        "We did not receive everything we asked for.",
		}
	default:
		words = map[recoverybot.RejectReason]string{
			recoverybot.RejectDocumentsMismatch: "Les documents envoyés ne correspondent pas au profil.",
			recoverybot.RejectNotHolder:         "Nous n'avons pas pu établir que vous êtes le titulaire du profil ou son représentant légal.",
			recoverybot.RejectForged:            "Un document envoyé semble avoir été modifié.",
			recoverybot.RejectIncomplete:        "Nous n'avons pas reçu l'ensemble des justificatifs demandés.",
		}
	}
	w, ok := words[r]
	return w, ok
}

// askWords says an AskReason to the customer: what was wrong with the
// document received, and what to send instead.
func askWords(loc string, r recoverybot.AskReason) (problem, remedy string, ok bool) {
	type words struct{ problem, remedy string }
	var table map[recoverybot.AskReason]words
	switch loc {
	case "en":
		table = map[recoverybot.AskReason]words{
			recoverybot.AskUnreadable: {"The copy we received cannot be read: it is blurred, too dark or too small.",
				"Please send a sharp photo or scan, taken in good light, on which every word and number can be read."},
			recoverybot.AskExpired: {"The document we received has expired.",
				"Please send a document that is still valid."},
			recoverybot.AskWrongPerson: {"The document we received does not concern the holder of the profile.",
				"Please send the document named above, that of the profile's holder or of its legal representative."},
			recoverybot.AskCropped: {"Part of the document we received is cut off or hidden.",
				"Please send a photo or scan of the whole document, with its four corners visible and nothing covering it."},
		}
	default:
		table = map[recoverybot.AskReason]words{
			recoverybot.AskUnreadable: {"La copie reçue est illisible (floue, trop sombre ou trop petite).",
				"Merci d'envoyer une photo ou un scan net, pris avec un bon éclairage, sur lequel chaque mot et chaque chiffre se lisent."},
			recoverybot.AskExpired: {"Le document reçu a expiré.",
				"Merci d'envoyer un document en cours de validité."},
			recoverybot.AskWrongPerson: {"Le document reçu ne concerne pas le titulaire du profil.",
				"Merci d'envoyer le document indiqué ci-dessus, celui du titulaire du profil ou de son représentant légal."},
			recoverybot.AskCropped: {"Une partie du document reçu est coupée ou masquée.",
				"Merci d'envoyer une photo ou un scan du document entier, ses quatre coins visibles et sans rien qui le recouvre."},
		}
	}
	w, ok := table[r]
	return w.problem, w.remedy, ok
}

// dateWords writes an instant as a date and a time in UTC the way a
// person would: "4 December 2026 at 21:30 UTC", "1er décembre 2026 à
// 21:30 UTC". UTC, because the profile's time zone is not known.
func dateWords(loc string, t time.Time) string {
	t = t.UTC()
	if loc == "en" {
		return t.Format("2 January 2006 at 15:04 UTC")
	}
	months := [...]string{"janvier", "février", "mars", "avril", "mai", "juin",
		"juillet", "août", "septembre", "octobre", "novembre", "décembre"}
	day := fmt.Sprint(t.Day())
	if t.Day() == 1 {
		day = "1er"
	}
	return fmt.Sprintf("%s %s %d à %s UTC", day, months[t.Month()-1], t.Year(), t.Format("15:04"))
}

// locale maps d.Locale to a locale that has templates.
func locale(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.IndexAny(s, "-_"); i >= 0 {
		s = s[:i]
	}
	if slices.Contains(recoverybot.Locales, s) {
		return s
	}
	return recoverybot.Locales[0]
}

// oneLine collapses the white space of s, newlines included.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// requirementWords names a requirement as a customer reads it, in the
// words of the provider's help page.
func requirementWords(loc string, h recoverybot.HolderKind, r recoverybot.Requirement) (string, bool) {
	type key struct {
		h recoverybot.HolderKind // empty: any holder kind
		r recoverybot.Requirement
	}
	var words map[key]string
	switch loc {
	case "en":
		words = map[key]string{
			{recoverybot.HolderIndividual, recoverybot.Requirement(recoverybot.DocIdentity)}:             "a copy of the holder's ID card or passport",
			{recoverybot.HolderCompany, recoverybot.Requirement(recoverybot.DocIdentity)}:                "a copy of the manager's ID card or passport",
			{recoverybot.HolderAssociation, recoverybot.Requirement(recoverybot.DocIdentity)}:            "a copy of the president's ID card or passport",
			{recoverybot.HolderCompany, recoverybot.Requirement(recoverybot.DocCompanyRegistration)}:     "the company's registration extract (KBIS)",
			{recoverybot.HolderAssociation, recoverybot.Requirement(recoverybot.DocAssociationStatutes)}: "the association's statutes",
			{"", recoverybot.NeedCode}:                "the code you received by email",
			{"", recoverybot.NeedAuthenticatedSender}: "a message sent from the profile's email address",
		}
	default:
		words = map[key]string{
			{recoverybot.HolderIndividual, recoverybot.Requirement(recoverybot.DocIdentity)}:             "copie de la carte d'identité ou du passeport",
			{recoverybot.HolderCompany, recoverybot.Requirement(recoverybot.DocIdentity)}:                "copie de la carte d'identité ou du passeport du gérant",
			{recoverybot.HolderAssociation, recoverybot.Requirement(recoverybot.DocIdentity)}:            "copie de la carte d'identité ou du passeport du président",
			{recoverybot.HolderCompany, recoverybot.Requirement(recoverybot.DocCompanyRegistration)}:     "l'extrait KBIS de l'entreprise",
			{recoverybot.HolderAssociation, recoverybot.Requirement(recoverybot.DocAssociationStatutes)}: "les statuts de l'association",
			{"", recoverybot.NeedCode}:                "le code reçu par email",
			{"", recoverybot.NeedAuthenticatedSender}: "un message envoyé depuis l'adresse email du profil",
		}
	}
	if w, ok := words[key{"", r}]; ok {
		return w, true
	}
	w, ok := words[key{h, r}]
	return w, ok
}

// durationWords writes a code lifetime the way a person would: "24 heures",
// "1 hour", "1 h 30 min".
func durationWords(loc string, d time.Duration) string {
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	unit := func(n int, fr, frs, en, ens string) string {
		switch {
		case loc == "en" && n == 1:
			return fmt.Sprintf("%d %s", n, en)
		case loc == "en":
			return fmt.Sprintf("%d %s", n, ens)
		case n <= 1:
			return fmt.Sprintf("%d %s", n, fr)
		}
		return fmt.Sprintf("%d %s", n, frs)
	}
	switch {
	case m == 0:
		return unit(h, "heure", "heures", "hour", "hours")
	case h == 0:
		return unit(m, "minute", "minutes", "minute", "minutes")
	}
	return fmt.Sprintf("%d h %02d min", h, m)
}

// MaskAddress hides most of the local part of addr, and keeps its domain:
// "jean.dupont@example.org" becomes "j***@example.org". An OwnerNotice
// shows the contact address only so.
func MaskAddress(addr string) string {
	addr = strings.TrimSpace(addr)
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return "***"
	}
	local, domain := addr[:at], addr[at+1:]
	first := ""
	for _, r := range local {
		first = string(r)
		break
	}
	return first + "***@" + domain
}

// tidyText drops trailing white space on every line and runs of blank
// lines that template conditionals leave behind, and ends s with one
// newline.
func tidyText(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	s = strings.Join(lines, "\n")
	s = blankRuns.ReplaceAllString(s, "\n\n")
	return strings.TrimSpace(s) + "\n"
}

var blankRuns = regexp.MustCompile(`\n{3,}`)

// templateSet is one template of one locale, parsed.
type templateSet struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

type setKey struct {
	locale string
	t      Template
}

// loadTemplates parses the embedded templates once.
var loadTemplates = sync.OnceValues(func() (map[setKey]templateSet, error) {
	sets := map[setKey]templateSet{}
	for _, loc := range recoverybot.Locales {
		for _, t := range Templates {
			dir := "templates/" + loc + "/"
			text, err := texttemplate.New(string(t)+".txt.tmpl").Option("missingkey=error").
				ParseFS(templateFS, dir+string(t)+".txt.tmpl", dir+"common.txt.tmpl")
			if err != nil {
				return nil, fmt.Errorf("outbound: parse templates: %w", err)
			}
			if text.Lookup("subject") == nil {
				return nil, fmt.Errorf("outbound: parse templates: %s%s.txt.tmpl defines no subject", dir, t)
			}
			html, err := htmltemplate.New("layout.html.tmpl").Option("missingkey=error").
				ParseFS(templateFS, "templates/layout.html.tmpl", dir+"common.html.tmpl", dir+string(t)+".html.tmpl")
			if err != nil {
				return nil, fmt.Errorf("outbound: parse templates: %w", err)
			}
			sets[setKey{loc, t}] = templateSet{text: text, html: html}
		}
	}
	return sets, nil
})

// templateFiles lists the embedded template files, for tests.
func templateFiles() ([]string, error) {
	var files []string
	err := fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	})
	return files, err
}
