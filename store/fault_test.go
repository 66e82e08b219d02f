package store

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/recoverybot/recoverybot/internal/fault"
	"github.com/recoverybot/recoverybot/internal/tmpdisk"
)

func putRandomBlob(s *Store, n int) error {
	b := make([]byte, n)
	rand.Read(b)
	return s.Update(context.Background(), func(tx *Tx) error {
		_, _, err := tx.PutBlob(BlobOutgoing, b)
		return err
	})
}

// TestFullDiskSaysDiskFull: a write to a database on a full file system
// fails with cause disk_full, the probe says so, and both work again once
// space returns.
func TestFullDiskSaysDiskFull(t *testing.T) {
	disk := tmpdisk.Mount(t, 4<<20)
	s, err := Open(context.Background(), filepath.Join(disk.Dir(), "recoverybot.db"), testVault(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	disk.Fill()
	err = putRandomBlob(s, 256<<10)
	if got := fault.Of(err); got != fault.DiskFull {
		t.Fatalf("write on a full disk: %v, cause %q, want disk_full", err, got)
	}
	disk.Free()
	if err := putRandomBlob(s, 256<<10); err != nil {
		t.Fatalf("write once space returned: %v", err)
	}
	if err := s.Probe(context.Background()); err != nil {
		t.Fatalf("probe once space returned: %v", err)
	}
}

// TestReadOnlyFileSystemSaysReadOnly: opening the database on a file
// system mounted read-only fails with cause read_only.
func TestReadOnlyFileSystemSaysReadOnly(t *testing.T) {
	disk := tmpdisk.Mount(t, 8<<20)
	file := filepath.Join(disk.Dir(), "recoverybot.db")
	s, err := Open(context.Background(), file, testVault(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	disk.ReadOnly(true)
	t.Cleanup(func() { disk.ReadOnly(false) })
	_, err = Open(context.Background(), file, testVault(t), Options{})
	if got := fault.Of(err); got != fault.ReadOnly {
		t.Fatalf("open on a read-only file system: %v, cause %q, want read_only", err, got)
	}
}

// TestCorruptDatabaseSaysDatabaseCorrupt: a file that is not a database,
// or whose pages are trashed, fails with cause database_corrupt.
func TestCorruptDatabaseSaysDatabaseCorrupt(t *testing.T) {
	garbage := filepath.Join(t.TempDir(), "garbage.db")
	junk := make([]byte, 16<<10)
	for i := range junk {
		junk[i] = byte(i * 7)
	}
	os.WriteFile(garbage, junk, 0o600)
	_, err := Open(context.Background(), garbage, testVault(t), Options{})
	if got := fault.Of(err); got != fault.DatabaseCorrupt {
		t.Errorf("garbage file: %v, cause %q, want database_corrupt", err, got)
	}
}
