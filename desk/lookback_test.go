package desk

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/store"
)

// newLookbackFixture is newClockFixture with a desk that looks back
// lookback when it opens a case.
func newLookbackFixture(t *testing.T, clk *clock, lookback time.Duration) *fixture {
	t.Helper()
	return newFixtureWith(t, clk.Now, func(o *Options) { o.Lookback = lookback })
}

// earlier is a message met before its case, as the intake leaves it in
// the ledger.
type earlier struct {
	name     string
	sender   string
	age      time.Duration // fetched this long before t0
	validity uint32        // 0: the mailbox's current one
	status   store.LedgerStatus
	moved    bool
}

// ledgerMail records messages in the ledger of f's store, each at its
// time, in INBOX under UIDVALIDITY 7, and returns their row IDs by name.
func ledgerMail(t *testing.T, f *fixture, clk *clock, mails []earlier) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	ids := map[string]int64{}
	var first int64
	for i, m := range mails {
		clk.Set(t0.Add(-m.age))
		validity := m.validity
		if validity == 0 {
			validity = 7
		}
		err := f.st.Update(ctx, func(tx *store.Tx) error {
			e := store.Entry{Mailbox: "INBOX", UIDValidity: validity, UID: uint32(i + 1), MessageID: m.name + "@test",
				ContentKey: "mid:" + m.name, Size: 100}
			if err := tx.Record(&e, nil); err != nil {
				return err
			}
			d := store.Decided{Status: m.status, Sender: m.sender, Date: tx.Now()}
			switch m.status {
			case store.LedgerDuplicate:
				d.DuplicateOf = first
			case store.LedgerIgnored:
				if m.moved {
					d.MoveTo = "Elsewhere"
				}
			}
			if err := tx.Decide(e.ID, d); err != nil {
				return err
			}
			if first == 0 {
				first = e.ID
			}
			ids[m.name] = e.ID
			return tx.SetMailboxState("INBOX", 7, uint32(i+1))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	clk.Set(t0)
	return ids
}

func pendingLookbacks(t *testing.T, st *store.Store) map[int64]bool {
	t.Helper()
	got := map[int64]bool{}
	if err := st.View(context.Background(), func(tx *store.Tx) error {
		es, err := tx.PendingLookbacks()
		for _, e := range es {
			got[e.ID] = true
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestOpenQueuesEarlierMail: opening a case queues the mail its
// customer's address sent within the lookback that recoverybot left in
// the mailbox, and nothing else: not older mail, not mail of another
// sender, not mail recorded under another UIDVALIDITY, decided otherwise
// or moved; the profile's address counts for the code kinds only.
func TestOpenQueuesEarlierMail(t *testing.T) {
	clk := &clock{t: t0}
	lookback := 14 * 24 * time.Hour
	f := newLookbackFixture(t, clk, lookback)
	ctx := context.Background()
	ids := ledgerMail(t, f, clk, []earlier{
		{name: "jean-recent", sender: "jean@example.org", age: time.Hour, status: store.LedgerIgnored},
		{name: "jean-edge", sender: "jean@example.org", age: lookback, status: store.LedgerIgnored},
		{name: "jean-old", sender: "jean@example.org", age: lookback + time.Second, status: store.LedgerIgnored},
		{name: "jean-copy", sender: "jean@example.org", age: time.Hour, status: store.LedgerDuplicate},
		{name: "jean-moved", sender: "jean@example.org", age: time.Hour, status: store.LedgerIgnored, moved: true},
		{name: "jean-renumbered", sender: "jean@example.org", age: time.Hour, validity: 6, status: store.LedgerIgnored},
		{name: "stranger", sender: "someone@else.example", age: time.Hour, status: store.LedgerIgnored},
		{name: "acme-profile", sender: "gerant@acme.example", age: time.Hour, status: store.LedgerIgnored},
		{name: "acme-contact", sender: "new@acme.example", age: 2 * time.Hour, status: store.LedgerIgnored},
	})

	s, err := f.desk.Open(ctx, OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindTOTPLockout, By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if s.EarlierMessages == nil || *s.EarlierMessages != 2 {
		t.Errorf("totp-lockout case: earlier messages %s, want 2 (jean-recent, jean-edge)", count(s.EarlierMessages))
	}
	got := pendingLookbacks(t, f.st)
	if len(got) != 2 || !got[ids["jean-recent"]] || !got[ids["jean-edge"]] {
		t.Errorf("queued %v, want jean-recent #%d and jean-edge #%d", got, ids["jean-recent"], ids["jean-edge"])
	}
	events := f.events(t, s.Ref, "case_opened")
	if len(events) != 1 || events[0].Details["earlier_messages"] != "2" {
		t.Errorf("case_opened event %+v, want earlier_messages 2", events)
	}

	// A lost-email case is written from its contact address: the mail of
	// the profile's address (which the customer lost) is not taken.
	s, err = f.desk.Open(ctx, OpenRequest{ProfileID: "p-co", Kind: recoverybot.KindLostEmail, Contact: "New@Acme.example", By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if s.EarlierMessages == nil || *s.EarlierMessages != 1 {
		t.Errorf("lost-email case: earlier messages %s, want 1 (acme-contact)", count(s.EarlierMessages))
	}
	got = pendingLookbacks(t, f.st)
	if len(got) != 3 || !got[ids["acme-contact"]] || got[ids["acme-profile"]] {
		t.Errorf("queued %v, want acme-contact #%d as well, not acme-profile #%d", got, ids["acme-contact"], ids["acme-profile"])
	}
	if has, err := f.st.HasPendingLookbacks(ctx); err != nil || !has {
		t.Errorf("HasPendingLookbacks = %v, %v; want true", has, err)
	}

	// Once taken, nothing is pending; a case of another kind opened for
	// the same address queues the same message again, for itself.
	if err := f.st.Update(ctx, func(tx *store.Tx) error {
		for id := range got {
			if err := tx.FinishLookbacks(id); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if has, err := f.st.HasPendingLookbacks(ctx); err != nil || has {
		t.Errorf("HasPendingLookbacks after they were taken = %v, %v; want false", has, err)
	}
	s, err = f.desk.Open(ctx, OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindIPLockout, By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if s.EarlierMessages == nil || *s.EarlierMessages != 2 {
		t.Errorf("ip-lockout case: earlier messages %s, want 2", count(s.EarlierMessages))
	}
	// Shown again, a case says nothing of earlier messages.
	shown, err := f.desk.Show(ctx, s.Ref)
	if err != nil || shown.EarlierMessages != nil {
		t.Errorf("Show: earlier messages %s, %v; want none", count(shown.EarlierMessages), err)
	}
}

// TestOpenWithoutLookback: a lookback of 0 queues nothing.
func TestOpenWithoutLookback(t *testing.T) {
	clk := &clock{t: t0}
	f := newLookbackFixture(t, clk, 0)
	ledgerMail(t, f, clk, []earlier{{name: "jean", sender: "jean@example.org", age: time.Minute, status: store.LedgerIgnored}})
	s, err := f.desk.Open(context.Background(), OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindTOTPLockout, By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if s.EarlierMessages == nil || *s.EarlierMessages != 0 {
		t.Errorf("earlier messages %s, want 0", count(s.EarlierMessages))
	}
	if got := pendingLookbacks(t, f.st); len(got) != 0 {
		t.Errorf("queued %v, want nothing", got)
	}
}

// count shows an optional count.
func count(n *int) string {
	if n == nil {
		return "absent"
	}
	return strconv.Itoa(*n)
}
