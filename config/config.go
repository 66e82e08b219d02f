// Package config reads recoverybot's TOML configuration (SPEC §6): strict
// about unknown keys and bad values, with defaults for everything but the
// credentials, and secrets from *_file keys or environment variables.
package config

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/robfig/cron/v3"

	"github.com/recoverybot/recoverybot"
)

//go:embed example.toml
var example string

// Example returns the annotated example configuration that
// `recoverybot config example` prints.
func Example() string { return example }

// Environment variables that may hold secrets.
const (
	EnvIMAPPassword = "RECOVERYBOT_IMAP_PASSWORD"
	EnvSMTPPassword = "RECOVERYBOT_SMTP_PASSWORD"
	// EnvActionWebhook overrides [action] webhook_url.
	EnvActionWebhook = "RECOVERYBOT_ACTION_WEBHOOK"
)

// DefaultMemoryLimit is memory_limit's default: the Go heap a process
// aims to stay under (runtime/debug.SetMemoryLimit), so that with the
// database's own memory it stays under 256 MB whatever the mailbox holds.
const DefaultMemoryLimit ByteSize = 160 << 20

// minMemoryLimit is the smallest memory_limit: below it, a 40 MB message
// would keep the collector running all the time.
const minMemoryLimit ByteSize = 64 << 20

// Config is the whole configuration.
type Config struct {
	DataDir      string   `toml:"data_dir"`
	LogLevel     string   `toml:"log_level"`
	LogFormat    string   `toml:"log_format"`
	MemoryLimit  ByteSize `toml:"memory_limit"`
	ProviderName string   `toml:"provider_name"`
	IMAP         IMAP     `toml:"imap"`
	SMTP         SMTP     `toml:"smtp"`
	Auth         Auth     `toml:"auth"`
	Web          Web      `toml:"web"`
	Support      Support  `toml:"support"`
	Policy       Policy   `toml:"policy"`
	Schedule     Schedule `toml:"schedule"`
	Action       Action   `toml:"action"`
}

// IMAP is the contact mailbox.
type IMAP struct {
	Address         string   `toml:"address"`
	Security        string   `toml:"security"`
	Username        string   `toml:"username"`
	Password        string   `toml:"password"`
	PasswordFile    string   `toml:"password_file"`
	TokenFile       string   `toml:"token_file"`
	TokenCommand    []string `toml:"token_command"`
	Mailbox         string   `toml:"mailbox"`
	ProcessedFolder string   `toml:"processed_folder"`
	ReviewFolder    string   `toml:"review_folder"`
	MaxMessageSize  ByteSize `toml:"max_message_size"`
	PollInterval    Duration `toml:"poll_interval"`
	IdleTimeout     Duration `toml:"idle_timeout"`
	CommandTimeout  Duration `toml:"command_timeout"`
}

// OAuth2 reports whether the mailbox logs in with XOAUTH2.
func (i IMAP) OAuth2() bool { return i.TokenFile != "" || len(i.TokenCommand) > 0 }

// SMTP is the server our mail leaves through.
type SMTP struct {
	Address      string `toml:"address"`
	Security     string `toml:"security"`
	Username     string `toml:"username"`
	Password     string `toml:"password"`
	PasswordFile string `toml:"password_file"`
	From         string `toml:"from"`
	FromName     string `toml:"from_name"`
}

// Auth is the trust placed in Authentication-Results headers (SPEC §4).
type Auth struct {
	TrustedAuthservIDs         []string `toml:"trusted_authserv_ids"`
	RequireAuthenticatedSender bool     `toml:"require_authenticated_sender"`
}

// Web is the dashboard.
type Web struct {
	Listen string `toml:"listen"`
	// TLSCert and TLSKey serve the dashboard over HTTPS (PEM files).
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// BehindTLS says a reverse proxy terminates TLS in front of the
	// dashboard: cookies are then Secure.
	BehindTLS bool `toml:"behind_tls"`
	// TrustedProxies are the addresses (IP or CIDR) of reverse proxies
	// whose X-Forwarded-For and ProxyUserHeader are believed.
	TrustedProxies []string `toml:"trusted_proxies"`
	// ProxyUserHeader names the header in which a trusted proxy passes
	// the agent it authenticated (single sign-on); empty: none.
	ProxyUserHeader string `toml:"proxy_user_header"`
}

// Secure reports whether the dashboard is reached over TLS.
func (w Web) Secure() bool { return w.TLSCert != "" || w.BehindTLS }

// Proxies parses TrustedProxies.
func (w Web) Proxies() ([]netip.Prefix, error) {
	out := []netip.Prefix{}
	for _, s := range w.TrustedProxies {
		p, err := parseProxy(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func parseProxy(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("web.trusted_proxies: %q is not an address or a CIDR prefix", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// Policy holds the time limits of the process.
type Policy struct {
	CodeTTL       Duration `toml:"code_ttl"`
	CaseTTL       Duration `toml:"case_ttl"`
	RemindAfter   Duration `toml:"remind_after"`
	Retention     Duration `toml:"retention"`
	ReplyInterval Duration `toml:"reply_interval"`
	// OutboxGiveUp is how long after it was queued a mail that keeps
	// failing temporarily is given up and marked failed for an agent.
	OutboxGiveUp Duration `toml:"outbox_give_up"`
	// Lookback: when a case opens, the mail from its address left in
	// the mailbox this long before is taken for it ("0s": none).
	Lookback Duration `toml:"lookback"`
	// MaxCodeCandidates: a message with more distinct code candidates
	// matches none and, when one is in its new text, is one failed
	// attempt (SPEC §3).
	MaxCodeCandidates int `toml:"max_code_candidates"`
	// MaxDocumentsPerMessage and MaxDocumentsPerCase bound the documents
	// a case collects: a message carrying more, or bringing the case
	// beyond its bound, goes to review and adds nothing.
	MaxDocumentsPerMessage int `toml:"max_documents_per_message"`
	MaxDocumentsPerCase    int `toml:"max_documents_per_case"`
	// ActionDelay holds the action hook this long after an approval
	// (NIST SP 800-63B-4 §4.2.3: the notice to the account's address
	// says so, and an agent may stop it meanwhile); 0: at once.
	ActionDelay Duration `toml:"action_delay"`
	// SecondApproval lists the actions that need a second agent's
	// approval, never the first's.
	SecondApproval []recoverybot.Action `toml:"second_approval"`
}

// NeedsSecondApproval reports whether action a needs a second agent.
func (p Policy) NeedsSecondApproval(a recoverybot.Action) bool {
	for _, x := range p.SecondApproval {
		if x == a {
			return true
		}
	}
	return false
}

// Action is the action hook: how an approval reaches the provider's
// admin system, by a signed HTTPS call or a local command. Neither set:
// no hook.
type Action struct {
	// WebhookURL receives a signed POST per approval: https://, or
	// http:// to a loopback address. EnvActionWebhook overrides it.
	WebhookURL string `toml:"webhook_url"`
	// Secret keys the webhook's signature (at least 16 bytes); or
	// SecretFile, whose first line is the secret.
	Secret     string `toml:"secret"`
	SecretFile string `toml:"secret_file"`
	// Command is run instead of a webhook: the program and its
	// arguments, without a shell.
	Command []string `toml:"command"`
	// Timeout bounds one call of the hook.
	Timeout Duration `toml:"timeout"`
}

// Configured reports whether an action hook is configured.
func (a Action) Configured() bool { return a.WebhookURL != "" || len(a.Command) > 0 }

// MinActionSecret is the shortest [action] secret accepted, in bytes.
const MinActionSecret = 16

// Support is the support team's own mailbox.
type Support struct {
	// Address receives the digest; empty: no digest job.
	Address string `toml:"address"`
	// DigestAlways sends the digest even when it has nothing to say.
	DigestAlways bool `toml:"digest_always"`
	// StaleAfter is how long fetching may fail, or a mail wait in the
	// outbox after a failed attempt, before /readyz says so and the
	// address is alerted.
	StaleAfter Duration `toml:"stale_after"`
}

// Schedule holds one cron spec per sweep.
type Schedule struct {
	Expire    string `toml:"expire"`
	Remind    string `toml:"remind"`
	Purge     string `toml:"purge"`
	Reconcile string `toml:"reconcile"`
	Digest    string `toml:"digest"`
	Outbox    string `toml:"outbox"`
}

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{
		DataDir:      "var",
		LogLevel:     "info",
		LogFormat:    "text",
		MemoryLimit:  DefaultMemoryLimit,
		ProviderName: "Example Hosting",
		IMAP: IMAP{
			Address: "imap.example.net:993", Security: "tls", Mailbox: "INBOX", TokenCommand: []string{},
			ProcessedFolder: "Recovery/Processed", ReviewFolder: "Recovery/Review",
			MaxMessageSize: 40 * 1000 * 1000,
			PollInterval:   Duration(time.Minute), IdleTimeout: Duration(10 * time.Minute),
			CommandTimeout: Duration(2 * time.Minute),
		},
		SMTP: SMTP{Address: "smtp.example.net:587", Security: "starttls", From: "contact@example.net",
			FromName: "Example Hosting Support"},
		// No authserv-id is trusted until the operator names their own MX's:
		// a guessed one is a name anyone can write in a header.
		Auth:    Auth{TrustedAuthservIDs: []string{}, RequireAuthenticatedSender: true},
		Web:     Web{Listen: "127.0.0.1:8080", TrustedProxies: []string{}},
		Support: Support{StaleAfter: Duration(15 * time.Minute)},
		Policy: Policy{
			CodeTTL: Duration(recoverybot.DefaultCodeTTL), CaseTTL: Duration(720 * time.Hour),
			RemindAfter: Duration(72 * time.Hour), Retention: Duration(720 * time.Hour),
			ReplyInterval: Duration(time.Hour), OutboxGiveUp: Duration(48 * time.Hour), Lookback: Duration(336 * time.Hour),
			MaxCodeCandidates: 3, MaxDocumentsPerMessage: 20, MaxDocumentsPerCase: 50,
			SecondApproval: []recoverybot.Action{recoverybot.ActionChangeEmail},
		},
		Schedule: Schedule{Expire: "@every 10m", Remind: "@hourly", Purge: "@daily", Reconcile: "@every 1h", Digest: "0 8 * * 1-5",
			Outbox: "@every 1m"},
		Action: Action{Command: []string{}, Timeout: Duration(30 * time.Second)},
	}
}

// Load reads the file at path over the defaults, fills secrets from
// *_file keys and the environment (getenv may be nil), and validates
// every value present. Unknown keys are errors: a misspelt key must not
// silently leave a default in place. Load does not demand credentials;
// LoadComplete does. The error of a file with problems is a *FileError
// listing all of them.
func Load(path string, getenv func(string) string) (Config, error) {
	return load(path, getenv, false)
}

// LoadComplete is Load then Complete, with the problems of both in one
// *FileError: what `config check` reports.
func LoadComplete(path string, getenv func(string) string) (Config, error) {
	return load(path, getenv, true)
}

func load(path string, getenv func(string) string, complete bool) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return c, fmt.Errorf("config %s: no such file", path)
		}
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	var raw map[string]toml.Primitive
	md, err := toml.Decode(string(b), &raw)
	if err != nil {
		// Nothing more can be read.
		p := Problem{Message: oneLine(err.Error())}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			p.Line, p.Message = pe.Position.Line, oneLine(pe.Message)
		}
		return c, &FileError{Path: path, Problems: Problems{p}}
	}
	ch := &checker{}
	d := newDecoder(&md, ch)
	d.table(raw, reflect.ValueOf(&c).Elem(), "")
	c.resolveSecrets(ch, getenv)
	if complete {
		c.complete(ch)
	} else {
		c.validate(ch)
	}
	for i, p := range ch.ps {
		if p.Line == 0 {
			ch.ps[i].Line = d.lines[p.Key]
		}
	}
	if err := ch.ps.err(); err != nil {
		return c, &FileError{Path: path, Problems: ch.ps}
	}
	return c, nil
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// resolveSecrets reads the secrets' files and the environment. A key
// whose value did not decode keeps its problem alone.
func (c *Config) resolveSecrets(ch *checker, getenv func(string) string) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	c.IMAP.Password = secret(ch, "imap", c.IMAP.Password, c.IMAP.PasswordFile, getenv(EnvIMAPPassword))
	c.SMTP.Password = secret(ch, "smtp", c.SMTP.Password, c.SMTP.PasswordFile, getenv(EnvSMTPPassword))
	if u := getenv(EnvActionWebhook); u != "" {
		c.Action.WebhookURL = u
	}
	switch a := &c.Action; {
	case a.Secret != "" && a.SecretFile != "":
		ch.add("action.secret", "action.secret: give the secret once (secret or secret_file)")
	case a.SecretFile != "":
		b, err := os.ReadFile(a.SecretFile)
		if err != nil {
			ch.add("action.secret_file", "action.secret_file: %v", err)
			break
		}
		line, _, _ := strings.Cut(string(b), "\n")
		a.Secret = strings.TrimRight(line, "\r")
		if a.Secret == "" {
			ch.add("action.secret_file", "action.secret_file %s: the first line is empty", a.SecretFile)
		}
	}
	// Spelt as ParseAction reads them, so that "Change_Email" is
	// change_email; Validate names any it does not know.
	for i, s := range c.Policy.SecondApproval {
		if a, err := recoverybot.ParseAction(string(s)); err == nil {
			c.Policy.SecondApproval[i] = a
		}
	}
}

func secret(ch *checker, section, inline, file, env string) string {
	set := 0
	for _, s := range []string{inline, file, env} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		ch.add(section+".password", "%s.password: give the password once (password, password_file or the environment)", section)
		return inline
	}
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			ch.add(section+".password_file", "%s.password_file: %v", section, err)
			return ""
		}
		line, _, _ := strings.Cut(string(b), "\n")
		return strings.TrimRight(line, "\r")
	case env != "":
		return env
	}
	return inline
}

// Validate checks every value that is present. Its error, when there is
// one, is the Problems found, all of them.
func (c Config) Validate() error {
	ch := &checker{}
	c.validate(ch)
	return ch.ps.err()
}

// Complete checks what the daemon needs beyond Validate: credentials for
// the mailbox and, when senders must be authenticated, the authserv-ids
// to trust. `recoverybot config check`, `serve` and `run` call it; the
// agents' commands, which read no mail, need neither. Its error is the
// Problems of both.
func (c Config) Complete() error {
	ch := &checker{}
	c.complete(ch)
	return ch.ps.err()
}

func (c Config) complete(out *checker) {
	c.validate(out)
	ch := &checker{}
	defer out.merge(ch)
	if c.IMAP.Username == "" {
		ch.add("imap.username", "imap.username is empty")
	}
	if c.IMAP.Password == "" && !c.IMAP.OAuth2() {
		ch.add("imap.password", "imap.password is empty (set it, imap.password_file, %s, or an XOAUTH2 token)", EnvIMAPPassword)
	}
	if c.SMTP.Username != "" && c.SMTP.Password == "" {
		ch.add("smtp.password", "smtp.password is empty while smtp.username is set (set it, smtp.password_file or %s)", EnvSMTPPassword)
	}
	if c.Action.WebhookURL != "" && c.Action.Secret == "" {
		ch.add("action.secret", "action.secret is empty while action.webhook_url is set (set it or action.secret_file): the calls are signed with it")
	}
	if c.Auth.RequireAuthenticatedSender && len(c.Auth.TrustedAuthservIDs) == 0 {
		ch.add("auth.trusted_authserv_ids", "auth.trusted_authserv_ids is empty while auth.require_authenticated_sender is true: "+
			"name the authserv-id your own MX writes in Authentication-Results, or no sender can ever be verified")
	}
}

// validate adds a problem for every value that is wrong, in no order
// (Problems.sort orders them), skipping the keys whose value did not
// decode: they kept their default, and their problem says why.
func (c Config) validate(out *checker) {
	ch := &checker{}
	defer out.merge(ch)
	if strings.TrimSpace(c.DataDir) == "" {
		ch.add("data_dir", "data_dir is empty")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		ch.add("log_level", "log_level %q is not debug, info, warn or error", c.LogLevel)
	}
	if c.MemoryLimit != 0 && c.MemoryLimit < minMemoryLimit {
		ch.add("memory_limit", "memory_limit %d is too small (0 for none, or at least 64MiB)", c.MemoryLimit)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		ch.add("log_format", "log_format %q is not text or json", c.LogFormat)
	}
	if strings.ContainsAny(c.ProviderName, "\r\n") {
		ch.add("provider_name", "provider_name must be one line")
	}

	checkEndpoint(ch, "imap", c.IMAP.Address, c.IMAP.Security)
	if c.IMAP.OAuth2() && c.IMAP.Password != "" {
		ch.add("imap.password", "imap.password: a password and an XOAUTH2 token are both given")
	}
	if c.IMAP.TokenFile != "" && len(c.IMAP.TokenCommand) > 0 {
		ch.add("imap.token_command", "imap.token_command: give token_file or token_command, not both")
	}
	if c.IMAP.Mailbox == "" {
		ch.add("imap.mailbox", "imap.mailbox is empty")
	}
	checkFolder(ch, "imap.processed_folder", c.IMAP.ProcessedFolder)
	checkFolder(ch, "imap.review_folder", c.IMAP.ReviewFolder)
	if c.IMAP.ProcessedFolder == c.IMAP.Mailbox {
		ch.add("imap.processed_folder", "imap.processed_folder must differ from imap.mailbox")
	}
	if c.IMAP.ReviewFolder == c.IMAP.Mailbox {
		ch.add("imap.review_folder", "imap.review_folder must differ from imap.mailbox")
	} else if c.IMAP.ProcessedFolder == c.IMAP.ReviewFolder {
		ch.add("imap.review_folder", "imap.processed_folder and imap.review_folder must differ")
	}
	if c.IMAP.MaxMessageSize < 1<<10 {
		ch.add("imap.max_message_size", "imap.max_message_size %d is too small", c.IMAP.MaxMessageSize)
	}
	positive := func(key string, d Duration) {
		if d <= 0 {
			ch.add(key, "%s must be positive", key)
		}
	}
	notNegative := func(key string, d Duration) {
		if d < 0 {
			ch.add(key, "%s must not be negative", key)
		}
	}
	positive("imap.poll_interval", c.IMAP.PollInterval)
	positive("imap.idle_timeout", c.IMAP.IdleTimeout)
	positive("imap.command_timeout", c.IMAP.CommandTimeout)

	checkEndpoint(ch, "smtp", c.SMTP.Address, c.SMTP.Security)
	if _, err := recoverybot.NormalizeAddress(c.SMTP.From); err != nil {
		ch.add("smtp.from", "smtp.from: %v", err)
	}
	if strings.ContainsAny(c.SMTP.FromName, "\r\n") {
		ch.add("smtp.from_name", "smtp.from_name must be one line")
	}

	for _, id := range c.Auth.TrustedAuthservIDs {
		if strings.TrimSpace(id) == "" || strings.ContainsAny(id, " \t;") {
			ch.add("auth.trusted_authserv_ids", "auth.trusted_authserv_ids: %q is not an authserv-id", id)
		}
	}

	host, _, err := net.SplitHostPort(c.Web.Listen)
	if err != nil {
		ch.add("web.listen", "web.listen %q: want host:port", c.Web.Listen)
	} else if ip, err := netip.ParseAddr(host); !c.Web.Secure() && (host == "" || (err == nil && !ip.IsLoopback()) || (err != nil && host != "localhost")) {
		ch.add("web.listen", "web.listen %q is not a loopback address: agents' passwords and ID scans would cross the network in clear; set tls_cert and tls_key, or behind_tls = true behind a TLS proxy", c.Web.Listen)
	}
	if c.Web.TLSCert != "" && c.Web.TLSKey == "" {
		ch.add("web.tls_key", "web.tls_key is empty: give tls_cert and tls_key together")
	}
	if c.Web.TLSCert == "" && c.Web.TLSKey != "" {
		ch.add("web.tls_cert", "web.tls_cert is empty: give tls_cert and tls_key together")
	}
	for _, s := range c.Web.TrustedProxies {
		if _, err := parseProxy(s); err != nil {
			ch.add("web.trusted_proxies", "%v", err)
		}
	}
	if c.Web.ProxyUserHeader != "" && len(c.Web.TrustedProxies) == 0 {
		ch.add("web.proxy_user_header", "web.proxy_user_header needs web.trusted_proxies: the header is believed only from them")
	}

	if c.Support.Address != "" {
		if _, err := recoverybot.NormalizeAddress(c.Support.Address); err != nil {
			ch.add("support.address", "support.address: %v", err)
		}
	}

	positive("support.stale_after", c.Support.StaleAfter)
	if c.Support.StaleAfter > 0 && c.Support.StaleAfter < Duration(time.Minute) {
		ch.add("support.stale_after", "support.stale_after %s is shorter than a minute", c.Support.StaleAfter.D())
	}
	positive("policy.code_ttl", c.Policy.CodeTTL)
	if c.Policy.CodeTTL > 0 && c.Policy.CodeTTL < Duration(time.Minute) {
		ch.add("policy.code_ttl", "policy.code_ttl %s is shorter than a minute", c.Policy.CodeTTL.D())
	}
	positive("policy.case_ttl", c.Policy.CaseTTL)
	positive("policy.remind_after", c.Policy.RemindAfter)
	notNegative("policy.retention", c.Policy.Retention)
	notNegative("policy.reply_interval", c.Policy.ReplyInterval)
	positive("policy.outbox_give_up", c.Policy.OutboxGiveUp)
	notNegative("policy.lookback", c.Policy.Lookback)
	for _, n := range []struct {
		key      string
		v, limit int
	}{{"policy.max_code_candidates", c.Policy.MaxCodeCandidates, 20}, {"policy.max_documents_per_message", c.Policy.MaxDocumentsPerMessage, 1000},
		{"policy.max_documents_per_case", c.Policy.MaxDocumentsPerCase, 10000}} {
		if n.v < 1 || n.v > n.limit {
			ch.add(n.key, "%s %d must be between 1 and %d", n.key, n.v, n.limit)
		}
	}
	notNegative("policy.action_delay", c.Policy.ActionDelay)
	for _, a := range c.Policy.SecondApproval {
		if p, err := recoverybot.ParseAction(string(a)); err != nil || p != a {
			ch.add("policy.second_approval", "policy.second_approval: unknown action %q (want disable_totp, clear_ip_allowlist, change_email or tell_email)", a)
		}
	}

	parser := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	for _, s := range []struct{ key, spec string }{{"schedule.expire", c.Schedule.Expire}, {"schedule.remind", c.Schedule.Remind},
		{"schedule.purge", c.Schedule.Purge}, {"schedule.reconcile", c.Schedule.Reconcile}, {"schedule.digest", c.Schedule.Digest},
		{"schedule.outbox", c.Schedule.Outbox}} {
		if _, err := parser.Parse(s.spec); err != nil {
			ch.add(s.key, "%s %q: %s", s.key, s.spec, oneLine(err.Error()))
		}
	}

	c.Action.validate(ch)
}

// validate checks the action hook's values; an empty secret is
// Complete's to refuse.
func (a Action) validate(ch *checker) {
	if a.WebhookURL != "" {
		u, err := url.Parse(a.WebhookURL)
		switch {
		case err != nil || u.Hostname() == "":
			ch.add("action.webhook_url", "action.webhook_url: want an https:// URL with a host")
		case u.User != nil:
			ch.add("action.webhook_url", "action.webhook_url %s: no credentials in the URL; the signature authenticates", u.Redacted())
		case u.Scheme == "http" && !IsLoopback(u.Hostname()):
			ch.add("action.webhook_url", "action.webhook_url %s: plain http is allowed only to a loopback address, not %q; use https", u.Redacted(), u.Hostname())
		case u.Scheme != "https" && u.Scheme != "http":
			ch.add("action.webhook_url", "action.webhook_url %s: scheme %q, want https", u.Redacted(), u.Scheme)
		}
		if a.Secret != "" && len(a.Secret) < MinActionSecret {
			ch.add("action.secret", "action.secret is %d bytes, want at least %d", len(a.Secret), MinActionSecret)
		}
	}
	if a.WebhookURL != "" && len(a.Command) > 0 {
		ch.add("action.command", "action.command: give webhook_url or command, not both")
	}
	if len(a.Command) > 0 && strings.TrimSpace(a.Command[0]) == "" {
		ch.add("action.command", "action.command: the program (its first word) is empty")
	}
	if a.Timeout <= 0 {
		ch.add("action.timeout", "action.timeout must be positive")
	}
}

func checkEndpoint(ch *checker, section, addr, security string) {
	host, port, err := net.SplitHostPort(addr)
	switch n, perr := strconv.Atoi(port); {
	case err != nil || host == "":
		ch.add(section+".address", "%s.address %q: want host:port", section, addr)
	case perr != nil || n < 1 || n > 65535:
		ch.add(section+".address", "%s.address %q: bad port", section, addr)
	}
	switch security {
	case "tls", "starttls":
	case "none":
		if err == nil && host != "" && !IsLoopback(host) {
			ch.add(section+".security", "%s.security = \"none\" is allowed only to a loopback address, not %q", section, host)
		}
	default:
		ch.add(section+".security", "%s.security %q is not tls, starttls or none", section, security)
	}
}

// IsLoopback reports whether host names this machine: localhost or an
// address in 127.0.0.0/8 or ::1. Names are not resolved.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkFolder(ch *checker, key, f string) {
	if f == "" || strings.HasPrefix(f, "/") || strings.HasSuffix(f, "/") || strings.Contains(f, "//") {
		ch.add(key, "%s %q: want levels separated by '/', like Recovery/Processed", key, f)
	} else if strings.ContainsAny(f, "*%\r\n\"") {
		ch.add(key, "%s %q: contains a character IMAP forbids in names", key, f)
	}
}

// Duration is a time.Duration written as "24h" in TOML.
type Duration time.Duration

// UnmarshalText reads a Go duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q (want e.g. \"90s\", \"10m\", \"24h\")", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes a Go duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ByteSize is a size in bytes, written as an integer or with a unit
// ("40MB", "512KiB").
type ByteSize int64

// UnmarshalText reads a size.
func (s *ByteSize) UnmarshalText(b []byte) error {
	t := strings.TrimSpace(string(b))
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return fmt.Errorf("bad size %q (want e.g. \"40MB\")", b)
	}
	*s = ByteSize(n * mult)
	return nil
}

// UnmarshalTOML accepts a bare integer as well as a string.
func (s *ByteSize) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return fmt.Errorf("bad size %d", x)
		}
		*s = ByteSize(x)
		return nil
	case string:
		return s.UnmarshalText([]byte(x))
	}
	return fmt.Errorf("bad size %v (want e.g. \"40MB\")", v)
}
