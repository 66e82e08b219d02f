package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "recoverybot.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExampleIsCompleteAndValid checks the promise of `config example`:
// every key, uncommented, each with a comment, loading to the defaults,
// and passing Complete once the credentials are filled in.
func TestExampleIsCompleteAndValid(t *testing.T) {
	ex := Example()
	c, err := Load(write(t, ex), nil)
	if err != nil {
		t.Fatalf("example does not load: %v", err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("example differs from the defaults:\n%+v\n%+v", c, Default())
	}
	keys := tomlKeys(reflect.TypeOf(Config{}), "")
	lines := strings.Split(ex, "\n")
	for _, key := range keys {
		section, name := "", key
		if i := strings.LastIndex(key, "."); i >= 0 {
			section, name = key[:i], key[i+1:]
		}
		found := false
		current := ""
		for i, l := range lines {
			if m := regexp.MustCompile(`^\[(.+)\]$`).FindStringSubmatch(l); m != nil {
				current = m[1]
			}
			if current == section && strings.HasPrefix(l, name+" = ") {
				found = true
				if i == 0 || !strings.HasPrefix(lines[i-1], "#") && !strings.Contains(l, "#") {
					// A key may share the comment of the key before it.
					if i < 2 || !strings.Contains(lines[i-1], " = ") {
						t.Errorf("key %s has no comment", key)
					}
				}
			}
		}
		if !found {
			t.Errorf("config example lacks key %s", key)
		}
	}
	if err := c.Complete(); err == nil || !strings.Contains(err.Error(), "imap.username") {
		t.Errorf("Complete on the bare example = %v, want it to ask for imap.username", err)
	}
	filled := strings.Replace(ex, `username = ""`, `username = "contact@example.net"`, 1)
	filled = strings.Replace(filled, `password = ""`, `password = "secret"`, 1)
	// The example names no MX: the credentials alone do not make it pass.
	c, err = Load(write(t, filled), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Complete(); err == nil || !strings.Contains(err.Error(), "auth.trusted_authserv_ids") {
		t.Errorf("Complete on the example without trusted_authserv_ids = %v, want it to name the key", err)
	}
	filled = strings.Replace(filled, `trusted_authserv_ids = []`, `trusted_authserv_ids = ["mx.example.net"]`, 1)
	c, err = Load(write(t, filled), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Complete(); err != nil {
		t.Errorf("filled-in example fails the check: %v", err)
	}
}

// TestTrustedAuthservIDsRequired: with require_authenticated_sender, no
// trusted authserv-id means no sender could ever be verified; without
// it, none is needed.
func TestTrustedAuthservIDsRequired(t *testing.T) {
	creds := "[imap]\nusername = \"u\"\npassword = \"p\"\n"
	for _, tt := range []struct {
		name, auth string
		ok         bool
	}{
		{"key absent", "", false},
		{"empty", "[auth]\ntrusted_authserv_ids = []\n", false},
		{"empty, explicitly required", "[auth]\ntrusted_authserv_ids = []\nrequire_authenticated_sender = true\n", false},
		{"set", "[auth]\ntrusted_authserv_ids = [\"mx.example.net\"]\n", true},
		{"empty, not required", "[auth]\ntrusted_authserv_ids = []\nrequire_authenticated_sender = false\n", true},
	} {
		c, err := Load(write(t, creds+tt.auth), nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		err = c.Complete()
		if tt.ok != (err == nil) {
			t.Errorf("%s: Complete = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && (!strings.Contains(err.Error(), "auth.trusted_authserv_ids") || strings.Contains(err.Error(), "\n")) {
			t.Errorf("%s: error %q does not name the key in one line", tt.name, err)
		}
	}
}

func tomlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := prefix + f.Tag.Get("toml")
		if f.Type.Kind() == reflect.Struct {
			keys = append(keys, tomlKeys(f.Type, name+".")...)
			continue
		}
		keys = append(keys, name)
	}
	return keys
}

func TestLoadErrors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"unknown top key", `dta_dir = "x"`, `unknown key "dta_dir"`},
		{"unknown nested key", "[imap]\nadress = \"x:1\"", `unknown key "imap.adress"`},
		{"syntax", "[imap\naddress = 1", "line 2"},
		{"wrong type", "[imap]\naddress = 993", "imap.address"},
		{"bad duration", "[policy]\ncode_ttl = \"a day\"", "bad duration"},
		{"negative duration", "[policy]\ncode_ttl = \"-1h\"", "policy.code_ttl must be positive"},
		{"bad security", "[imap]\nsecurity = \"ssl\"", `imap.security "ssl"`},
		{"plaintext off loopback", "[imap]\naddress = \"imap.example.net:143\"\nsecurity = \"none\"", "loopback"},
		{"bad port", "[smtp]\naddress = \"smtp.example.net:99999\"", "bad port"},
		{"bad from", "[smtp]\nfrom = \"contact\"", "smtp.from"},
		{"bad cron", "[schedule]\npurge = \"every day\"", "schedule.purge"},
		{"bad outbox cron", "[schedule]\noutbox = \"every minute\"", `schedule.outbox "every minute"`},
		{"outbox never given up", "[policy]\noutbox_give_up = \"0s\"", "policy.outbox_give_up must be positive"},
		{"outbox given up before", "[policy]\noutbox_give_up = \"-48h\"", "policy.outbox_give_up must be positive"},
		{"bad size", "[imap]\nmax_message_size = \"big\"", "bad size"},
		{"same folders", "[imap]\nreview_folder = \"Recovery/Processed\"", "must differ"},
		{"bad folder", "[imap]\nreview_folder = \"/Review\"", "imap.review_folder"},
		{"two passwords", "[imap]\npassword = \"a\"\npassword_file = \"/x\"", "give the password once"},
		{"log level", `log_level = "loud"`, "log_level"},
		{"log format", `log_format = "xml"`, `log_format "xml" is not text or json`},
		{"no code candidate", "[policy]\nmax_code_candidates = 0", "policy.max_code_candidates 0 must be between 1 and 20"},
		{"no document a message", "[policy]\nmax_documents_per_message = 0", "policy.max_documents_per_message"},
		{"negative lookback", "[policy]\nlookback = \"-1h\"", "policy.lookback must not be negative"},
		{"bad lookback", "[policy]\nlookback = \"two weeks\"", "bad duration"},
		{"documents a case unbounded", "[policy]\nmax_documents_per_case = 1000000", "policy.max_documents_per_case"},
		{"dashboard in clear off loopback", "[web]\nlisten = \"0.0.0.0:8080\"", "is not a loopback address"},
		{"dashboard on every address", "[web]\nlisten = \":8080\"", "is not a loopback address"},
		{"half a certificate", "[web]\ntls_cert = \"/etc/cert.pem\"", "tls_cert and tls_key together"},
		{"bad proxy", "[web]\ntrusted_proxies = [\"proxy.lan\"]", `web.trusted_proxies: "proxy.lan"`},
		{"sign-on from anyone", "[web]\nproxy_user_header = \"X-Remote-User\"", "needs web.trusted_proxies"},
		{"section as a value", "imap = 3", "line 1: imap: want a table ([imap])"},
		{"array of sections", "[[imap]]\naddress = \"x:1\"", "imap: want a table ([imap])"},
		{"key in capitals", `Data_Dir = "x"`, `line 1: unknown key "Data_Dir"`},
		{"list of the wrong type", "[imap]\ntoken_command = \"gettoken\"", "line 2: imap.token_command: want a list of strings, not a string"},
		{"size as a list", "[imap]\nmax_message_size = [1]", "imap.max_message_size: bad size"},
	}
	for _, tt := range tests {
		_, err := Load(write(t, tt.body), nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error spans lines: %q", tt.name, err)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "absent.toml"), nil); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("absent file: %v", err)
	}
}

func TestSecretsFromFileAndEnvironment(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(secretFile, []byte("from-file\n"), 0o600)
	c, err := Load(write(t, "[imap]\nusername = \"u\"\npassword_file = \""+secretFile+"\""), nil)
	if err != nil || c.IMAP.Password != "from-file" {
		t.Errorf("password_file: %q, %v", c.IMAP.Password, err)
	}
	env := map[string]string{EnvIMAPPassword: "from-env", EnvSMTPPassword: "smtp-env"}
	c, err = Load(write(t, "[imap]\nusername = \"u\"\n[auth]\ntrusted_authserv_ids = [\"mx.example.net\"]"), func(k string) string { return env[k] })
	if err != nil || c.IMAP.Password != "from-env" || c.SMTP.Password != "smtp-env" {
		t.Errorf("environment: %q %q, %v", c.IMAP.Password, c.SMTP.Password, err)
	}
	if err := c.Complete(); err != nil {
		t.Errorf("Complete: %v", err)
	}
	c, err = Load(write(t, "[imap]\nusername = \"u\"\ntoken_command = [\"gettoken\"]\n[auth]\ntrusted_authserv_ids = [\"mx.example.net\"]"), nil)
	if err != nil || !c.IMAP.OAuth2() || c.Complete() != nil {
		t.Errorf("XOAUTH2 config: %v / %v", err, c.Complete())
	}
}

func TestValues(t *testing.T) {
	c, err := Load(write(t, "[imap]\nmax_message_size = \"512KiB\"\n[policy]\nretention = \"0s\"\ncode_ttl = \"2h\""), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.IMAP.MaxMessageSize != 512<<10 || c.Policy.Retention != 0 || c.Policy.CodeTTL.D() != 2*time.Hour {
		t.Errorf("values = %+v %+v", c.IMAP, c.Policy)
	}
	c, err = Load(write(t, "[imap]\nmax_message_size = 2048"), nil)
	if err != nil || c.IMAP.MaxMessageSize != 2048 {
		t.Errorf("integer size: %d, %v", c.IMAP.MaxMessageSize, err)
	}
	// Dotted keys are the keys of their table.
	c, err = Load(write(t, "imap.max_message_size = 4096\npolicy.code_ttl = \"3h\""), nil)
	if err != nil || c.IMAP.MaxMessageSize != 4096 || c.Policy.CodeTTL.D() != 3*time.Hour {
		t.Errorf("dotted keys: %d %s, %v", c.IMAP.MaxMessageSize, c.Policy.CodeTTL.D(), err)
	}
	for _, h := range []string{"127.0.0.1", "localhost", "::1", "127.3.2.1"} {
		if !IsLoopback(h) {
			t.Errorf("IsLoopback(%s) = false", h)
		}
	}
	for _, h := range []string{"10.0.0.1", "imap.example.net", "localhost.example.net"} {
		if IsLoopback(h) {
			t.Errorf("IsLoopback(%s) = true", h)
		}
	}
}

// TestOutboxKeys: the outbox is sent every minute and given up 48 hours
// after a mail was queued, unless the file says otherwise.
func TestOutboxKeys(t *testing.T) {
	d := Default()
	if d.Policy.OutboxGiveUp.D() != 48*time.Hour || d.Schedule.Outbox != "@every 1m" {
		t.Errorf("defaults: give up after %s, schedule %q", d.Policy.OutboxGiveUp.D(), d.Schedule.Outbox)
	}
	c, err := Load(write(t, "[policy]\noutbox_give_up = \"6h\"\n[schedule]\noutbox = \"*/5 * * * *\""), nil)
	if err != nil || c.Policy.OutboxGiveUp.D() != 6*time.Hour || c.Schedule.Outbox != "*/5 * * * *" {
		t.Errorf("load: give up after %s, schedule %q, %v", c.Policy.OutboxGiveUp.D(), c.Schedule.Outbox, err)
	}
}

func TestLookback(t *testing.T) {
	if d := Default().Policy.Lookback.D(); d != 14*24*time.Hour {
		t.Errorf("default lookback = %s, want 336h", d)
	}
	for in, want := range map[string]time.Duration{"48h": 48 * time.Hour, "0s": 0} {
		c, err := Load(write(t, "[policy]\nlookback = \""+in+"\""), nil)
		if err != nil || c.Policy.Lookback.D() != want {
			t.Errorf("lookback %q: %s, %v; want %s", in, c.Policy.Lookback.D(), err, want)
		}
	}
}

func TestSupportAndScheduleKeys(t *testing.T) {
	d := Default()
	if d.Schedule.Digest != "0 8 * * 1-5" || d.Schedule.Reconcile != "@every 1h" || d.Support.Address != "" || d.Support.DigestAlways ||
		d.Support.StaleAfter.D() != 15*time.Minute {
		t.Errorf("defaults: %+v %+v", d.Schedule, d.Support)
	}
	c, err := Load(write(t, "[support]\naddress = \"support@hosting.example\"\ndigest_always = true\nstale_after = \"1h\"\n[schedule]\ndigest = \"@daily\""), nil)
	if err != nil || c.Support.Address != "support@hosting.example" || !c.Support.DigestAlways || c.Schedule.Digest != "@daily" ||
		c.Support.StaleAfter.D() != time.Hour {
		t.Fatalf("load: %+v, %v", c.Support, err)
	}
	for in, want := range map[string]string{
		"[support]\naddress = \"not an address\"": "support.address",
		"[support]\nstale_after = \"0s\"":         "support.stale_after must be positive",
		"[support]\nstale_after = \"10s\"":        "support.stale_after 10s is shorter than a minute",
		"[schedule]\ndigest = \"weekdays at 8\"":  "schedule.digest",
		"[schedule]\nreconcile = \"@every\"":      "schedule.reconcile",
	} {
		if _, err := Load(write(t, in), nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %s", in, err, want)
		}
	}
}

// TestActionKeys: the action hook's keys, the waiting period and the
// actions under a second approval.
func TestActionKeys(t *testing.T) {
	d := Default()
	if d.Action.Configured() || d.Action.Timeout.D() != 30*time.Second || d.Policy.ActionDelay != 0 ||
		!reflect.DeepEqual(d.Policy.SecondApproval, []recoverybot.Action{recoverybot.ActionChangeEmail}) ||
		!d.Policy.NeedsSecondApproval(recoverybot.ActionChangeEmail) || d.Policy.NeedsSecondApproval(recoverybot.ActionDisableTOTP) {
		t.Errorf("defaults: %+v, %+v", d.Action, d.Policy)
	}
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte("0123456789abcdef-from-file\r\nignored\n"), 0o600)
	c, err := Load(write(t, "[action]\nwebhook_url = \"https://admin.example.net/recovery\"\nsecret_file = \""+secretFile+"\"\ntimeout = \"5s\"\n"+
		"[policy]\naction_delay = \"24h\"\nsecond_approval = [\"Change_Email\", \"disable_totp\"]"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Action.WebhookURL != "https://admin.example.net/recovery" || c.Action.Secret != "0123456789abcdef-from-file" ||
		c.Action.Timeout.D() != 5*time.Second || c.Policy.ActionDelay.D() != 24*time.Hour || !c.Action.Configured() ||
		!reflect.DeepEqual(c.Policy.SecondApproval, []recoverybot.Action{recoverybot.ActionChangeEmail, recoverybot.ActionDisableTOTP}) {
		t.Errorf("loaded %+v, %+v", c.Action, c.Policy)
	}
	c, err = Load(write(t, "[policy]\nsecond_approval = []"), nil)
	if err != nil || len(c.Policy.SecondApproval) != 0 || c.Policy.NeedsSecondApproval(recoverybot.ActionChangeEmail) {
		t.Errorf("no second approval: %v, %v", c.Policy.SecondApproval, err)
	}
	c, err = Load(write(t, "[action]\ncommand = [\"/usr/local/bin/admin-hook\", \"--recovery\"]"), nil)
	if err != nil || !c.Action.Configured() || len(c.Action.Command) != 2 {
		t.Errorf("command: %+v, %v", c.Action, err)
	}
	// The environment overrides the URL, and is checked like it.
	env := map[string]string{EnvActionWebhook: "http://127.0.0.1:9090/hook"}
	c, err = Load(write(t, "[action]\nwebhook_url = \"https://admin.example.net/recovery\"\nsecret = \"0123456789abcdef\""),
		func(k string) string { return env[k] })
	if err != nil || c.Action.WebhookURL != "http://127.0.0.1:9090/hook" {
		t.Errorf("environment: %q, %v", c.Action.WebhookURL, err)
	}
	env[EnvActionWebhook] = "http://admin.example.net/hook"
	if _, err := Load(write(t, "[action]\nsecret = \"0123456789abcdef\""), func(k string) string { return env[k] }); err == nil ||
		!strings.Contains(err.Error(), "action.webhook_url") {
		t.Errorf("plain http from the environment: %v", err)
	}

	for _, tt := range []struct{ name, body, want string }{
		{"both hooks", "[action]\nwebhook_url = \"https://a.example.net/\"\ncommand = [\"hook\"]", "webhook_url or command, not both"},
		{"plain http", "[action]\nwebhook_url = \"http://admin.example.net/\"", `action.webhook_url http://admin.example.net/: plain http is allowed only to a loopback address`},
		{"no scheme", "[action]\nwebhook_url = \"admin.example.net/hook\"", "action.webhook_url: want an https:// URL"},
		{"other scheme", "[action]\nwebhook_url = \"ftp://admin.example.net/\"", `scheme "ftp"`},
		{"credentials", "[action]\nwebhook_url = \"https://u:hunter2@admin.example.net/\"", "no credentials in the URL"},
		{"short secret", "[action]\nwebhook_url = \"https://admin.example.net/\"\nsecret = \"short\"", "action.secret is 5 bytes, want at least 16"},
		{"two secrets", "[action]\nsecret = \"0123456789abcdef\"\nsecret_file = \"/x\"", "give the secret once"},
		{"missing secret file", "[action]\nsecret_file = \"/nonexistent/secret\"", "action.secret_file"},
		{"empty program", "[action]\ncommand = [\"\"]", "action.command"},
		{"no timeout", "[action]\ntimeout = \"0s\"", "action.timeout must be positive"},
		{"negative delay", "[policy]\naction_delay = \"-1h\"", "policy.action_delay must not be negative"},
		{"unknown action", "[policy]\nsecond_approval = [\"reset_password\"]", `policy.second_approval: unknown action "reset_password"`},
	} {
		_, err := Load(write(t, tt.body), nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error spans lines or shows a secret: %q", tt.name, err)
		}
	}
	// A webhook without its secret is incomplete.
	c, err = Load(write(t, "[imap]\nusername = \"u\"\npassword = \"p\"\n[auth]\ntrusted_authserv_ids = [\"mx.example.net\"]\n"+
		"[action]\nwebhook_url = \"https://admin.example.net/\""), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Complete(); err == nil || !strings.Contains(err.Error(), "action.secret is empty") {
		t.Errorf("Complete of a webhook without a secret = %v", err)
	}
}

func TestWebKeys(t *testing.T) {
	c, err := Load(write(t, "[web]\nlisten = \"0.0.0.0:8443\"\nbehind_tls = true\ntrusted_proxies = [\"10.0.0.0/8\", \"192.168.1.7\"]\nproxy_user_header = \"X-Remote-User\""), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Web.Proxies()
	if err != nil || len(p) != 2 || p[0].String() != "10.0.0.0/8" || p[1].String() != "192.168.1.7/32" || !c.Web.Secure() {
		t.Errorf("proxies %v, secure %v, %v", p, c.Web.Secure(), err)
	}
	if d := Default(); d.Web.Secure() {
		t.Error("the default dashboard claims TLS")
	}
}

// TestEveryProblem: a file with many problems has them all reported, each
// naming its key and its line, unknown keys first in the file's order,
// then in the order of the example, the same order every time.
func TestEveryProblem(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "absent-secret")
	body := `log_level = "loud"
dta_dir = "x"
[schedule]
purge = "every day"
[imap]
adress = "x:1"
address = 993
password = "a"
password_file = "/x"
sub.key = 1
[policy]
code_ttl = "-1h"
max_code_candidates = "three"
lookback = "two weeks"
[imapp]
a = 1
[action]
secret_file = "` + secretFile + `"
webhook_url = "http://admin.example.net/"
`
	want := []Problem{
		{"dta_dir", 2, `unknown key "dta_dir"`},
		{"imap.adress", 6, `unknown key "imap.adress"`},
		{"imap.sub", 10, `unknown key "imap.sub"`},
		{"imapp", 15, `unknown key "imapp"`},
		{"log_level", 1, `log_level "loud" is not debug, info, warn or error`},
		{"imap.address", 7, "imap.address: want a string, not an integer"},
		{"imap.username", 0, "imap.username is empty"},
		{"imap.password", 8, "imap.password: give the password once (password, password_file or the environment)"},
		{"auth.trusted_authserv_ids", 0, "auth.trusted_authserv_ids is empty while auth.require_authenticated_sender is true"},
		{"policy.code_ttl", 12, "policy.code_ttl must be positive"},
		{"policy.lookback", 14, `policy.lookback: bad duration "two weeks"`},
		{"policy.max_code_candidates", 13, "policy.max_code_candidates: want an integer, not a string"},
		{"schedule.purge", 4, `schedule.purge "every day"`},
		{"action.webhook_url", 19, "action.webhook_url http://admin.example.net/: plain http is allowed only to a loopback address"},
		{"action.secret_file", 18, "action.secret_file: open " + secretFile},
	}
	path := write(t, body)
	order := exampleOrder()
	var first []string
	for run := 0; run < 20; run++ {
		_, err := LoadComplete(path, nil)
		var fe *FileError
		if !errors.As(err, &fe) {
			t.Fatalf("LoadComplete = %v, want a *FileError", err)
		}
		var got []string
		for _, p := range fe.Problems {
			got = append(got, p.String())
		}
		if run == 0 {
			first = got
			if len(fe.Problems) != len(want) {
				t.Errorf("%d problems, want %d:\n%s", len(fe.Problems), len(want), strings.Join(got, "\n"))
			}
			for i, p := range fe.Problems {
				if i < len(want) && (p.Key != want[i].Key || p.Line != want[i].Line || !strings.HasPrefix(p.Message, want[i].Message)) {
					t.Errorf("problem %d = %+v, want %+v", i, p, want[i])
				}
				if !strings.Contains(p.Message, p.Key) || strings.Contains(p.Message, "\n") {
					t.Errorf("problem %+v does not name its key in one line", p)
				}
				if _, known := order[p.Key]; !known && !strings.HasPrefix(p.Message, "unknown key") {
					t.Errorf("problem %+v has a key the example lacks", p)
				}
			}
			if msg := err.Error(); msg != "config "+path+": line 2: unknown key \"dta_dir\" (and 14 more)" {
				t.Errorf("one-line error = %q", msg)
			}
			continue
		}
		if strings.Join(got, "\n") != strings.Join(first, "\n") {
			t.Fatalf("run %d gives another order:\n%s\nthen:\n%s", run, strings.Join(first, "\n"), strings.Join(got, "\n"))
		}
	}
	// Load, which does not ask for credentials, lists the rest.
	_, err := Load(path, nil)
	var fe *FileError
	if !errors.As(err, &fe) || len(fe.Problems) != len(want)-2 {
		t.Errorf("Load = %v, want %d problems", err, len(want)-2)
	}
	for _, p := range fe.Problems {
		if p.Key == "imap.username" || p.Key == "auth.trusted_authserv_ids" {
			t.Errorf("Load asks for credentials: %v", p)
		}
	}
}

// TestProblemOfSyntax: a file that is not TOML is one problem, with its
// line: nothing more can be read.
func TestProblemOfSyntax(t *testing.T) {
	_, err := LoadComplete(write(t, "log_level = \"loud\"\ndata_dir = \"a\" \"b\"\n[imap]\naddress = 1\n"), nil)
	var fe *FileError
	if !errors.As(err, &fe) || len(fe.Problems) != 1 || fe.Problems[0].Line != 2 || fe.Problems[0].Key != "" {
		t.Fatalf("LoadComplete = %#v", err)
	}
	if strings.Contains(err.Error(), "more)") {
		t.Errorf("error %q counts more problems", err)
	}
}

// TestProblemsOfSecrets: a password given twice and a secret file that
// cannot be read are problems, and the check goes on past them.
func TestProblemsOfSecrets(t *testing.T) {
	env := map[string]string{EnvSMTPPassword: "from-env"}
	_, err := Load(write(t, "[imap]\npassword_file = \"/nonexistent/imap\"\n[smtp]\nusername = \"u\"\npassword = \"p\"\n"+
		"[action]\nsecret = \"0123456789abcdef\"\nsecret_file = \"/x\"\ntimeout = \"0s\"\n"), func(k string) string { return env[k] })
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("Load = %v", err)
	}
	var keys []string
	for _, p := range fe.Problems {
		keys = append(keys, p.Key)
	}
	if got, want := strings.Join(keys, " "), "imap.password_file smtp.password action.secret action.timeout"; got != want {
		t.Errorf("keys %q, want %q (%v)", got, want, fe.Problems)
	}
	// An unreadable password file is not also an empty password.
	_, err = LoadComplete(write(t, "[imap]\nusername = \"u\"\npassword_file = \"/nonexistent/imap\"\n"), nil)
	if !errors.As(err, &fe) || strings.Contains(err.Error(), "imap.password is empty") || fe.Problems[0].Key != "imap.password_file" {
		t.Errorf("LoadComplete = %v", err)
	}
}

// TestValidateCollects: Validate and Complete of a Config built in code
// report every problem too, as Problems.
func TestValidateCollects(t *testing.T) {
	c := Default()
	c.DataDir, c.Policy.CodeTTL, c.Schedule.Digest = "", 0, "never"
	var ps Problems
	if err := c.Validate(); !errors.As(err, &ps) || len(ps) != 3 || ps[0].Key != "data_dir" || ps[1].Key != "policy.code_ttl" || ps[2].Key != "schedule.digest" {
		t.Errorf("Validate = %#v", err)
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("Validate of the defaults = %v", err)
	}
	if err := c.Complete(); !errors.As(err, &ps) || len(ps) != 6 {
		t.Errorf("Complete = %v", err)
	}
}
