package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/config"
	"github.com/recoverybot/recoverybot/daemon"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/internal/instance"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

// env is the process's world, passed in so tests run the whole CLI.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// now is the clock of the store and the scheduled jobs; nil: time.Now.
	now func() time.Time
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// errReported is a failure the command has told on stderr itself (in
// more than one line: config check).
var errReported = errors.New("reported")

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// command is one subcommand.
type command struct {
	name    string // "cases open"
	args    string // synopsis of the arguments
	summary string
	run     func(ctx context.Context, a *app, args []string) error
}

func commands() []command {
	return []command{
		{"demo", "[--exit] [--listen ADDR] [--pace DURATION] [--data-dir DIR] [-v]", "the whole process on sample data with the dashboard, nothing to install (--exit: the script only)", cmdDemo},
		{"serve", "", "the daemon: watch the mailbox, send the outbox", cmdServe},
		{"run", "--once [--json]", "process everything pending, send the outbox, exit", cmdRun},
		{"profiles import", "FILE [--by AGENT]", "load profiles from CSV or JSON; re-import updates", cmdProfilesImport},
		{"cases open", "--profile ID --kind KIND [--contact ADDR] --by AGENT [--json]", "open a recovery case", cmdCasesOpen},
		{"cases list", "[--state STATE] [--json]", "list cases, newest first", cmdCasesList},
		{"cases show", "REF [--json]", "show one case with its history", cmdCasesShow},
		{"cases approve", "REF --by AGENT [--note TEXT] [--new-email ADDR] [--json]", "approve a case ready for review", cmdCasesApprove},
		{"cases reject", "REF --by AGENT --reason TEXT [--json]", "reject an open case", cmdCasesReject},
		{"cases cancel", "REF --by AGENT --reason TEXT [--json]", "withdraw an open case without mail", cmdCasesCancel},
		{"cases resend-code", "REF --by AGENT [--json]", "issue and mail a new code", cmdCasesResendCode},
		{"cases reopen", "REF --by AGENT [--json]", "reopen a locked case", cmdCasesReopen},
		{"cases claim", "REF --by AGENT [--json]", "take a case, so that no other agent works it", cmdCasesClaim},
		{"cases release", "REF --by AGENT [--reason TEXT] [--json]", "give up a case one holds", cmdCasesRelease},
		{"cases reassign", "REF --by AGENT --to AGENT --reason TEXT [--json]", "give a case to another agent", cmdCasesReassign},
		{"cases ask", "REF --by AGENT --reason CODE [--note TEXT] [--document TYPE|SHA256] [--json]", "ask the customer again for a document", cmdCasesAsk},
		{"cases stop-action", "REF --by AGENT --reason TEXT [--json]", "stop an approval's action while it waits (action_delay)", cmdCasesStopAction},
		{"cases document", "REF SHA256 --by AGENT [--out FILE [--force]]", "write one document's bytes, for review (audited)", cmdCasesDocument},
		{"sweep status", "[--json]", "the scheduled jobs: schedule and last runs", cmdSweepStatus},
		{"sweep", "NAME [--json]", "run one scheduled job now (expire, remind, digest, purge, reconcile, outbox)", cmdSweep},
		{"users add", "NAME", "give an agent a dashboard login (password from a terminal, or stdin's first line)", cmdUsersAdd},
		{"users disable", "NAME", "end an agent's dashboard login", cmdUsersDisable},
		{"users list", "[--json]", "the agents and whether they can log in", cmdUsersList},
		{"audit verify", "", "check the audit log's hash chain", cmdAuditVerify},
		{"backup", "DIR", "copy the databases into DIR, while the daemon runs; keep the key files apart", cmdBackup},
		{"inspect", "FILE.eml [--json]", "what the parser sees in one message (codes masked)", cmdInspect},
		{"config example", "", "print a complete annotated configuration", cmdConfigExample},
		{"config check", "", "check the configuration", cmdConfigCheck},
		{"version", "", "print the version", cmdVersion},
	}
}

// app is what a command runs with. The store is opened on first use, so
// commands that need none (config example) work anywhere.
type app struct {
	env
	configPath string
	cfg        config.Config
	log        *slog.Logger
	st         *store.Store
	vault      *vault.Vault
	// lock is the data directory's, held by serve and run --once until
	// the command ends (kept here: a dropped *os.File would be closed,
	// and the lock with it, by the garbage collector).
	lock *instance.Lock
}

func run(args []string, e env) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{env: e}
	err := a.dispatch(ctx, args)
	defer a.lock.Release()
	if a.st != nil {
		a.st.Close()
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, errReported) {
		return 1
	}
	// An error may quote what a customer sent (a file name, a header).
	fmt.Fprintln(e.stderr, "recoverybot: "+printable(oneLine(err.Error())))
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

func (a *app) dispatch(ctx context.Context, args []string) error {
	// Global flags stand before the subcommand.
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch {
		case args[0] == "--config" || args[0] == "-config":
			if len(args) < 2 {
				return usagef("--config needs a file")
			}
			a.configPath, args = args[1], args[2:]
		case strings.HasPrefix(args[0], "--config=") || strings.HasPrefix(args[0], "-config="):
			_, a.configPath, _ = strings.Cut(args[0], "=")
			args = args[1:]
		case args[0] == "-h" || args[0] == "--help" || args[0] == "-help":
			a.usage(a.stdout)
			return flag.ErrHelp
		case args[0] == "--version" || args[0] == "-version":
			return cmdVersion(ctx, a, nil)
		default:
			return usagef("unknown flag %s (see recoverybot --help)", args[0])
		}
	}
	if len(args) == 0 {
		return usagef("no command given (see recoverybot --help)")
	}
	if args[0] == "help" {
		a.usage(a.stdout)
		return nil
	}
	cmds := commands()
	for _, c := range cmds {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && equalWords(args[:len(words)], words) {
			return c.run(ctx, a, args[len(words):])
		}
	}
	// A known group with a wrong or missing verb.
	var verbs []string
	for _, c := range cmds {
		if g, v, ok := strings.Cut(c.name, " "); ok && g == args[0] {
			verbs = append(verbs, v)
		}
	}
	if len(verbs) > 0 {
		if len(args) == 1 {
			return usagef("%s needs a subcommand: %s", args[0], strings.Join(verbs, ", "))
		}
		return usagef("unknown command %q (%s has: %s)", args[0]+" "+args[1], args[0], strings.Join(verbs, ", "))
	}
	return usagef("unknown command %q (see recoverybot --help)", args[0])
}

func equalWords(a, b []string) bool {
	for i := range b {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (a *app) usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: recoverybot [--config FILE] COMMAND [ARGS]")
	fmt.Fprintln(w, "\nThe configuration file may also be named by RECOVERYBOT_CONFIG.\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-18s %s\n  %-18s   %s\n", c.name, c.args, "", c.summary)
	}
}

// flags is a command's flag set: flags may stand before, between or after
// the positional arguments, and --config is accepted everywhere.
type flags struct {
	*flag.FlagSet
	a    *app
	name string
}

func (a *app) flags(name string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := &flags{FlagSet: fs, a: a, name: name}
	fs.Func("config", "configuration file", func(s string) error { a.configPath = s; return nil })
	return f
}

// parse parses args and returns the positional arguments, checking there
// are exactly want of them (names for the error message).
func (f *flags) parse(args []string, want ...string) ([]string, error) {
	var pos []string
	for {
		if err := f.FlagSet.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(f.a.stdout, "Usage: recoverybot %s %s\n", f.name, synopsis(f.name))
				f.FlagSet.SetOutput(f.a.stdout)
				f.FlagSet.PrintDefaults()
				return nil, flag.ErrHelp
			}
			return nil, usagef("%s: %s", f.name, strings.TrimPrefix(err.Error(), "flag provided but not defined: "))
		}
		rest := f.FlagSet.Args()
		if len(rest) == 0 {
			break
		}
		if rest[0] == "--" {
			pos = append(pos, rest[1:]...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) < len(want) {
		return nil, usagef("%s: missing %s", f.name, want[len(pos)])
	}
	if len(pos) > len(want) {
		return nil, usagef("%s: unexpected argument %q", f.name, pos[len(want)])
	}
	return pos, nil
}

func synopsis(name string) string {
	for _, c := range commands() {
		if c.name == name {
			return c.args
		}
	}
	return ""
}

// loadConfig reads the configuration named by --config or
// RECOVERYBOT_CONFIG; with neither, the defaults.
func (a *app) loadConfig() error { return a.readConfig(false) }

// loadCompleteConfig is loadConfig for the commands that read the
// mailbox: credentials required (config.Config.Complete).
func (a *app) loadCompleteConfig() error { return a.readConfig(true) }

func (a *app) readConfig(complete bool) error {
	path := a.configPath
	if path == "" {
		path = a.getenv("RECOVERYBOT_CONFIG")
	}
	if path == "" {
		a.cfg = config.Default()
		if complete {
			if err := a.cfg.Complete(); err != nil {
				return fmt.Errorf("config: %w", err)
			}
		}
	} else {
		load := config.Load
		if complete {
			load = config.LoadComplete
		}
		c, err := load(path, a.getenv)
		if err != nil {
			return err
		}
		a.cfg = c
	}
	a.log = newLogger(a.stderr, a.cfg.LogLevel, a.cfg.LogFormat, true)
	return nil
}

// newLogger logs to w. Commands run by hand keep stderr for errors: they
// log warnings and above only.
// newLogger logs to w at level (quiet: warnings at least) in format,
// "json" or text.
func newLogger(w io.Writer, level, format string, quiet bool) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	if quiet && l < slog.LevelWarn {
		l = slog.LevelWarn
	}
	o := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// openStore loads the configuration and opens the vault and the database.
func (a *app) openStore(ctx context.Context) error {
	if a.st != nil {
		return nil
	}
	if err := a.loadConfig(); err != nil {
		return err
	}
	v, err := vault.Open(a.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("data directory %s: %w", a.cfg.DataDir, err)
	}
	st, err := store.Open(ctx, filepath.Join(a.cfg.DataDir, "recoverybot.db"), v, store.Options{Now: a.now})
	if err != nil {
		return err
	}
	a.st, a.vault = st, v
	return nil
}

func (a *app) desk(ctx context.Context) (*desk.Desk, error) {
	if err := a.openStore(ctx); err != nil {
		return nil, err
	}
	key, err := recoverybot.NewCodeKey(a.vault.CodeKey())
	if err != nil {
		return nil, err
	}
	return daemon.NewDesk(a.cfg, a.st, key, a.vault.Key(vault.PurposeMessageID), a.log), nil
}

// printJSON prints v as indented JSON, with the runes a terminal would
// obey written as escapes (escapeJSON): a script reads the same strings.
func (a *app) printJSON(v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := a.stdout.Write(escapeJSON(b.Bytes()))
	return err
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
