// Package demo runs recoverybot end to end on one machine, with nothing
// to install: an in-process IMAP server (go-imap's imapmemserver) holds
// the contact mailbox, an in-process SMTP sink receives our mail, and
// sample customers write in from the messages in testdata/. It prints what
// arrives and what becomes of each case as it happens.
package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
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
	"github.com/recoverybot/recoverybot/action"
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
	agent       = "demo"
	secondAgent = "demo-2"
)

// Options tune the demo.
type Options struct {
	// Pace is the time between two customer messages; 0: 1.5 s.
	Pace time.Duration
	// DataDir keeps the database there; "": a temporary directory,
	// removed at the end.
	DataDir string
	// Exit plays the whole script, the agents' approvals included, and
	// returns; otherwise the demo leaves the cases to decide in the
	// dashboard and runs until ctx ends.
	Exit bool
	// Listen is the dashboard's address; "": 127.0.0.1:8080, or a free
	// port when that one is taken.
	Listen string
	// OnReady, when not nil, is called once the customers' mail has been
	// taken and the dashboard is up (not with Exit).
	OnReady func(Live)
	Out     io.Writer
	Logger  *slog.Logger
}

// Live is the running demo, for whoever drives the dashboard (the
// browser test).
type Live struct {
	URL string
	// Agents are the demo's dashboard logins: name, password.
	Agents map[string]string
	// Refs are the cases by profile ID.
	Refs map[string]string
	// Sent returns the mail recoverybot sent so far; Hooks, the calls
	// the admin system applied.
	Sent  func() []smtpsink.Received
	Hooks func() []action.Request
}

// Result is what the demo ends with, for tests.
type Result struct {
	Cases []desk.Summary
	Sent  []smtpsink.Received
	// Hooks are the calls the demo's admin system received and applied.
	Hooks []action.Request
	// Inbox is the number of messages left in the contact mailbox.
	Inbox int
	// Metrics is the dashboard's /metrics at the end (with Exit).
	Metrics string
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

	// The provider's admin system, which approvals reach through the
	// signed action hook.
	secret, err := randomText(24)
	if err != nil {
		return res, err
	}
	admin, err := startAdmin([]byte(secret), out.say)
	if err != nil {
		return res, err
	}
	defer admin.close()
	cfg.Action.WebhookURL, cfg.Action.Secret = admin.url, secret
	cfg.Web.Listen = o.Listen
	if cfg.Web.Listen == "" {
		cfg.Web.Listen = "127.0.0.1:8080"
	}
	webLn, err := daemon.ListenWeb(cfg)
	if err != nil && o.Listen == "" {
		cfg.Web.Listen = "127.0.0.1:0"
		webLn, err = daemon.ListenWeb(cfg)
	}
	if err != nil {
		return res, err
	}
	url := "http://" + webLn.Addr().String() + "/"

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

	agents := map[string]string{}
	for _, name := range []string{agent, secondAgent} {
		pw, err := randomText(12)
		if err != nil {
			return res, err
		}
		if _, err := dk.AddAgent(ctx, name, pw); err != nil {
			return res, err
		}
		agents[name] = pw
	}

	fmt.Fprintf(o.Out, "recoverybot demo\n  dashboard        %s\n  metrics          %smetrics\n  logins           %s / %s   and, for a second approval, %s / %s\n  contact mailbox  imap://%s (in-process), user %s\n  outgoing mail    smtp://%s (in-process sink)\n  admin system     %s (in-process, checks the signature)\n  data             %s\n  trusted MTA      %s\n\n",
		url, url, agent, agents[agent], secondAgent, agents[secondAgent], ln.Addr(), mailboxUser, sink.Addr(), admin.url, dataDir, trustedID)

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
	go func() { served <- d.ServeWithWeb(runCtx, webLn) }()
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

	if !o.Exit {
		out.say("the cases wait for an agent: open %s and log in as %s / %s (Ctrl-C stops the demo)", url, agent, agents[agent])
		if o.OnReady != nil {
			o.OnReady(Live{URL: url, Agents: agents, Refs: refs, Sent: sink.Messages, Hooks: admin.received})
		}
		<-ctx.Done()
	} else {
		if err := approveAll(ctx, dk, refs, out); err != nil {
			return res, err
		}
		// The admin system says yes, then the customers are told.
		waitCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
		for len(admin.received()) < 2 && waitCtx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
		time.Sleep(time.Second)
		if res.Metrics, err = get(ctx, url+"metrics"); err != nil {
			return res, err
		}
	}
	stop()
	if err := <-served; err != nil {
		return res, err
	}

	res.Hooks = admin.received()
	if res.Cases, err = dk.List(context.WithoutCancel(ctx), ""); err != nil {
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

// get returns the body of a GET of url.
func get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("demo: GET %s: %s", url, resp.Status)
	}
	return string(body), err
}

// approveAll plays the agents' approvals: Jean's TOTP by one agent, and
// ACME's email change, which needs two, by both.
func approveAll(ctx context.Context, dk *desk.Desk, refs map[string]string, out *printer) error {
	steps := []desk.ApproveRequest{
		{Ref: refs["p-1001"], By: agent, Note: "identity checked on the documents"},
		{Ref: refs["p-1002"], By: agent, Note: "ID and KBIS match the profile", NewEmail: "marie.curie@new-acme.example"},
		{Ref: refs["p-1002"], By: secondAgent, Note: "second look: agreed"},
	}
	for _, req := range steps {
		s, err := dk.Approve(ctx, req)
		if err != nil {
			return fmt.Errorf("demo: %s approving %s: %w", req.By, req.Ref, err)
		}
		if s.PendingApproval != nil {
			out.say("%s approved %s (%s); an email change waits for a second agent", req.By, s.Ref, s.Kind)
			continue
		}
		out.say("%s approved %s (%s): %s, once the admin system says yes", req.By, s.Ref, s.Kind, effect(s))
	}
	return nil
}

func randomText(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
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
