package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// A backup is a copy of the two databases of a data directory, under
// their own names, that a restore puts back into an empty data directory
// beside the key files (vault). Backup makes it while the daemon runs,
// without the data directory's lock:
//
//   - The main database is copied by VACUUM INTO, one read transaction:
//     a snapshot of one moment that never blocks the writer (WAL). It has
//     no free pages, so nothing a purge deleted is left in it.
//   - The spool is copied row by row, only the raw messages that snapshot
//     still points at (those recorded, not yet decided): each row read in
//     a transaction of its own, so the spool's writer (rollback journal,
//     which a reader holds up) waits for one row at most, and the mail
//     tied to no case that the spool still holds is not kept.
//   - Between the two, the daemon must not delete a spool row that the
//     snapshot points at: a message decided after it leaves the spool at
//     once (Decide, then Unspool). A backup holds the spool's lock file
//     shared while it copies; Unspool and SweepSpool take it exclusively
//     without waiting, and while a backup holds it they leave the rows to
//     the next spool sweep.

// ErrBackupExists is matched by the error of a backup into a directory
// that holds one already.
var ErrBackupExists = errors.New("store: a backup is there already")

// BackupFile is one file a backup wrote.
type BackupFile struct {
	Path string
	Size int64
}

// BackupResult is what Backup wrote: the main database, then the spool.
type BackupResult struct {
	Files []BackupFile
	// Messages is how many raw messages, recorded and not yet decided,
	// the spool's copy holds.
	Messages int
}

// backupLockPath returns the spool's lock file of the database file
// file (recoverybot.db: recoverybot-backup.lock).
func backupLockPath(file string) string {
	ext := filepath.Ext(file)
	return strings.TrimSuffix(file, ext) + "-backup.lock"
}

func openBackupLock(file string) (*os.File, error) {
	return os.OpenFile(backupLockPath(file), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
}

// spoolDeletes takes the spool's lock for a deletion, without waiting:
// false when a backup is copying. The caller calls unlock after its
// transaction.
func (s *Store) spoolDeletes() (unlock func(), ok bool) {
	s.spoolMu.Lock()
	if err := syscall.Flock(int(s.backupLock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		s.spoolMu.Unlock()
		return nil, false
	}
	return func() {
		syscall.Flock(int(s.backupLock.Fd()), syscall.LOCK_UN)
		s.spoolMu.Unlock()
	}, true
}

// Backup writes a consistent copy of the databases into dir, created
// (mode 0700) when missing, under the names they have in the data
// directory; files of mode 0600, synced with the directory before
// Backup returns. A dir holding either name already is refused
// (ErrBackupExists): a backup is never overwritten. Nothing is left
// under those names when Backup fails. The key files are not copied:
// they are to be kept apart.
func (s *Store) Backup(ctx context.Context, dir string) (BackupResult, error) {
	var res BackupResult
	finals := []string{filepath.Join(dir, filepath.Base(s.file)), filepath.Join(dir, filepath.Base(SpoolPath(s.file)))}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, fmt.Errorf("backup: create directory %s: %w", dir, unwrapPath(err))
	}
	for _, f := range finals {
		if _, err := os.Lstat(f); err == nil {
			return res, fmt.Errorf("backup: %s exists: %w (give another directory)", f, ErrBackupExists)
		}
	}
	var temps []string
	defer func() {
		for _, t := range temps {
			os.Remove(t)
			os.Remove(t + "-journal")
		}
	}()
	for _, f := range finals {
		t, err := os.CreateTemp(dir, "."+filepath.Base(f)+".*.partial")
		if err != nil {
			return res, fmt.Errorf("backup: directory %s: %w", dir, unwrapPath(err))
		}
		temps = append(temps, t.Name())
		t.Close()
	}

	// No spool row the snapshot points at is deleted from here on.
	lock, err := openBackupLock(s.file)
	if err != nil {
		return res, fmt.Errorf("backup: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_SH); err != nil {
		return res, fmt.Errorf("backup: lock the spool: %w", err)
	}
	src, err := sql.Open("sqlite3", dsn(s.file, "&mode=ro", s.busy))
	if err != nil {
		return res, fmt.Errorf("backup: %w", err)
	}
	defer src.Close()
	if _, err := src.ExecContext(ctx, "VACUUM INTO ?", temps[0]); err != nil {
		return res, fmt.Errorf("backup: copy the database: %w", describe(err))
	}
	if s.backupHook != nil {
		s.backupHook()
	}
	if res.Messages, err = s.copySpool(ctx, temps[0], temps[1]); err != nil {
		return res, fmt.Errorf("backup: copy the spool: %w", err)
	}

	for _, t := range temps {
		if err := syncFile(t); err != nil {
			return res, fmt.Errorf("backup: %w", err)
		}
	}
	// A link, not a rename: it fails rather than replace a file that
	// appeared meanwhile.
	for i, t := range temps {
		if err := place(t, finals[i]); err != nil {
			for _, done := range finals[:i] {
				os.Remove(done)
			}
			if errors.Is(err, fs.ErrExist) {
				return BackupResult{}, fmt.Errorf("backup: %s exists: %w (give another directory)", finals[i], ErrBackupExists)
			}
			return BackupResult{}, fmt.Errorf("backup: %w", err)
		}
	}
	if err := syncFile(dir); err != nil {
		return BackupResult{}, fmt.Errorf("backup: %w", err)
	}
	for _, f := range finals {
		st, err := os.Stat(f)
		if err != nil {
			return BackupResult{}, fmt.Errorf("backup: %w", err)
		}
		res.Files = append(res.Files, BackupFile{Path: f, Size: st.Size()})
	}
	return res, nil
}

// copySpool writes into the new file to a spool holding the raw messages
// that the copy of the main database at from points at, read from the
// live spool one by one.
func (s *Store) copySpool(ctx context.Context, from, to string) (int, error) {
	bk, err := sql.Open("sqlite3", dsn(from, "&mode=ro", s.busy))
	if err != nil {
		return 0, err
	}
	defer bk.Close()
	type ref struct {
		id  int64
		sum string
	}
	var refs []ref
	rows, err := bk.QueryContext(ctx, `SELECT raw_id, sha256 FROM messages WHERE raw_id IS NOT NULL ORDER BY raw_id`)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var r ref
		if err := rows.Scan(&r.id, &r.sum); err != nil {
			rows.Close()
			return 0, err
		}
		refs = append(refs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}

	dst, err := sql.Open("sqlite3", dsn(to, "&_txlock=immediate", s.busy))
	if err != nil {
		return 0, err
	}
	defer dst.Close()
	dst.SetMaxOpenConns(1)
	if err := (&Store{sw: dst}).initSpool(ctx); err != nil {
		return 0, err
	}
	tx, err := dst.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	for _, r := range refs {
		var sum, created string
		var size int64
		var sealed []byte
		err := s.sr.QueryRowContext(ctx, `SELECT sha256, size, sealed, created_at FROM raw WHERE id = ?`, r.id).Scan(&sum, &size, &sealed, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("spooled message %d, which the ledger points at, is missing", r.id)
		}
		if err != nil {
			return 0, fmt.Errorf("read spooled message %d: %w", r.id, describe(err))
		}
		if sum != r.sum {
			return 0, fmt.Errorf("spooled message %d: not the message recorded (hash mismatch)", r.id)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO raw (id, sha256, size, sealed, created_at) VALUES (?, ?, ?, ?, ?)`,
			r.id, sum, size, sealed, created); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return len(refs), dst.Close()
}

// place gives the file at from the name to, unless to exists: a link
// where the file system has them, else a rename after a look.
func place(from, to string) error {
	err := os.Link(from, to)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	if _, err := os.Lstat(to); err == nil {
		return &fs.PathError{Op: "link", Path: to, Err: fs.ErrExist}
	}
	return os.Rename(from, to)
}

// syncFile flushes a file, or a directory's entries, to stable storage.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}

// unwrapPath drops the *fs.PathError around an error whose path the
// caller names already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
