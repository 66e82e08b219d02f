package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
)

// sealedInSpool reads the sealed bytes of a spool row straight from the
// spool file.
func sealedInSpool(t *testing.T, path string, id int64) []byte {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+SpoolPath(path)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sealed []byte
	if err := db.QueryRow(`SELECT sealed FROM raw WHERE id = ?`, id).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	return sealed
}

func spoolRows(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.sr.QueryRow(`SELECT count(*) FROM raw`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDecidingMailTiedToNoCaseDropsItsRawCopy(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	raw := []byte("From: a@example.org\r\nSubject: invoice\r\n\r\nMY-INVOICE-QUESTION-98765\r\n")
	ref := spoolOne(t, s, raw)
	sealed := sealedInSpool(t, path, ref.ID)
	e := Entry{Mailbox: "INBOX", UIDValidity: 7, UID: 1, MessageID: "m1", ContentKey: "k1", Size: int64(len(raw))}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.Record(&e, &ref) }); err != nil {
		t.Fatal(err)
	}
	date := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	err := s.Update(ctx, func(tx *Tx) error {
		return tx.Decide(e.ID, Decided{Status: LedgerIgnored, Reason: "not about a case", Sender: "a@example.org", Date: date})
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := spoolRows(t, s); n != 0 {
		t.Errorf("spool keeps %d rows after the decision", n)
	}
	err = s.View(ctx, func(tx *Tx) error {
		got, err := tx.Entry(e.ID)
		if err != nil {
			return err
		}
		if got.HasRaw || got.Sender != "a@example.org" || !got.Date.Equal(date) || got.Size != int64(len(raw)) ||
			got.MessageID != "m1" || got.UID != 1 {
			t.Errorf("ledger row = %+v, want UID, Message-ID, sender, date and size, no raw copy", got)
		}
		if _, err := tx.MessageRaw(e.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("MessageRaw = %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// secure_delete: the ciphertext is not left in a free page either.
	file, err := os.ReadFile(SpoolPath(path))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(file, sealed[len(sealed)/2:len(sealed)/2+32]) || bytes.Contains(file, raw) {
		t.Error("the spool file still holds the dropped message's bytes")
	}
}

// A message tied to a case leaves the spool at its decision, sealed again
// under the case's own key: destroying that key at the purge destroys it.
func TestMailTiedToACaseIsSealedUnderTheCaseKey(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	p := addProfile(t, s, "p-1", recoverybot.HolderIndividual)
	raw := []byte("From: jean@example.org\r\n\r\nmy documents\r\n")
	ref := spoolOne(t, s, raw)
	e := Entry{Mailbox: "INBOX", UIDValidity: 7, UID: 1, MessageID: "m1", ContentKey: "k1", Size: int64(len(raw)), SHA256: sumOf(raw)}
	var c recoverybot.Case
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.Record(&e, &ref); err != nil {
			return err
		}
		var err error
		if c, err = newCase(tx, p.ID, recoverybot.KindTOTPLockout); err != nil {
			return err
		}
		return tx.Decide(e.ID, Decided{Status: LedgerProcessed, CaseID: c.ID, MoveTo: "Recovery/Processed"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := spoolRows(t, s); n != 0 {
		t.Errorf("spool has %d rows, want the tied message moved out of it", n)
	}
	err = s.View(ctx, func(tx *Tx) error {
		got, err := tx.MessageRaw(e.ID)
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("MessageRaw = %q, %v; want the message", got, err)
		}
		var blobCase sql.NullInt64
		var sealed []byte
		if err := tx.tx.QueryRow(`SELECT b.case_id, b.sealed FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.id = ?`, e.ID).Scan(&blobCase, &sealed); err != nil {
			return err
		}
		if blobCase.Int64 != c.ID {
			t.Errorf("message blob sealed under case %v, want %d", blobCase, c.ID)
		}
		if _, err := s.vault.Open(sealed, blobAD(BlobMessage, sumOf(raw))); err == nil {
			t.Error("the message opens with the storage key, want only the case's")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func sumOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestDropUntiedDeletesRawCopiesKeptBefore(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	raw := []byte("From: a@example.org\r\n\r\nold ordinary mail\r\n")
	ref := spoolOne(t, s, raw)
	e := Entry{Mailbox: "INBOX", UIDValidity: 7, UID: 1, MessageID: "m1", ContentKey: "k1", Size: int64(len(raw))}
	// A row decided before Decide dropped raw copies, as schema 7 left it.
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.Record(&e, &ref); err != nil {
			return err
		}
		_, err := tx.tx.Exec(`UPDATE messages SET status = 'ignored' WHERE id = ?`, e.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.DropUntied(ctx)
	if err != nil || n != 1 {
		t.Fatalf("DropUntied = %d, %v; want 1", n, err)
	}
	if rows := spoolRows(t, s); rows != 0 {
		t.Errorf("spool keeps %d rows", rows)
	}
	if n, err := s.DropUntied(ctx); err != nil || n != 0 {
		t.Errorf("second DropUntied = %d, %v; want 0", n, err)
	}
}
