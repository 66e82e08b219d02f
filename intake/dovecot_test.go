package intake_test

// Helpers shared by the tests that run the pipeline against a real
// Dovecot: opening many lost-email cases, composing customer and support
// mail, reading what the server holds, and checking the exactly-once
// invariants against the ledger.

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/internal/testfiles"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

// lostCase is an open lost-email case and the address its customer writes
// from.
type lostCase struct {
	ID      int64
	Ref     string
	Profile string
	Contact string
}

// openLostEmail imports n individual profiles named prefix-i and opens a
// lost-email case for each, the customer writing from a new address.
func openLostEmail(t testing.TB, d *desk.Desk, st *store.Store, prefix string, n int) []lostCase {
	t.Helper()
	ctx := context.Background()
	profiles := make([]recoverybot.Profile, n)
	for i := range profiles {
		profiles[i] = recoverybot.Profile{ID: fmt.Sprintf("%s-%d", prefix, i), Email: fmt.Sprintf("%s-%d@old.example", prefix, i),
			HolderKind: recoverybot.HolderIndividual, HolderName: fmt.Sprintf("Holder %d", i), Locale: "fr"}
	}
	if _, err := d.ImportProfiles(ctx, profiles, "test", "t"); err != nil {
		t.Fatal(err)
	}
	cases := make([]lostCase, n)
	for i, p := range profiles {
		contact := fmt.Sprintf("%s-%d@new.example", prefix, i)
		s, err := d.Open(ctx, desk.OpenRequest{ProfileID: p.ID, Kind: recoverybot.KindLostEmail, Contact: contact, By: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		cases[i] = lostCase{Ref: s.Ref, Profile: p.ID, Contact: contact}
	}
	if err := st.View(ctx, func(tx *store.Tx) error {
		for i := range cases {
			c, err := tx.CaseByRef(cases[i].Ref)
			if err != nil {
				return err
			}
			cases[i].ID = c.ID
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return cases
}

// mail is one message of a test corpus.
type mail struct {
	MessageID string // without angle brackets
	Case      string // the reference of the case it is about; "" for ordinary mail
	Raw       []byte
}

// corpus builds messages with distinct Message-IDs and attachments.
type corpus struct {
	tag string // makes Message-IDs unique across corpora
	n   int
	rnd *rand.Rand
}

func newCorpus(tag string) *corpus {
	return &corpus{tag: tag, rnd: rand.New(rand.NewPCG(uint64(len(tag)), 42))}
}

func (c *corpus) nextID() string {
	c.n++
	return fmt.Sprintf("%s.%d@test.example", c.tag, c.n)
}

// junk returns n bytes that do not compress and differ between calls.
func (c *corpus) junk(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(c.rnd.Uint32())
	}
	return b
}

// caseMail is the customer of lc sending an identity card (a JPEG of about
// attach bytes) from the case's contact address, its reference in the
// subject, as a lost-email case asks.
func (c *corpus) caseMail(lc lostCase, attach int) mail {
	id := c.nextID()
	img := testfiles.JPEG(c.junk(max(attach-4000, 64)))
	raw := compose(id, "Client <"+lc.Contact+">", "Re: ["+lc.Ref+"] récupération de mon compte",
		"Bonjour,\r\nvoici ma carte d'identité.\r\nCordialement", map[string][]byte{"cni-" + strconv.Itoa(c.n) + ".jpg": img})
	return mail{MessageID: id, Case: lc.Ref, Raw: raw}
}

// supportMail is ordinary support mail of about size bytes, with an
// attachment when attach is set: nothing recoverybot may touch.
func (c *corpus) supportMail(size int, attach bool) mail {
	id := c.nextID()
	from := fmt.Sprintf("Customer %d <customer%d@support.example>", c.n, c.n)
	subject := fmt.Sprintf("Question %d about my invoice", c.n)
	text := "Hello,\r\nmy website is down since this morning, can you help?\r\n"
	var atts map[string][]byte
	if attach {
		atts = map[string][]byte{"screenshot.png": append([]byte("\x89PNG\r\n\x1a\n"), c.junk(size*3/4)...)}
	} else if n := size - 600; n > 0 {
		text += strings.Repeat("The log says: connection refused on port 443.\r\n", n/48+1)
	}
	return mail{MessageID: id, Raw: compose(id, from, subject, text, atts)}
}

// compose writes a message as an MTA delivers it. Attachments are base64
// with 76-character lines.
func compose(messageID, from, subject, text string, attachments map[string][]byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: contact@hosting.example\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\nMIME-Version: 1.0\r\n",
		from, mimeWord(subject), time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC).Format(time.RFC1123Z), messageID)
	if len(attachments) == 0 {
		fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n", text)
		return b.Bytes()
	}
	b.WriteString("Content-Type: multipart/mixed; boundary=\"b0undary\"\r\n\r\n--b0undary\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text + "\r\n")
	names := make([]string, 0, len(attachments))
	for name := range attachments {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(&b, "--b0undary\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=%q\r\n"+
			"Content-Transfer-Encoding: base64\r\n\r\n", name)
		enc := base64.StdEncoding.EncodeToString(attachments[name])
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--b0undary--\r\n")
	return b.Bytes()
}

func mimeWord(s string) string {
	for _, r := range s {
		if r > 127 {
			return "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
		}
	}
	return s
}

func raws(ms []mail) [][]byte {
	out := make([][]byte, len(ms))
	for i, m := range ms {
		out[i] = m.Raw
	}
	return out
}

// serverMessage is a message as Dovecot holds it.
type serverMessage struct {
	UID       uint32
	MessageID string
	Flags     []string
}

// folderContents lists a folder's messages (its Dovecot name, e.g.
// "Recovery.Processed") with their Message-IDs and flags, read with
// doveadm so that nothing recoverybot does is involved.
type doveadmer interface {
	Doveadm(args ...string) ([]byte, error)
}

func folderContents(t testing.TB, s doveadmer, user, folder string) []serverMessage {
	t.Helper()
	out, err := s.Doveadm("-f", "tab", "fetch", "-u", user, "uid flags hdr.message-id", "mailbox", folder, "all")
	if err != nil {
		if strings.Contains(err.Error(), "Mailbox doesn't exist") {
			return nil
		}
		t.Fatal(err)
	}
	var msgs []serverMessage
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	for _, line := range lines[min(1, len(lines)):] {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) < 3 {
			t.Fatalf("doveadm fetch: unexpected line %q", line)
		}
		uid, err := strconv.ParseUint(f[0], 10, 32)
		if err != nil {
			t.Fatalf("doveadm fetch: unexpected line %q", line)
		}
		// \Recent belongs to a session (RFC 3501 section 2.3.2): the
		// server clears it when any session sees the message, and no
		// client can set or clear it.
		flags := slices.DeleteFunc(strings.Fields(f[1]), func(f string) bool { return f == `\Recent` })
		msgs = append(msgs, serverMessage{UID: uint32(uid), Flags: flags, MessageID: strings.Trim(strings.TrimSpace(f[2]), "<>")})
	}
	return msgs
}

// ledger returns every ledger row.
func ledger(t testing.TB, st *store.Store) []store.Entry {
	t.Helper()
	var es []store.Entry
	if err := st.View(context.Background(), func(tx *store.Tx) error {
		var err error
		es, err = tx.Entries(store.LedgerFilter{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return es
}

// auditCount counts the audit events of an action, by case reference.
func auditCount(t testing.TB, st *store.Store, action string) map[string]int {
	t.Helper()
	n := map[string]int{}
	if err := st.View(context.Background(), func(tx *store.Tx) error {
		evs, err := tx.AuditEvents(store.AuditFilter{})
		for _, e := range evs {
			if e.Action == action {
				n[e.CaseRef]++
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// expectation is what a run must leave behind.
type expectation struct {
	user    string
	cases   []lostCase
	tied    []mail // about a case: processed once, moved once
	ignored []mail // ordinary mail: left in INBOX, unseen, unflagged
	// duplicates maps a Message-ID to the number of ledger rows recorded
	// as duplicates of it (a second delivery, or the same message met
	// again under a new UIDVALIDITY).
	duplicates map[string]int
	// copies maps a Message-ID to the number of extra copies the server
	// holds (a second delivery); the duplicate rows of a UIDVALIDITY
	// change are the same copy renumbered.
	copies map[string]int
	// review lists messages about a case that are unusable: sent to the
	// review folder, their evidence recorded but not applied.
	review []mail
}

// checkExactlyOnce asserts the invariants of SPEC §5 after a complete
// run: one ledger row per UID met; each message about a case decided once
// (its evidence, documents and message_apply event counted once) and moved
// once, to the processed folder or, when unusable, to the review folder;
// every other message still in INBOX, unseen and unflagged.
func checkExactlyOnce(t testing.TB, s doveadmer, st *store.Store, want expectation) {
	t.Helper()
	ctx := context.Background()
	entries := ledger(t, st)

	// The ledger: one row per (UIDVALIDITY, UID), none left undecided.
	type place struct{ validity, uid uint32 }
	seen := map[place]bool{}
	byMID := map[string][]store.Entry{}
	for _, e := range entries {
		p := place{e.UIDValidity, e.UID}
		if seen[p] {
			t.Errorf("ledger: UID %d/%d recorded twice", e.UIDValidity, e.UID)
		}
		seen[p] = true
		byMID[e.MessageID] = append(byMID[e.MessageID], e)
		if e.Status == store.LedgerReceived {
			t.Errorf("ledger: message %s (UID %d) left undecided", e.MessageID, e.UID)
		}
	}
	// first returns a message's one first copy, checking its duplicates,
	// and whether the message was moved to folder: by its first copy or,
	// when that move was abandoned with its UIDVALIDITY, by a duplicate.
	first := func(m mail, folder string) (store.Entry, bool) {
		var firsts []store.Entry
		dups, moved := 0, false
		for _, e := range byMID[m.MessageID] {
			if e.Status == store.LedgerDuplicate {
				dups++
			} else {
				firsts = append(firsts, e)
			}
			if e.MoveTo == folder && e.MovedAt != nil {
				moved = true
			}
		}
		if dups != want.duplicates[m.MessageID] {
			t.Errorf("ledger: message %s has %d duplicate rows, want %d", m.MessageID, dups, want.duplicates[m.MessageID])
		}
		if len(firsts) != 1 {
			t.Errorf("ledger: message %s has %d first copies, want 1", m.MessageID, len(firsts))
			return store.Entry{}, moved
		}
		return firsts[0], moved
	}

	applied, evidence := map[string]int{}, map[string]int{}
	for _, m := range want.tied {
		applied[m.Case]++
		evidence[m.Case]++
		if e, moved := first(m, "Recovery/Processed"); e.Status != store.LedgerProcessed || !moved {
			t.Errorf("ledger: message %s about %s: status %s (%s), move to %q, moved at %v; want processed and moved",
				m.MessageID, m.Case, e.Status, e.Reason, e.MoveTo, e.MovedAt)
		}
	}
	for _, m := range want.review {
		evidence[m.Case]++
		if e, moved := first(m, "Recovery/Review"); e.Status != store.LedgerReview || !moved || e.Reason == "" {
			t.Errorf("ledger: message %s about %s: status %s, reason %q, move to %q, moved at %v; want review with a reason, moved",
				m.MessageID, m.Case, e.Status, e.Reason, e.MoveTo, e.MovedAt)
		}
	}
	for _, m := range want.ignored {
		e, _ := first(m, "")
		if e.Status != store.LedgerIgnored || e.MoveTo != "" || e.MovedAt != nil || e.CaseID != 0 {
			t.Errorf("ledger: ordinary message %s: status %s, case %d, move to %q; want ignored and left alone",
				m.MessageID, e.Status, e.CaseID, e.MoveTo)
		}
	}
	if total := len(want.tied) + len(want.review) + len(want.ignored); len(byMID) != total {
		t.Errorf("ledger: %d distinct messages, want %d", len(byMID), total)
	}

	// The server: each folder holds exactly its messages, each once (a
	// second delivery goes with its first copy); INBOX untouched.
	for _, f := range []struct {
		name string
		msgs []mail
	}{{"Recovery.Processed", want.tied}, {"Recovery.Review", want.review}, {"INBOX", want.ignored}} {
		held := map[string]int{}
		for _, m := range folderContents(t, s, want.user, f.name) {
			held[m.MessageID]++
			if f.name == "INBOX" && len(m.Flags) != 0 {
				t.Errorf("INBOX: message %s (UID %d) has flags %v; ordinary mail must stay untouched", m.MessageID, m.UID, m.Flags)
			}
		}
		for _, m := range f.msgs {
			if got, w := held[m.MessageID], 1+want.copies[m.MessageID]; got != w {
				t.Errorf("%s holds message %s %d times, want %d", f.name, m.MessageID, got, w)
			}
			delete(held, m.MessageID)
		}
		for mid, n := range held {
			t.Errorf("%s holds message %s (%d times), which belongs elsewhere", f.name, mid, n)
		}
	}

	// The cases: evidence, documents and message_apply events counted
	// once per message.
	events := auditCount(t, st, "message_apply")
	if err := st.View(ctx, func(tx *store.Tx) error {
		for _, c := range want.cases {
			ev, err := tx.EvidenceOf(c.ID)
			if err != nil {
				return err
			}
			docs, err := tx.Documents(c.ID)
			if err != nil {
				return err
			}
			mids := map[int64]bool{}
			for _, e := range ev {
				if mids[e.MessageID] {
					t.Errorf("case %s: message #%d counted twice as evidence", c.Ref, e.MessageID)
				}
				mids[e.MessageID] = true
			}
			if len(ev) != evidence[c.Ref] || len(docs) != applied[c.Ref] || events[c.Ref] != applied[c.Ref] {
				t.Errorf("case %s: %d evidence rows, %d documents, %d message_apply events; want %d, %d, %d",
					c.Ref, len(ev), len(docs), events[c.Ref], evidence[c.Ref], applied[c.Ref], applied[c.Ref])
			}
			got, err := tx.CaseByID(c.ID)
			if err != nil {
				return err
			}
			if applied[c.Ref] > 0 && got.State != recoverybot.StateReadyForReview {
				t.Errorf("case %s: state %s after its documents, want ready_for_review", c.Ref, got.State)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// openStore opens the database of a data directory as the binary does.
// openStore opens the store of dataDir, with its code key and the key of
// our Message-IDs.
func openStore(t testing.TB, dataDir string) (*store.Store, recoverybot.CodeKey, []byte) {
	t.Helper()
	v, err := vault.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(dataDir, "recoverybot.db"), v, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key, err := recoverybot.NewCodeKey(v.CodeKey())
	if err != nil {
		t.Fatal(err)
	}
	return st, key, v.Key(vault.PurposeMessageID)
}

// median of durations.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
