package mailbox_test

// Tests against a real Dovecot started by internal/dovecottest.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot/internal/dovecottest"
	"github.com/recoverybot/recoverybot/internal/fault"
	"github.com/recoverybot/recoverybot/mailbox"
)

func dialDovecot(t *testing.T, srv *dovecottest.Server) *mailbox.Conn {
	t.Helper()
	return dial(t, mailbox.Options{Address: srv.Addr(), Username: srv.User(), Password: srv.Password()})
}

func deliver(t *testing.T, srv *dovecottest.Server, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if err := srv.Deliver(srv.User(), message(i)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDovecotSelectSinceFetch(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t)
	deliver(t, srv, 1, 3)
	c := dialDovecot(t, srv)
	if !c.CanIdle() || !c.CanMove() {
		t.Fatalf("Dovecot: CanIdle=%v CanMove=%v", c.CanIdle(), c.CanMove())
	}
	ctx := context.Background()
	st, err := c.Select(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	want, err := srv.UIDValidity(srv.User(), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if st.UIDValidity != want || st.Messages != 3 || st.UIDNext != 4 {
		t.Fatalf("Select = %+v, want UIDVALIDITY %d, 3 messages, UIDNEXT 4", st, want)
	}

	list, err := c.Since(ctx, 0)
	if err != nil || !slices.Equal(uids(list), []uint32{1, 2, 3}) {
		t.Fatalf("Since(0) = %v, %v", uids(list), err)
	}
	if list[0].Size < int64(len(message(1))) || list[0].InternalDate.IsZero() {
		t.Errorf("summary %+v", list[0])
	}
	// Dovecot answers "UID FETCH 4:*" with message 3: filtered out.
	if list, err := c.Since(ctx, 3); err != nil || len(list) != 0 {
		t.Fatalf("Since(3) = %v, %v; want nothing", uids(list), err)
	}
	if list, err := c.Since(ctx, 100); err != nil || len(list) != 0 {
		t.Fatalf("Since(100) = %v, %v; want nothing", uids(list), err)
	}
	if list, err := c.Since(ctx, 2); err != nil || !slices.Equal(uids(list), []uint32{3}) {
		t.Fatalf("Since(2) = %v, %v", uids(list), err)
	}

	var got []uint32
	err = c.Fetch(ctx, []uint32{3, 1, 2}, func(uid uint32, raw []byte) error {
		got = append(got, uid)
		// LMTP added Return-Path and Delivered-To; the original follows.
		if !bytes.Contains(raw, fmt.Appendf(nil, "X-Seq: %d\r\n", uid)) || !bytes.HasSuffix(raw, fmt.Appendf(nil, "body %d\r\n", uid)) {
			t.Errorf("UID %d: unexpected message %q", uid, raw)
		}
		return nil
	})
	if err != nil || !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Fatalf("Fetch = %v, %v", got, err)
	}
	hdr, err := c.FetchHeader(ctx, 2)
	if err != nil || !bytes.Contains(hdr, []byte("X-Seq: 2\r\n")) || !bytes.HasSuffix(hdr, []byte("\r\n\r\n")) || bytes.Contains(hdr, []byte("body")) {
		t.Fatalf("FetchHeader = %q, %v", hdr, err)
	}
	if _, err := c.FetchHeader(ctx, 42); !errors.Is(err, mailbox.ErrNoMessage) {
		t.Fatalf("FetchHeader(42) = %v, want ErrNoMessage", err)
	}

	// Nothing was marked \Seen.
	flags, err := srv.Flags(srv.User(), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	for uid, f := range flags {
		if slices.Contains(f, `\Seen`) {
			t.Errorf("UID %d is \\Seen after Fetch: %v", uid, f)
		}
	}

	// An empty mailbox.
	if _, err := c.EnsureFolder(ctx, "Empty"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(ctx, "Empty"); err != nil {
		t.Fatal(err)
	}
	if list, err := c.Since(ctx, 0); err != nil || len(list) != 0 {
		t.Fatalf("Since(0) in an empty mailbox = %v, %v", list, err)
	}
}

func TestDovecotEnsureFolder(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t)
	c := dialDovecot(t, srv)
	ctx := context.Background()
	name, err := c.EnsureFolder(ctx, "Recovery/Processed")
	if err != nil || name != "Recovery.Processed" {
		t.Fatalf("EnsureFolder = %q, %v; want Recovery.Processed", name, err)
	}
	if name, err := c.EnsureFolder(ctx, "Recovery/Review"); err != nil || name != "Recovery.Review" {
		t.Fatalf("EnsureFolder = %q, %v; want Recovery.Review", name, err)
	}
	boxes, err := srv.Mailboxes(srv.User())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Recovery", "Recovery.Processed", "Recovery.Review"} {
		if !slices.Contains(boxes, want) {
			t.Errorf("mailboxes %v lack %s", boxes, want)
		}
	}
	// A second connection finds the existing folder.
	c2 := dialDovecot(t, srv)
	if name, err := c2.EnsureFolder(ctx, "Recovery/Processed"); err != nil || name != "Recovery.Processed" {
		t.Fatalf("EnsureFolder (existing) = %q, %v", name, err)
	}
	if name, err := c2.EnsureFolder(ctx, "inbox"); err != nil || name != "INBOX" {
		t.Fatalf("EnsureFolder(inbox) = %q, %v", name, err)
	}
	for _, bad := range []string{"", "Recovery//Processed", "Recovery/Pro.cessed", "A/*"} {
		if _, err := c2.EnsureFolder(ctx, bad); err == nil {
			t.Errorf("EnsureFolder(%q): no error", bad)
		}
	}
}

func TestDovecotEnsureFolderNamespacePrefix(t *testing.T) {
	t.Parallel()
	// Courier-style: personal folders live under "INBOX.".
	srv := dovecottest.Start(t, dovecottest.WithConfig("namespace inbox {\n  prefix = INBOX.\n}"))
	c := dialDovecot(t, srv)
	ctx := context.Background()
	name, err := c.EnsureFolder(ctx, "Recovery/Processed")
	if err != nil || name != "INBOX.Recovery.Processed" {
		t.Fatalf("EnsureFolder = %q, %v; want INBOX.Recovery.Processed", name, err)
	}
	if _, err := c.Select(ctx, name); err != nil {
		t.Fatal(err)
	}
}

func TestDovecotMove(t *testing.T) {
	t.Parallel()
	for _, fallback := range []bool{false, true} {
		t.Run(fmt.Sprintf("fallback=%v", fallback), func(t *testing.T) {
			t.Parallel()
			srv := dovecottest.Start(t)
			deliver(t, srv, 1, 5)
			// Someone else marked message 5 \Deleted without expunging.
			if _, err := srv.Doveadm("flags", "add", "-u", srv.User(), `\Deleted`, "mailbox", "INBOX", "uid", "5"); err != nil {
				t.Fatal(err)
			}
			c := dialDovecot(t, srv)
			if fallback {
				mailbox.DisableMove(c)
			}
			ctx := context.Background()
			folder, err := c.EnsureFolder(ctx, "Recovery/Processed")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Select(ctx, "INBOX"); err != nil {
				t.Fatal(err)
			}
			placed, err := c.Move(ctx, []uint32{2, 4}, folder)
			if err != nil {
				t.Fatal(err)
			}
			// COPYUID (UIDPLUS, which Dovecot has) says where they went.
			dest, err := srv.UIDValidity(srv.User(), "Recovery.Processed")
			if err != nil {
				t.Fatal(err)
			}
			if placed.UIDValidity != dest || placed.UIDs[2] != 1 || placed.UIDs[4] != 2 || len(placed.UIDs) != 2 {
				t.Errorf("Move placed %+v, want UIDVALIDITY %d, 2 -> 1, 4 -> 2", placed, dest)
			}
			// Redo after a crash: the UIDs are gone, which is fine.
			if placed, err := c.Move(ctx, []uint32{2, 4}, folder); err != nil || len(placed.UIDs) != 0 {
				t.Fatalf("Move again = %+v, %v; want nothing moved", placed, err)
			}
			if list, err := c.Since(ctx, 0); err != nil || !slices.Equal(uids(list), []uint32{1, 3, 5}) {
				t.Fatalf("INBOX after Move = %v, %v", uids(list), err)
			}
			if n, err := srv.Count(srv.User(), "Recovery.Processed"); err != nil || n != 2 {
				t.Fatalf("%s holds %d, %v; want 2", folder, n, err)
			}
			flags, err := srv.Flags(srv.User(), "Recovery.Processed")
			if err != nil {
				t.Fatal(err)
			}
			for uid, f := range flags {
				if slices.Contains(f, `\Seen`) || slices.Contains(f, `\Deleted`) {
					t.Errorf("moved UID %d has flags %v", uid, f)
				}
			}
			// The message someone else marked \Deleted is still there.
			if flags, err := srv.Flags(srv.User(), "INBOX"); err != nil || !slices.Contains(flags[5], `\Deleted`) {
				t.Fatalf("INBOX flags = %v, %v; want UID 5 still present and \\Deleted", flags, err)
			}
		})
	}
}

func TestDovecotWithoutMoveOrIdle(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t, dovecottest.WithConfig("protocol imap {\n  imap_capability = IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN\n}"))
	deliver(t, srv, 1, 2)
	c := dialDovecot(t, srv)
	if c.CanIdle() || c.CanMove() {
		t.Fatalf("CanIdle=%v CanMove=%v, want neither", c.CanIdle(), c.CanMove())
	}
	ctx := context.Background()
	folder, err := c.EnsureFolder(ctx, "Recovery/Processed")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(ctx, "INBOX"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Move(ctx, []uint32{1}, folder); !errors.Is(err, mailbox.ErrNoSafeMove) {
		t.Fatalf("Move without MOVE or UIDPLUS = %v", err)
	}
	if n, err := srv.Count(srv.User(), "INBOX"); err != nil || n != 2 {
		t.Fatalf("INBOX holds %d, %v; want 2", n, err)
	}
	if _, err := c.Expunge(ctx, "INBOX", 1, []mailbox.Target{{UID: 1}}); !errors.Is(err, mailbox.ErrNoSafeExpunge) {
		t.Fatalf("Expunge without UIDPLUS = %v", err)
	}
	if flags, err := srv.Flags(srv.User(), "INBOX"); err != nil || len(flags) != 2 || slices.Contains(flags[1], `\Deleted`) {
		t.Fatalf("INBOX flags after a refused Expunge = %v, %v", flags, err)
	}
	// Polling: Wait sleeps poll, then NOOP.
	start := time.Now()
	if err := c.Wait(ctx, time.Minute, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
		t.Fatalf("poll Wait returned after %v", d)
	}
	deliver(t, srv, 3, 3)
	if err := c.Wait(ctx, time.Minute, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if list, err := c.Since(ctx, 2); err != nil || !slices.Equal(uids(list), []uint32{3}) {
		t.Fatalf("Since(2) after poll = %v, %v", uids(list), err)
	}
}

func TestDovecotWaitWakesOnDelivery(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t)
	c := dialDovecot(t, srv)
	ctx := context.Background()
	if _, err := c.Select(ctx, "INBOX"); err != nil {
		t.Fatal(err)
	}
	var delivered time.Time
	go func() {
		time.Sleep(300 * time.Millisecond)
		delivered = time.Now()
		if err := srv.Deliver(srv.User(), message(1)); err != nil {
			t.Error(err)
		}
	}()
	if err := c.Wait(ctx, 30*time.Second, time.Minute); err != nil {
		t.Fatal(err)
	}
	woke := time.Now()
	if delivered.IsZero() {
		t.Fatal("Wait returned before the delivery")
	}
	if d := woke.Sub(delivered); d > time.Second {
		t.Fatalf("Wait woke %v after the delivery, want under 1s", d)
	}
	if list, err := c.Since(ctx, 0); err != nil || len(list) != 1 {
		t.Fatalf("Since = %v, %v", list, err)
	}

	// Mail that arrives while we are busy (not idling) is not missed.
	deliver(t, srv, 2, 2)
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	if err := c.Wait(ctx, 10*time.Second, time.Minute); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Wait took %v to report mail delivered before it began", d)
	}
}

func TestDovecotWaitFailsWhenServerStops(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t)
	c := dialDovecot(t, srv)
	ctx := context.Background()
	if _, err := c.Select(ctx, "INBOX"); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		srv.Stop()
	}()
	start := time.Now()
	err := c.Wait(ctx, 30*time.Second, time.Minute)
	if err == nil {
		t.Fatal("Wait returned nil when the server stopped")
	}
	if !errors.Is(err, mailbox.ErrClosed) {
		t.Errorf("Wait = %v, want ErrClosed", err)
	}
	if c := fault.Of(err); c != fault.ConnectionLost {
		t.Errorf("Wait = %v, cause %q, want connection_lost", err, c)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Wait noticed the stop after %v", d)
	}
	if _, err := c.Since(ctx, 0); err == nil {
		t.Fatal("Since on a dead connection: no error")
	}
}

func TestDovecotUIDValidityChange(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t)
	deliver(t, srv, 1, 3)
	ctx := context.Background()
	c := dialDovecot(t, srv)
	before, err := c.Select(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.RecreateMailbox(srv.User(), "INBOX"); err != nil {
		t.Fatal(err)
	}
	// The old connection was cut by the restart.
	if _, err := c.Since(ctx, 0); err == nil {
		t.Fatal("Since on a connection cut by a restart: no error")
	}
	c = dialDovecot(t, srv)
	after, err := c.Select(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if after.UIDValidity == before.UIDValidity || after.Messages != 3 {
		t.Fatalf("Select after recreate = %+v, before %+v", after, before)
	}
}

func TestDovecotLargeMailbox(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t)
	const n = 2000
	var raws [][]byte
	for i := 1; i <= n; i++ {
		raws = append(raws, message(i))
	}
	if err := srv.SaveMany(srv.User(), "INBOX", raws); err != nil {
		t.Fatal(err)
	}
	c := dialDovecot(t, srv)
	ctx := context.Background()
	if _, err := c.Select(ctx, "INBOX"); err != nil {
		t.Fatal(err)
	}
	list, err := c.Since(ctx, 0)
	if err != nil || len(list) != n {
		t.Fatalf("Since(0) = %d messages, %v", len(list), err)
	}
	// A sparse set larger than one command's chunk.
	var want []uint32
	for uid := uint32(1); uid <= n; uid += 2 {
		want = append(want, uid)
	}
	var got []uint32
	err = c.Fetch(ctx, want, func(uid uint32, raw []byte) error {
		if !bytes.Contains(raw, fmt.Appendf(nil, "X-Seq: %d\r\n", uid)) {
			return fmt.Errorf("UID %d is not message %d", uid, uid)
		}
		got = append(got, uid)
		return nil
	})
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Fetch: %d messages, %v", len(got), err)
	}
	if _, err := c.Move(ctx, want, "INBOX.nonexistent"); err == nil {
		t.Fatal("Move to a missing folder: no error")
	}
}

// Expunge removes exactly the messages named, by UID while the folder
// keeps its UIDVALIDITY and by Message-ID otherwise, leaves alone what
// someone else marked \Deleted, counts a message already gone as gone,
// and gives the Conn back with INBOX selected and a new-mail notice.
func TestDovecotExpunge(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t)
	deliver(t, srv, 1, 7)
	c := dialDovecot(t, srv)
	ctx := context.Background()
	folder, err := c.EnsureFolder(ctx, "Recovery/Processed")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(ctx, "INBOX"); err != nil {
		t.Fatal(err)
	}
	sums, err := c.Summaries(ctx, []uint32{1, 2, 3, 4, 5, 6, 7})
	if err != nil || len(sums) != 7 {
		t.Fatalf("Summaries = %v, %v", sums, err)
	}
	size := func(uid uint32) int64 { return sums[uid-1].Size }
	placed, err := c.Move(ctx, []uint32{2, 3, 4, 5, 6}, folder)
	if err != nil || len(placed.UIDs) != 5 {
		t.Fatalf("Move = %+v, %v", placed, err)
	}
	// Someone else marked a message \Deleted in each folder.
	for _, f := range []struct {
		box string
		uid uint32
	}{{"INBOX", 7}, {"Recovery.Processed", placed.UIDs[6]}} {
		if _, err := srv.Doveadm("flags", "add", "-u", srv.User(), `\Deleted`, "mailbox", f.box, "uid", fmt.Sprint(f.uid)); err != nil {
			t.Fatal(err)
		}
	}
	held := func() []string {
		t.Helper()
		out, err := srv.Doveadm("-f", "tab", "fetch", "-u", srv.User(), "hdr.message-id", "mailbox", "Recovery.Processed", "all")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, line := range strings.Split(string(out), "\n") {
			if line = strings.TrimSpace(line); strings.HasPrefix(line, "<") {
				ids = append(ids, line)
			}
		}
		slices.Sort(ids)
		return ids
	}

	targets := []mailbox.Target{
		{UID: placed.UIDs[2]},                               // by UID
		{MessageID: "m3@example.org", Size: size(3)},        // the server did not say where it went
		{UID: 999, MessageID: "m999@example.org", Size: 10}, // already gone
		{}, // nothing to find it by
		{UID: placed.UIDs[4], MessageID: "ignored"}, // by UID: the UID is enough
		// Another message's Message-ID, as a sender may write it: the
		// size does not match, so m5 is not taken for it.
		{MessageID: "m5@example.org", Size: size(5) + 1},
		{MessageID: "m6@example.org"}, // no size: never by Message-ID
	}
	got, err := c.Expunge(ctx, folder, placed.UIDValidity, targets)
	if err != nil {
		t.Fatal(err)
	}
	if got.Removed != 3 || !slices.Equal(got.Unfindable, []int{3, 6}) {
		t.Errorf("Expunge = %+v, want 3 removed, targets 3 and 6 unfindable", got)
	}
	if ids := held(); !slices.Equal(ids, []string{"<m5@example.org>", "<m6@example.org>"}) {
		t.Errorf("%s holds %v after Expunge, want m5 and m6", folder, ids)
	}
	if flags, err := srv.Flags(srv.User(), "Recovery.Processed"); err != nil || !slices.Contains(flags[placed.UIDs[6]], `\Deleted`) || slices.Contains(flags[placed.UIDs[5]], `\Deleted`) {
		t.Errorf("%s flags = %v, %v; want m6 still \\Deleted, m5 untouched", folder, flags, err)
	}
	// INBOX is selected again, untouched, with a new-mail notice.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.Wait(wctx, time.Minute, time.Minute); err != nil {
		t.Fatalf("Wait after Expunge = %v, want the notice left for it", err)
	}
	if list, err := c.Since(ctx, 0); err != nil || !slices.Equal(uids(list), []uint32{1, 7}) {
		t.Fatalf("INBOX after Expunge = %v, %v", uids(list), err)
	}

	// Again: nothing more goes.
	if got, err := c.Expunge(ctx, folder, placed.UIDValidity, targets[:3]); err != nil || got.Removed != 0 {
		t.Errorf("Expunge again = %+v, %v; want nothing removed", got, err)
	}
	// Under another UIDVALIDITY a UID means nothing: only the Message-ID
	// finds the message.
	got, err = c.Expunge(ctx, folder, placed.UIDValidity+1, []mailbox.Target{{UID: placed.UIDs[5], MessageID: "m5@example.org", Size: size(5)}, {UID: placed.UIDs[6]}})
	if err != nil || got.Removed != 1 || !slices.Equal(got.Unfindable, []int{1}) {
		t.Errorf("Expunge under another UIDVALIDITY = %+v, %v; want m5 removed, the other unfindable", got, err)
	}
	if ids := held(); !slices.Equal(ids, []string{"<m6@example.org>"}) {
		t.Errorf("%s holds %v, want m6 only", folder, ids)
	}
	// A folder that is not there holds nothing of ours.
	if _, err := c.Expunge(ctx, "Nowhere", 1, []mailbox.Target{{UID: 1}}); !errors.Is(err, mailbox.ErrNoFolder) {
		t.Errorf("Expunge from a missing folder = %v, want ErrNoFolder", err)
	}
	if list, err := c.Since(ctx, 0); err != nil || !slices.Equal(uids(list), []uint32{1, 7}) {
		t.Fatalf("INBOX after a failed Expunge = %v, %v", uids(list), err)
	}
}

// A move without MOVE interrupted between COPY and EXPUNGE, then redone,
// leaves two copies in the folder, and the UID the redo recorded names
// only the second: Expunge finds the first by its Message-ID and size.
func TestDovecotExpungeAfterAnInterruptedCopy(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t)
	deliver(t, srv, 1, 2)
	c := dialDovecot(t, srv)
	mailbox.DisableMove(c)
	ctx := context.Background()
	folder, err := c.EnsureFolder(ctx, "Recovery/Processed")
	if err != nil {
		t.Fatal(err)
	}
	// The interrupted move: its COPY reached the server, its EXPUNGE did
	// not.
	if _, err := srv.Doveadm("copy", "-u", srv.User(), "Recovery.Processed", "mailbox", "INBOX", "uid", "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(ctx, "INBOX"); err != nil {
		t.Fatal(err)
	}
	sums, err := c.Summaries(ctx, []uint32{1, 2})
	if err != nil || len(sums) != 2 {
		t.Fatalf("Summaries = %v, %v", sums, err)
	}
	placed, err := c.Move(ctx, []uint32{1, 2}, folder) // the redo
	if err != nil || len(placed.UIDs) != 2 {
		t.Fatalf("Move = %+v, %v", placed, err)
	}
	count := func() int {
		t.Helper()
		out, err := srv.Doveadm("-f", "tab", "fetch", "-u", srv.User(), "hdr.message-id", "mailbox", "Recovery.Processed", "all")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(out), "<m1@example.org>")
	}
	if n := count(); n != 2 {
		t.Fatalf("the folder holds %d copies of m1 before Expunge, want the 2 the test made", n)
	}
	got, err := c.Expunge(ctx, folder, placed.UIDValidity, []mailbox.Target{{UID: placed.UIDs[1], MessageID: "m1@example.org", Size: sums[0].Size}})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 || got.Removed != 2 {
		t.Errorf("after Expunge the folder holds %d copies of m1 (%d removed), want none (2 removed)", n, got.Removed)
	}
	if out, err := srv.Doveadm("-f", "tab", "fetch", "-u", srv.User(), "hdr.message-id", "mailbox", "Recovery.Processed", "all"); err != nil || !strings.Contains(string(out), "<m2@example.org>") {
		t.Errorf("m2, another message, is gone too: %s, %v", out, err)
	}
}

// TestDovecotSaysWhatBroke: a refused login, a server gone in the middle
// of a session and a server not listening each carry their own cause.
func TestDovecotSaysWhatBroke(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t)
	ctx := context.Background()
	_, err := mailbox.Dial(ctx, mailbox.Options{Address: srv.Addr(), Security: mailbox.SecurityNone,
		Username: srv.User(), Password: "not the password", CommandTimeout: 10 * time.Second})
	if got := fault.Of(err); got != fault.LoginRefused {
		t.Errorf("wrong password: %v, cause %q, want login_refused", err, got)
	}
	if strings.Contains(fmt.Sprint(err), "not the password") {
		t.Errorf("error shows the password: %v", err)
	}

	c := dialDovecot(t, srv)
	if _, err := c.Select(ctx, "INBOX"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	_, err = c.Select(ctx, "INBOX")
	if got := fault.Of(err); got != fault.ConnectionLost {
		t.Errorf("server stopped mid-session: %v, cause %q, want connection_lost", err, got)
	}
	_, err = mailbox.Dial(ctx, mailbox.Options{Address: srv.Addr(), Security: mailbox.SecurityNone,
		Username: srv.User(), Password: srv.Password(), CommandTimeout: 10 * time.Second})
	if got := fault.Of(err); got != fault.Unreachable {
		t.Errorf("server stopped: %v, cause %q, want unreachable", err, got)
	}
}
