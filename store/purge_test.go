package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/vault"
)

// purgeCaseFixture is a case with one message (spooled, tied) and one
// document, the bytes of both unique to it.
type purgeCaseFixture struct {
	c        recoverybot.Case
	entry    Entry
	doc      []byte
	raw      []byte
	docBlob  []byte // the document's sealed bytes, as stored
	spooled  []byte // the message's sealed bytes, as spooled before its decision
	rawBlob  []byte // the message's sealed bytes, under the case's key after it
	document recoverybot.Document
}

func addPurgeCase(t *testing.T, s *Store, path, profile string, uid uint32) *purgeCaseFixture {
	t.Helper()
	ctx := context.Background()
	f := &purgeCaseFixture{doc: bytes.Repeat([]byte("PASSPORT-"+profile+"-"), 400)}
	f.raw = []byte("From: " + profile + "@example.org\r\nSubject: my ID\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(f.doc) + "\r\n")
	ref := spoolOne(t, s, f.raw)
	f.spooled = sealedInSpool(t, path, ref.ID)
	f.entry = Entry{Mailbox: "INBOX", UIDValidity: 1, UID: uid, MessageID: profile + "@m", ContentKey: profile, Size: int64(len(f.raw))}
	err := s.Update(ctx, func(tx *Tx) error {
		var err error
		if f.c, err = newCase(tx, profile, recoverybot.KindLostEmail); err != nil {
			return err
		}
		if err := tx.Record(&f.entry, &ref); err != nil {
			return err
		}
		if err := tx.Decide(f.entry.ID, Decided{Status: LedgerProcessed, CaseID: f.c.ID, MoveTo: "Recovery/Processed"}); err != nil {
			return err
		}
		f.document = recoverybot.Document{Type: recoverybot.DocIdentity, Filename: "cni.jpg", MediaType: "image/jpeg"}
		if err := tx.AddDocument(f.c.ID, f.entry.ID, 1, &f.document, f.doc); err != nil {
			return err
		}
		if err := tx.tx.QueryRow(`SELECT sealed FROM blobs WHERE case_id = ? AND kind = ?`, f.c.ID, string(BlobMessage)).Scan(&f.rawBlob); err != nil {
			return err
		}
		return tx.tx.QueryRow(`SELECT sealed FROM blobs WHERE case_id = ? AND kind = ?`, f.c.ID, string(BlobDocument)).Scan(&f.docBlob)
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func closeCase(t *testing.T, s *Store, c recoverybot.Case, at time.Time) {
	t.Helper()
	c.State, c.DecidedBy, c.DecidedAt, c.UpdatedAt = recoverybot.StateApproved, "alice", &at, at
	if err := s.Update(context.Background(), func(tx *Tx) error { return tx.UpdateCase(c) }); err != nil {
		t.Fatal(err)
	}
}

// filesOf reads every file of dir (database, WAL, spool, journal, keys).
func filesOf(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// openPurgeStore opens a store in a data directory of its own, on a
// clock fixed at clock; it is closed at the end of the test.
func openPurgeStore(t *testing.T, clock time.Time) (*Store, string, *vault.Vault) {
	t.Helper()
	dir := t.TempDir()
	v, err := vault.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), filepath.Join(dir, "recoverybot.db"), v, Options{Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir, v
}

func TestPurgeMakesAClosedCaseUnrecoverableAndLeavesOpenOnesAlone(t *testing.T) {
	clock := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s, dir, v := openPurgeStore(t, clock)
	path := filepath.Join(dir, "recoverybot.db")
	ctx := context.Background()
	addProfile(t, s, "closed", recoverybot.HolderIndividual)
	addProfile(t, s, "open", recoverybot.HolderIndividual)
	closed := addPurgeCase(t, s, path, "closed", 1)
	open := addPurgeCase(t, s, path, "open", 2)
	closeCase(t, s, closed.c, clock)

	retention := 30 * 24 * time.Hour
	// Not yet due: nothing happens.
	if got, err := s.Purge(ctx, clock.Add(retention-time.Second), retention); err != nil || got.Cases != 0 {
		t.Fatalf("early Purge = %+v, %v; want nothing purged", got, err)
	}
	purgeAt := clock.Add(retention)
	got, err := s.Purge(ctx, purgeAt, retention)
	if err != nil {
		t.Fatal(err)
	}
	if got != (PurgeCounts{Cases: 1, Documents: 1, Messages: 1}) {
		t.Errorf("Purge = %+v, want 1 case, 1 document, 1 message", got)
	}

	err = s.View(ctx, func(tx *Tx) error {
		d, data, err := tx.DocumentBytes(closed.c.ID, closed.document.SHA256)
		if !errors.Is(err, ErrPurged) || !errors.Is(err, ErrNotFound) || data != nil || !strings.Contains(err.Error(), "2026-12-31") {
			t.Errorf("purged document: %d bytes, %v; want ErrPurged on 2026-12-31", len(data), err)
		}
		if d.SHA256 != closed.document.SHA256 || d.Size != int64(len(closed.doc)) || d.Type != recoverybot.DocIdentity || !d.Purged {
			t.Errorf("purged document's metadata = %+v, want type, size and SHA-256 kept", d)
		}
		if _, err := tx.MessageRaw(closed.entry.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("purged message: %v, want ErrNotFound", err)
		}
		if at, err := tx.PurgedAt(closed.c.ID); err != nil || at == nil || !at.Equal(purgeAt) {
			t.Errorf("PurgedAt = %v, %v", at, err)
		}
		events, err := tx.AuditEvents(AuditFilter{CaseID: closed.c.ID})
		if err != nil {
			return err
		}
		last := events[len(events)-1]
		if last.Action != "case_purged" || last.Details["documents"] != "1" || last.Details["messages"] != "1" {
			t.Errorf("last audit event = %+v, want case_purged with counts", last)
		}
		// The open case is whole.
		_, data, err = tx.DocumentBytes(open.c.ID, open.document.SHA256)
		if err != nil || !bytes.Equal(data, open.doc) {
			t.Errorf("open case's document = %d bytes, %v", len(data), err)
		}
		if raw, err := tx.MessageRaw(open.entry.ID); err != nil || !bytes.Equal(raw, open.raw) {
			t.Errorf("open case's message = %d bytes, %v", len(raw), err)
		}
		if at, err := tx.PurgedAt(open.c.ID); err != nil || at != nil {
			t.Errorf("open case PurgedAt = %v, %v", at, err)
		}
		// The ciphertext kept in a backup opens with none of the keys
		// left: not the storage key, not another case's.
		if _, err := v.Open(closed.docBlob, blobAD(BlobDocument, closed.document.SHA256)); err == nil {
			t.Error("the purged document opens with the storage key")
		}
		box, err := tx.caseBox(open.c.ID, false)
		if err != nil {
			return err
		}
		if _, err := box.Open(closed.docBlob, blobAD(BlobDocument, closed.document.SHA256)); err == nil {
			t.Error("the purged document opens with another case's key")
		}
		if _, err := tx.caseBox(closed.c.ID, false); !errors.Is(err, ErrPurged) {
			t.Errorf("closed case's key: %v, want ErrPurged", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// No copy of the purged bytes anywhere in the data directory: not
	// in the database, its WAL, the spool or its journal.
	needles := map[string][]byte{"document": closed.doc[:64], "sealed document": closed.docBlob[40:104],
		"sealed message": closed.rawBlob[40:104], "spooled message": closed.spooled[40:104], "message": closed.raw[:40]}
	for _, line := range strings.Split(base64.StdEncoding.EncodeToString(closed.doc), "\n")[:1] {
		needles["base64 line"] = []byte(line[:76])
	}
	check := func(when string) {
		var all []byte
		for file, b := range filesOf(t, dir) {
			all = append(all, b...)
			for what, n := range needles {
				if bytes.Contains(b, n) {
					t.Errorf("%s: %s holds the purged %s", when, filepath.Base(file), what)
				}
			}
		}
		if !bytes.Contains(all, open.docBlob[40:104]) || !bytes.Contains(all, open.rawBlob[40:104]) {
			t.Errorf("%s: the open case's sealed document or message is nowhere", when)
		}
	}
	check("after purge")

	// Idempotent: a second purge changes nothing.
	again, err := s.Purge(ctx, purgeAt.Add(time.Hour), retention)
	if err != nil || again != (PurgeCounts{}) {
		t.Errorf("second Purge = %+v, %v; want nothing", again, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check("after close")
}

// A closed case with rows that hold no bytes (a message too large to
// download, recorded from its header) is purged like any other, and so
// is a purged case that got mail again since: neither stops the purge
// of the cases after it.
func TestPurgeCasesWithRowsWithoutBytes(t *testing.T) {
	clock := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s, dir, _ := openPurgeStore(t, clock)
	path := filepath.Join(dir, "recoverybot.db")
	ctx := context.Background()
	addProfile(t, s, "big", recoverybot.HolderIndividual)
	addProfile(t, s, "next", recoverybot.HolderIndividual)
	big := addPurgeCase(t, s, path, "big", 1)
	next := addPurgeCase(t, s, path, "next", 2)
	oversized := Entry{Mailbox: "INBOX", UIDValidity: 1, UID: 3, MessageID: "huge@m", ContentKey: "huge", Size: 90 << 20}
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.Record(&oversized, nil); err != nil {
			return err
		}
		return tx.Decide(oversized.ID, Decided{Status: LedgerReview, Reason: "too large", CaseID: big.c.ID, MoveTo: "Recovery/Review"})
	})
	if err != nil {
		t.Fatal(err)
	}
	closeCase(t, s, big.c, clock)
	closeCase(t, s, next.c, clock)
	got, err := s.Purge(ctx, clock, 0)
	if err != nil || got.Cases != 2 || got.Documents != 2 || got.Messages != 2 {
		t.Fatalf("Purge = %+v, %v; want both cases purged, 2 documents, 2 messages", got, err)
	}

	// Mail about the purged case arrives again: it is kept until the
	// next purge, which takes it, although the case's old rows hold
	// nothing any more.
	raw := []byte("From: big@example.org\r\nSubject: again\r\n\r\nanother scan\r\n")
	ref := spoolOne(t, s, raw)
	again := Entry{Mailbox: "INBOX", UIDValidity: 1, UID: 4, MessageID: "again@m", ContentKey: "again", Size: int64(len(raw))}
	err = s.Update(ctx, func(tx *Tx) error {
		if err := tx.Record(&again, &ref); err != nil {
			return err
		}
		return tx.Decide(again.ID, Decided{Status: LedgerProcessed, CaseID: big.c.ID, MoveTo: "Recovery/Processed"})
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err = s.Purge(ctx, clock.Add(time.Hour), 0)
	if err != nil || got.Cases != 1 || got.Messages != 1 {
		t.Fatalf("second Purge = %+v, %v; want the new message of the purged case purged", got, err)
	}
	err = s.View(ctx, func(tx *Tx) error {
		if _, err := tx.MessageRaw(again.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("the new message after the second purge: %v, want it gone", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
