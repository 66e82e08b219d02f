package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
)

// openClockTest opens a store in a temporary directory whose clock is
// *now, so a test moves time by assigning it.
func openClockTest(t *testing.T, now *time.Time) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "recoverybot.db")
	s, err := Open(context.Background(), path, testVault(t), Options{Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// queueTestAction opens a case and queues an action for it, due delay
// after now.
func queueTestAction(t *testing.T, s *Store, profile string, a recoverybot.Action, delay time.Duration) recoverybot.ActionCall {
	t.Helper()
	addProfile(t, s, profile, recoverybot.HolderIndividual)
	var call recoverybot.ActionCall
	err := s.Update(context.Background(), func(tx *Tx) error {
		c, err := newCase(tx, profile, recoverybot.KindTOTPLockout)
		if err != nil {
			return err
		}
		call = recoverybot.ActionCall{CaseID: c.ID, CaseRef: c.Ref, ProfileID: profile, Action: a,
			Approvers: []string{"alice", "bob"}, ApprovedAt: tx.Now(), NotBefore: tx.Now().Add(delay)}
		if a == recoverybot.ActionChangeEmail {
			call.NewEmail = "new@example.org"
		}
		return tx.QueueAction(&call)
	})
	if err != nil {
		t.Fatal(err)
	}
	return call
}

func TestQueueAction(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s, _ := openClockTest(t, &now)
	ctx := context.Background()
	call := queueTestAction(t, s, "P1", recoverybot.ActionChangeEmail, time.Hour)
	if call.ID == 0 || call.State != recoverybot.ActionPending || len(call.Key) != 32 ||
		!call.NextAttemptAt.Equal(now.Add(time.Hour)) || !call.NotBefore.Equal(now.Add(time.Hour)) {
		t.Fatalf("queued call = %+v", call)
	}
	var got []recoverybot.ActionCall
	err := s.View(ctx, func(tx *Tx) (err error) { got, err = tx.ActionCalls(call.CaseID); return err })
	if err != nil || len(got) != 1 {
		t.Fatalf("ActionCalls = %+v, %v", got, err)
	}
	g := got[0]
	if g.ID != call.ID || g.Key != call.Key || g.Action != recoverybot.ActionChangeEmail || g.NewEmail != "new@example.org" ||
		strings.Join(g.Approvers, ",") != "alice,bob" || !g.ApprovedAt.Equal(now) || g.CaseRef != call.CaseRef ||
		g.ProfileID != "P1" || g.State != recoverybot.ActionPending || g.DoneAt != nil || !g.CreatedAt.Equal(now) {
		t.Errorf("stored call = %+v, queued %+v", g, call)
	}
	// One action per case.
	err = s.Update(ctx, func(tx *Tx) error {
		again := recoverybot.ActionCall{CaseID: call.CaseID, CaseRef: call.CaseRef, ProfileID: "P1", Action: recoverybot.ActionTellEmail}
		return tx.QueueAction(&again)
	})
	if !errors.Is(err, ErrDuplicateRow) {
		t.Errorf("second action for a case: %v, want ErrDuplicateRow", err)
	}
	for _, bad := range []recoverybot.ActionCall{
		{CaseID: call.CaseID, CaseRef: call.CaseRef, ProfileID: "P1", Action: "reset_password"},
		{CaseID: call.CaseID, CaseRef: call.CaseRef, ProfileID: "P1", Action: "Disable_TOTP"},
		{CaseID: call.CaseID, CaseRef: call.CaseRef, ProfileID: "P1", Action: recoverybot.ActionChangeEmail},
	} {
		err := s.Update(ctx, func(tx *Tx) error { return tx.QueueAction(&bad) })
		if err == nil || errors.Is(err, ErrDuplicateRow) {
			t.Errorf("QueueAction(%+v) = %v, want refused before the insert", bad, err)
		}
	}
	// Nothing due before NotBefore.
	var due []recoverybot.ActionCall
	s.View(ctx, func(tx *Tx) (err error) { due, err = tx.DueActions(0); return err })
	if len(due) != 0 {
		t.Errorf("due before its time: %+v", due)
	}
	err = s.Update(ctx, func(tx *Tx) error { _, err := tx.ClaimAction(call.ID); return err })
	if !errors.Is(err, ErrActionNotDue) {
		t.Errorf("ClaimAction before its time: %v, want ErrActionNotDue", err)
	}
	now = now.Add(time.Hour)
	s.View(ctx, func(tx *Tx) (err error) { due, err = tx.DueActions(0); return err })
	if len(due) != 1 || due[0].ID != call.ID {
		t.Errorf("due at its time: %+v", due)
	}
}

// TestClaimActionOnce: of two couriers that listed a call, one takes it;
// its outcome is recorded only for the attempt that produced it.
func TestClaimActionOnce(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s, _ := openClockTest(t, &now)
	ctx := context.Background()
	call := queueTestAction(t, s, "P1", recoverybot.ActionDisableTOTP, 0)
	var claimed recoverybot.ActionCall
	err := s.Update(ctx, func(tx *Tx) (err error) {
		if claimed, err = tx.ClaimAction(call.ID); err != nil {
			return err
		}
		if _, err := tx.ClaimAction(call.ID); !errors.Is(err, ErrActionNotDue) {
			t.Errorf("second ClaimAction: %v, want ErrActionNotDue", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if claimed.State != recoverybot.ActionCalling || claimed.Attempts != 1 || claimed.Key != call.Key {
		t.Fatalf("claimed = %+v", claimed)
	}
	now = now.Add(time.Minute)
	err = s.Update(ctx, func(tx *Tx) error {
		if _, err := tx.MarkActionDone(call.ID, 2, "ok"); !errors.Is(err, ErrActionNotDue) {
			t.Errorf("MarkActionDone of another attempt: %v, want ErrActionNotDue", err)
		}
		if _, err := tx.MarkActionDone(999, 1, "ok"); !errors.Is(err, ErrNotFound) {
			t.Errorf("MarkActionDone of no call: %v, want ErrNotFound", err)
		}
		next := now.Add(30 * time.Second)
		c, err := tx.MarkActionRetry(call.ID, 1, next, "503 Service Unavailable\nretry later")
		if err != nil {
			return err
		}
		if c.State != recoverybot.ActionPending || !c.NextAttemptAt.Equal(next) || c.LastError != "503 Service Unavailable retry later" {
			t.Errorf("after retry: %+v", c)
		}
		if _, err := tx.MarkActionDone(call.ID, 1, "ok"); !errors.Is(err, ErrActionNotDue) {
			t.Errorf("MarkActionDone of a pending call: %v, want ErrActionNotDue", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(30 * time.Second)
	err = s.Update(ctx, func(tx *Tx) error {
		c, err := tx.ClaimAction(call.ID)
		if err != nil {
			return err
		}
		if c.Attempts != 2 {
			t.Errorf("second claim: attempts %d, want 2", c.Attempts)
		}
		long := strings.Repeat("é", 400) // 800 bytes
		c, err = tx.MarkActionDone(call.ID, 2, long)
		if err != nil {
			return err
		}
		if c.State != recoverybot.ActionDone || c.DoneAt == nil || !c.DoneAt.Equal(now) || c.LastError != "" ||
			len(c.Result) != 500 || !strings.HasPrefix(long, c.Result) {
			t.Errorf("done = %+v (result %d bytes)", c, len(c.Result))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Failed: a permanent refusal.
	other := queueTestAction(t, s, "P2", recoverybot.ActionClearIPAllowlist, 0)
	err = s.Update(ctx, func(tx *Tx) error {
		if _, err := tx.ClaimAction(other.ID); err != nil {
			return err
		}
		c, err := tx.MarkActionFailed(other.ID, 1, "400 Bad Request: unknown profile")
		if err == nil && (c.State != recoverybot.ActionFailed || c.DoneAt == nil || c.LastError != "400 Bad Request: unknown profile") {
			t.Errorf("failed = %+v", c)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var failed []recoverybot.ActionCall
	s.View(ctx, func(tx *Tx) (err error) { failed, err = tx.ActionsIn(recoverybot.ActionFailed, 0); return err })
	if len(failed) != 1 || failed[0].ID != other.ID {
		t.Errorf("ActionsIn(failed) = %+v", failed)
	}
}

// TestResumeActions: a call left 'calling' by a process that died is
// due again, with the same key, after the store is opened again.
func TestResumeActions(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s, path := openClockTest(t, &now)
	ctx := context.Background()
	call := queueTestAction(t, s, "P1", recoverybot.ActionDisableTOTP, 0)
	untouched := queueTestAction(t, s, "P2", recoverybot.ActionDisableTOTP, time.Hour)
	if err := s.Update(ctx, func(tx *Tx) error { _, err := tx.ClaimAction(call.ID); return err }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err := Open(ctx, path, testVault(t), Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now = now.Add(time.Minute)
	var n int64
	// Claimed a minute ago: not stale an hour after.
	if err := s.Update(ctx, func(tx *Tx) (err error) { n, err = tx.ResumeStaleActions(now.Add(-time.Hour)); return err }); err != nil || n != 0 {
		t.Fatalf("ResumeStaleActions(an hour ago) = %d, %v; want 0", n, err)
	}
	if err := s.Update(ctx, func(tx *Tx) (err error) { n, err = tx.ResumeActions(); return err }); err != nil || n != 1 {
		t.Fatalf("ResumeActions = %d, %v; want 1", n, err)
	}
	var due []recoverybot.ActionCall
	s.View(ctx, func(tx *Tx) (err error) { due, err = tx.DueActions(0); return err })
	if len(due) != 1 || due[0].ID != call.ID || due[0].Key != call.Key || due[0].State != recoverybot.ActionPending ||
		due[0].Attempts != 1 || !due[0].NextAttemptAt.Equal(now) || due[0].LastError == "" {
		t.Errorf("due after resume = %+v", due)
	}
	var other recoverybot.ActionCall
	s.View(ctx, func(tx *Tx) (err error) { other, err = tx.ActionCall(untouched.ID); return err })
	if other.State != recoverybot.ActionPending || !other.NextAttemptAt.Equal(untouched.NextAttemptAt) {
		t.Errorf("a call not being sent was changed: %+v", other)
	}
	if err := s.Update(ctx, func(tx *Tx) (err error) { n, err = tx.ResumeActions(); return err }); err != nil || n != 0 {
		t.Errorf("second ResumeActions = %d, %v; want 0", n, err)
	}
	// A call claimed long ago is stale.
	if err := s.Update(ctx, func(tx *Tx) error { _, err := tx.ClaimAction(call.ID); return err }); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	if err := s.Update(ctx, func(tx *Tx) (err error) { n, err = tx.ResumeStaleActions(now.Add(-time.Hour)); return err }); err != nil || n != 1 {
		t.Errorf("ResumeStaleActions of a call claimed 2h ago = %d, %v; want 1", n, err)
	}
}

func TestStopAction(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s, _ := openClockTest(t, &now)
	ctx := context.Background()
	waiting := queueTestAction(t, s, "P1", recoverybot.ActionChangeEmail, 24*time.Hour)
	sent := queueTestAction(t, s, "P2", recoverybot.ActionDisableTOTP, 0)
	retrying := queueTestAction(t, s, "P3", recoverybot.ActionDisableTOTP, 0)
	err := s.Update(ctx, func(tx *Tx) error {
		if _, err := tx.ClaimAction(sent.ID); err != nil {
			return err
		}
		if _, err := tx.ClaimAction(retrying.ID); err != nil {
			return err
		}
		_, err := tx.MarkActionRetry(retrying.ID, 1, now.Add(time.Minute), "503")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	err = s.Update(ctx, func(tx *Tx) error {
		c, err := tx.StopAction(waiting.CaseID, "carol", "the customer called: not them")
		if err != nil {
			return err
		}
		if c.State != recoverybot.ActionStopped || c.StoppedBy != "carol" || c.StopReason != "the customer called: not them" ||
			c.DoneAt == nil || !c.DoneAt.Equal(now) {
			t.Errorf("stopped = %+v", c)
		}
		if _, err := tx.StopAction(waiting.CaseID, "dave", "again"); !errors.Is(err, ErrActionStopped) {
			t.Errorf("second StopAction: %v, want ErrActionStopped", err)
		}
		if _, err := tx.StopAction(sent.CaseID, "carol", "too late"); !errors.Is(err, ErrActionStarted) {
			t.Errorf("StopAction of a call being sent: %v, want ErrActionStarted", err)
		}
		if _, err := tx.StopAction(retrying.CaseID, "carol", "too late"); !errors.Is(err, ErrActionStarted) {
			t.Errorf("StopAction of a call sent once: %v, want ErrActionStarted", err)
		}
		if _, err := tx.StopAction(12345, "carol", "none"); !errors.Is(err, ErrNotFound) {
			t.Errorf("StopAction of a case without an action: %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A stopped call is never due.
	now = now.Add(48 * time.Hour)
	var due []recoverybot.ActionCall
	s.View(ctx, func(tx *Tx) (err error) { due, err = tx.DueActions(0); return err })
	for _, d := range due {
		if d.ID == waiting.ID {
			t.Errorf("stopped call due: %+v", d)
		}
	}
}
