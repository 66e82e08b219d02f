package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/recoverybot/recoverybot"
)

// TestBackupRoundTrip: a backup made while another handle writes, and a
// message recorded before it is decided between the copies of the two
// databases, restores to the moment of its snapshot: the case, its
// document, the audit chain, and the raw bytes of the message the
// snapshot has still to decide; not the spooled mail no row points at.
func TestBackupRoundTrip(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	addProfile(t, s, "p-1", recoverybot.HolderIndividual)
	scan := []byte("\xff\xd8\xff\xe0 identity card \xff\xd9")
	var c recoverybot.Case
	doc := recoverybot.Document{Type: recoverybot.DocIdentity, Filename: "cni.jpg", MediaType: "image/jpeg"}
	if err := s.Update(ctx, func(tx *Tx) error {
		var err error
		if c, err = newCase(tx, "p-1", recoverybot.KindIPLockout); err != nil {
			return err
		}
		if err := tx.AddDocument(c.ID, 0, 1, &doc, scan); err != nil {
			return err
		}
		return tx.Audit(c.ID, "alice", "case_opened", nil)
	}); err != nil {
		t.Fatal(err)
	}
	raw := []byte("From: a@example.org\r\n\r\nnot decided yet\r\n")
	ref := spoolOne(t, s, raw)
	e := Entry{Mailbox: "INBOX", UIDValidity: 7, UID: 1, MessageID: "m1", ContentKey: "k1", Size: int64(len(raw))}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.Record(&e, &ref) }); err != nil {
		t.Fatal(err)
	}
	spoolOne(t, s, []byte("spooled, never recorded: tied to nothing"))

	// Another process: it writes all along, and decides the message once
	// the database is copied, which drops it from the spool at once but
	// for the backup.
	other, err := Open(ctx, path, testVault(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	written := 0
	first := make(chan struct{}) // closed after the writer's first commit
	go func() {
		defer wg.Done()
		defer func() {
			if written == 0 {
				close(first)
			}
		}()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := other.Update(ctx, func(tx *Tx) error { return tx.Audit(0, "bob", "profiles_imported", nil) }); err != nil {
				t.Error(err)
				return
			}
			written++
			if written == 1 {
				close(first)
			}
		}
	}()
	<-first // the backup begins with the writer under way
	s.backupHook = func() {
		if err := other.Update(ctx, func(tx *Tx) error {
			return tx.Decide(e.ID, Decided{Status: LedgerIgnored, ParserVersion: 1})
		}); err != nil {
			t.Error(err)
		}
	}
	dir := filepath.Join(t.TempDir(), "backups", "today")
	res, err := s.Backup(ctx, dir)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if written == 0 {
		t.Error("the writer wrote nothing during the backup")
	}
	if len(res.Files) != 2 || res.Files[0].Path != filepath.Join(dir, "recoverybot.db") ||
		res.Files[1].Path != filepath.Join(dir, "recoverybot-spool.db") || res.Messages != 1 {
		t.Fatalf("Backup = %+v", res)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("backup directory holds %v, want the two databases only", entries)
	}
	for _, f := range res.Files {
		st, err := os.Stat(f.Path)
		if err != nil || st.Mode().Perm() != 0o600 || st.Size() != f.Size || f.Size == 0 {
			t.Errorf("%s: %v, %v; want mode 0600, size %d", f.Path, st, err, f.Size)
		}
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("backup directory mode %v, want 0700", st.Mode().Perm())
	}

	// Restore: the files into an empty data directory, with the keys.
	restored := filepath.Join(t.TempDir(), "recoverybot.db")
	for _, f := range res.Files {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(filepath.Dir(restored), filepath.Base(f.Path)), b, 0o600)
	}
	r, err := Open(ctx, restored, testVault(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n, err := r.VerifyAudit(ctx)
	if err != nil || n < 2 {
		t.Errorf("VerifyAudit of the restored store = %d, %v", n, err)
	}
	err = r.View(ctx, func(tx *Tx) error {
		got, err := tx.CaseByRef(c.Ref)
		if err != nil || got.ID != c.ID || got.State != c.State {
			t.Errorf("restored case %+v, %v; want %+v", got, err, c)
		}
		_, b, err := tx.DocumentBytes(c.ID, doc.SHA256)
		if err != nil || !bytes.Equal(b, scan) {
			t.Errorf("restored document %q, %v", b, err)
		}
		again, err := tx.EntryByUID("INBOX", 7, 1)
		if err != nil || again.Status != LedgerReceived {
			t.Errorf("restored entry %+v, %v: want it as the snapshot had it, received", again, err)
		}
		b, err = tx.MessageRaw(e.ID)
		if err != nil || !bytes.Equal(b, raw) {
			t.Errorf("restored raw message %q, %v", b, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var rows int
	r.sr.QueryRow(`SELECT count(*) FROM raw`).Scan(&rows)
	if rows != 1 {
		t.Errorf("restored spool holds %d rows, want only the one the ledger points at", rows)
	}

	// What the decision left in the live spool during the backup, the
	// spool sweep deletes.
	if n, err := s.SweepSpool(ctx, -1); err != nil || n != 2 {
		t.Errorf("SweepSpool after the backup = %d, %v; want the decided and the unrecorded message", n, err)
	}
}

// TestBackupRefuses: a directory holding a backup, or one that cannot be
// made, is refused in one line, and nothing is left behind.
func TestBackupRefuses(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := s.Backup(ctx, dir); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "recoverybot.db"))
	_, err := s.Backup(ctx, dir)
	if !errors.Is(err, ErrBackupExists) || !strings.Contains(err.Error(), filepath.Join(dir, "recoverybot.db")+" exists") {
		t.Errorf("second backup into %s: %v", dir, err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "recoverybot.db")); !bytes.Equal(before, after) {
		t.Error("the refused backup changed the first one")
	}
	// The spool's name alone is enough to refuse.
	spoolOnly := t.TempDir()
	os.WriteFile(filepath.Join(spoolOnly, "recoverybot-spool.db"), []byte("old"), 0o600)
	if _, err := s.Backup(ctx, spoolOnly); !errors.Is(err, ErrBackupExists) {
		t.Errorf("backup beside an old spool: %v", err)
	}
	if _, err := os.Stat(filepath.Join(spoolOnly, "recoverybot.db")); err == nil {
		t.Error("a refused backup left a database")
	}

	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, nil, 0o600)
	if _, err := s.Backup(ctx, filepath.Join(file, "backup")); err == nil || !strings.Contains(err.Error(), "not a directory") ||
		strings.Contains(err.Error(), "\n") {
		t.Errorf("backup under a file: %v", err)
	}
	if os.Getuid() != 0 {
		ro := t.TempDir()
		os.Chmod(ro, 0o500)
		defer os.Chmod(ro, 0o700)
		if _, err := s.Backup(ctx, ro); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("backup into a read-only directory: %v", err)
		}
	}
}
