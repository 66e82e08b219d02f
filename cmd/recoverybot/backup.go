package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/recoverybot/recoverybot/vault"
)

// cmdBackup copies the databases into a directory while the daemon may
// run (no data directory lock: the store keeps the copy consistent), and
// names the key files that must be kept, apart from it.
func cmdBackup(ctx context.Context, a *app, args []string) error {
	pos, err := a.flags("backup").parse(args, "DIR")
	if err != nil {
		return err
	}
	if err := a.openStore(ctx); err != nil {
		return err
	}
	if within(pos[0], a.cfg.DataDir) {
		return fmt.Errorf("backup: %s is in data directory %s, beside the key files: put backups elsewhere", printable(pos[0]), printable(a.cfg.DataDir))
	}
	res, err := a.st.Backup(ctx, pos[0])
	if err != nil {
		return err
	}
	for i, f := range res.Files {
		line := fmt.Sprintf("wrote %s (%s)", printable(f.Path), size(f.Size))
		if i == 1 {
			line = fmt.Sprintf("wrote %s (%s; %d messages not yet decided)", printable(f.Path), size(f.Size), res.Messages)
		}
		fmt.Fprintln(a.stdout, line)
	}
	keys := []string{filepath.Join(a.cfg.DataDir, vault.CodeKeyFile), filepath.Join(a.cfg.DataDir, vault.StorageKeyFile)}
	fmt.Fprintf(a.stdout, "keep the key files %s and %s too, apart from the backup: it cannot be read without them, "+
		"and beside it they would undo the purge's destruction of keys (see README, Backup and restore)\n",
		printable(keys[0]), printable(keys[1]))
	return nil
}

// within reports whether path is dir or lies under it.
func within(path, dir string) bool {
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	if rp, err := filepath.EvalSymlinks(d); err == nil {
		d = rp
	}
	// The backup directory may not exist yet: resolve its nearest
	// existing parent.
	for q := p; ; q = filepath.Dir(q) {
		if rq, err := filepath.EvalSymlinks(q); err == nil {
			p = filepath.Join(rq, strings.TrimPrefix(p, q))
			break
		}
		if q == filepath.Dir(q) {
			break
		}
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && (rel == "." || !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && rel != "..")
}

// size writes n bytes for a person.
func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
