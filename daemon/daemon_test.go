package daemon_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jhillyerd/enmime/v2"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/config"
	"github.com/recoverybot/recoverybot/daemon"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/internal/dovecottest"
	"github.com/recoverybot/recoverybot/internal/smtpsink"
	"github.com/recoverybot/recoverybot/internal/testfiles"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

// e2e is the whole product on a real Dovecot, a real SQLite file and an
// SMTP sink that keeps what it receives.
type e2e struct {
	t       *testing.T
	dovecot *dovecottest.Server
	sink    *smtpsink.Sink
	cfg     config.Config
	st      *store.Store
	desk    *desk.Desk
	d       *daemon.Daemon
	// clock is added to the time the store, the desk and the rules see.
	clock atomic.Int64
}

func (e *e2e) advance(d time.Duration) { e.clock.Add(int64(d)) }

// now is the clock of the store, the desk, the rules and the sweeps.
func (e *e2e) now() time.Time { return time.Now().Add(time.Duration(e.clock.Load())) }

const mx = "mx.hosting.example"

var profiles = []recoverybot.Profile{
	{ID: "p-ind", Email: "jean@example.org", HolderKind: recoverybot.HolderIndividual, HolderName: "Jean Dupont", Locale: "fr"},
	{ID: "p-co", Email: "gerant@acme.example", HolderKind: recoverybot.HolderCompany, HolderName: "ACME SARL", Representative: "Marie Curie", Locale: "fr"},
	{ID: "p-asso", Email: "bureau@club.example", HolderKind: recoverybot.HolderAssociation, HolderName: "Club", Representative: "Paul Martin", Locale: "en"},
}

func start(t *testing.T, tweak func(*config.Config)) *e2e {
	t.Helper()
	e := &e2e{t: t, dovecot: dovecottest.Start(t)}
	var err error
	if e.sink, err = smtpsink.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.sink.Close() })
	c := config.Default()
	c.DataDir = t.TempDir()
	c.IMAP.Address, c.IMAP.Security, c.IMAP.Username, c.IMAP.Password = e.dovecot.Addr(), "none", e.dovecot.User(), e.dovecot.Password()
	c.IMAP.CommandTimeout = config.Duration(20 * time.Second)
	c.SMTP.Address, c.SMTP.Security, c.SMTP.From = e.sink.Addr(), "none", "contact@hosting.example"
	c.Auth.TrustedAuthservIDs = []string{mx}
	if tweak != nil {
		tweak(&c)
	}
	e.cfg = c
	v, err := vault.Open(c.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	if e.st, err = store.Open(context.Background(), filepath.Join(c.DataDir, "recoverybot.db"), v, store.Options{
		Now: e.now}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	key, _ := recoverybot.NewCodeKey(v.CodeKey())
	e.desk = daemon.NewDesk(c, e.st, key, v.Key(vault.PurposeMessageID), nil)
	if _, err := e.desk.ImportProfiles(context.Background(), profiles, "test", "t"); err != nil {
		t.Fatal(err)
	}
	if e.d, err = daemon.New(daemon.Options{Config: c, Store: e.st, CodeKey: key, MessageIDKey: v.Key(vault.PurposeMessageID), Now: e.now}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *e2e) open(profile string, kind recoverybot.Kind, contact string) desk.Summary {
	e.t.Helper()
	s, err := e.desk.Open(context.Background(), desk.OpenRequest{ProfileID: profile, Kind: kind, Contact: contact, By: "alice"})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// once runs `run --once`.
func (e *e2e) once() daemon.Result {
	e.t.Helper()
	r, err := e.d.Once(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *e2e) show(ref string) desk.Summary {
	e.t.Helper()
	s, err := e.desk.Show(context.Background(), ref)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// sent returns the mails the sink received for to, parsed.
func (e *e2e) sent(to string) []*enmime.Envelope {
	e.t.Helper()
	var out []*enmime.Envelope
	for _, m := range e.sink.Messages() {
		if slices.Contains(m.To, to) {
			env, err := enmime.ReadEnvelope(bytes.NewReader(m.Raw))
			if err != nil {
				e.t.Fatal(err)
			}
			out = append(out, env)
		}
	}
	return out
}

var codeRE = regexp.MustCompile(`\b[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b`)

// code reads the latest code mailed to the profile for case ref, as the
// customer does.
func (e *e2e) code(to, ref string) (code, msgID string) {
	e.t.Helper()
	for _, env := range e.sent(to) {
		if c := codeRE.FindString(env.Text); c != "" && strings.Contains(env.GetHeader("Subject"), ref) {
			code, msgID = c, strings.Trim(env.GetHeader("Message-ID"), "<>")
		}
	}
	if code == "" {
		e.t.Fatalf("no code mail reached %s", to)
	}
	return code, msgID
}

func (e *e2e) deliver(raw []byte) {
	e.t.Helper()
	if err := e.dovecot.Deliver(e.dovecot.User(), raw); err != nil {
		e.t.Fatal(err)
	}
}

var seq atomic.Int64

// letter is a customer's message as it reaches the contact mailbox.
type letter struct {
	from, subject, text, html string
	auth                      []string // Authentication-Results values, topmost first
	files                     map[string][]byte
	headers                   []string
	messageID                 string
	date                      time.Time // zero: now
}

func (l letter) bytes() []byte {
	var b strings.Builder
	for _, a := range l.auth {
		b.WriteString("Authentication-Results: " + a + "\r\n")
	}
	if l.messageID == "" {
		l.messageID = fmt.Sprintf("%d.%d@customer.example", time.Now().UnixNano(), seq.Add(1))
	}
	if l.date.IsZero() {
		l.date = time.Now()
	}
	fmt.Fprintf(&b, "From: Customer <%s>\r\nTo: contact@hosting.example\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\nMIME-Version: 1.0\r\n",
		l.from, l.subject, l.date.Format(time.RFC1123Z), l.messageID)
	for _, h := range l.headers {
		b.WriteString(h + "\r\n")
	}
	body := func() {
		if l.html != "" {
			b.WriteString("Content-Type: text/html; charset=utf-8\r\n\r\n" + l.html + "\r\n")
		} else {
			b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + l.text + "\r\n")
		}
	}
	if len(l.files) == 0 {
		body()
		return []byte(b.String())
	}
	b.WriteString("Content-Type: multipart/mixed; boundary=\"b-1\"\r\n\r\n--b-1\r\n")
	body()
	names := make([]string, 0, len(l.files))
	for n := range l.files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&b, "--b-1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n",
			n, base64.StdEncoding.EncodeToString(l.files[n]))
	}
	b.WriteString("--b-1--\r\n")
	return []byte(b.String())
}

var (
	jpeg     = testfiles.JPEG(bytes.Repeat([]byte{0x11}, 3000))
	pdf      = testfiles.PDF("Extrait Kbis")
	statutes = testfiles.PDF("Statuts de l'association, loi du 1er juillet 1901")
)

func pass(domain string) string {
	return mx + "; spf=pass smtp.mailfrom=" + domain + "; dmarc=pass header.from=" + domain
}

// documentsFor are the files a holder of that kind sends.
func documentsFor(h recoverybot.HolderKind) map[string][]byte {
	switch h {
	case recoverybot.HolderCompany:
		return map[string][]byte{"cni-gerant.jpg": jpeg, "kbis.pdf": pdf}
	case recoverybot.HolderAssociation:
		return map[string][]byte{"passeport-president.jpg": jpeg, "statuts.pdf": statutes}
	}
	return map[string][]byte{"carte-identite.jpg": jpeg}
}

func domainOf(addr string) string { _, d, _ := strings.Cut(addr, "@"); return d }

// TestEveryKindForEveryHolder runs the seed's process for the nine
// combinations, from cases open to ready for review, then to a decision.
func TestEveryKindForEveryHolder(t *testing.T) {
	e := start(t, nil)
	type opened struct {
		s desk.Summary
		p recoverybot.Profile
	}
	var cases []opened
	for _, p := range profiles {
		for _, k := range recoverybot.Kinds {
			contact := ""
			if k == recoverybot.KindLostEmail {
				contact = "new-" + p.ID + "@elsewhere.example"
			}
			cases = append(cases, opened{e.open(p.ID, k, contact), p})
		}
	}
	e.once() // sends the instructions
	for _, c := range cases {
		from := c.p.Email
		text := "Bonjour, voici mes documents."
		if c.s.Kind.NeedsCode() {
			code, _ := e.code(c.p.Email, c.s.Ref)
			text += " Le code : " + code
		} else {
			from = c.s.Contact
		}
		e.deliver(letter{from: from, subject: "Re: [" + c.s.Ref + "] recovery", text: text,
			auth: []string{pass(domainOf(from))}, files: documentsFor(c.p.HolderKind)}.bytes())
	}
	r := e.once()
	if r.Processed != 9 || r.Review != 0 || r.Moved != 9 {
		t.Errorf("run = %+v", r)
	}
	for _, c := range cases {
		s := e.show(c.s.Ref)
		if s.State != recoverybot.StateReadyForReview || len(s.Missing) != 0 {
			t.Errorf("%s %s/%s: %s, missing %v", s.Ref, s.Kind, s.HolderKind, s.State, s.Missing)
		}
		// The customer is told, in the profile's language, at the right
		// address.
		to := c.p.Email
		if c.s.Kind == recoverybot.KindLostEmail {
			to = c.s.Contact
		}
		var subjects []string
		for _, env := range e.sent(to) {
			if strings.Contains(env.GetHeader("Subject"), c.s.Ref) {
				subjects = append(subjects, env.GetHeader("Subject"))
			}
		}
		want := "examen"
		if c.p.Locale == "en" {
			want = "review"
		}
		if !slices.ContainsFunc(subjects, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("%s: no under-review mail in %s to %s: %q", s.Ref, c.p.Locale, to, subjects)
		}
	}
	// Approve the lost-email case of the company: the profile's address is
	// revealed to the contact address, for the first time.
	lost := cases[3].s
	if _, err := e.desk.Approve(context.Background(), desk.ApproveRequest{Ref: lost.Ref, By: "bob"}); err != nil {
		t.Fatal(err)
	}
	before := len(e.sent(lost.Contact))
	for _, env := range e.sent(lost.Contact)[:before] {
		if strings.Contains(env.Text, "gerant@acme.example") {
			t.Fatal("the profile address reached the contact before approval")
		}
	}
	e.once()
	after := e.sent(lost.Contact)
	if len(after) != before+1 || !strings.Contains(after[len(after)-1].Text, "gerant@acme.example") {
		t.Errorf("approval mail does not reveal the profile address")
	}
}

func TestDocumentsOverTwoMessagesAndThreading(t *testing.T) {
	e := start(t, nil)
	s := e.open("p-co", recoverybot.KindTOTPLockout, "")
	e.once()
	code, codeMailID := e.code("gerant@acme.example", s.Ref)
	first := letter{from: "gerant@acme.example", subject: "Re: [" + s.Ref + "]", text: "Code " + code + ", ci-joint ma carte d'identité.",
		auth: []string{pass("acme.example")}, files: map[string][]byte{"cni.jpg": jpeg}, messageID: "first@acme.example",
		headers: []string{"In-Reply-To: <" + codeMailID + ">", "Reply-To: someone@else.example"}}
	e.deliver(first.bytes())
	e.once()
	got := e.show(s.Ref)
	if got.State != recoverybot.StateAwaitingEvidence || !got.CodeVerified || !slices.Equal(got.Missing, []recoverybot.Requirement{"company_registration"}) {
		t.Fatalf("after the first message: %s code %v missing %v", got.State, got.CodeVerified, got.Missing)
	}
	mails := e.sent("gerant@acme.example")
	ack := mails[len(mails)-1]
	if !strings.Contains(ack.Text, "KBIS") || ack.GetHeader("In-Reply-To") != "<first@acme.example>" ||
		!strings.Contains(ack.GetHeader("References"), "<first@acme.example>") ||
		ack.GetHeader("Auto-Submitted") != "auto-replied" || ack.GetHeader("X-Auto-Response-Suppress") != "All" {
		t.Errorf("acknowledgement: In-Reply-To %q References %q Auto-Submitted %q\n%s", ack.GetHeader("In-Reply-To"),
			ack.GetHeader("References"), ack.GetHeader("Auto-Submitted"), ack.Text)
	}
	if len(e.sent("someone@else.example")) != 0 {
		t.Error("a reply went to the Reply-To address")
	}
	// The second message completes the case, without the reference: the
	// sender's one open case.
	e.deliver(letter{from: "gerant@acme.example", subject: "le kbis", text: "Voici le Kbis.",
		auth: []string{pass("acme.example")}, files: map[string][]byte{"kbis.pdf": pdf}}.bytes())
	e.once()
	if got := e.show(s.Ref); got.State != recoverybot.StateReadyForReview || len(got.Documents) != 2 {
		t.Errorf("after the second message: %s, %d documents", got.State, len(got.Documents))
	}
}

// TestSpoofingRefused: every forged sender is refused with a recorded
// reason, sent to review, and causes no mail at all.
func TestSpoofingRefused(t *testing.T) {
	e := start(t, nil)
	s := e.open("p-ind", recoverybot.KindTOTPLockout, "")
	e.once()
	code, _ := e.code("jean@example.org", s.Ref)
	mailsBefore := len(e.sink.Messages())
	forged := []struct {
		name string
		from string
		auth []string
	}{
		{"no Authentication-Results", "jean@example.org", nil},
		{"untrusted authserv-id claiming pass", "jean@example.org", []string{"mx.evil.example; dmarc=pass header.from=example.org"}},
		{"dmarc=fail from our MX", "jean@example.org", []string{mx + "; spf=fail smtp.mailfrom=example.org; dmarc=fail header.from=example.org"}},
		{"trusted fail below an untrusted pass", "jean@example.org", []string{"mx.evil.example; dmarc=pass header.from=example.org", mx + "; dmarc=fail header.from=example.org"}},
		{"look-alike domain, authenticated", "jean@examp1e.org", []string{pass("examp1e.org")}},
	}
	for _, f := range forged {
		e.deliver(letter{from: f.from, subject: "[" + s.Ref + "] " + f.name, text: "code " + code,
			auth: f.auth, files: map[string][]byte{"cni.jpg": jpeg}}.bytes())
	}
	r := e.once()
	if r.Review != len(forged) || r.Processed != 0 {
		t.Errorf("run = %+v", r)
	}
	got := e.show(s.Ref)
	if got.State != recoverybot.StateAwaitingEvidence || got.CodeVerified || got.FailedCodeAttempts != 0 || len(got.Documents) != 0 {
		t.Errorf("a forged mail changed the case: %+v", got)
	}
	if n := len(e.sink.Messages()); n != mailsBefore {
		t.Errorf("forged mail caused %d mails", n-mailsBefore)
	}
	if n, _ := e.dovecot.Count(e.dovecot.User(), "Recovery.Review"); n != len(forged) {
		t.Errorf("%d messages in review, want %d", n, len(forged))
	}
	reasons := 0
	for _, ev := range got.Events {
		if ev.Action == "message_review" && ev.Details["reason"] != "" {
			reasons++
		}
	}
	if reasons != len(forged) {
		t.Errorf("%d review events with a reason, want %d", reasons, len(forged))
	}
}

func TestWrongCodesLockAndExpiry(t *testing.T) {
	e := start(t, nil)
	s := e.open("p-ind", recoverybot.KindIPLockout, "")
	e.once()
	code, _ := e.code("jean@example.org", s.Ref)
	wrong := []string{"AAAA-2222", "BBBB-3333", "CCCC-4444", "DDDD-5555"}
	for _, w := range wrong {
		e.deliver(letter{from: "jean@example.org", subject: "[" + s.Ref + "]", text: "mon code " + w, auth: []string{pass("example.org")}}.bytes())
	}
	e.once()
	if got := e.show(s.Ref); got.FailedCodeAttempts != 4 || got.State != recoverybot.StateAwaitingEvidence {
		t.Fatalf("after 4 wrong codes: %d attempts, %s", got.FailedCodeAttempts, got.State)
	}
	// The code expires; the right code, too late, is not a wrong one.
	e.advance(25 * time.Hour)
	e.deliver(letter{from: "jean@example.org", subject: "[" + s.Ref + "]", text: "le code " + code, auth: []string{pass("example.org")}}.bytes())
	e.once()
	got := e.show(s.Ref)
	if got.CodeVerified || got.FailedCodeAttempts != 4 || !slices.ContainsFunc(got.Events, func(ev recoverybot.AuditEvent) bool { return ev.Action == "code_expired" }) {
		t.Fatalf("expired code: verified %v attempts %d", got.CodeVerified, got.FailedCodeAttempts)
	}
	e.deliver(letter{from: "jean@example.org", subject: "[" + s.Ref + "]", text: "code EEEE-6666", auth: []string{pass("example.org")}}.bytes())
	e.once()
	if got := e.show(s.Ref); got.State != recoverybot.StateLocked || got.FailedCodeAttempts != 5 {
		t.Fatalf("fifth wrong code: %s, %d attempts", got.State, got.FailedCodeAttempts)
	}
	// An agent reopens and re-issues; the new code works.
	if _, err := e.desk.Reopen(context.Background(), s.Ref, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.desk.ResendCode(context.Background(), s.Ref, "bob"); err != nil {
		t.Fatal(err)
	}
	e.once()
	fresh, _ := e.code("jean@example.org", s.Ref)
	// Written after the new code was issued (the clock moved 25 hours).
	e.deliver(letter{from: "jean@example.org", subject: "[" + s.Ref + "]", text: "code " + fresh, auth: []string{pass("example.org")},
		files: map[string][]byte{"passeport.jpg": jpeg}, date: time.Now().Add(25 * time.Hour)}.bytes())
	e.once()
	if got := e.show(s.Ref); got.State != recoverybot.StateReadyForReview || !got.CodeVerified {
		t.Errorf("after reopen and a new code: %s, verified %v", got.State, got.CodeVerified)
	}
}

func TestCodeForms(t *testing.T) {
	forms := []struct {
		name string
		make func(code string) letter
	}{
		{"HTML-only, in bold", func(code string) letter {
			return letter{html: "<html><body><p>Bonjour,</p><p>le code est <b>" + code + "</b></p></body></html>"}
		}},
		{"quoted reply to our mail", func(code string) letter {
			return letter{text: "Voici ma pièce d'identité.\r\n\r\nLe 3 mars, contact@hosting.example a écrit :\r\n> Votre code : " + code + "\r\n> Valable 24 heures."}
		}},
		{"lower case with spaces", func(code string) letter {
			return letter{text: "mon code est " + strings.ToLower(strings.ReplaceAll(code, "-", " "))}
		}},
	}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			e := start(t, nil)
			s := e.open("p-ind", recoverybot.KindTOTPLockout, "")
			e.once()
			code, _ := e.code("jean@example.org", s.Ref)
			l := f.make(code)
			l.from, l.subject, l.auth = "jean@example.org", "Re: ["+s.Ref+"]", []string{pass("example.org")}
			l.files = map[string][]byte{"cni.jpg": jpeg}
			e.deliver(l.bytes())
			e.once()
			if got := e.show(s.Ref); !got.CodeVerified || got.FailedCodeAttempts != 0 || got.State != recoverybot.StateReadyForReview {
				t.Errorf("code verified %v, attempts %d, %s", got.CodeVerified, got.FailedCodeAttempts, got.State)
			}
		})
	}
}

func TestAutomaticMailAndUnrelatedMail(t *testing.T) {
	e := start(t, nil)
	s := e.open("p-ind", recoverybot.KindTOTPLockout, "")
	e.once()
	before := len(e.sink.Messages())
	e.deliver(letter{from: "jean@example.org", subject: "Absence: Re: [" + s.Ref + "]", text: "Je suis absent.",
		auth: []string{pass("example.org")}, headers: []string{"Auto-Submitted: auto-replied"}}.bytes())
	e.deliver(letter{from: "someone@shop.example", subject: "Invoice question", text: "Hello, a question about my invoice 2024-117."}.bytes())
	r := e.once()
	if r.Processed != 1 || r.Ignored != 1 {
		t.Errorf("run = %+v", r)
	}
	if n := len(e.sink.Messages()); n != before {
		t.Errorf("%d mails sent in answer to an auto-reply", n-before)
	}
	got := e.show(s.Ref)
	if got.State != recoverybot.StateAwaitingEvidence || got.FailedCodeAttempts != 0 {
		t.Errorf("auto-reply changed the case: %s, %d", got.State, got.FailedCodeAttempts)
	}
	if n, _ := e.dovecot.Count(e.dovecot.User(), "INBOX"); n != 1 {
		t.Errorf("INBOX has %d messages, want the unrelated one", n)
	}
	flags, _ := e.dovecot.Flags(e.dovecot.User(), "INBOX")
	for _, f := range flags {
		if len(f) != 0 {
			t.Errorf("the unrelated message got flags %v", f)
		}
	}
}

// TestBounceOfTheCodeMail: the DSN for our code mail lands in the contact
// mailbox; the case shows it, and nothing is sent back.
func TestBounceOfTheCodeMail(t *testing.T) {
	e := start(t, nil)
	s := e.open("p-ind", recoverybot.KindTOTPLockout, "")
	e.once()
	_, codeMailID := e.code("jean@example.org", s.Ref)
	before := len(e.sink.Messages())
	dsn := "Return-Path: <>\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: contact@hosting.example\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\nDate: " + time.Now().Format(time.RFC1123Z) + "\r\n" +
		"Message-ID: <dsn-1@mx.example.org>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"dsn\"\r\n\r\n" +
		"--dsn\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n" +
		"--dsn\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n" +
		"Final-Recipient: rfc822; jean@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n" +
		"--dsn\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: contact@hosting.example\r\nTo: jean@example.org\r\n" +
		"Subject: [" + s.Ref + "] code\r\nMessage-ID: <" + codeMailID + ">\r\n\r\n--dsn--\r\n"
	e.deliver([]byte(dsn))
	r := e.once()
	if r.Processed != 1 {
		t.Errorf("run = %+v", r)
	}
	got := e.show(s.Ref)
	if !slices.Contains(got.Flags, "code email bounced") || got.State != recoverybot.StateAwaitingEvidence {
		t.Errorf("after the bounce: flags %v, state %s", got.Flags, got.State)
	}
	if n := len(e.sink.Messages()); n != before {
		t.Errorf("%d mails sent in answer to a bounce", n-before)
	}
}
