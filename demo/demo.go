// Package demo runs recoverybot end to end on one machine, with nothing
// to install: an in-process IMAP server (go-imap's imapmemserver) holds
// the contact mailbox, an in-process SMTP sink receives our mail, and
// sample customers write in from the messages in testdata/. It prints what
// arrives and what becomes of each case as it happens.
package demo

import (
	"bytes"
	"context"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/jhillyerd/enmime/v2"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/config"
	"github.com/recoverybot/recoverybot/daemon"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/intake"
	"github.com/recoverybot/recoverybot/internal/smtpsink"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

//go:embed testdata
var files embed.FS

const (
	mailboxUser = "contact@demo.example"
	trustedID   = "mx.demo.example"
	agent       = "demo-agent"
)

// Options tune the demo.
type Options struct {
	// Pace is the time between two customer messages; 0: 1.5 s.
	Pace time.Duration
	// DataDir keeps the database there; "": a temporary directory,
	// removed at the end.
	DataDir string
	Out     io.Writer
	Logger  *slog.Logger
}

// Result is what the demo ends with, for tests.
type Result struct {
	Cases []desk.Summary
	Sent  []smtpsink.Received
	// Inbox is the number of messages left in the contact mailbox.
	Inbox int
}

type printer struct {
	mu sync.Mutex
	w  io.Writer
	t0 time.Time
}

func (p *printer) say(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%6.1fs  %s\n", time.Since(p.t0).Seconds(), fmt.Sprintf(format, args...))
}

// Run plays the scenario and returns when it is over or ctx ends.
func Run(ctx context.Context, o Options) (Result, error) {
	var res Result
	if o.Pace == 0 {
		o.Pace = 1500 * time.Millisecond
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	out := &printer{w: o.Out, t0: time.Now()}

	// The contact mailbox: an in-process IMAP server.
	mem := imapmemserver.New()
	user := imapmemserver.NewUser(mailboxUser, "demo")
	if err := user.Create("INBOX", nil); err != nil {
		return res, err
	}
	mem.AddUser(user)
	imapSrv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, fmt.Errorf("demo imap: %w", err)
	}
	go imapSrv.Serve(ln)
	defer imapSrv.Close()

	sink, err := smtpsink.Start("127.0.0.1:0")
	if err != nil {
		return res, fmt.Errorf("demo smtp: %w", err)
	}
	defer sink.Close()

	dataDir := o.DataDir
	if dataDir == "" {
		if dataDir, err = os.MkdirTemp("", "recoverybot-demo-"); err != nil {
			return res, err
		}
		defer os.RemoveAll(dataDir)
	}
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.ProviderName = "Demo Hosting"
	cfg.IMAP.Address, cfg.IMAP.Security = ln.Addr().String(), "none"
	cfg.IMAP.Username, cfg.IMAP.Password = mailboxUser, "demo"
	cfg.IMAP.IdleTimeout = config.Duration(30 * time.Second)
	cfg.SMTP.Address, cfg.SMTP.Security = sink.Addr(), "none"
	cfg.SMTP.From, cfg.SMTP.FromName = mailboxUser, "Demo Hosting Support"
	cfg.Auth.TrustedAuthservIDs = []string{trustedID}

	v, err := vault.Open(dataDir)
	if err != nil {
		return res, err
	}
	st, err := store.Open(ctx, filepath.Join(dataDir, "recoverybot.db"), v, store.Options{})
	if err != nil {
		return res, err
	}
	defer st.Close()
	key, err := recoverybot.NewCodeKey(v.CodeKey())
	if err != nil {
		return res, err
	}
	midKey := v.Key(vault.PurposeMessageID)
	dk := daemon.NewDesk(cfg, st, key, midKey, o.Logger)

	fmt.Fprintf(o.Out, "recoverybot demo\n  contact mailbox  imap://%s (in-process), user %s\n  outgoing mail    smtp://%s (in-process sink)\n  data             %s\n  trusted MTA      %s\n\n",
		ln.Addr(), mailboxUser, sink.Addr(), dataDir, trustedID)

	csv, _ := files.ReadFile("testdata/profiles.csv")
	profiles, err := desk.ReadProfiles(csv)
	if err != nil {
		return res, err
	}
	if _, err := dk.ImportProfiles(ctx, profiles, "demo/testdata/profiles.csv", agent); err != nil {
		return res, err
	}
	out.say("imported %d profiles (individual, company, association)", len(profiles))

	open := []desk.OpenRequest{
		{ProfileID: "p-1001", Kind: recoverybot.KindTOTPLockout, By: agent},
		{ProfileID: "p-1002", Kind: recoverybot.KindLostEmail, Contact: "marie.curie@new-acme.example", By: agent},
		{ProfileID: "p-1003", Kind: recoverybot.KindIPLockout, By: agent},
	}
	refs := map[string]string{}
	for _, req := range open {
		s, err := dk.Open(ctx, req)
		if err != nil {
			return res, err
		}
		refs[req.ProfileID] = s.Ref
		out.say("agent opened %s  %-12s for %s; waiting for: %s", s.Ref, s.Kind, s.Profile, joinReqs(s.Missing))
	}

	d, err := daemon.New(daemon.Options{
		Config: cfg, Store: st, CodeKey: key, MessageIDKey: midKey, Logger: o.Logger, OutboxInterval: 300 * time.Millisecond,
		OnMessage: func(r intake.Report) { reportMessage(out, r) },
	})
	if err != nil {
		return res, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- d.Serve(runCtx) }()
	go watchSink(runCtx, sink, out)

	// The customers read their code mail in the sink, as they would in
	// their own mailbox.
	codeOf := func(to string) (string, string, error) {
		waitCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		for {
			for _, m := range sink.Messages() {
				if len(m.To) == 1 && m.To[0] == to {
					env, err := enmime.ReadEnvelope(bytes.NewReader(m.Raw))
					if err != nil {
						return "", "", err
					}
					if c := regexp.MustCompile(`\b[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b`).FindString(env.Text); c != "" {
						return c, strings.Trim(env.GetHeader("Message-ID"), "<>"), nil
					}
				}
			}
			select {
			case <-waitCtx.Done():
				return "", "", fmt.Errorf("no code mail reached %s", to)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	jeanCode, jeanMsgID, err := codeOf("jean.dupont@example.org")
	if err != nil {
		return res, err
	}
	clubCode, _, err := codeOf("bureau@club-de-voile.example")
	if err != nil {
		return res, err
	}

	scenario := []struct {
		file, profile, code, inReplyTo, note string
	}{
		{"01-support-question.eml", "", "", "", "ordinary support mail: not about a case"},
		{"02-jean-totp.eml", "p-1001", jeanCode, jeanMsgID, "Jean sends his ID card and the code, from his profile address"},
		{"03-acme-lost-email-id.eml", "p-1002", "", "", "ACME's gérante writes from her new address with her ID; the KBIS is missing"},
		{"04-club-spoofed.eml", "p-1003", "", "", "a forged mail claims to be the club, with a made-up code"},
		{"05-acme-lost-email-kbis.eml", "p-1002", "", "", "ACME sends the KBIS"},
		{"06-club-ip-lockout.eml", "p-1003", clubCode, "", "the club's real mail: passport, statutes, code in HTML"},
		{"07-jean-out-of-office.eml", "p-1001", "", "", "an out-of-office reply from Jean"},
	}
	for i, step := range scenario {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(o.Pace):
		}
		raw, err := render(step.file, map[string]string{
			"Ref": refs[step.profile], "Code": step.code, "InReplyTo": step.inReplyTo,
			"Date": time.Now().Format(time.RFC1123Z), "MessageID": fmt.Sprintf("demo-%d-%d@customer.example", i, time.Now().UnixNano()),
		})
		if err != nil {
			return res, err
		}
		out.say("── %s", step.note)
		if _, err := user.Append("INBOX", literal(raw), &imap.AppendOptions{Time: time.Now()}); err != nil {
			return res, fmt.Errorf("deliver %s: %w", step.file, err)
		}
	}
	// Let the last message and its replies through.
	time.Sleep(o.Pace + time.Second)

	for _, ref := range []string{refs["p-1001"], refs["p-1002"]} {
		req := desk.ApproveRequest{Ref: ref, By: agent, Note: "identity checked on the documents"}
		if ref == refs["p-1002"] {
			req.NewEmail = "marie.curie@new-acme.example"
		}
		s, err := dk.Approve(ctx, req)
		if err != nil {
			out.say("agent could not approve %s: %v", ref, err)
			continue
		}
		out.say("agent approved %s (%s): %s", s.Ref, s.Kind, effect(s))
	}
	time.Sleep(time.Second)
	stop()
	if err := <-served; err != nil {
		return res, err
	}

	if res.Cases, err = dk.List(ctx, ""); err != nil {
		return res, err
	}
	res.Sent = sink.Messages()
	if status, err := user.Status("INBOX", &imap.StatusOptions{NumMessages: true}); err == nil && status.NumMessages != nil {
		res.Inbox = int(*status.NumMessages)
	}
	fmt.Fprintf(o.Out, "\nWhere the cases stand:\n")
	for _, s := range res.Cases {
		fmt.Fprintf(o.Out, "  %s  %-12s %-17s sender %-10s code %-5v documents %d  missing: %s\n", s.Ref, s.Kind, s.State,
			s.SenderStatus, s.CodeVerified, len(s.Documents), joinReqs(s.Missing))
	}
	fmt.Fprintf(o.Out, "\n%d mails sent; %d message(s) left untouched in the contact mailbox.\n", len(res.Sent), res.Inbox)
	fmt.Fprintf(o.Out, "Try it on your own data: recoverybot config example > recoverybot.toml (see README.md).\n")
	return res, nil
}

func effect(s desk.Summary) string {
	switch s.Kind {
	case recoverybot.KindTOTPLockout:
		return "TOTP disabled on the profile"
	case recoverybot.KindIPLockout:
		return "allowed IP addresses removed"
	}
	if s.NewEmail != "" {
		return "profile address changed to " + s.NewEmail
	}
	return "profile address revealed to the customer"
}

func joinReqs(rs []recoverybot.Requirement) string {
	if len(rs) == 0 {
		return "nothing"
	}
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

func reportMessage(out *printer, r intake.Report) {
	from := r.From
	if from == "" {
		from = "(no single sender)"
	}
	switch r.Status {
	case store.LedgerIgnored:
		out.say("✉ in   %s %q: not about a case, left untouched", from, r.Subject)
	case store.LedgerDuplicate:
		out.say("✉ in   duplicate of a message already processed")
	case store.LedgerReview:
		out.say("✉ in   %s %q → %s sent to REVIEW: %s (no reply)", from, r.Subject, r.CaseRef, r.Reason)
	default:
		change := string(r.StateFrom)
		if r.StateTo != r.StateFrom {
			change += " → " + string(r.StateTo)
		}
		extra := ""
		if r.Reason != "" {
			extra = " (" + r.Reason + ")"
		} else {
			extra = fmt.Sprintf(" (%d document(s); still missing: %s)", r.Documents, joinReqs(r.Missing))
		}
		out.say("✉ in   %s %q → %s: %s%s", from, r.Subject, r.CaseRef, change, extra)
	}
}

// watchSink prints every mail recoverybot sends.
func watchSink(ctx context.Context, sink *smtpsink.Sink, out *printer) {
	seen := 0
	for {
		msgs := sink.Messages()
		for _, m := range msgs[seen:] {
			subject := ""
			if env, err := enmime.ReadEnvelope(bytes.NewReader(m.Raw)); err == nil {
				subject = env.GetHeader("Subject")
			}
			out.say("✉ out  to %s: %q", strings.Join(m.To, ", "), subject)
		}
		seen = len(msgs)
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// render fills a message template of testdata: {{.Ref}}, {{.Code}} and
// the like, and {{attach "file"}} for a file's bytes in base64.
func render(name string, data map[string]string) ([]byte, error) {
	src, err := files.ReadFile("testdata/" + name)
	if err != nil {
		return nil, err
	}
	t, err := template.New(name).Funcs(template.FuncMap{"attach": attach}).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, err
	}
	// Messages travel with CRLF line ends.
	return bytes.ReplaceAll(bytes.ReplaceAll(b.Bytes(), []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n")), nil
}

func attach(name string) (string, error) {
	data, err := files.ReadFile("testdata/" + name)
	if err != nil {
		return "", errors.New("no attachment " + name)
	}
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	return b.String(), nil
}

type literalReader struct {
	*bytes.Reader
	size int64
}

func (l literalReader) Size() int64 { return l.size }

func literal(b []byte) imap.LiteralReader {
	return literalReader{bytes.NewReader(b), int64(len(b))}
}
