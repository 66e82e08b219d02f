package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/recoverybot/recoverybot/config"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/store"
)

func cmdProfilesImport(ctx context.Context, a *app, args []string) error {
	f := a.flags("profiles import")
	by := f.String("by", "", "the agent importing (recorded)")
	asJSON := f.Bool("json", false, "print JSON")
	pos, err := f.parse(args, "FILE")
	if err != nil {
		return err
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("profiles import: %s: no such file", pos[0])
		}
		return fmt.Errorf("profiles import: %w", err)
	}
	profiles, err := desk.ReadProfiles(data)
	if err != nil {
		return fmt.Errorf("profiles import: %s: %s", pos[0], trimPrefix(err))
	}
	d, err := a.desk(ctx)
	if err != nil {
		return err
	}
	res, err := d.ImportProfiles(ctx, profiles, pos[0], *by)
	if err != nil {
		return explain(err)
	}
	if *asJSON {
		return a.printJSON(res)
	}
	fmt.Fprintf(a.stdout, "imported %d profiles: %d new, %d updated\n", res.Created+res.Updated, res.Created, res.Updated)
	return nil
}

func trimPrefix(err error) string {
	const p = "desk: bad profiles file: "
	s := err.Error()
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

func cmdConfigExample(ctx context.Context, a *app, args []string) error {
	if _, err := a.flags("config example").parse(args); err != nil {
		return err
	}
	_, err := fmt.Fprint(a.stdout, config.Example())
	return err
}

// cmdConfigCheck reports every problem of the file, one line each on
// stderr, in the order of config.Problems.
func cmdConfigCheck(ctx context.Context, a *app, args []string) error {
	if _, err := a.flags("config check").parse(args); err != nil {
		return err
	}
	path := a.configPath
	if path == "" {
		path = a.getenv("RECOVERYBOT_CONFIG")
	}
	if path == "" {
		return usagef("config check: no configuration file (--config FILE or RECOVERYBOT_CONFIG)")
	}
	_, err := config.LoadComplete(path, a.getenv)
	var fe *config.FileError
	if errors.As(err, &fe) {
		for _, l := range fe.Lines() {
			fmt.Fprintln(a.stderr, "recoverybot: "+printable(l))
		}
		return errReported
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "configuration is valid")
	return nil
}

// cmdAuditVerify walks the audit log's hash chain: one line saying how
// many events verify, or naming the first broken link (exit status 1).
func cmdAuditVerify(ctx context.Context, a *app, args []string) error {
	if _, err := a.flags("audit verify").parse(args); err != nil {
		return err
	}
	if err := a.openStore(ctx); err != nil {
		return err
	}
	n, err := a.st.VerifyAudit(ctx)
	if err != nil {
		return err
	}
	if n == 1 {
		fmt.Fprintln(a.stdout, "audit log: 1 event verifies")
		return nil
	}
	fmt.Fprintf(a.stdout, "audit log: %d events verify\n", n)
	return nil
}

func cmdVersion(ctx context.Context, a *app, args []string) error {
	if _, err := a.flags("version").parse(args); err != nil {
		return err
	}
	version, commit, built := "(devel)", "unknown", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				built = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified {
			commit += "+modified"
		}
	}
	line := fmt.Sprintf("recoverybot %s (commit %s", version, commit)
	if built != "" {
		line += ", committed " + built
	}
	fmt.Fprintf(a.stdout, "%s, schema %d, %s)\n", line, store.SchemaVersion(), runtime.Version())
	return nil
}
