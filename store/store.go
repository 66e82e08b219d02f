package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/recoverybot/recoverybot/internal/fault"
	"github.com/recoverybot/recoverybot/vault"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// ApplicationID marks a SQLite file as a recoverybot database
// (PRAGMA application_id; "RcBt").
const ApplicationID = 0x52634274

// Errors callers test with errors.Is.
var (
	ErrNotFound     = errors.New("store: not found")
	ErrNotOurs      = errors.New("store: not a recoverybot database")
	ErrTooNew       = errors.New("store: database is newer than this binary")
	ErrOpenCase     = errors.New("store: the profile already has an open case of this kind")
	ErrRefTaken     = errors.New("store: case reference already in use")
	ErrDuplicateRow = errors.New("store: row already exists")
)

// Store is an open database. It is safe for concurrent use.
type Store struct {
	w     *sql.DB // the one writer connection: writes queue here, not on SQLITE_BUSY
	r     *sql.DB // readers, read-only
	sw    *sql.DB // the spool's writer (spool.go)
	sr    *sql.DB // the spool's readers
	ck    *checkpointer
	vault *vault.Vault
	// auditKey keys the audit log's hash chain (audit.go).
	auditKey []byte
	now      func() time.Time
	file     string        // the main database file
	busy     time.Duration // the busy timeout
	// backupLock is the spool's lock file (backup.go), spoolMu keeps this
	// process's deletions from the spool to one at a time under it.
	backupLock *os.File
	spoolMu    sync.Mutex
	// backupHook, when set (tests), runs in Backup between the copies of
	// the database and of the spool.
	backupHook func()
}

// Options tune Open. The zero value is fine.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// BusyTimeout is how long a write waits for another process's
	// transaction (the CLI while the daemon runs); 0 means 10 s.
	BusyTimeout time.Duration
}

// dsn is the DSN of a connection to file. synchronous=FULL: a commit
// returns once it is on disk (the write-ahead log, or the spool's file,
// synced), so that no decision is undone by a power failure after its
// message was moved or its mail handed to SMTP, both of which follow the
// commit. The benchmark (cmd/recoverybench) drains as fast as with
// NORMAL, and as fast as syncing the log only before each batch of moves
// and each send would.
func dsn(file string, extra string, busy time.Duration) string {
	p := url.PathEscape(file)
	return "file:" + p + "?_busy_timeout=" + strconv.FormatInt(busy.Milliseconds(), 10) +
		"&_foreign_keys=on&_secure_delete=on&_synchronous=FULL&_stmt_cache_size=64" + extra
}

// Open opens or creates the database file at file and brings its schema
// up to date. A file that is not a SQLite database, a SQLite database that
// is not ours, or one written by a newer binary is refused with a clear
// error.
func Open(ctx context.Context, file string, v *vault.Vault, o Options) (*Store, error) {
	if v == nil {
		return nil, errors.New("open store: no vault")
	}
	busy := o.BusyTimeout
	if busy == 0 {
		busy = 10 * time.Second
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	if st, err := os.Stat(file); err == nil && st.IsDir() {
		return nil, fmt.Errorf("open store %s: is a directory", file)
	}
	if err := createPrivate(file); err != nil {
		return nil, fmt.Errorf("open store %s: %w", file, err)
	}
	w := writerDB(dsn(file, "&_journal_mode=WAL&_txlock=immediate", busy))
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w, vault: v, auditKey: v.Key(vault.PurposeAudit), now: now, file: file, busy: busy}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", file, besideFile(file, describe(err)))
	}
	r, err := sql.Open("sqlite3", dsn(file, "&mode=ro&_txlock=deferred", busy))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", file, err)
	}
	r.SetMaxOpenConns(4)
	s.r = r
	if err := s.openSpool(ctx, SpoolPath(file), busy); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: spool %s: %w", file, SpoolPath(file), err)
	}
	if s.backupLock, err = openBackupLock(file); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", file, err)
	}
	ck, err := sql.Open("sqlite3", dsn(file, "", busy))
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", file, err)
	}
	s.ck = newCheckpointer(ck)
	return s, nil
}

// createPrivate creates a database file ourselves, unless it exists, so
// that it is private from the start; SQLite gives its -wal and -shm files
// the same mode.
func createPrivate(file string) error {
	if st, err := os.Stat(file); err == nil && st.IsDir() {
		return errors.New("is a directory")
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close()
	}
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	return err
}

// besideFile adds to err, when it does not say what broke, what creating
// a file beside file says: SQLite cannot open a database whose -wal file
// it cannot create, and reports no errno for a read-only or full file
// system then.
func besideFile(file string, err error) error {
	if _, known := errors.AsType[*fault.Error](err); known {
		return err
	}
	f, ferr := os.CreateTemp(filepath.Dir(file), ".probe-*")
	if ferr != nil {
		if c := fault.Of(ferr); c == fault.ReadOnly || c == fault.DiskFull {
			return fault.Wrap(c, fmt.Errorf("%w (%v)", err, ferr))
		}
		return err
	}
	f.Close()
	os.Remove(f.Name())
	return err
}

// describe turns SQLite's terse errors about foreign files into sentences,
// and marks what broke (fault.Of): a full disk, a read-only file system or
// database, a corrupt file.
func describe(err error) error {
	var se sqlite3.Error
	if !errors.As(err, &se) || errors.As(err, new(*fault.Error)) {
		return err
	}
	c := sqliteCause(se)
	switch se.Code {
	case sqlite3.ErrNotADB:
		err = fmt.Errorf("%w: the file is not a SQLite database", ErrNotOurs)
	case sqlite3.ErrCorrupt:
		err = fmt.Errorf("the database file is corrupted (%w)", err)
	case sqlite3.ErrCantOpen:
		err = fmt.Errorf("cannot open the database file (%w)", err)
	}
	if c != "" {
		return fault.Wrap(c, err)
	}
	return err
}

// sqliteCause says what broke in a SQLite error, "" when it does not know:
// SQLite reports a full disk as SQLITE_FULL, but a failed fsync, open or
// truncate as an I/O error whose errno says more.
func sqliteCause(se sqlite3.Error) fault.Cause {
	switch se.Code {
	case sqlite3.ErrFull:
		return fault.DiskFull
	case sqlite3.ErrReadonly:
		return fault.ReadOnly
	case sqlite3.ErrCorrupt, sqlite3.ErrNotADB:
		return fault.DatabaseCorrupt
	}
	switch se.SystemErrno {
	case syscall.ENOSPC, syscall.EDQUOT:
		return fault.DiskFull
	case syscall.EROFS:
		return fault.ReadOnly
	}
	return ""
}

// Close closes the database.
func (s *Store) Close() error {
	var errs []error
	if s.ck != nil {
		errs = append(errs, s.ck.close())
		s.ck = nil
	}
	for _, db := range []*sql.DB{s.sr, s.sw, s.r, s.w} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	if s.backupLock != nil {
		errs = append(errs, s.backupLock.Close())
		s.backupLock = nil
	}
	return errors.Join(errs...)
}

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now().UTC() }

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with its number", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: want number %d", m.name, i+1)
		}
	}
	return ms, nil
}

// SchemaVersion is the schema version this binary writes.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// identify checks that the database behind db is one of ours (application
// id appID, or a new empty file) with a schema no newer than known, and
// returns its schema version. what names the file in errors ("" for the
// main database).
func identify(ctx context.Context, db *sql.DB, appID, known int, what string) (int, error) {
	var id, version, objects int
	if err := db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&id); err != nil {
		return 0, err
	}
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, err
	}
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&objects); err != nil {
		return 0, err
	}
	if what != "" {
		what += " "
	}
	switch {
	case id == 0 && objects > 0:
		return 0, fmt.Errorf("%w: the %sfile holds tables of another application", ErrNotOurs, what)
	case id != 0 && id != appID:
		return 0, fmt.Errorf("%w: the %sfile's application id is %#x", ErrNotOurs, what, id)
	case version > known:
		return 0, fmt.Errorf("%w: %sschema version %d, this binary knows up to %d; upgrade recoverybot", ErrTooNew, what, version, known)
	}
	return version, nil
}

// afterMigration does, in a migration's transaction, what SQL alone
// cannot: chaining the audit events written before migration 6 needs the
// audit key.
func (s *Store) afterMigration(ctx context.Context, tx *sql.Tx, version int) error {
	switch version {
	case 6:
		return s.chainExistingEvents(ctx, tx)
	}
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	version, err := identify(ctx, s.w, ApplicationID, len(ms), "")
	if err != nil {
		return err
	}
	for _, m := range ms[version:] {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if err := s.afterMigration(ctx, tx, m.version); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		// PRAGMAs take no parameters; both values are integers we own.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d; PRAGMA user_version = %d", ApplicationID, m.version)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

// Tx is one transaction. Its methods are the only way to read and write
// the database.
type Tx struct {
	tx  *sql.Tx
	s   *Store
	now time.Time
	// unspool: spool rows the transaction stopped pointing at, deleted
	// once it is committed.
	unspool []int64
}

// Now is the time of the transaction: every row it writes carries it.
func (t *Tx) Now() time.Time { return t.now }

// Update runs fn in a write transaction and commits it when fn returns
// nil. Writes from this process queue for the one writer connection;
// another process's writer is waited for up to the busy timeout.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", describe(err))
	}
	t := &Tx{tx: tx, s: s, now: s.Now()}
	if err := fn(t); err != nil {
		tx.Rollback()
		return describe(err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", describe(err))
	}
	if s.ck != nil {
		s.ck.wrote()
	}
	if len(t.unspool) > 0 {
		// Only tidying once committed, so a failure is not the
		// transaction's: SweepSpool deletes the rows left.
		_ = s.Unspool(context.WithoutCancel(ctx), t.unspool)
	}
	return nil
}

// View runs fn in a read-only transaction: a consistent snapshot that
// never blocks writers.
func (s *Store) View(ctx context.Context, fn func(*Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin: %w", describe(err))
	}
	defer tx.Rollback()
	return describe(fn(&Tx{tx: tx, s: s, now: s.Now()}))
}

// timeFormat is fixed-width so that times sort as text.
const timeFormat = "2006-01-02T15:04:05.000000000Z"

func ts(t time.Time) string { return t.UTC().Format(timeFormat) }

func nullTS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

func parseTS(s string) (time.Time, error) {
	t, err := time.Parse(timeFormat, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: bad time %q: %w", s, err)
	}
	return t, nil
}

func parseNullTS(ns sql.NullString) (*time.Time, error) {
	if !ns.Valid {
		return nil, nil
	}
	t, err := parseTS(ns.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique
}
