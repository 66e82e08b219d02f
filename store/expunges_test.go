package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
)

// addMessage records one more message of a case, decided for the
// processed folder, and returns its ledger row.
func addMessage(t *testing.T, s *Store, c recoverybot.Case, uid uint32, messageID string) Entry {
	t.Helper()
	ref := spoolOne(t, s, []byte("Subject: more\r\nMessage-ID: <"+messageID+">\r\n\r\nmore\r\n"))
	e := Entry{Mailbox: "INBOX", UIDValidity: 1, UID: uid, MessageID: messageID, ContentKey: messageID, Size: 10}
	err := s.Update(context.Background(), func(tx *Tx) error {
		if err := tx.Record(&e, &ref); err != nil {
			return err
		}
		return tx.Decide(e.ID, Decided{Status: LedgerProcessed, CaseID: c.ID, MoveTo: "Recovery/Processed"})
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func pendingExpunges(t *testing.T, s *Store) []Expunge {
	t.Helper()
	var out []Expunge
	if err := s.View(context.Background(), func(tx *Tx) error {
		var err error
		out, err = tx.PendingExpunges(100)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// The purge of a case queues, in its transaction, the expunge of every
// message of it that recoverybot moved, with where the server put it
// (and by Message-ID only when the server did not say); a message not
// moved, and every message of an open case, are not queued. A second
// purge queues nothing more.
func TestPurgeQueuesExpungesOfMovedMessages(t *testing.T) {
	dir := t.TempDir()
	clock := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s, err := Open(context.Background(), filepath.Join(dir, "recoverybot.db"), testVault(t), Options{Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	addProfile(t, s, "closed", recoverybot.HolderIndividual)
	addProfile(t, s, "open", recoverybot.HolderIndividual)
	closed := addPurgeCase(t, s, filepath.Join(dir, "recoverybot.db"), "closed", 1)
	open := addPurgeCase(t, s, filepath.Join(dir, "recoverybot.db"), "open", 2)
	second := addMessage(t, s, closed.c, 3, "second@m")   // moved, the server did not say where
	unmoved := addMessage(t, s, closed.c, 4, "unmoved@m") // decided, never moved
	// A message whose sender wrote the Message-ID of the open case's
	// message: it is never looked for by that Message-ID.
	spoof := addMessage(t, s, closed.c, 5, open.entry.MessageID)
	err = s.Update(ctx, func(tx *Tx) error {
		if err := tx.MarkMovedTo("Recovery.Processed", []Moved{{ID: closed.entry.ID, UIDValidity: 77, UID: 12}, {ID: open.entry.ID, UIDValidity: 77, UID: 13}}); err != nil {
			return err
		}
		return tx.MarkMovedTo("Recovery.Processed", []Moved{{ID: second.ID}, {ID: spoof.ID}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := pendingExpunges(t, s); len(got) != 0 {
		t.Fatalf("expunges queued before any purge: %+v", got)
	}
	err = s.View(ctx, func(tx *Tx) error {
		e, err := tx.Entry(closed.entry.ID)
		if err != nil {
			return err
		}
		if e.MovedAt == nil || e.MovedFolder != "Recovery.Processed" || e.MovedUIDValidity != 77 || e.MovedUID != 12 {
			t.Errorf("moved entry = %+v, want moved to Recovery.Processed 77/12", e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	closeCase(t, s, closed.c, clock)
	got, err := s.Purge(ctx, clock, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got.Cases != 1 || got.Expunges != 3 {
		t.Errorf("Purge = %+v, want 1 case, 3 expunges", got)
	}
	pending := pendingExpunges(t, s)
	want := []Expunge{
		{EntryID: closed.entry.ID, CaseID: closed.c.ID, Folder: "Recovery.Processed", MoveTo: "Recovery/Processed", UIDValidity: 77, UID: 12, MessageID: "closed@m", Size: closed.entry.Size},
		{EntryID: second.ID, CaseID: closed.c.ID, Folder: "Recovery.Processed", MoveTo: "Recovery/Processed", MessageID: "second@m", Size: second.Size},
		{EntryID: spoof.ID, CaseID: closed.c.ID, Folder: "Recovery.Processed", MoveTo: "Recovery/Processed", Size: spoof.Size},
	}
	if len(pending) != len(want) {
		t.Fatalf("pending expunges = %+v, want %d", pending, len(want))
	}
	for i, w := range want {
		g := pending[i]
		w.ID, w.CreatedAt = g.ID, clock
		if g != w {
			t.Errorf("expunge %d = %+v, want %+v", i, g, w)
		}
		if g.EntryID == unmoved.ID || g.CaseID == open.c.ID {
			t.Errorf("expunge %+v: not moved, or of the open case", g)
		}
	}
	events := auditEvents(t, s, closed.c.ID)
	if last := events[len(events)-1]; last.Action != "case_purged" || last.Details["expunges"] != "3" {
		t.Errorf("last audit event = %+v, want case_purged with 3 expunges", last)
	}

	// Again: nothing new queued.
	if again, err := s.Purge(ctx, clock.Add(time.Hour), 0); err != nil || again.Expunges != 0 {
		t.Errorf("second Purge = %+v, %v; want no expunge queued", again, err)
	}

	// The move of the message left undone at purge time is done later:
	// it is queued then, since the purge could not know where it went.
	// A move of the open case's message queues nothing.
	err = s.Update(ctx, func(tx *Tx) error {
		return tx.MarkMovedTo("Recovery.Processed", []Moved{{ID: unmoved.ID, UIDValidity: 77, UID: 14}})
	})
	if err != nil {
		t.Fatal(err)
	}
	pending = pendingExpunges(t, s)
	if len(pending) != 4 || pending[3].EntryID != unmoved.ID || pending[3].UID != 14 {
		t.Fatalf("after the late move: %+v, want its expunge queued", pending)
	}

	// A failure keeps an expunge pending, behind those not tried yet;
	// done, it leaves the queue.
	err = s.Update(ctx, func(tx *Tx) error {
		if err := tx.ExpungesFailed([]int64{pending[0].ID}, "select: NO"); err != nil {
			return err
		}
		return tx.ExpungesDone([]int64{pending[1].ID, pending[2].ID})
	})
	if err != nil {
		t.Fatal(err)
	}
	after := pendingExpunges(t, s)
	if len(after) != 2 || after[0].ID != pending[3].ID || after[1].ID != pending[0].ID || after[1].Attempts != 1 || after[1].LastError != "select: NO" {
		t.Fatalf("after a failure and a success: %+v", after)
	}
	err = s.View(ctx, func(tx *Tx) error {
		states, err := tx.ExpungesOf(closed.c.ID)
		if err != nil {
			return err
		}
		done := 0
		for _, st := range states {
			if st.DoneAt != nil {
				done++
			}
		}
		if len(states) != 4 || done != 2 {
			t.Errorf("ExpungesOf = %+v, want 4, 2 done", states)
		}
		if states, err := tx.ExpungesOf(open.c.ID); err != nil || len(states) != 0 {
			t.Errorf("open case's expunges = %+v, %v; want none", states, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func auditEvents(t *testing.T, s *Store, caseID int64) []recoverybot.AuditEvent {
	t.Helper()
	var evs []recoverybot.AuditEvent
	if err := s.View(context.Background(), func(tx *Tx) error {
		var err error
		evs, err = tx.AuditEvents(AuditFilter{CaseID: caseID})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return evs
}
