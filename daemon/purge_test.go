package daemon_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/config"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/internal/testfiles"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

// filesUnder reads every file under dir.
func filesUnder(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[p] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sealedDocument reads, straight from the database file, the ciphertext
// of a case's document: what a backup or a free page would hold.
func sealedDocument(t *testing.T, dbFile, sha string) []byte {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+dbFile+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sealed []byte
	if err := db.QueryRow(`SELECT sealed FROM blobs WHERE kind = 'document' AND sha256 = ?`, sha).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	return sealed
}

// opensWithKeysLeft tries to open a document's ciphertext with every key
// the data directory holds: the storage key, and each case key still
// wrapped in the database (in the store's sealing format).
func opensWithKeysLeft(t *testing.T, dataDir, dbFile, sha string, ciphertext []byte) bool {
	t.Helper()
	v, err := vault.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	ad := []byte("recoverybot blob\x00document\x00" + sha)
	if _, err := v.Open(ciphertext, ad); err == nil {
		return true
	}
	db, err := sql.Open("sqlite3", "file:"+dbFile+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT case_id, wrapped FROM case_keys`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var wrapped []byte
		if err := rows.Scan(&id, &wrapped); err != nil {
			t.Fatal(err)
		}
		key, err := v.Open(wrapped, []byte("recoverybot case key\x00"+strconv.FormatInt(id, 10)))
		if err != nil {
			t.Fatalf("case key %d does not unwrap: %v", id, err)
		}
		box, err := vault.NewBox(key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := box.Open(ciphertext, ad); err == nil {
			return true
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return false
}

// TestPurgeLeavesNoCopyAnywhere is the purge of SPEC §8 on a real SQLite
// file, a real data directory and a real Dovecot: a closed case's
// document and message are gone from the store (the document's
// ciphertext opens with no key left), from every file of data_dir and
// from every IMAP folder, its metadata stays, and an open case beside it
// keeps everything.
func TestPurgeLeavesNoCopyAnywhere(t *testing.T) {
	e := start(t, func(c *config.Config) { c.Policy.Retention = 0 })
	ctx := context.Background()
	closedDoc := testfiles.JPEG(bytes.Repeat([]byte("CLOSED-CASE-SCAN"), 400))
	openDoc := testfiles.JPEG(bytes.Repeat([]byte("OPEN-CASE-SCAN!!"), 400))
	closed := e.open("p-ind", recoverybot.KindLostEmail, "jean.new@elsewhere.example")
	open := e.open("p-co", recoverybot.KindLostEmail, "marie.new@elsewhere.example")
	e.once()
	for _, c := range []struct {
		s    desk.Summary
		doc  []byte
		text string
	}{{closed, closedDoc, "Bonjour, ma carte CLOSED-CASE-BODY"}, {open, openDoc, "Bonjour, mes documents OPEN-CASE-BODY"}} {
		files := map[string][]byte{"cni.jpg": c.doc}
		if c.s.Profile == "p-co" {
			files["kbis.pdf"] = pdf
		}
		e.deliver(letter{from: c.s.Contact, subject: "[" + c.s.Ref + "] recovery", text: c.text,
			auth: []string{pass(domainOf(c.s.Contact))}, files: files}.bytes())
	}
	if r := e.once(); r.Processed != 2 || r.Moved != 2 {
		t.Fatalf("run = %+v, want both messages processed and moved", r)
	}
	closedShown, openShown := e.show(closed.Ref), e.show(open.Ref)
	if len(closedShown.Documents) != 1 || len(openShown.Documents) != 2 {
		t.Fatalf("documents: %d and %d", len(closedShown.Documents), len(openShown.Documents))
	}
	closedSHA := closedShown.Documents[0].SHA256
	dbFile := filepath.Join(e.cfg.DataDir, "recoverybot.db")
	ciphertext := sealedDocument(t, dbFile, closedSHA)
	if !opensWithKeysLeft(t, e.cfg.DataDir, dbFile, closedSHA, ciphertext) {
		t.Fatal("before the purge, the document's ciphertext does not open: the check below proves nothing")
	}
	if _, err := e.desk.Approve(ctx, desk.ApproveRequest{Ref: closed.Ref, By: "bob"}); err != nil {
		t.Fatal(err)
	}
	e.once()

	run, err := e.d.Scheduler().Run(ctx, "purge")
	if err != nil || run.Outcome != store.RunOK {
		t.Fatalf("sweep purge = %+v, %v", run, err)
	}
	if run.Counts["cases"] != 1 || run.Counts["documents"] != 1 || run.Counts["messages"] != 1 || run.Counts["expunged"] != 1 {
		t.Errorf("purge counts = %v, want 1 case, 1 document, 1 message, 1 expunged", run.Counts)
	}

	// The store: the document is gone, its metadata stays, the case says
	// when.
	if _, data, err := e.desk.DownloadDocument(ctx, closed.Ref, closedSHA, "alice"); !errors.Is(err, store.ErrPurged) || data != nil {
		t.Errorf("cases document after the purge: %d bytes, %v; want purged", len(data), err)
	}
	got := e.show(closed.Ref)
	if got.PurgedAt == nil || len(got.Documents) != 1 || got.Documents[0].SHA256 != closedSHA || !got.Documents[0].Purged {
		t.Errorf("purged case shows purged_at %v, documents %+v", got.PurgedAt, got.Documents)
	}
	if opensWithKeysLeft(t, e.cfg.DataDir, dbFile, closedSHA, ciphertext) {
		t.Error("the purged document's ciphertext opens with a key left in the data directory")
	}

	// No copy of its bytes, in clear or in base64, and no ciphertext in
	// data_dir (database, WAL, spool, keys) or in any IMAP folder.
	b64 := base64.StdEncoding.EncodeToString(closedDoc)
	needles := map[string][]byte{
		"document bytes": closedDoc[len(closedDoc)/2 : len(closedDoc)/2+64],
		"base64 line":    []byte(b64[76*4 : 76*5]),
		"message body":   []byte("CLOSED-CASE-BODY"),
		"ciphertext":     ciphertext[len(ciphertext)/2 : len(ciphertext)/2+64],
	}
	openNeedles := map[string][]byte{"open body": []byte("OPEN-CASE-BODY")}
	imapText, err := e.dovecot.Doveadm("fetch", "-u", e.dovecot.User(), "text", "mailbox", "*", "all")
	if err != nil {
		t.Fatal(err)
	}
	places := filesUnder(t, e.cfg.DataDir)
	places["IMAP folders"] = imapText
	for name, b := range filesUnder(t, filepath.Join(e.dovecot.Dir(), "home")) {
		places[name] = b
	}
	for place, b := range places {
		for what, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("%s holds the purged %s", place, what)
			}
		}
	}
	if !bytes.Contains(imapText, openNeedles["open body"]) {
		t.Error("the open case's message is no longer in the IMAP folders")
	}

	// The open case is whole: its documents open, its message is there.
	for _, d := range openShown.Documents {
		if _, data, err := e.desk.DownloadDocument(ctx, open.Ref, d.SHA256, "alice"); err != nil || len(data) == 0 {
			t.Errorf("open case's %s: %d bytes, %v", d.Filename, len(data), err)
		}
	}
	if s := e.show(open.Ref); s.PurgedAt != nil || s.State != recoverybot.StateReadyForReview {
		t.Errorf("open case after the purge: %s, purged %v", s.State, s.PurgedAt)
	}

	// Idempotent: a second purge finds nothing more to do.
	again, err := e.d.Scheduler().Run(ctx, "purge")
	if err != nil || again.Outcome != store.RunOK || again.Counts["cases"] != 0 || again.Counts["expunged"] != 0 {
		t.Errorf("second purge = %+v, %v; want nothing done", again, err)
	}
}
