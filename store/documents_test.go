package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"slices"
	"testing"

	"github.com/recoverybot/recoverybot"
)

// TestDocumentsUniquePerCaseMessageAndBytes: a document is stored once
// per (case, message, SHA-256); the same bytes from two messages are
// listed once, with both messages, and sealed once.
func TestDocumentsUniquePerCaseMessageAndBytes(t *testing.T) {
	s, _ := openTest(t)
	addProfile(t, s, "p1", recoverybot.HolderIndividual)
	ctx := context.Background()
	jpeg := []byte("\xff\xd8\xff the same photo")
	pdf := []byte("%PDF-1.4 another file")
	var caseID int64
	var msgs [2]int64
	err := s.Update(ctx, func(tx *Tx) error {
		c, err := newCase(tx, "p1", recoverybot.KindLostEmail)
		if err != nil {
			return err
		}
		caseID = c.ID
		for i := range msgs {
			e := Entry{Mailbox: "INBOX", UIDValidity: 1, UID: uint32(i + 1), ContentKey: "k" + string(rune('a'+i))}
			if err := tx.Record(&e, nil); err != nil {
				return err
			}
			msgs[i] = e.ID
		}
		add := func(msg int64, name string, data []byte) (int64, error) {
			d := recoverybot.Document{Type: recoverybot.DocIdentity, Filename: name, MediaType: "image/jpeg"}
			err := tx.AddDocument(caseID, msg, 1, &d, data)
			return d.ID, err
		}
		first, err := add(msgs[0], "cni.jpg", jpeg)
		if err != nil {
			return err
		}
		// The same part twice in one message, or the message decided
		// again: one row.
		again, err := add(msgs[0], "cni (1).jpg", jpeg)
		if err != nil {
			return err
		}
		if again != first {
			t.Errorf("the same bytes in the same message made a second row %d (first %d)", again, first)
		}
		if _, err := add(msgs[1], "photo.jpg", jpeg); err != nil {
			return err
		}
		_, err = add(msgs[1], "kbis.pdf", pdf)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx *Tx) error {
		docs, err := tx.Documents(caseID)
		if err != nil {
			return err
		}
		if len(docs) != 2 {
			t.Fatalf("%d documents listed, want 2: %+v", len(docs), docs)
		}
		sum := sha256.Sum256(jpeg)
		if docs[0].SHA256 != hex.EncodeToString(sum[:]) || docs[0].Filename != "cni.jpg" || !slices.Equal(docs[0].Messages, msgs[:]) {
			t.Errorf("the photo sent twice: %s %s messages %v, want messages %v", docs[0].Filename, docs[0].SHA256, docs[0].Messages, msgs)
		}
		if !slices.Equal(docs[1].Messages, msgs[1:]) {
			t.Errorf("the PDF: messages %v", docs[1].Messages)
		}
		var rows, blobs int
		if err := tx.tx.QueryRow(`SELECT count(*), count(DISTINCT blob_id) FROM documents WHERE case_id = ?`, caseID).Scan(&rows, &blobs); err != nil {
			return err
		}
		if rows != 3 || blobs != 2 {
			t.Errorf("%d rows and %d sealed copies, want 3 rows (one per message) and 2 copies", rows, blobs)
		}
		_, data, err := tx.DocumentBytes(caseID, docs[0].SHA256)
		if err != nil || string(data) != string(jpeg) {
			t.Errorf("document bytes: %q, %v", data, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The database refuses a second row too, whatever the code above it.
	err = s.Update(ctx, func(tx *Tx) error {
		_, err := tx.tx.Exec(`INSERT INTO documents (case_id, message_id, type, filename, media_type, size, sha256, created_at)
			SELECT case_id, message_id, type, filename, media_type, size, sha256, created_at FROM documents WHERE case_id = ? LIMIT 1`, caseID)
		return err
	})
	if err == nil {
		t.Error("a duplicate (case, message, sha256) row was accepted")
	}
}

// TestMigrationDropsDuplicateDocuments: a database of schema 4 holding
// the same document twice for one message (as two instances on one data
// directory made) keeps the first row and drops the second, with its
// sealed bytes.
func TestMigrationDropsDuplicateDocuments(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "recoverybot.db")
	db := schemaAt(t, path, 4)
	const at = "2026-01-01T00:00:00.000000000Z"
	for _, q := range []string{
		`INSERT INTO profiles (id, email, holder_kind, holder_name, created_at, updated_at)
			VALUES ('p1', 'jean@example.org', 'individual', 'Jean', '` + at + `', '` + at + `')`,
		`INSERT INTO cases (id, ref, profile_id, kind, contact, state, opened_by, opened_at, updated_at)
			VALUES (1, 'RC-7KQ2M9', 'p1', 'lost-email', 'new@example.org', 'awaiting_evidence', 'alice', '` + at + `', '` + at + `')`,
		`INSERT INTO messages (id, mailbox, uid_validity, uid, content_key, size, fetched_at)
			VALUES (1, 'INBOX', 1, 1, 'k', 10, '` + at + `')`,
		`INSERT INTO blobs (id, kind, sha256, size, sealed, created_at) VALUES (1, 'document', 'aa', 5, x'00', '` + at + `')`,
		`INSERT INTO blobs (id, kind, sha256, size, sealed, created_at) VALUES (2, 'document', 'aa', 5, x'00', '` + at + `')`,
		`INSERT INTO documents (case_id, message_id, type, filename, media_type, size, sha256, blob_id, created_at)
			VALUES (1, 1, 'identity_document', 'cni.jpg', 'image/jpeg', 5, 'aa', 1, '` + at + `')`,
		`INSERT INTO documents (case_id, message_id, type, filename, media_type, size, sha256, blob_id, created_at)
			VALUES (1, 1, 'identity_document', 'copy.jpg', 'image/jpeg', 5, 'aa', 2, '` + at + `')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	s2, err := Open(ctx, path, testVault(t), Options{})
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	defer s2.Close()
	var rows, blobs int
	var name string
	if err := s2.w.QueryRow(`SELECT count(*), min(filename) FROM documents`).Scan(&rows, &name); err != nil {
		t.Fatal(err)
	}
	if err := s2.w.QueryRow(`SELECT count(*) FROM blobs WHERE kind = 'document'`).Scan(&blobs); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || name != "cni.jpg" || blobs != 1 {
		t.Errorf("after the migration: %d rows (%s), %d sealed copies; want the first row and its bytes alone", rows, name, blobs)
	}
}
