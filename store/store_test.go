package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/vault"
)

func testVault(t *testing.T) *vault.Vault {
	t.Helper()
	v, err := vault.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func openTest(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "recoverybot.db")
	s, err := Open(context.Background(), path, testVault(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func addProfile(t *testing.T, s *Store, id string, hk recoverybot.HolderKind) recoverybot.Profile {
	t.Helper()
	p := recoverybot.Profile{ID: id, Email: id + "@example.org", HolderKind: hk, HolderName: "Holder " + id,
		Representative: "Rep", Locale: "fr"}
	if err := s.Update(context.Background(), func(tx *Tx) error { _, err := tx.PutProfile(p); return err }); err != nil {
		t.Fatal(err)
	}
	return p
}

func newCase(tx *Tx, profile string, kind recoverybot.Kind) (recoverybot.Case, error) {
	ref, err := recoverybot.NewRef()
	if err != nil {
		return recoverybot.Case{}, err
	}
	c := recoverybot.Case{Ref: ref, ProfileID: profile, Kind: kind, Contact: profile + "@example.org",
		State: recoverybot.StateAwaitingEvidence, OpenedBy: "alice", OpenedAt: tx.Now(), UpdatedAt: tx.Now()}
	err = tx.InsertCase(&c)
	return c, err
}

func TestOpenMigratesAndReopens(t *testing.T) {
	s, path := openTest(t)
	var mode, fk int
	var journal string
	if err := s.w.QueryRow("PRAGMA journal_mode").Scan(&journal); err != nil || journal != "wal" {
		t.Errorf("journal_mode = %q, %v", journal, err)
	}
	if err := s.w.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v", fk, err)
	}
	// A commit is on disk when it returns (2: FULL), in the database
	// and in the spool, or a power failure could undo a decision after
	// its message was moved or its mail sent.
	for name, db := range map[string]*sql.DB{"database": s.w, "spool": s.sw} {
		var sync int
		if err := db.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
			t.Errorf("%s: synchronous = %d, %v; want 2 (FULL)", name, sync, err)
		}
	}
	if err := s.w.QueryRow("PRAGMA user_version").Scan(&mode); err != nil || mode != SchemaVersion() || mode < 1 {
		t.Errorf("user_version = %d (schema %d), %v", mode, SchemaVersion(), err)
	}
	addProfile(t, s, "p-1", recoverybot.HolderIndividual)
	s.Close()
	s2, err := Open(context.Background(), path, testVault(t), Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	err = s2.View(context.Background(), func(tx *Tx) error {
		_, err := tx.Profile("p-1")
		return err
	})
	if err != nil {
		t.Fatalf("profile lost across reopen: %v", err)
	}
}

func TestOpenRefusesForeignFiles(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()

	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, bytes.Repeat([]byte("not a database "), 400), 0o600)
	if _, err := Open(ctx, garbage, testVault(t), Options{}); !errors.Is(err, ErrNotOurs) {
		t.Errorf("garbage file: err = %v, want ErrNotOurs", err)
	}

	foreign := filepath.Join(dir, "foreign.db")
	db, err := sql.Open("sqlite3", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE notes (body TEXT)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(ctx, foreign, testVault(t), Options{}); !errors.Is(err, ErrNotOurs) {
		t.Errorf("foreign SQLite file: err = %v, want ErrNotOurs", err)
	}

	s, newer := openTest(t)
	if _, err := s.w.Exec(fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion()+1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(ctx, newer, testVault(t), Options{})
	if !errors.Is(err, ErrTooNew) {
		t.Errorf("newer schema: err = %v, want ErrTooNew", err)
	}

	if _, err := Open(ctx, dir, testVault(t), Options{}); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory: err = %v", err)
	}
}

func TestCorruptedDatabaseGivesAnError(t *testing.T) {
	s, path := openTest(t)
	for i := 0; i < 50; i++ {
		addProfile(t, s, fmt.Sprintf("p-%d", i), recoverybot.HolderIndividual)
	}
	if _, err := s.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Trash every page after the header page.
	for i := 4096; i < len(data); i++ {
		data[i] = byte(i * 7)
	}
	os.WriteFile(path, data, 0o600)
	s2, err := Open(context.Background(), path, testVault(t), Options{})
	if err == nil {
		err = s2.View(context.Background(), func(tx *Tx) error { _, err := tx.Profiles(); return err })
		s2.Close()
	}
	if err == nil {
		t.Fatal("a corrupted database opened and read without error")
	}
	if !strings.Contains(err.Error(), "corrupt") && !strings.Contains(err.Error(), "malformed") && !errors.Is(err, ErrNotOurs) {
		t.Errorf("error does not say the file is corrupted: %v", err)
	}
}

func TestOneOpenCasePerProfileAndKind(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	addProfile(t, s, "p-1", recoverybot.HolderIndividual)
	var first recoverybot.Case
	err := s.Update(ctx, func(tx *Tx) error {
		var err error
		first, err = newCase(tx, "p-1", recoverybot.KindTOTPLockout)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx *Tx) error { _, err := newCase(tx, "p-1", recoverybot.KindTOTPLockout); return err })
	if !errors.Is(err, ErrOpenCase) {
		t.Fatalf("second open case: err = %v, want ErrOpenCase", err)
	}
	// Another kind is fine; a closed case does not count.
	if err := s.Update(ctx, func(tx *Tx) error { _, err := newCase(tx, "p-1", recoverybot.KindIPLockout); return err }); err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx *Tx) error {
		first.State = recoverybot.StateRejected
		if err := tx.UpdateCase(first); err != nil {
			return err
		}
		_, err := newCase(tx, "p-1", recoverybot.KindTOTPLockout)
		return err
	})
	if err != nil {
		t.Fatalf("new case after the first closed: %v", err)
	}
	// A duplicate reference is told apart from a duplicate open case.
	err = s.Update(ctx, func(tx *Tx) error {
		c := recoverybot.Case{Ref: first.Ref, ProfileID: "p-1", Kind: recoverybot.KindLostEmail,
			State: recoverybot.StateAwaitingEvidence, OpenedBy: "a", OpenedAt: tx.Now(), UpdatedAt: tx.Now()}
		return tx.InsertCase(&c)
	})
	if !errors.Is(err, ErrRefTaken) {
		t.Errorf("duplicate ref: err = %v, want ErrRefTaken", err)
	}
}

func TestAuditIsAppendOnly(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	if err := s.Update(ctx, func(tx *Tx) error {
		return tx.Audit(0, "alice", "profiles_imported", map[string]string{"created": "3"})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(`UPDATE audit_events SET actor = 'mallory'`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("UPDATE of an audit event: err = %v", err)
	}
	if _, err := s.w.Exec(`DELETE FROM audit_events`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("DELETE of an audit event: err = %v", err)
	}
	var events []recoverybot.AuditEvent
	s.View(ctx, func(tx *Tx) error { var err error; events, err = tx.AuditEvents(AuditFilter{}); return err })
	if len(events) != 1 || events[0].Actor != "alice" || events[0].Details["created"] != "3" {
		t.Errorf("events = %+v", events)
	}
}

func TestFailedUpdateLeavesNothing(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	addProfile(t, s, "p-1", recoverybot.HolderIndividual)
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx *Tx) error {
		c, err := newCase(tx, "p-1", recoverybot.KindLostEmail)
		if err != nil {
			return err
		}
		if err := tx.Audit(c.ID, "alice", "case_opened", nil); err != nil {
			return err
		}
		if _, err := tx.Enqueue(OutgoingMail{CaseID: c.ID, Template: "instructions", MessageID: "x@example.net",
			From: "contact@example.net", To: "p-1@example.org", Raw: []byte("mail")}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	for _, table := range []string{"cases", "audit_events", "outbox", "blobs"} {
		var n int
		s.w.QueryRow("SELECT count(*) FROM " + table).Scan(&n)
		if n != 0 {
			t.Errorf("%s has %d rows after a rolled-back transaction", table, n)
		}
	}
}

func TestCodesAndOutbox(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	addProfile(t, s, "p-1", recoverybot.HolderIndividual)
	now := time.Now().UTC()
	var c recoverybot.Case
	err := s.Update(ctx, func(tx *Tx) error {
		var err error
		if c, err = newCase(tx, "p-1", recoverybot.KindTOTPLockout); err != nil {
			return err
		}
		if err := tx.IssueCode(c.ID, recoverybot.IssuedCode{Hash: []byte("h1"), IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			return err
		}
		return tx.IssueCode(c.ID, recoverybot.IssuedCode{Hash: []byte("h2"), IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx *Tx) error {
		code, err := tx.CurrentCode(c.ID)
		if err != nil {
			return err
		}
		if string(code.Hash) != "h2" || code.UsedAt != nil {
			t.Errorf("current code = %+v, want the re-issued one", code)
		}
		if n, _ := tx.CodeCount(c.ID); n != 2 {
			t.Errorf("CodeCount = %d", n)
		}
		if err := tx.UseCode(c.ID); err != nil {
			return err
		}
		if err := tx.UseCode(c.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("second use: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	secret := []byte("Subject: code\r\n\r\nYour code: ABCD-EFGH\r\n")
	var id int64
	err = s.Update(ctx, func(tx *Tx) error {
		id, err = tx.Enqueue(OutgoingMail{CaseID: c.ID, Template: "instructions", MessageID: "m1@example.net",
			From: "contact@example.net", To: "p-1@example.org", Raw: secret})
		if err != nil {
			return err
		}
		_, err := tx.Enqueue(OutgoingMail{CaseID: c.ID, Template: "instructions", MessageID: "m1@example.net",
			From: "contact@example.net", To: "p-1@example.org", Raw: secret})
		if !errors.Is(err, ErrDuplicateRow) {
			t.Errorf("same Message-ID queued twice: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Sealed at rest: the code is nowhere in the file in clear.
	s.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	var sealed []byte
	s.w.QueryRow("SELECT sealed FROM blobs").Scan(&sealed)
	if bytes.Contains(sealed, []byte("ABCD-EFGH")) || len(sealed) == 0 {
		t.Error("outgoing mail stored in clear")
	}
	err = s.Update(ctx, func(tx *Tx) error {
		due, err := tx.Outbox(OutboxFilter{Due: true, WithRaw: true})
		if err != nil {
			return err
		}
		if len(due) != 1 || !bytes.Equal(due[0].Raw, secret) {
			t.Fatalf("due = %+v", due)
		}
		return tx.MarkSent(id)
	})
	if err != nil {
		t.Fatal(err)
	}
	var blobs int
	s.w.QueryRow("SELECT count(*) FROM blobs").Scan(&blobs)
	if blobs != 0 {
		t.Error("a sent mail kept its bytes (and the code in them)")
	}
}

func TestConcurrentWritersAcrossTwoHandles(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	// A second handle on the same file stands for a second process (the
	// CLI while the daemon runs): busy_timeout and BEGIN IMMEDIATE make
	// writers wait instead of failing with "database is locked".
	s2, err := Open(ctx, path, testVault(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for i := 0; i < 8; i++ {
		addProfile(t, s, fmt.Sprintf("p-%d", i), recoverybot.HolderIndividual)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			h := s
			if i%2 == 1 {
				h = s2
			}
			for round := 0; round < 10; round++ {
				err := h.Update(ctx, func(tx *Tx) error {
					c, err := newCase(tx, fmt.Sprintf("p-%d", i), recoverybot.KindLostEmail)
					if err != nil {
						return err
					}
					if err := tx.Audit(c.ID, "agent", "case_opened", nil); err != nil {
						return err
					}
					c.State = recoverybot.StateRejected
					return tx.UpdateCase(c)
				})
				if err != nil {
					errs <- err
					return
				}
				if err := h.View(ctx, func(tx *Tx) error { _, err := tx.ListCases(CaseFilter{}); return err }); err != nil {
					errs <- err
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent writer: %v", err)
	}
	var n int
	s.w.QueryRow("SELECT count(*) FROM cases WHERE state = 'rejected'").Scan(&n)
	if n != 80 {
		t.Errorf("%d cases, want 80", n)
	}
	// Both handles extended one chain.
	if events, err := s2.VerifyAudit(ctx); err != nil || events != 80 {
		t.Errorf("audit log after concurrent writers: %d events, %v", events, err)
	}
}

func TestCountCases(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	addProfile(t, s, "p-1", recoverybot.HolderIndividual)
	addProfile(t, s, "p-2", recoverybot.HolderIndividual)
	err := s.Update(ctx, func(tx *Tx) error {
		if _, err := newCase(tx, "p-1", recoverybot.KindLostEmail); err != nil {
			return err
		}
		c, err := newCase(tx, "p-2", recoverybot.KindLostEmail)
		if err != nil {
			return err
		}
		c.State = recoverybot.StateLocked
		return tx.UpdateCase(c)
	})
	if err != nil {
		t.Fatal(err)
	}
	var got map[recoverybot.State]int
	if err := s.View(ctx, func(tx *Tx) (err error) { got, err = tx.CountCases(); return err }); err != nil {
		t.Fatal(err)
	}
	want := map[recoverybot.State]int{recoverybot.StateAwaitingEvidence: 1, recoverybot.StateLocked: 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("CountCases = %v, want %v", got, want)
	}
}
