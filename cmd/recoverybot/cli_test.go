package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"golang.org/x/sys/unix"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/internal/instance"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

// cli runs the whole command line in-process against one data directory.
type cli struct {
	t   *testing.T
	dir string
	env map[string]string
	now func() time.Time // nil: the real clock
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "recoverybot.toml")
	body := strings.Replace(exampleForTest(t), `data_dir = "var"`, `data_dir = "`+filepath.Join(dir, "data")+`"`, 1)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return &cli{t: t, dir: dir, env: map[string]string{"RECOVERYBOT_CONFIG": cfg}}
}

func exampleForTest(t *testing.T) string {
	var out bytes.Buffer
	if code := run([]string{"config", "example"}, env{stdout: &out, stderr: &out, getenv: func(string) string { return "" }}); code != 0 {
		t.Fatalf("config example: %d %s", code, out.String())
	}
	return out.String()
}

func (c *cli) run(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, env{stdin: strings.NewReader(""), stdout: &o, stderr: &e, getenv: func(k string) string { return c.env[k] }, now: c.now})
	return code, o.String(), e.String()
}

// ok runs a command that must succeed and returns its standard output.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	code, out, errOut := c.run(args...)
	if code != 0 {
		c.t.Fatalf("recoverybot %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	if errOut != "" {
		c.t.Errorf("recoverybot %s wrote to stderr: %s", strings.Join(args, " "), errOut)
	}
	return out
}

// fails runs a command that must fail with one line on stderr containing want.
func (c *cli) fails(want string, args ...string) {
	c.t.Helper()
	code, out, errOut := c.run(args...)
	if code == 0 {
		c.t.Errorf("recoverybot %s succeeded, want failure %q", strings.Join(args, " "), want)
		return
	}
	if strings.Count(errOut, "\n") != 1 || !strings.HasSuffix(errOut, "\n") {
		c.t.Errorf("recoverybot %s: stderr is not one line: %q", strings.Join(args, " "), errOut)
	}
	if !strings.Contains(errOut, want) {
		c.t.Errorf("recoverybot %s: stderr %q, want %q", strings.Join(args, " "), errOut, want)
	}
	if out != "" {
		c.t.Errorf("recoverybot %s: failure printed to stdout: %q", strings.Join(args, " "), out)
	}
}

func (c *cli) file(name, body string) string {
	p := filepath.Join(c.dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return p
}

const profilesCSV = `id,email,phone,holder_kind,holder_name,representative,siren,rna,locale
p-1001,jean.dupont@example.org,+33 1 23 45 67 89,individual,Jean Dupont,,,,fr
p-1002,gerant@acme.example,+33 4 00 00 00 00,company,ACME SARL,Marie Curie,732829320,,fr
p-1003,bureau@club.example,,association,Club de Voile,Paul Martin,,W751234567,en
`

type caseJSON struct {
	Ref                string   `json:"ref"`
	Kind               string   `json:"kind"`
	State              string   `json:"state"`
	Profile            string   `json:"profile"`
	Contact            string   `json:"contact"`
	SenderVerified     *bool    `json:"sender_verified"`
	CodeVerified       *bool    `json:"code_verified"`
	FailedCodeAttempts *int     `json:"failed_code_attempts"`
	Missing            []string `json:"missing"`
	Documents          []struct {
		Type, Filename, MediaType, SHA256 string
	} `json:"documents"`
}

func TestWalkThrough(t *testing.T) {
	c := newCLI(t)
	if out := c.ok("cases", "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("empty list = %q, want []", out)
	}
	out := c.ok("profiles", "import", c.file("profiles.csv", profilesCSV))
	if !strings.Contains(out, "3 new") {
		t.Errorf("import said %q", out)
	}
	var opened []caseJSON
	for _, args := range [][]string{
		{"cases", "open", "--profile", "p-1001", "--kind", "totp-lockout", "--by", "alice", "--json"},
		{"--config", c.env["RECOVERYBOT_CONFIG"], "cases", "open", "--json", "--profile", "p-1002", "--kind", "lost-email", "--contact", "new@acme.example", "--by", "bob"},
		{"cases", "open", "--profile=p-1003", "--kind=ip-lockout", "--by=alice", "--json"},
	} {
		var cj caseJSON
		if err := json.Unmarshal([]byte(c.ok(args...)), &cj); err != nil {
			t.Fatal(err)
		}
		opened = append(opened, cj)
	}
	want := []caseJSON{
		{Kind: "totp-lockout", State: "awaiting_evidence", Profile: "p-1001", Contact: "jean.dupont@example.org",
			Missing: []string{"identity_document", "authenticated_sender", "code"}},
		{Kind: "lost-email", State: "awaiting_evidence", Profile: "p-1002", Contact: "new@acme.example",
			Missing: []string{"identity_document", "company_registration"}},
		{Kind: "ip-lockout", State: "awaiting_evidence", Profile: "p-1003", Contact: "bureau@club.example",
			Missing: []string{"identity_document", "association_statutes", "authenticated_sender", "code"}},
	}
	refShape := regexp.MustCompile(`^RC-[2-9A-HJKMNP-Z]{6}$`)
	for i, got := range opened {
		w := want[i]
		if !refShape.MatchString(got.Ref) || got.Kind != w.Kind || got.State != w.State || got.Profile != w.Profile ||
			got.Contact != w.Contact || strings.Join(got.Missing, ",") != strings.Join(w.Missing, ",") {
			t.Errorf("case %d = %+v, want %+v", i, got, w)
		}
		if got.SenderVerified == nil || *got.SenderVerified || got.CodeVerified == nil || *got.CodeVerified ||
			got.FailedCodeAttempts == nil || *got.FailedCodeAttempts != 0 || got.Documents == nil {
			t.Errorf("case %d lacks the SPEC's fields: %+v", i, got)
		}
	}

	var list []caseJSON
	if err := json.Unmarshal([]byte(c.ok("cases", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].Ref != opened[2].Ref || list[2].Ref != opened[0].Ref {
		t.Errorf("list = %+v", list)
	}
	if err := json.Unmarshal([]byte(c.ok("cases", "list", "--state", "approved", "--json")), &list); err != nil || len(list) != 0 {
		t.Errorf("approved list = %+v, %v", list, err)
	}
	// Flags after or before the positional argument.
	var shown caseJSON
	json.Unmarshal([]byte(c.ok("cases", "show", opened[0].Ref, "--json")), &shown)
	if shown.Ref != opened[0].Ref {
		t.Errorf("show REF --json = %+v", shown)
	}
	json.Unmarshal([]byte(c.ok("cases", "show", "--json", strings.ToLower(opened[1].Ref))), &shown)
	if shown.Ref != opened[1].Ref {
		t.Errorf("show --json ref = %+v", shown)
	}
	human := c.ok("cases", "show", opened[0].Ref)
	if !strings.Contains(human, "case_opened") || !strings.Contains(human, "instructions") {
		t.Errorf("show lacks history or mail:\n%s", human)
	}

	c.ok("cases", "resend-code", opened[0].Ref, "--by", "carol")
	c.fails("cannot approve a case that is awaiting_evidence", "cases", "approve", opened[0].Ref, "--by", "carol")
	out = c.ok("cases", "reject", opened[2].Ref, "--by", "carol", "--reason", "not the holder")
	if !strings.Contains(out, "rejected") {
		t.Errorf("reject said %q", out)
	}
	c.fails("cannot reject a case that is rejected", "cases", "reject", opened[2].Ref, "--by", "carol", "--reason", "again")
	c.fails("cannot reopen a case that is awaiting_evidence", "cases", "reopen", opened[0].Ref, "--by", "carol")
	c.fails("has no code", "cases", "resend-code", opened[1].Ref, "--by", "carol")
	// Claims: carol holds case 0 since her resend; dave may not act on it.
	c.fails("is held by carol", "cases", "resend-code", opened[0].Ref, "--by", "dave")
	c.fails("is held by carol", "cases", "claim", opened[0].Ref, "--by", "dave")
	if out := c.ok("cases", "release", opened[0].Ref, "--by", "carol", "--reason", "shift over"); !strings.Contains(out, "unassigned") {
		t.Errorf("release said %q", out)
	}
	if out := c.ok("cases", "claim", opened[0].Ref, "--by", "dave"); !strings.Contains(out, "held by dave") {
		t.Errorf("claim said %q", out)
	}
	c.fails("--reason TEXT is required", "cases", "reassign", opened[0].Ref, "--by", "carol", "--to", "erin")
	c.ok("cases", "reassign", opened[0].Ref, "--by", "carol", "--to", "erin", "--reason", "dave is away")
	c.fails("--reason", "cases", "ask", opened[1].Ref, "--by", "bob", "--reason", "smudged")
	if out := c.ok("cases", "ask", opened[1].Ref, "--by", "bob", "--reason", "wrong-person", "--note", "the ID is not the gérant's"); !strings.Contains(out, "awaiting_evidence") {
		t.Errorf("ask said %q", out)
	}
	if human := c.ok("cases", "show", opened[1].Ref); !strings.Contains(human, "document_requested") || !strings.Contains(human, "ask_again") {
		t.Errorf("show lacks the request or its mail:\n%s", human)
	}
	c.fails("no action waiting", "cases", "stop-action", opened[1].Ref, "--by", "bob", "--reason", "owner objected")

	// Nothing printed anywhere shows the code.
	code := regexp.MustCompile(`\b[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b`)
	for _, ref := range []string{opened[0].Ref, opened[2].Ref} {
		for _, args := range [][]string{{"cases", "show", ref}, {"cases", "show", ref, "--json"}, {"cases", "list"}} {
			if out := c.ok(args...); code.MatchString(out) {
				t.Errorf("%v prints something code-shaped: %s", args, code.FindString(out))
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	c := newCLI(t)
	c.ok("profiles", "import", c.file("profiles.csv", profilesCSV))
	ref := func() string {
		var cj caseJSON
		json.Unmarshal([]byte(c.ok("cases", "open", "--profile", "p-1001", "--kind", "ip-lockout", "--by", "a", "--json")), &cj)
		return cj.Ref
	}()
	c.fails("unknown case kind \"password\"", "cases", "open", "--profile", "p-1001", "--kind", "password", "--by", "a")
	c.fails("--by AGENT is required", "cases", "open", "--profile", "p-1001", "--kind", "totp-lockout")
	c.fails("--by AGENT is required", "cases", "approve", ref)
	c.fails("--by AGENT is required", "cases", "reject", ref, "--reason", "x")
	c.fails("--reason TEXT is required", "cases", "reject", ref, "--by", "a")
	c.fails(`profile "p-9999": not found`, "cases", "open", "--profile", "p-9999", "--kind", "ip-lockout", "--by", "a")
	c.fails("case RC-ZZZZZZ: not found", "cases", "show", "RC-ZZZZZZ")
	c.fails("malformed case reference", "cases", "show", "RC-0000")
	c.fails("already has an open case", "cases", "open", "--profile", "p-1001", "--kind", "ip-lockout", "--by", "a")
	c.fails("unknown command \"cases frobnicate\"", "cases", "frobnicate")
	c.fails("unknown command \"launch\"", "launch")
	c.fails("no command given")
	c.fails("cases show: missing REF", "cases", "show")
	c.fails("unexpected argument", "cases", "show", ref, "extra")
	c.fails("-colour", "cases", "list", "--colour")
	c.fails("unknown state \"closed\"", "cases", "list", "--state", "closed")
	c.fails("no such file", "profiles", "import", filepath.Join(c.dir, "absent.csv"))
	c.fails("line 3: invalid email address", "profiles", "import", c.file("bad.csv",
		"id,email,holder_kind,holder_name\np-2000,ok@example.org,individual,A\np-2001,nope,individual,B\n"))
	c.fails("line 2: representative is required for a company", "profiles", "import", c.file("bad2.csv",
		"id,email,holder_kind,holder_name\np-2002,ok@example.org,company,ACME\n"))
	// The bad files imported nothing.
	c.fails(`profile "p-2000": not found`, "cases", "open", "--profile", "p-2000", "--kind", "ip-lockout", "--by", "a")
	c.fails("not a SHA-256", "cases", "document", ref, "abc")

	// Configuration problems.
	c.env["RECOVERYBOT_CONFIG"] = c.file("bad.toml", "[imap]\nadress = \"x\"\n")
	c.fails(`unknown key "imap.adress"`, "cases", "list")
	c.env["RECOVERYBOT_CONFIG"] = filepath.Join(c.dir, "absent.toml")
	c.fails("no such file", "cases", "list")
	c.fails("--config needs a file", "--config")

	// A database that is not ours.
	dataDir := filepath.Join(c.dir, "foreign")
	os.MkdirAll(dataDir, 0o700)
	os.WriteFile(filepath.Join(dataDir, "recoverybot.db"), bytes.Repeat([]byte("junk"), 2000), 0o600)
	c.env["RECOVERYBOT_CONFIG"] = c.file("foreign.toml", "data_dir = \""+dataDir+"\"\n")
	c.fails("not a recoverybot database", "cases", "list")
}

func TestConfigCommands(t *testing.T) {
	c := newCLI(t)
	ex := c.ok("config", "example")
	// The error names the example's own line for imap.username.
	userLine := 1 + strings.Count(ex[:strings.Index(ex, "\nusername = \"\"")+1], "\n")
	code, out, errOut := c.run("config", "check")
	if lines := strings.Split(errOut, "\n"); code != 1 || out != "" || len(lines) != 4 ||
		!strings.HasPrefix(lines[0], fmt.Sprintf("recoverybot: config %s: line %d: imap.username is empty", c.env["RECOVERYBOT_CONFIG"], userLine)) ||
		!strings.Contains(lines[1], "imap.password is empty") || !strings.Contains(lines[2], "auth.trusted_authserv_ids is empty") {
		t.Errorf("config check of the bare example: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	ex = strings.Replace(ex, `data_dir = "var"`, `data_dir = "`+filepath.Join(c.dir, "data")+`"`, 1)
	filled := strings.Replace(ex, `username = ""`, `username = "contact@example.net"`, 1)
	filled = strings.Replace(filled, `password = ""`, `password = "secret"`, 1)
	noMX := c.file("no-mx.toml", filled)
	c.fails("auth.trusted_authserv_ids is empty", "--config", noMX, "config", "check")
	c.fails("auth.trusted_authserv_ids is empty", "--config", noMX, "run", "--once")
	c.fails("auth.trusted_authserv_ids is empty", "--config", noMX, "serve")
	filled = strings.Replace(filled, `trusted_authserv_ids = []`, `trusted_authserv_ids = ["mx.example.net"]`, 1)
	if out := c.ok("--config", c.file("filled.toml", filled), "config", "check"); !strings.Contains(out, "valid") {
		t.Errorf("config check said %q", out)
	}
	// A second daemon on a data directory another one holds stops at once,
	// naming the holder, before it reaches the mailbox.
	if err := os.MkdirAll(filepath.Join(c.dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	held, err := instance.Acquire(filepath.Join(c.dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("another recoverybot (pid %d) is running on data directory", os.Getpid())
	c.fails(want, "--config", c.file("filled.toml", filled), "run", "--once")
	c.fails(want, "--config", c.file("filled.toml", filled), "serve")
	c.fails(want, "--config", c.file("filled.toml", filled), "sweep", "reconcile")
	// What is one transaction runs beside it.
	if out := c.ok("--config", c.file("filled.toml", filled), "cases", "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("cases list beside a daemon: %q", out)
	}
	c.ok("--config", c.file("filled.toml", filled), "sweep", "status")
	held.Release()
	if out := c.ok("version"); !strings.HasPrefix(out, "recoverybot ") {
		t.Errorf("version = %q", out)
	}
	if out := c.ok("--help"); !strings.Contains(out, "cases open") {
		t.Errorf("help = %q", out)
	}
}

// TestConfigCheckListsEveryProblem: config check names every problem of
// a file, one line each, in the order of the example's keys (unknown keys
// first), the same every time; serve refuses the file in one line.
func TestConfigCheckListsEveryProblem(t *testing.T) {
	c := newCLI(t)
	bad := c.file("bad.toml", `data_dir = "`+filepath.Join(c.dir, "data")+`"
[policy]
code_ttl = "-1h"
max_code_candidates = 0
[imap]
usrname = "contact@example.net"
security = "ssl"
[smtp]
password = "a"
password_file = "/nonexistent"
[schedule]
digest = "weekdays"
`)
	want := []string{
		`line 6: unknown key "imap.usrname"`,
		`line 7: imap.security "ssl" is not tls, starttls or none`,
		`imap.username is empty`,
		`imap.password is empty`,
		`line 9: smtp.password: give the password once`,
		`auth.trusted_authserv_ids is empty`,
		`line 3: policy.code_ttl must be positive`,
		`line 4: policy.max_code_candidates 0 must be between 1 and 20`,
		`line 12: schedule.digest "weekdays"`,
	}
	var first string
	for i := 0; i < 20; i++ {
		code, out, errOut := c.run("--config", bad, "config", "check")
		if i == 0 {
			first = errOut
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			if code != 1 || out != "" || len(lines) != len(want) {
				t.Fatalf("config check: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
			}
			for j, l := range lines {
				if !strings.HasPrefix(l, "recoverybot: config "+bad+": "+want[j]) {
					t.Errorf("line %d = %q, want %q", j+1, l, want[j])
				}
			}
		} else if errOut != first {
			t.Fatalf("run %d gives another report:\n%s\nthen:\n%s", i, first, errOut)
		}
	}
	c.fails(`config `+bad+`: line 6: unknown key "imap.usrname" (and 8 more)`, "--config", bad, "serve")
	c.fails(`(and 8 more)`, "--config", bad, "run", "--once")
	if _, err := os.Stat(filepath.Join(c.dir, "data")); err == nil {
		t.Error("serve made the data directory of a configuration it refused")
	}
}

// TestBinary runs the built command once, to check main's wiring and exit
// statuses as a shell sees them.
func TestBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "recoverybot")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	c := newCLI(t)
	cmd := exec.Command(bin, "cases", "list", "--json")
	cmd.Env = append(os.Environ(), "RECOVERYBOT_CONFIG="+c.env["RECOVERYBOT_CONFIG"])
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != "[]" {
		t.Errorf("cases list --json = %q, %v", out, err)
	}
	cmd = exec.Command(bin, "cases", "open", "--kind", "nope")
	cmd.Env = cmd.Environ()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Errorf("bad flag exit = %v, want status 2", err)
	}
	if !strings.Contains(stderr.String(), "--profile ID is required") {
		t.Errorf("stderr = %q", stderr.String())
	}
}

func TestAuditVerify(t *testing.T) {
	c := newCLI(t)
	if out := c.ok("audit", "verify"); out != "audit log: 0 events verify\n" {
		t.Errorf("audit verify of an empty log = %q", out)
	}
	c.ok("profiles", "import", c.file("profiles.csv", profilesCSV), "--by", "alice")
	c.ok("cases", "open", "--profile", "p-1001", "--kind", "totp-lockout", "--by", "alice")
	out := c.ok("audit", "verify")
	if !regexp.MustCompile(`^audit log: [2-9] events verify\n$`).MatchString(out) {
		t.Errorf("audit verify = %q", out)
	}
	db, err := sql.Open("sqlite3", filepath.Join(c.dir, "data", "recoverybot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`DROP TRIGGER audit_events_no_update`, `UPDATE audit_events SET actor = 'mallory' WHERE id = 2`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	c.fails("audit log: event 2: its hash does not match", "audit", "verify")
}

// caseWithDocument opens a case and stores one document in it, as intake
// would, and returns the case's reference and the document's SHA-256.
func caseWithDocument(t *testing.T, c *cli, filename string, data []byte) (string, string) {
	t.Helper()
	c.ok("profiles", "import", c.file("profiles.csv", profilesCSV))
	var cj caseJSON
	if err := json.Unmarshal([]byte(c.ok("cases", "open", "--profile", "p-1001", "--kind", "totp-lockout", "--by", "alice", "--json")), &cj); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(c.dir, "data")
	v, err := vault.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dataDir, "recoverybot.db"), v, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	doc := recoverybot.Document{Type: recoverybot.DocIdentity, Filename: filename, MediaType: "image/jpeg",
		Findings: []string{"type_mismatch: \x1b]0;owned\x07"}}
	if err := st.Update(ctx, func(tx *store.Tx) error {
		cs, err := tx.CaseByRef(cj.Ref)
		if err != nil {
			return err
		}
		return tx.AddDocument(cs.ID, 0, 1, &doc, data)
	}); err != nil {
		t.Fatal(err)
	}
	return cj.Ref, doc.SHA256
}

func TestCasesDocumentOut(t *testing.T) {
	c := newCLI(t)
	scan := []byte("\xff\xd8\xff\xe0 an identity card \xff\xd9")
	ref, sum := caseWithDocument(t, c, "cni.jpg", scan)
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	mode := func(p string) os.FileMode {
		st, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Mode()
	}
	content := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	// The reader is required and recorded.
	out := filepath.Join(c.dir, "scan.jpg")
	c.fails("--by AGENT is required", "cases", "document", ref, sum, "--out", out)
	if _, err := os.Lstat(out); err == nil {
		t.Error("a document was written without --by")
	}
	// A new file: 0600 whatever the umask (0 here, then 0277).
	c.ok("cases", "document", ref, sum, "--out", out, "--by", "bob")
	if content(out) != string(scan) || mode(out) != 0o600 {
		t.Errorf("--out wrote %q mode %v, want the scan, mode 0600", content(out), mode(out))
	}
	syscall.Umask(0o277)
	out2 := filepath.Join(c.dir, "scan2.jpg")
	c.ok("cases", "document", ref, sum, "--out", out2, "--by", "bob")
	if mode(out2) != 0o600 {
		t.Errorf("under umask 0277 the file is mode %v, want 0600", mode(out2))
	}
	syscall.Umask(0)
	if !strings.Contains(c.ok("cases", "show", ref), "bob") {
		t.Error("the reading is not in the case's history under the agent's name")
	}

	// An existing file is refused, kept as it was, unless --force.
	world := c.file("world-readable.jpg", "old")
	os.Chmod(world, 0o644)
	c.fails("exists (--force replaces it)", "cases", "document", ref, sum, "--out", world, "--by", "bob")
	if content(world) != "old" || mode(world) != 0o644 {
		t.Errorf("refused file changed: %q %v", content(world), mode(world))
	}
	c.ok("cases", "document", ref, sum, "--out", world, "--by", "bob", "--force")
	if content(world) != string(scan) || mode(world) != 0o600 {
		t.Errorf("--force wrote %q mode %v, want the scan, mode 0600", content(world), mode(world))
	}

	// A symlink is never followed: refused, dangling or not; with --force
	// the link itself is replaced and its target untouched.
	target := c.file("target", "precious")
	link := filepath.Join(c.dir, "link.jpg")
	os.Symlink(target, link)
	c.fails("exists", "cases", "document", ref, sum, "--out", link, "--by", "bob")
	dangling := filepath.Join(c.dir, "dangling.jpg")
	os.Symlink(filepath.Join(c.dir, "created-through-link"), dangling)
	c.fails("exists", "cases", "document", ref, sum, "--out", dangling, "--by", "bob")
	if _, err := os.Lstat(filepath.Join(c.dir, "created-through-link")); err == nil {
		t.Error("a file was created through a dangling symlink")
	}
	c.ok("cases", "document", ref, sum, "--out", link, "--by", "bob", "--force")
	if content(target) != "precious" || mode(link)&os.ModeSymlink != 0 || content(link) != string(scan) || mode(link) != 0o600 {
		t.Errorf("--force over a symlink: target %q, link mode %v", content(target), mode(link))
	}
	entries, _ := os.ReadDir(c.dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
	c.fails("--force needs --out", "cases", "document", ref, sum, "--by", "bob", "--force")
	c.fails("is a directory", "cases", "document", ref, sum, "--by", "bob", "--force", "--out", c.dir)

	// Without --out the bytes go to standard output, unless it is a
	// terminal.
	if got := c.ok("cases", "document", ref, sum, "--by", "bob"); got != string(scan) {
		t.Errorf("standard output = %q", got)
	}
	tty := openTTY(t)
	var errOut bytes.Buffer
	code := run([]string{"cases", "document", ref, sum, "--by", "bob"},
		env{stdin: strings.NewReader(""), stdout: tty, stderr: &errOut, getenv: func(k string) string { return c.env[k] }})
	if code == 0 || !strings.Contains(errOut.String(), "standard output is a terminal") {
		t.Errorf("to a terminal: exit %d, %q; want it refused", code, errOut.String())
	}
}

// openTTY opens a pseudo-terminal and returns its terminal side.
func openTTY(t *testing.T) *os.File {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pseudo-terminal number: %v", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return tty
}

// TestCodeTTLFromConfig: policy.code_ttl reaches the desk that cases
// open uses.
func TestCodeTTLFromConfig(t *testing.T) {
	c := newCLI(t)
	cfg, err := os.ReadFile(c.env["RECOVERYBOT_CONFIG"])
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(string(cfg), `code_ttl = "24h"`, `code_ttl = "2h"`, 1)
	c.env["RECOVERYBOT_CONFIG"] = c.file("short.toml", body)
	c.ok("profiles", "import", c.file("profiles.csv", profilesCSV))
	before := time.Now()
	var opened struct {
		CodeExpiresAt time.Time `json:"code_expires_at"`
	}
	if err := json.Unmarshal([]byte(c.ok("cases", "open", "--profile", "p-1001", "--kind", "totp-lockout", "--by", "alice", "--json")), &opened); err != nil {
		t.Fatal(err)
	}
	if ttl := opened.CodeExpiresAt.Sub(before); ttl < 2*time.Hour-time.Minute || ttl > 2*time.Hour+time.Minute {
		t.Errorf("code expires %v after opening, want the configured 2h", ttl)
	}
}

// TestCasesShowEscapesControls: what a case shows of its documents came
// from customers' mail; a terminal is shown it escaped.
func TestCasesShowEscapesControls(t *testing.T) {
	c := newCLI(t)
	ref, _ := caseWithDocument(t, c, "\x1b[2Jcni\u202egpj.exe\u009b", []byte("\xff\xd8\xff scan"))
	out := c.ok("cases", "show", ref)
	if bad := terminalControls(out); len(bad) > 0 {
		t.Errorf("cases show writes terminal controls %q:\n%s", bad, out)
	}
	if !strings.Contains(out, `\x1b[2Jcni\u202egpj.exe\u009b`) || !strings.Contains(out, `\x1b]0;owned\x07`) {
		t.Errorf("cases show does not show the escaped name and finding:\n%s", out)
	}
	raw := c.ok("cases", "show", ref, "--json")
	if bad := terminalControls(raw); len(bad) > 0 {
		t.Errorf("cases show --json writes terminal controls %q:\n%s", bad, raw)
	}
	var got caseJSON
	if err := json.Unmarshal([]byte(raw), &got); err != nil || len(got.Documents) != 1 || got.Documents[0].Filename != "\x1b[2Jcni\u202egpj.exe\u009b" {
		t.Errorf("cases show --json documents = %+v, %v; want the name as stored", got.Documents, err)
	}
}

// TestCasesOpenSaysEarlierMessages: cases open says how many messages
// the customer sent before, which the daemon will take for the case.
func TestCasesOpenSaysEarlierMessages(t *testing.T) {
	c := newCLI(t)
	c.ok("profiles", "import", c.file("profiles.csv", profilesCSV))
	dataDir := filepath.Join(c.dir, "data")
	v, err := vault.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dataDir, "recoverybot.db"), v, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Mail the intake left alone, as it was about no case.
	for i, sender := range []string{"jean.dupont@example.org", "new@acme.example", "jean.dupont@example.org", "someone@else.example"} {
		if err := st.Update(ctx, func(tx *store.Tx) error {
			e := store.Entry{Mailbox: "INBOX", UIDValidity: 1, UID: uint32(i + 1), MessageID: fmt.Sprintf("m%d@test", i), Size: 100}
			if err := tx.Record(&e, nil); err != nil {
				return err
			}
			if err := tx.Decide(e.ID, store.Decided{Status: store.LedgerIgnored, Sender: sender}); err != nil {
				return err
			}
			return tx.SetMailboxState("INBOX", 1, e.UID)
		}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	out := c.ok("cases", "open", "--profile", "p-1001", "--kind", "totp-lockout", "--by", "alice")
	if !strings.Contains(out, "\n2 earlier messages from this address will be taken for the case\n") {
		t.Errorf("cases open said:\n%s\nwant the 2 earlier messages", out)
	}
	var opened struct {
		Earlier *int `json:"earlier_messages"`
	}
	if err := json.Unmarshal([]byte(c.ok("cases", "open", "--profile", "p-1002", "--kind", "lost-email", "--contact", "new@acme.example",
		"--by", "alice", "--json")), &opened); err != nil || opened.Earlier == nil || *opened.Earlier != 1 {
		t.Errorf("cases open --json: earlier_messages %v, %v; want 1", opened.Earlier, err)
	}
	if out := c.ok("cases", "open", "--profile", "p-1003", "--kind", "ip-lockout", "--by", "alice"); !strings.Contains(out, "no earlier message from this address") {
		t.Errorf("cases open said:\n%s\nwant no earlier message", out)
	}
}

func TestLogFormat(t *testing.T) {
	var b bytes.Buffer
	newLogger(&b, "info", "json", false).Info("message processed", "uid", 7, "case", "RC-7KQ2M9")
	var line map[string]any
	if err := json.Unmarshal(b.Bytes(), &line); err != nil || line["msg"] != "message processed" || line["case"] != "RC-7KQ2M9" {
		t.Errorf("json log line %q: %v", b.String(), err)
	}
	b.Reset()
	newLogger(&b, "info", "text", false).Info("message processed", "uid", 7)
	if !strings.HasPrefix(b.String(), "time=") || !strings.Contains(b.String(), `msg="message processed" uid=7`) {
		t.Errorf("text log line %q", b.String())
	}
	b.Reset()
	newLogger(&b, "info", "text", true).Info("quiet")
	if b.Len() != 0 {
		t.Errorf("quiet logger wrote %q", b.String())
	}
}

// TestBackupAndRestore: a backup made while a writer is busy, restored
// into a fresh data directory with the key files, shows the same case,
// verifies its audit log and gives the document's bytes; a directory
// holding a backup, or one that cannot be made, is refused in one line.
func TestBackupAndRestore(t *testing.T) {
	c := newCLI(t)
	scan := []byte("\xff\xd8\xff\xe0 an identity card \xff\xd9")
	ref, sum := caseWithDocument(t, c, "cni.jpg", scan)
	shown := c.ok("cases", "show", ref, "--json")

	stop, started := make(chan struct{}), make(chan struct{})
	done := make(chan int)
	profiles := c.file("more.csv", profilesCSV)
	go func() {
		n := 0
		defer func() { done <- n }()
		for {
			if n == 1 {
				close(started)
			}
			select {
			case <-stop:
				return
			default:
			}
			if code, _, errOut := c.run("profiles", "import", profiles, "--by", "writer"); code != 0 {
				t.Errorf("profiles import beside the backup: %s", errOut)
				if n == 0 {
					close(started)
				}
				return
			}
			n++
		}
	}()
	<-started
	dir := filepath.Join(c.dir, "backups", "monday")
	out := c.ok("backup", dir)
	close(stop)
	if n := <-done; n == 0 {
		t.Error("the writer did not write")
	}
	dataDir := filepath.Join(c.dir, "data")
	for _, want := range []string{"wrote " + filepath.Join(dir, "recoverybot.db"), "wrote " + filepath.Join(dir, "recoverybot-spool.db"),
		filepath.Join(dataDir, "code.key"), filepath.Join(dataDir, "storage.key"), "apart from the backup"} {
		if !strings.Contains(out, want) {
			t.Errorf("backup said %q, want %q", out, want)
		}
	}

	// Restore into an empty data directory, with the keys.
	restored := filepath.Join(c.dir, "restored", "data")
	if err := os.MkdirAll(restored, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(dir, "recoverybot.db"), filepath.Join(dir, "recoverybot-spool.db"),
		filepath.Join(dataDir, "code.key"), filepath.Join(dataDir, "storage.key")} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(restored, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := &cli{t: t, dir: c.dir, env: map[string]string{"RECOVERYBOT_CONFIG": c.file("restored.toml",
		strings.Replace(exampleForTest(t), `data_dir = "var"`, `data_dir = "`+restored+`"`, 1))}}
	if got := r.ok("cases", "show", ref, "--json"); got != shown {
		t.Errorf("restored case:\n%s\nwant:\n%s", got, shown)
	}
	if out := r.ok("audit", "verify"); !regexp.MustCompile(`^audit log: \d+ events verify\n$`).MatchString(out) {
		t.Errorf("audit verify of the restored log = %q", out)
	}
	if got := r.ok("cases", "document", ref, sum, "--by", "bob"); got != string(scan) {
		t.Errorf("restored document = %q", got)
	}

	// Refusals.
	c.fails("recoverybot.db exists: store: a backup is there already", "backup", dir)
	c.fails("not a directory", "backup", filepath.Join(c.file("plain", ""), "backup"))
	c.fails("backup: missing DIR", "backup")
	c.fails("beside the key files", "backup", filepath.Join(dataDir, "backups"))
	c.fails("beside the key files", "backup", dataDir)
}

// TestServeTellsTheServiceManager runs serve as systemd would, with a
// notify socket and a watchdog: READY=1 once it serves, WATCHDOG=1 while
// its loops go round (the mailbox being unreachable does not stop them),
// STOPPING=1 on SIGTERM, and nothing else.
func TestServeTellsTheServiceManager(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "recoverybot")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	c := newCLI(t)
	body := strings.NewReplacer(
		`address = "imap.example.net:993"`, `address = "127.0.0.1:1"`,
		`security = "tls"`, `security = "none"`,
		`address = "smtp.example.net:587"`, `address = "127.0.0.1:1"`,
		`security = "starttls"`, `security = "none"`,
		`listen = "127.0.0.1:8080"`, `listen = "127.0.0.1:0"`,
		`trusted_authserv_ids = []`, `trusted_authserv_ids = ["mx.example.net"]`,
	).Replace(exampleForTest(t))
	body = strings.Replace(body, `data_dir = "var"`, `data_dir = "`+filepath.Join(c.dir, "data")+`"`, 1)
	body = strings.Replace(body, `username = ""`, `username = "contact@example.net"`, 1)
	body = strings.Replace(body, `password = ""`, `password = "secret"`, 1)
	cfg := c.file("serve.toml", body)

	sock := filepath.Join(c.dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cmd := exec.Command(bin, "--config", cfg, "serve")
	// A watchdog of 200 ms: a ping every 100 ms.
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=200000")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	msgs := make(chan string)
	go func() {
		b := make([]byte, 256)
		for {
			n, err := conn.Read(b)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(b[:n])
		}
	}()
	next := func() string {
		m, ok := <-msgs
		if !ok {
			t.Fatalf("socket closed; serve said: %s", stderr.String())
		}
		return m
	}
	if m := next(); m != "READY=1" {
		t.Fatalf("first message %q, want READY=1 (stderr: %s)", m, stderr.String())
	}
	for i := 0; i < 3; i++ {
		if m := next(); m != "WATCHDOG=1" {
			t.Fatalf("message %q, want WATCHDOG=1", m)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	for {
		m := next()
		if m == "STOPPING=1" {
			break
		}
		if m != "WATCHDOG=1" {
			t.Fatalf("message %q after SIGTERM, want STOPPING=1", m)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v\n%s", err, stderr.String())
	}
}
