package dovecottest_test

import (
	"bufio"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot/internal/dovecottest"
)

func message(i int) []byte {
	return fmt.Appendf(nil, "From: a%d@example.org\r\nTo: contact@example.net\r\nSubject: test %d\r\nMessage-ID: <m%d@example.org>\r\nX-Seq: %d\r\n\r\nbody %d\r\n", i, i, i, i, i)
}

// login speaks just enough IMAP to check that the account works.
func login(t *testing.T, addr, user, pass string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "* OK") {
		t.Fatalf("greeting: %q, %v", line, err)
	}
	fmt.Fprintf(c, "a LOGIN %s %s\r\n", user, pass)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "a ") {
			if !strings.HasPrefix(line, "a OK") {
				t.Fatalf("LOGIN: %q", line)
			}
			return
		}
	}
}

func TestStartDeliverRestart(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t, dovecottest.WithUser("contact", "s3cret"), dovecottest.WithUser("other", "pw"))
	if srv.User() != "contact" || srv.Password() != "s3cret" {
		t.Fatalf("User/Password = %q/%q", srv.User(), srv.Password())
	}
	login(t, srv.Addr(), "contact", "s3cret")
	login(t, srv.Addr(), "other", "pw")

	for i := range 3 {
		if err := srv.Deliver("contact", message(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Deliver("other@example.net", message(9)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Deliver("nobody-here", message(9)); err == nil {
		t.Fatal("Deliver to an unknown user: no error")
	}
	if n, err := srv.Count("contact", "INBOX"); err != nil || n != 3 {
		t.Fatalf("Count(contact) = %d, %v; want 3", n, err)
	}
	if n, err := srv.Count("other", "INBOX"); err != nil || n != 1 {
		t.Fatalf("Count(other) = %d, %v; want 1", n, err)
	}
	flags, err := srv.Flags("contact", "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if len(flags) != 3 || slices.Contains(flags[1], `\Seen`) {
		t.Fatalf("Flags = %v; want 3 unseen messages", flags)
	}

	uidv, err := srv.UIDValidity("contact", "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	addr, lmtp := srv.Addr(), srv.LMTPAddr()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("IMAP port still accepts after Stop")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if srv.Addr() != addr || srv.LMTPAddr() != lmtp {
		t.Fatalf("addresses changed across Restart: %s %s -> %s %s", addr, lmtp, srv.Addr(), srv.LMTPAddr())
	}
	login(t, srv.Addr(), "contact", "s3cret")
	if n, err := srv.Count("contact", "INBOX"); err != nil || n != 3 {
		t.Fatalf("Count after restart = %d, %v; want 3", n, err)
	}
	if v, err := srv.UIDValidity("contact", "INBOX"); err != nil || v != uidv {
		t.Fatalf("UIDVALIDITY after restart = %d, %v; want %d", v, err, uidv)
	}
}

// seqs maps each UID in a mailbox to the X-Seq header of its message.
func seqs(t *testing.T, srv *dovecottest.Server, mailbox string) map[uint32]string {
	t.Helper()
	out, err := srv.Doveadm("-f", "tab", "fetch", "-u", srv.User(), "uid hdr.x-seq", "mailbox", mailbox, "all")
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[uint32]string)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n")[1:] {
		var uid uint32
		var seq string
		if _, err := fmt.Sscanf(line, "%d\t%s", &uid, &seq); err != nil {
			t.Fatalf("doveadm fetch line %q: %v", line, err)
		}
		m[uid] = seq
	}
	return m
}

func TestSaveManyAndRecreateMailbox(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t)
	user := srv.User()
	const n = 500
	var raws [][]byte
	for i := range n {
		raws = append(raws, message(i))
	}
	if err := srv.SaveMany(user, "INBOX", raws); err != nil {
		t.Fatal(err)
	}
	if err := srv.SaveMany(user, "Recovery.Processed", raws[:5]); err != nil {
		t.Fatal(err)
	}
	if n2, err := srv.Count(user, "Recovery.Processed"); err != nil || n2 != 5 {
		t.Fatalf("Count(Recovery.Processed) = %d, %v; want 5", n2, err)
	}
	boxes, err := srv.Mailboxes(user)
	if err != nil || !slices.Contains(boxes, "Recovery.Processed") {
		t.Fatalf("Mailboxes = %v, %v", boxes, err)
	}

	// UIDs follow the order of the slice.
	before := seqs(t, srv, "INBOX")
	if len(before) != n {
		t.Fatalf("%d messages in INBOX, want %d", len(before), n)
	}
	for uid, seq := range before {
		if seq != fmt.Sprint(uid-1) {
			t.Fatalf("UID %d holds message %s, want %d", uid, seq, uid-1)
		}
	}

	// Mark one message seen, then renumber the mailbox.
	if _, err := srv.Doveadm("flags", "add", "-u", user, `\Seen`, "mailbox", "INBOX", "uid", "7"); err != nil {
		t.Fatal(err)
	}
	uidv, err := srv.UIDValidity(user, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.RecreateMailbox(user, "INBOX"); err != nil {
		t.Fatal(err)
	}
	uidv2, err := srv.UIDValidity(user, "INBOX")
	if err != nil || uidv2 == uidv {
		t.Fatalf("UIDVALIDITY %d -> %d, %v; want a change", uidv, uidv2, err)
	}
	after := seqs(t, srv, "INBOX")
	got := slices.Sorted(maps.Values(after))
	want := slices.Sorted(maps.Values(before))
	if !slices.Equal(got, want) {
		t.Fatalf("messages changed across RecreateMailbox: %d before, %d after", len(want), len(got))
	}
	flags, err := srv.Flags(user, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for uid, f := range flags {
		if slices.Contains(f, `\Seen`) {
			seen = append(seen, after[uid])
		}
	}
	if !slices.Equal(seen, []string{"6"}) {
		t.Fatalf("seen messages after recreate: %v, want [6]", seen)
	}
	// The other mailbox is untouched.
	if n2, err := srv.Count(user, "Recovery.Processed"); err != nil || n2 != 5 {
		t.Fatalf("Count(Recovery.Processed) = %d, %v; want 5", n2, err)
	}
}

// SentSince reads from the server's log what it sent to the clients of
// the sessions that ended: a session that downloaded a message of 60 KB
// was sent at least that.
func TestSentSince(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t)
	body := strings.Repeat("0123456789abcdef\r\n", 60_000/18)
	if err := srv.Deliver(srv.User(), fmt.Appendf(nil, "From: a@example.org\r\nSubject: big\r\nMessage-ID: <big@example.org>\r\n\r\n%s", body)); err != nil {
		t.Fatal(err)
	}
	off := srv.LogSize()
	c, err := net.DialTimeout("tcp", srv.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	fmt.Fprintf(c, "a LOGIN %s %s\r\nb SELECT INBOX\r\nc UID FETCH 1:* BODY.PEEK[]\r\nd LOGOUT\r\n", srv.User(), srv.Password())
	for {
		line, err := r.ReadString('\n')
		if err != nil || strings.HasPrefix(line, "d ") {
			break
		}
	}
	c.Close()
	for range 500 { // the server logs the session's end once it has closed it
		if n, sessions := srv.SentSince(off); sessions > 0 {
			if sessions != 1 || n < int64(len(body)) {
				t.Errorf("SentSince = %d bytes in %d sessions, want one session sent at least %d", n, sessions, len(body))
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no session's end in the log: %s", srv.LogTail(2000))
}
