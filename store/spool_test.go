package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
)

func spoolOne(t *testing.T, s *Store, raw []byte) RawRef {
	t.Helper()
	b, err := s.Seal(BlobMessage, raw)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := s.Spool(context.Background(), []Sealed{b})
	if err != nil || len(refs) != 1 {
		t.Fatalf("Spool = %v, %v", refs, err)
	}
	return refs[0]
}

func TestSpoolKeepsRawMessagesApartAndSealed(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	raw := []byte("From: a@example.org\r\nSubject: secret passport scan\r\n\r\nPASSPORT-NUMBER-12345\r\n")
	ref := spoolOne(t, s, raw)
	e := Entry{Mailbox: "INBOX", UIDValidity: 7, UID: 1, MessageID: "m1", ContentKey: "k1", Size: int64(len(raw))}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.Record(&e, &ref) }); err != nil {
		t.Fatal(err)
	}
	if !e.HasRaw || e.SHA256 != ref.SHA256 {
		t.Errorf("recorded entry %+v, want its raw bytes and their hash", e)
	}
	var got []byte
	err := s.View(ctx, func(tx *Tx) error {
		again, err := tx.EntryByUID("INBOX", 7, 1)
		if err != nil {
			return err
		}
		if !again.HasRaw {
			t.Error("entry read back without raw bytes")
		}
		got, err = tx.MessageRaw(e.ID)
		return err
	})
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("MessageRaw = %q, %v", got, err)
	}

	spool := SpoolPath(path)
	if filepath.Base(spool) != "recoverybot-spool.db" {
		t.Errorf("SpoolPath = %s", spool)
	}
	st, err := os.Stat(spool)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("spool file: %v, %v; want mode 0600", st, err)
	}
	s.Close()
	for _, f := range []string{path, path + "-wal", spool, spool + "-journal"} {
		b, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("PASSPORT-NUMBER")) {
			t.Errorf("%s holds the message in clear", f)
		}
	}
}

func TestSpooledBytesAreCheckedAgainstTheLedger(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	a, b := spoolOne(t, s, []byte("message A")), spoolOne(t, s, []byte("message B"))
	e := Entry{Mailbox: "INBOX", UIDValidity: 1, UID: 1, ContentKey: "a"}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.Record(&e, &a) }); err != nil {
		t.Fatal(err)
	}
	// Point the ledger row at the other spooled message, as a swapped
	// or tampered file would.
	if _, err := s.w.Exec(`UPDATE messages SET raw_id = ? WHERE id = ?`, b.ID, e.ID); err != nil {
		t.Fatal(err)
	}
	err := s.View(ctx, func(tx *Tx) error { _, err := tx.MessageRaw(e.ID); return err })
	if err == nil {
		t.Error("MessageRaw returned the bytes of another message")
	}
}

func TestSweepSpoolDeletesOnlyOldOrphans(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "recoverybot.db")
	s, err := Open(context.Background(), path, testVault(t), Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	recorded := spoolOne(t, s, []byte("recorded"))
	orphan := spoolOne(t, s, []byte("left by a crash"))
	e := Entry{Mailbox: "INBOX", UIDValidity: 1, UID: 1, ContentKey: "r"}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.Record(&e, &recorded) }); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	young := spoolOne(t, s, []byte("being recorded by another process"))

	n, err := s.SweepSpool(ctx, time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("SweepSpool = %d, %v; want 1 orphan deleted", n, err)
	}
	count := func(id int64) int {
		var c int
		if err := s.sr.QueryRow(`SELECT count(*) FROM raw WHERE id = ?`, id).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if count(orphan.ID) != 0 || count(recorded.ID) != 1 || count(young.ID) != 1 {
		t.Errorf("after the sweep: orphan %d, recorded %d, young %d rows; want 0, 1, 1",
			count(orphan.ID), count(recorded.ID), count(young.ID))
	}
	if n, err := s.SweepSpool(ctx, time.Hour); err != nil || n != 0 {
		t.Errorf("second SweepSpool = %d, %v; want nothing more", n, err)
	}
}

func TestOpenRefusesAForeignSpool(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "recoverybot.db")
	db, err := sql.Open("sqlite3", SpoolPath(path))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE notes (body TEXT)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(context.Background(), path, testVault(t), Options{}); !errors.Is(err, ErrNotOurs) {
		t.Errorf("foreign spool: err = %v, want ErrNotOurs", err)
	}
}

func TestSpoolUsesLargePages(t *testing.T) {
	s, _ := openTest(t)
	var size int
	if err := s.sw.QueryRow("PRAGMA page_size").Scan(&size); err != nil || size != 65536 {
		t.Errorf("spool page size %d, %v; want 65536", size, err)
	}
	var mode string
	if err := s.sw.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "truncate" {
		t.Errorf("spool journal mode %q, %v; want truncate", mode, err)
	}
}

func TestGenerationMovesWithCasesAndOutbox(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	addProfile(t, s, "p1", recoverybot.HolderIndividual)
	gen := func() int64 {
		var g int64
		if err := s.View(ctx, func(tx *Tx) error { var err error; g, err = tx.Generation(); return err }); err != nil {
			t.Fatal(err)
		}
		return g
	}
	g0 := gen()
	var caseID int64
	if err := s.Update(ctx, func(tx *Tx) error {
		c, err := newCase(tx, "p1", recoverybot.KindLostEmail)
		caseID = c.ID
		return err
	}); err != nil {
		t.Fatal(err)
	}
	g1 := gen()
	if g1 == g0 {
		t.Error("opening a case left the generation as it was")
	}
	if err := s.Update(ctx, func(tx *Tx) error {
		_, err := tx.Enqueue(OutgoingMail{CaseID: caseID, Template: "instructions", MessageID: "gen@example.net",
			From: "contact@example.net", To: "p1@example.org", Raw: []byte("x")})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	g2 := gen()
	if g2 == g1 {
		t.Error("queueing a mail left the generation as it was")
	}
	g1 = g2
	e := Entry{Mailbox: "INBOX", UIDValidity: 1, UID: 1, ContentKey: "x"}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.Record(&e, nil) }); err != nil {
		t.Fatal(err)
	}
	if gen() != g1 {
		t.Error("recording a message changed the generation")
	}
}
