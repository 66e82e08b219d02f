package intake_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot/intake"
	"github.com/recoverybot/recoverybot/store"
)

// A mailbox of mixed mail delivered over LMTP, as real mail arrives: the
// messages about a case are processed once and moved to the processed
// folder; the ordinary support mail stays in INBOX exactly as it was (no
// \Seen, no flag); the ledger has one row per UID.
func TestDrainMixedMailbox(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cases := openLostEmail(t, w.desk, w.st, "mix", 30)
	c := newCorpus("mix")
	var tied, ignored, all []mail
	for i := range 300 {
		var m mail
		switch {
		case i%5 == 0:
			m = c.caseMail(cases[(i/5)%len(cases)], 2000+i*50)
			tied = append(tied, m)
		default:
			m = c.supportMail(500+(i*997)%40000, i%7 == 0)
			ignored = append(ignored, m)
		}
		all = append(all, m)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	user := w.dovecot.User()
	for _, m := range all {
		if err := w.dovecot.Deliver(user, m.Raw); err != nil {
			t.Fatal(err)
		}
	}

	start := time.Now()
	stats, err := w.pipeline.Drain(context.Background(), w.conn())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("drained %d messages in %v", len(all), time.Since(start).Round(time.Millisecond))
	if stats.Fetched != 300 || stats.Processed != len(tied) || stats.Ignored != len(ignored) || stats.Moved != len(tied) ||
		stats.Review != 0 || stats.Duplicates != 0 {
		t.Errorf("stats = %+v, want 300 fetched, %d processed and moved, %d ignored", stats, len(tied), len(ignored))
	}
	entries := ledger(t, w.st)
	if n := len(entries); n != 300 {
		t.Errorf("ledger has %d rows, want 300", n)
	}
	checkExactlyOnce(t, w.dovecot, w.st, expectation{user: user, cases: cases, tied: tied, ignored: ignored})
	// The bytes of every message tied to a case are kept, as delivered
	// (behind the trace headers the delivery added; the hash recorded is
	// checked on the way out), sealed under its case's key in the store;
	// ordinary mail left no raw copy (SPEC §8). After a clean drain the
	// spool, where messages wait for their decision, is empty.
	crlf := func(b []byte) []byte {
		return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
	}
	delivered := map[string][]byte{}
	for _, m := range all {
		delivered[m.MessageID] = crlf(m.Raw)
	}
	isTied := map[string]bool{}
	for _, m := range tied {
		isTied[m.MessageID] = true
	}
	err = w.st.View(context.Background(), func(tx *store.Tx) error {
		for _, e := range entries {
			raw, err := tx.MessageRaw(e.ID)
			if !isTied[e.MessageID] {
				if e.HasRaw || !errors.Is(err, store.ErrNotFound) {
					t.Errorf("ledger #%d (%s), ordinary mail: raw copy kept (%v, %v)", e.ID, e.MessageID, e.HasRaw, err)
				}
				if e.Sender == "" || e.Date.IsZero() || e.Size == 0 {
					t.Errorf("ledger #%d (%s), ordinary mail: sender %q, date %v, size %d; want them kept", e.ID, e.MessageID, e.Sender, e.Date, e.Size)
				}
				continue
			}
			if err != nil {
				return err
			}
			if want := delivered[e.MessageID]; want == nil || !bytes.HasSuffix(crlf(raw), want) {
				t.Errorf("ledger #%d (%s): bytes kept are not the message delivered", e.ID, e.MessageID)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if n := spoolRows(t, w.dbFile); n != 0 {
		t.Errorf("spool holds %d rows after a clean drain, want none", n)
	}
	spoolFile, err := os.ReadFile(store.SpoolPath(w.dbFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ignored {
		if i := bytes.Index(spoolFile, []byte(m.MessageID)); i >= 0 {
			t.Errorf("ordinary mail %s: its bytes are in the spool file", m.MessageID)
		}
	}
	if n, err := w.st.SweepSpool(context.Background(), 0); err != nil || n != 0 {
		t.Errorf("SweepSpool after a clean drain = %d, %v; want no orphan", n, err)
	}

	// Nothing new: the next drain fetches nothing and changes nothing.
	stats, err = w.pipeline.Drain(context.Background(), w.conn())
	if err != nil || stats.Fetched != 0 || stats.Moved != 0 {
		t.Errorf("second drain = %+v, %v; want nothing", stats, err)
	}
}

// A 10,000-message backlog (written straight into the Maildir, as a
// migration or a long outage leaves it) is drained in one run: one ledger
// row per message, the few about a case moved, the rest untouched.
func TestDrainTenThousandMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 messages: not in -short")
	}
	t.Parallel()
	w := newWorld(t)
	cases := openLostEmail(t, w.desk, w.st, "big", 50)
	c := newCorpus("tenk")
	var tied, ignored, all []mail
	for i := range 10000 {
		var m mail
		if i%100 == 7 {
			m = c.caseMail(cases[(i/100)%len(cases)], 3000)
			tied = append(tied, m)
		} else {
			m = c.supportMail(800+(i*389)%2500, false)
			ignored = append(ignored, m)
		}
		all = append(all, m)
	}
	user := w.dovecot.User()
	if err := w.dovecot.SaveMany(user, "INBOX", raws(all)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	stats, err := w.pipeline.Drain(context.Background(), w.conn())
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	t.Logf("drained %d messages in %v (%v per message)", len(all), elapsed.Round(time.Millisecond), (elapsed / 10000).Round(time.Microsecond))
	if stats.Fetched != 10000 || stats.Processed != len(tied) || stats.Ignored != len(ignored) || stats.Moved != len(tied) {
		t.Errorf("stats = %+v, want 10000 fetched, %d processed and moved, %d ignored", stats, len(tied), len(ignored))
	}
	checkExactlyOnce(t, w.dovecot, w.st, expectation{user: user, cases: cases, tied: tied, ignored: ignored})
}

// nested returns a message whose MIME structure is depth multiparts deep.
func nested(messageID, subject string, depth int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Someone <someone@else.example>\r\nTo: contact@hosting.example\r\nSubject: %s\r\nMessage-ID: <%s>\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"n0\"\r\n\r\n", subject, messageID)
	for i := range depth {
		fmt.Fprintf(&b, "--n%d\r\nContent-Type: multipart/mixed; boundary=\"n%d\"\r\n\r\n", i, i+1)
	}
	fmt.Fprintf(&b, "--n%d\r\nContent-Type: text/plain\r\n\r\nhello\r\n--n%d--\r\n", depth, depth)
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--n%d--\r\n", i)
	}
	return []byte(b.String())
}

// Ordinary mail, however broken, is left exactly as it was: same UID,
// same folder, same flags (none set, none removed), and recorded in the
// ledger as not about a case.
func TestUnrelatedMailUntouched(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cases := openLostEmail(t, w.desk, w.st, "untouched", 1)
	c := newCorpus("untouched")
	user := w.dovecot.User()
	id := func() string { return c.nextID() }
	var ignored []mail
	add := func(mid string, raw string) {
		ignored = append(ignored, mail{MessageID: mid, Raw: []byte(raw)})
	}
	mid := id()
	add(mid, "From: a@support.example\r\nSubject: no MIME headers at all\r\nMessage-ID: <"+mid+">\r\n\r\nplain old mail\r\n")
	mid = id()
	add(mid, "From: b@support.example\r\nSubject: boundary never closed\r\nMessage-ID: <"+mid+">\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=\"never\"\r\n\r\n--never\r\nContent-Type: text/plain\r\n\r\ncut short")
	mid = id()
	add(mid, "From: c@support.example\r\nSubject: broken base64\r\nMessage-ID: <"+mid+">\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"+
		"Content-Disposition: attachment; filename=invoice.pdf\r\n\r\n!!!not*base64***\r\n--x--\r\n")
	mid = id()
	add(mid, "From: d@support.example\r\nSubject: unknown charset\r\nMessage-ID: <"+mid+">\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=x-klingon\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xff\xfe\xfd bytes\r\n")
	mid = id()
	add(mid, "From: =?utf-8?q?=C3=A9?= <e@support.example>\r\nSubject: raw 8-bit \xc3\xa9t\xc3\xa9 "+strings.Repeat("long ", 400)+
		"\r\nMessage-ID: <"+mid+">\r\nContent-Type: text/html\r\n\r\n<p>Bonjour<p>"+strings.Repeat("<div>", 3000)+"\r\n")
	mid = id()
	add(mid, "From: MAILER-DAEMON@mx.support.example\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <"+mid+">\r\n"+
		"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=r\r\n\r\n"+
		"--r\r\nContent-Type: text/plain\r\n\r\nbounced\r\n--r\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--r--\r\n")
	mid = id()
	ignored = append(ignored, mail{MessageID: mid, Raw: nested(mid, "deeply nested, about nothing", 5000)})
	// The customer's message, so that the drain has something to do.
	tied := []mail{c.caseMail(cases[0], 3000)}
	for _, m := range append(ignored, tied...) {
		if err := w.dovecot.Deliver(user, m.Raw); err != nil {
			t.Fatal(err)
		}
	}
	// Support has read one message and flagged another: recoverybot
	// must neither add nor remove a flag.
	before := folderContents(t, w.dovecot, user, "INBOX")
	readUID, flaggedUID := before[0].UID, before[1].UID
	if _, err := w.dovecot.Doveadm("flags", "add", "-u", user, `\Seen`, "mailbox", "INBOX", "uid", fmt.Sprint(readUID)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.dovecot.Doveadm("flags", "add", "-u", user, `\Flagged $Support`, "mailbox", "INBOX", "uid", fmt.Sprint(flaggedUID)); err != nil {
		t.Fatal(err)
	}
	before = folderContents(t, w.dovecot, user, "INBOX")

	stats, err := w.pipeline.Drain(context.Background(), w.conn())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Fetched != len(ignored)+1 || stats.Processed != 1 || stats.Moved != 1 {
		t.Errorf("stats = %+v, want %d fetched, 1 processed and moved", stats, len(ignored)+1)
	}
	after := map[uint32]serverMessage{}
	for _, m := range folderContents(t, w.dovecot, user, "INBOX") {
		after[m.UID] = m
	}
	for _, b := range before {
		if b.MessageID == tied[0].MessageID {
			continue
		}
		a, ok := after[b.UID]
		if !ok {
			t.Errorf("message %s (UID %d) left INBOX", b.MessageID, b.UID)
			continue
		}
		if !slices.Equal(a.Flags, b.Flags) {
			t.Errorf("message %s (UID %d): flags %v, were %v", b.MessageID, b.UID, a.Flags, b.Flags)
		}
	}
	if len(after) != len(ignored) {
		t.Errorf("INBOX holds %d messages, want the %d ordinary ones", len(after), len(ignored))
	}
	for _, e := range ledger(t, w.st) {
		if e.MessageID == tied[0].MessageID {
			continue
		}
		if e.Status != store.LedgerIgnored || e.CaseID != 0 || e.MoveTo != "" || e.HasRaw {
			t.Errorf("ordinary message %s: status %s (%s), case %d, move to %q, raw kept %v; want ignored, left alone, no raw copy kept",
				e.MessageID, e.Status, e.Reason, e.CaseID, e.MoveTo, e.HasRaw)
		}
	}
	if n, _ := w.dovecot.Count(user, "Recovery.Processed"); n != 1 {
		t.Errorf("processed folder holds %d messages, want 1", n)
	}
}

// A message larger than max_message_size is never downloaded: it is
// recorded from its header, sent to review with the reason when it is
// about a case (by reference or by sender), and left alone otherwise; a
// second delivery of it is a duplicate, not a second piece of evidence.
// The messages after it are processed as usual.
func TestOversizedMessage(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	w := newWorldWith(t, func(o *intake.Options) { o.MaxMessageSize = limit })
	cases := openLostEmail(t, w.desk, w.st, "big", 2)
	c := newCorpus("oversized")
	user := w.dovecot.User()

	byRef := c.caseMail(cases[0], 200<<10)
	byRef.Raw = bytes.Replace(byRef.Raw, []byte("From: Client <"+cases[0].Contact+">"), []byte("From: Helper <helper@elsewhere.example>"), 1)
	bySender := c.caseMail(cases[1], 200<<10)
	bySender.Raw = bytes.Replace(bySender.Raw, []byte("["+cases[1].Ref+"] "), nil, 1)
	unrelated := c.supportMail(200<<10, true)
	small := c.caseMail(cases[0], 4000)
	for _, m := range []mail{byRef, unrelated, bySender} {
		if len(m.Raw) <= limit {
			t.Fatalf("test message %s is only %d bytes", m.MessageID, len(m.Raw))
		}
	}
	// byRef arrives twice.
	for _, raw := range [][]byte{byRef.Raw, unrelated.Raw, bySender.Raw, small.Raw, trace("mx2", byRef.Raw)} {
		if err := w.dovecot.Deliver(user, raw); err != nil {
			t.Fatal(err)
		}
	}
	stats, err := w.pipeline.Drain(context.Background(), w.conn())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stats: %+v", stats)

	for _, e := range ledger(t, w.st) {
		switch e.MessageID {
		case byRef.MessageID, bySender.MessageID, unrelated.MessageID:
			if e.HasRaw || e.SHA256 != "" {
				t.Errorf("oversized message %s (UID %d) was downloaded", e.MessageID, e.UID)
			}
			if e.Size <= limit {
				t.Errorf("oversized message %s recorded with size %d", e.MessageID, e.Size)
			}
		}
		if e.Status == store.LedgerReview && !strings.Contains(e.Reason, "too large") {
			t.Errorf("message %s sent to review with reason %q, want one about its size", e.MessageID, e.Reason)
		}
	}
	checkExactlyOnce(t, w.dovecot, w.st, expectation{user: user, cases: cases,
		tied: []mail{small}, review: []mail{byRef, bySender}, ignored: []mail{unrelated},
		duplicates: map[string]int{byRef.MessageID: 1}, copies: map[string]int{byRef.MessageID: 1}})
}

// trace returns raw as another MX delivers it: with its own Received
// header on top, so that the bytes differ but the message is the same.
func trace(mx string, raw []byte) []byte {
	return append([]byte(fmt.Sprintf("Received: from %s.hosting.example by store.hosting.example with ESMTPS id %s;\r\n\t%s\r\n",
		mx, mx, time.Now().Format(time.RFC1123Z))), raw...)
}

// The same message delivered twice (two MX hosts, differing trace
// headers) is recorded once as evidence and once as a duplicate, and the
// duplicate goes wherever its first copy went, whether both arrive in
// one drain or the second much later.
func TestDuplicateDelivery(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cases := openLostEmail(t, w.desk, w.st, "dup", 2)
	c := newCorpus("dup")
	user := w.dovecot.User()
	sameDrain := c.caseMail(cases[0], 5000)
	later := c.caseMail(cases[1], 5000)
	ordinary := c.supportMail(3000, false)
	other := c.supportMail(3000, true)
	for _, raw := range [][]byte{trace("mx1", sameDrain.Raw), trace("mx1", ordinary.Raw), trace("mx2", sameDrain.Raw),
		trace("mx1", later.Raw), other.Raw, trace("mx2", ordinary.Raw)} {
		if err := w.dovecot.Deliver(user, raw); err != nil {
			t.Fatal(err)
		}
	}
	stats, err := w.pipeline.Drain(context.Background(), w.conn())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Duplicates != 2 || stats.Processed != 2 || stats.Moved != 3 {
		t.Errorf("first drain: %+v, want 2 processed, 2 duplicates, 3 moved", stats)
	}
	// The second copy of later arrives after the first was processed.
	if err := w.dovecot.Deliver(user, trace("mx2", later.Raw)); err != nil {
		t.Fatal(err)
	}
	stats, err = w.pipeline.Drain(context.Background(), w.conn())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Duplicates != 1 || stats.Processed != 0 || stats.Moved != 1 {
		t.Errorf("second drain: %+v, want 1 duplicate, moved", stats)
	}
	twice := map[string]int{sameDrain.MessageID: 1, later.MessageID: 1, ordinary.MessageID: 1}
	checkExactlyOnce(t, w.dovecot, w.st, expectation{user: user, cases: cases,
		tied: []mail{sameDrain, later}, ignored: []mail{ordinary, other}, duplicates: twice, copies: twice})
	for ref, n := range auditCount(t, w.st, "duplicate_message") {
		if n != 1 {
			t.Errorf("case %s: %d duplicate_message events, want 1", ref, n)
		}
	}
}

// Messages the parser cannot read (too deeply nested, not a message at
// all) are recorded with the reason and, when they name a case, sent to
// review; the messages around them go through as usual.
func TestUnreadableMessagesDoNotStopOthers(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cases := openLostEmail(t, w.desk, w.st, "bad", 3)
	c := newCorpus("bad")
	user := w.dovecot.User()
	before := c.caseMail(cases[0], 4000)
	mid := c.nextID()
	deep := mail{MessageID: mid, Case: cases[1].Ref, Raw: nested(mid, "Re: ["+cases[1].Ref+"] my documents", 5000)}
	mid = c.nextID()
	junk := mail{MessageID: mid, Case: cases[2].Ref, Raw: []byte("Subject: [" + cases[2].Ref + "] scan\r\nMessage-ID: <" + mid + ">\r\n" +
		"Content-Type: multipart/mixed; boundary=\"\"\r\n" + strings.Repeat("\x00\x01\x02 binary garbage ", 2000) + "\r\n")}
	after := c.caseMail(cases[0], 4000)
	ordinaryDeep := mail{MessageID: c.nextID()}
	ordinaryDeep.Raw = nested(ordinaryDeep.MessageID, "Fwd: fwd: fwd: our invoices", 5000)
	for _, m := range []mail{before, deep, junk, ordinaryDeep, after} {
		if err := w.dovecot.Deliver(user, m.Raw); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	stats, err := w.pipeline.Drain(context.Background(), w.conn())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("drained in %v: %+v", time.Since(start).Round(time.Millisecond), stats)
	var review []mail
	for _, e := range ledger(t, w.st) {
		switch e.MessageID {
		case deep.MessageID:
			review = append(review, deep)
		case junk.MessageID:
			// The parser may make sense of the garbage; either way it
			// must be decided, with a reason if unusable.
			if e.Status == store.LedgerReview {
				review = append(review, junk)
			} else if e.Status != store.LedgerProcessed {
				t.Errorf("garbage about %s: status %s (%s)", junk.Case, e.Status, e.Reason)
			}
		}
	}
	want := expectation{user: user, cases: cases, tied: []mail{before, after}, review: review, ignored: []mail{ordinaryDeep}}
	if len(review) == 1 {
		want.tied = append(want.tied, junk)
	}
	checkExactlyOnce(t, w.dovecot, w.st, want)
}

// A message that takes longer than the per-message time limit to parse is
// recorded with the reason and, when its raw bytes name a case (even in an
// RFC 2047 encoded subject, as French mail clients write it), sent to
// review; the drain goes on. The limit is set so low here that every
// message hits it.
func TestParseTimeLimit(t *testing.T) {
	t.Parallel()
	w := newWorldWith(t, func(o *intake.Options) { o.MessageTimeout = time.Nanosecond })
	cases := openLostEmail(t, w.desk, w.st, "slow", 2)
	c := newCorpus("slow")
	user := w.dovecot.User()
	encoded := c.caseMail(cases[0], 3000) // "Re: [RC-…] récupération…", encoded
	if bytes.Contains(encoded.Raw, []byte(cases[0].Ref)) {
		t.Fatal("the subject should be encoded")
	}
	plain := c.caseMail(cases[1], 3000)
	plain.Raw = bytes.Replace(plain.Raw, []byte("Subject: "), []byte("Subject: ["+cases[1].Ref+"] "), 1)
	ordinary := c.supportMail(2000, false)
	for _, m := range []mail{encoded, ordinary, plain} {
		if err := w.dovecot.Deliver(user, m.Raw); err != nil {
			t.Fatal(err)
		}
	}
	stats, err := w.pipeline.Drain(context.Background(), w.conn())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Fetched != 3 || stats.Review != 2 || stats.Moved != 2 {
		t.Errorf("stats = %+v, want 3 fetched, 2 to review", stats)
	}
	for _, e := range ledger(t, w.st) {
		// The ordinary mail may never be parsed at all (the quick scan
		// shows it is about no case): only the two case messages must
		// have met the limit.
		if e.Status == store.LedgerIgnored {
			continue
		}
		if !strings.Contains(e.Reason, "longer than") {
			t.Errorf("message %s: status %s, reason %q; want the time limit as the reason", e.MessageID, e.Status, e.Reason)
		}
	}
	checkExactlyOnce(t, w.dovecot, w.st, expectation{user: user, cases: cases, review: []mail{encoded, plain}, ignored: []mail{ordinary}})
}

// A drain cancelled in the middle of a backlog (the daemon told to stop)
// returns promptly, having finished what it had in hand: every message it
// committed is also moved, none is half done, and the next drain takes
// the rest, each message once.
func TestCancelledDrainFinishesWhatItHolds(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cases := openLostEmail(t, w.desk, w.st, "stop", 20)
	c := newCorpus("stop")
	var tied, ignored, all []mail
	for i := range 600 {
		if i%10 == 0 {
			m := c.caseMail(cases[i%len(cases)], 30000)
			tied, all = append(tied, m), append(all, m)
		} else {
			m := c.supportMail(3000+i*10, i%4 == 0)
			ignored, all = append(ignored, m), append(all, m)
		}
	}
	user := w.dovecot.User()
	if err := w.dovecot.SaveMany(user, "INBOX", raws(all)); err != nil {
		t.Fatal(err)
	}
	decided := func() (n, pendingMoves int) {
		for _, e := range ledger(t, w.st) {
			if e.Status != store.LedgerReceived {
				n++
			}
			if e.MoveTo != "" && e.MovedAt == nil {
				pendingMoves++
			}
		}
		return n, pendingMoves
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := w.pipeline.Drain(ctx, w.conn())
		done <- err
	}()
	waitFor(t, 60*time.Second, "the drain under way", func() bool { n, _ := decided(); return n >= 30 })
	cancel()
	start := time.Now()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled drain returned %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the cancelled drain did not return within 30 s")
	}
	n, pendingMoves := decided()
	t.Logf("cancelled drain returned after %v with %d of %d messages decided, %d moves pending",
		time.Since(start).Round(time.Millisecond), n, len(all), pendingMoves)
	if pendingMoves != 0 {
		t.Errorf("%d messages committed but not moved by the cancelled drain", pendingMoves)
	}
	if n == len(all) {
		t.Log("the drain finished before it was cancelled: nothing left for the second one")
	}
	if _, err := w.pipeline.Drain(context.Background(), w.conn()); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, w.dovecot, w.st, expectation{user: user, cases: cases, tied: tied, ignored: ignored})
}

// spoolRows counts the rows of the spool beside the database file.
func spoolRows(t *testing.T, dbFile string) int {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+store.SpoolPath(dbFile)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM raw`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
