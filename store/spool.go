package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// The spool is where raw messages are kept, sealed: a SQLite database of
// its own beside the main one (recoverybot.db: recoverybot-spool.db),
// with its own writer. Raw messages are nearly all the bytes recoverybot
// stores; writing them there lets the intake spool one batch while it
// commits the decisions of the batch before, and its large pages (64 KiB)
// take a message in a few writes rather than dozens. It keeps a rollback
// journal rather than a write-ahead log: rows are only ever appended or
// deleted, and appended pages need no journal, so each message is
// written once, where a log would write it twice (log, then checkpoint).
//
// A raw message is spooled first, then recorded in the ledger with its
// spool row (Tx.Record); a crash in between leaves a spooled message no
// ledger row points at, which SweepSpool deletes.

// SpoolApplicationID marks a spool file as ours (PRAGMA application_id;
// "RcBS").
const SpoolApplicationID = 0x52634253

// spoolVersion is the schema version of the spool.
const spoolVersion = 1

const spoolSchema = `
CREATE TABLE raw (
	id         INTEGER PRIMARY KEY,
	sha256     TEXT NOT NULL,
	size       INTEGER NOT NULL,
	sealed     BLOB NOT NULL,
	created_at TEXT NOT NULL
) STRICT;
CREATE INDEX raw_created ON raw (created_at);
`

// SpoolPath returns the spool file of the database file file.
func SpoolPath(file string) string {
	ext := filepath.Ext(file)
	return strings.TrimSuffix(file, ext) + "-spool" + ext
}

// RawRef is a raw message in the spool: its row and the hex SHA-256 of
// its clear bytes.
type RawRef struct {
	ID     int64
	SHA256 string
}

func (s *Store) openSpool(ctx context.Context, file string, busy time.Duration) error {
	if err := createPrivate(file); err != nil {
		return err
	}
	// No journal mode in the DSN: the page size must be set before the
	// first table is created.
	w, err := sql.Open("sqlite3", dsn(file, "&_txlock=immediate", busy))
	if err != nil {
		return err
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	s.sw = w
	if err := s.initSpool(ctx); err != nil {
		return describe(err)
	}
	r, err := sql.Open("sqlite3", dsn(file, "&mode=ro&_txlock=deferred", busy))
	if err != nil {
		return err
	}
	r.SetMaxOpenConns(2)
	s.sr = r
	return nil
}

func (s *Store) initSpool(ctx context.Context) error {
	// Nothing is changed in a file that is not ours.
	version, err := identify(ctx, s.sw, SpoolApplicationID, spoolVersion, "spool")
	if err != nil {
		return err
	}
	// The page size takes effect only in a new file.
	if _, err := s.sw.ExecContext(ctx, "PRAGMA page_size = 65536"); err != nil {
		return err
	}
	var mode string
	if err := s.sw.QueryRowContext(ctx, "PRAGMA journal_mode = TRUNCATE").Scan(&mode); err != nil {
		return err
	}
	if version == spoolVersion {
		return nil
	}
	tx, err := s.sw.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, spoolSchema); err != nil {
		return fmt.Errorf("create the spool: %w", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d; PRAGMA user_version = %d", SpoolApplicationID, spoolVersion)); err != nil {
		return fmt.Errorf("create the spool: %w", err)
	}
	return tx.Commit()
}

// Spool stores raw messages sealed by Seal (as BlobMessage) in one
// transaction of the spool and returns their references, in order.
func (s *Store) Spool(ctx context.Context, raws []Sealed) ([]RawRef, error) {
	refs := make([]RawRef, 0, len(raws))
	for _, b := range raws {
		if b.kind != BlobMessage || b.sealed == nil {
			return nil, fmt.Errorf("spool: bytes not sealed as a message (%q)", b.kind)
		}
	}
	tx, err := s.sw.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("spool: begin: %w", describe(err))
	}
	defer tx.Rollback()
	now := ts(s.Now())
	for _, b := range raws {
		res, err := tx.ExecContext(ctx, `INSERT INTO raw (sha256, size, sealed, created_at) VALUES (?, ?, ?, ?)`,
			b.sum, b.size, b.sealed, now)
		if err != nil {
			return nil, fmt.Errorf("spool: %w", describe(err))
		}
		id, err := res.LastInsertId()
		if err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
		refs = append(refs, RawRef{ID: id, SHA256: b.sum})
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("spool: commit: %w", describe(err))
	}
	return refs, nil
}

// Unspool deletes spooled messages that no ledger row points at (those
// of a batch whose recording failed, or met again and already recorded).
// While a backup copies the spool it deletes nothing: SweepSpool deletes
// them afterwards.
func (s *Store) Unspool(ctx context.Context, ids []int64) error {
	_, err := s.unspool(ctx, ids)
	return err
}

// unspool is Unspool, saying how many rows it deleted.
func (s *Store) unspool(ctx context.Context, ids []int64) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	unlock, ok := s.spoolDeletes()
	if !ok {
		return 0, nil
	}
	defer unlock()
	tx, err := s.sw.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("unspool: begin: %w", describe(err))
	}
	defer tx.Rollback()
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `DELETE FROM raw WHERE id = ?`, id); err != nil {
			return 0, fmt.Errorf("unspool: %w", describe(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("unspool: commit: %w", describe(err))
	}
	return len(ids), nil
}

// SweepSpool deletes the spooled messages older than olderThan that no
// ledger row points at: those a crash left between spooling and
// recording. The age spares the batch another process may be recording
// right now. It returns how many it deleted.
func (s *Store) SweepSpool(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := ts(s.Now().Add(-olderThan))
	var candidates []int64
	rows, err := s.sr.QueryContext(ctx, `SELECT id FROM raw WHERE created_at < ? ORDER BY id`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("sweep spool: %w", err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sweep spool: %w", err)
		}
		candidates = append(candidates, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("sweep spool: %w", err)
	}
	if len(candidates) == 0 {
		return 0, nil
	}
	used := make(map[int64]bool, len(candidates))
	err = s.View(ctx, func(tx *Tx) error {
		rows, err := tx.tx.Query(`SELECT raw_id FROM messages WHERE raw_id IS NOT NULL AND raw_id <= ?`, candidates[len(candidates)-1])
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			used[id] = true
		}
		return rows.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("sweep spool: %w", err)
	}
	var orphans []int64
	for _, id := range candidates {
		if !used[id] {
			orphans = append(orphans, id)
		}
	}
	return s.unspool(ctx, orphans)
}

// spooled opens a spooled message and checks it against sum, the hash
// its ledger row recorded.
func (s *Store) spooled(id int64, sum string) ([]byte, error) {
	var got string
	var sealed []byte
	err := s.sr.QueryRow(`SELECT sha256, sealed FROM raw WHERE id = ?`, id).Scan(&got, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("spooled message %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read spooled message %d: %w", id, err)
	}
	if got != sum {
		return nil, fmt.Errorf("spooled message %d: not the message recorded (hash mismatch)", id)
	}
	return s.openSealed(id, BlobMessage, sum, sealed)
}
