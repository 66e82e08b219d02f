package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/vault"
)

// auditFixture is a store holding five audit events (IDs 1 to 5), two of
// them about a case.
func auditFixture(t *testing.T) (*Store, string) {
	t.Helper()
	s, path := openTest(t)
	addProfile(t, s, "p-1", recoverybot.HolderIndividual)
	ctx := context.Background()
	if err := s.Update(ctx, func(tx *Tx) error {
		c, err := newCase(tx, "p-1", recoverybot.KindTOTPLockout)
		if err != nil {
			return err
		}
		if err := tx.Audit(0, "alice", "profiles_imported", map[string]string{"created": "1"}); err != nil {
			return err
		}
		if err := tx.Audit(c.ID, "alice", "case_opened", nil); err != nil {
			return err
		}
		return tx.Audit(c.ID, recoverybot.SystemActor, "code_sent", map[string]string{"to": "p-1@example.org"})
	}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := s.Update(ctx, func(tx *Tx) error {
			return tx.Audit(0, "bob", "document_read", map[string]string{"n": fmt.Sprint(i)})
		}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.VerifyAudit(ctx); err != nil || n != 5 {
		t.Fatalf("VerifyAudit of an intact log = %d, %v; want 5 events", n, err)
	}
	return s, path
}

// tamper runs SQL on the database file as someone who can write it but
// has not the key would: through a connection of their own, with the
// append-only triggers dropped first.
func tamper(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range append([]string{
		`DROP TRIGGER audit_events_no_update`, `DROP TRIGGER audit_events_no_delete`,
		`DROP TRIGGER audit_events_no_replace`, `DROP TRIGGER audit_events_need_hash`,
	}, stmts...) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestAuditChainFindsTampering(t *testing.T) {
	tests := []struct {
		name  string
		stmts []string
		id    int64  // the first broken link VerifyAudit must name (0: the head)
		want  string // in its reason
	}{
		{"details rewritten", []string{`UPDATE audit_events SET details = '{"to":"mallory@evil.example"}' WHERE id = 3`}, 3, "does not match"},
		{"actor rewritten", []string{`UPDATE audit_events SET actor = 'mallory' WHERE id = 2`}, 2, "does not match"},
		{"time rewritten", []string{`UPDATE audit_events SET at = '2020-01-01T00:00:00.000000000Z' WHERE id = 4`}, 4, "does not match"},
		{"case changed", []string{`UPDATE audit_events SET case_id = NULL WHERE id = 2`}, 2, "does not match"},
		{"row deleted", []string{`DELETE FROM audit_events WHERE id = 3`}, 4, "follows event 2"},
		{"first row deleted", []string{`DELETE FROM audit_events WHERE id = 1`}, 2, "follows event 0"},
		{"last row deleted", []string{`DELETE FROM audit_events WHERE id = 5`}, 0, "removed from the end"},
		{"last row and head deleted", []string{`DELETE FROM audit_events WHERE id = 5`, `DELETE FROM audit_head`}, 0, "head of the chain is missing"},
		{"head rolled back", []string{`DELETE FROM audit_events WHERE id = 5`, `UPDATE audit_head SET last_id = 4`}, 0, "does not match its last event"},
		{"rows swapped", []string{
			`UPDATE audit_events SET id = 100 WHERE id = 2`, `UPDATE audit_events SET id = 2 WHERE id = 3`, `UPDATE audit_events SET id = 3 WHERE id = 100`,
		}, 2, "does not match"},
		{"row inserted in the middle", []string{
			`UPDATE audit_events SET id = id + 1000 WHERE id >= 3`, `UPDATE audit_events SET id = id - 999 WHERE id > 1000`,
			`INSERT INTO audit_events (id, actor, action, at, details, hash) SELECT 3, 'mallory', 'case_approved', at, '{}', hash FROM audit_events WHERE id = 2`,
		}, 3, "does not match"},
		{"copy of an event appended", []string{
			`INSERT INTO audit_events (id, case_id, actor, action, at, details, hash) SELECT 6, case_id, actor, action, at, details, hash FROM audit_events WHERE id = 5`,
		}, 6, "does not match"},
		{"row appended without a hash", []string{
			`INSERT INTO audit_events (id, actor, action, at, details) VALUES (6, 'mallory', 'case_approved', '2026-01-01T00:00:00.000000000Z', '{}')`,
		}, 6, "no hash"},
		{"hash removed", []string{`UPDATE audit_events SET hash = NULL WHERE id = 1`}, 1, "no hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := auditFixture(t)
			tamper(t, path, tt.stmts...)
			n, err := s.VerifyAudit(context.Background())
			var ce *ChainError
			if !errors.As(err, &ce) || !errors.Is(err, ErrAuditChain) {
				t.Fatalf("VerifyAudit = %d, %v; want a broken link", n, err)
			}
			if ce.ID != tt.id || !strings.Contains(ce.Reason, tt.want) {
				t.Errorf("broken link = event %d %q, want event %d %q", ce.ID, ce.Reason, tt.id, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

// TestAuditRefusesReplace: INSERT OR REPLACE deletes the old row without
// firing the DELETE trigger; the log refuses it like any change.
func TestAuditRefusesReplace(t *testing.T) {
	s, _ := auditFixture(t)
	for _, q := range []string{
		`INSERT OR REPLACE INTO audit_events (id, actor, action, at, details, hash) SELECT id, 'mallory', action, at, details, hash FROM audit_events WHERE id = 2`,
		`REPLACE INTO audit_events (id, actor, action, at, details, hash) SELECT id, 'mallory', action, at, details, hash FROM audit_events WHERE id = 2`,
		`INSERT INTO audit_events (id, actor, action, at, details, hash) SELECT id, 'mallory', action, at, details, hash FROM audit_events WHERE id = 2
			ON CONFLICT (id) DO UPDATE SET actor = excluded.actor`,
		`UPDATE OR REPLACE audit_events SET id = 1 WHERE id = 2`,
	} {
		if _, err := s.w.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want it refused", q, err)
		}
	}
	if _, err := s.w.Exec(`INSERT INTO audit_events (actor, action, at, details) VALUES ('mallory', 'case_approved', '2026-01-01T00:00:00.000000000Z', '{}')`); err == nil || !strings.Contains(err.Error(), "chained") {
		t.Errorf("insert without a hash: err = %v, want it refused", err)
	}
	var actor string
	if err := s.w.QueryRow(`SELECT actor FROM audit_events WHERE id = 2`).Scan(&actor); err != nil || actor != "alice" {
		t.Errorf("event 2's actor = %q, %v", actor, err)
	}
	if n, err := s.VerifyAudit(context.Background()); err != nil || n != 5 {
		t.Errorf("VerifyAudit = %d, %v", n, err)
	}
}

// TestAuditChainWrongKey: the chain is keyed; a store opened with another
// key (say, a copied database without its key files) does not verify it.
func TestAuditChainWrongKey(t *testing.T) {
	s, path := auditFixture(t)
	s.Close()
	other, err := vault.New(bytes.Repeat([]byte{3}, 32), bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Open(context.Background(), path, other, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.VerifyAudit(context.Background()); !errors.Is(err, ErrAuditChain) {
		t.Errorf("VerifyAudit with another key = %v, want a broken link", err)
	}
}

// TestMigrationChainsExistingEvents: events written before migration 6
// are chained by the migration, and verify after it.
func TestMigrationChainsExistingEvents(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "recoverybot.db")
	db := schemaAt(t, path, 5)
	for i := 0; i < 3; i++ {
		if _, err := db.Exec(`INSERT INTO audit_events (actor, action, at, details) VALUES ('alice', 'profiles_imported', ?, '{}')`,
			fmt.Sprintf("2026-01-0%dT00:00:00.000000000Z", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := Open(ctx, path, testVault(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.VerifyAudit(ctx); err != nil || n != 3 {
		t.Fatalf("VerifyAudit after the migration = %d, %v; want 3 events", n, err)
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.Audit(0, "bob", "case_opened", nil) }); err != nil {
		t.Fatal(err)
	}
	if n, err := s.VerifyAudit(ctx); err != nil || n != 4 {
		t.Errorf("VerifyAudit after one more event = %d, %v; want 4", n, err)
	}
	// The one update the migration needed stays closed to a chained event.
	if _, err := s.w.Exec(`UPDATE audit_events SET hash = zeroblob(32) WHERE id = 1`); err == nil {
		t.Error("an event's hash could be rewritten")
	}
}

// schemaAt makes a database of schema version v at path, as an older
// binary left it, and returns it open.
func schemaAt(t *testing.T, path string, v int) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", dsn(path, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.version > v {
			break
		}
		if _, err := db.Exec(m.sql); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		if _, err := db.Exec(fmt.Sprintf("PRAGMA application_id = %d; PRAGMA user_version = %d", ApplicationID, m.version)); err != nil {
			t.Fatal(err)
		}
	}
	return db
}
