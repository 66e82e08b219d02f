package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestOutboxTakesADueMailOnce: MarkSending takes a mail only while it is
// pending and due, so of two couriers that listed it one sends it; a mail
// not tried is postponed or given up only while nobody has taken it.
func TestOutboxTakesADueMailOnce(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	var a, b int64
	err := s.Update(ctx, func(tx *Tx) (err error) {
		if a, err = tx.Enqueue(OutgoingMail{Template: "t", MessageID: "a@example.net", From: "c@example.net", To: "a@example.org", Raw: []byte("a")}); err != nil {
			return err
		}
		b, err = tx.Enqueue(OutgoingMail{Template: "t", MessageID: "b@example.net", From: "c@example.net", To: "b@example.org", Raw: []byte("b")})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	err = s.Update(ctx, func(tx *Tx) error {
		if err := tx.MarkSending(a); err != nil {
			t.Errorf("first MarkSending: %v", err)
		}
		if err := tx.MarkSending(a); !errors.Is(err, ErrNotDue) {
			t.Errorf("second MarkSending: %v, want ErrNotDue", err)
		}
		if err := tx.Postpone(a, later, "down"); !errors.Is(err, ErrNotDue) {
			t.Errorf("Postpone of a mail being sent: %v, want ErrNotDue", err)
		}
		if err := tx.GiveUp(a, "down"); !errors.Is(err, ErrNotDue) {
			t.Errorf("GiveUp of a mail being sent: %v, want ErrNotDue", err)
		}
		if err := tx.Postpone(b, later, "connect: refused"); err != nil {
			t.Errorf("Postpone: %v", err)
		}
		if err := tx.MarkSending(b); !errors.Is(err, ErrNotDue) {
			t.Errorf("MarkSending of a postponed mail: %v, want ErrNotDue", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var rows []OutgoingMail
	s.View(ctx, func(tx *Tx) (err error) { rows, err = tx.Outbox(OutboxFilter{}); return err })
	if len(rows) != 2 || rows[0].State != OutboxSending || rows[0].Attempts != 1 ||
		rows[1].State != OutboxPending || rows[1].Attempts != 0 || rows[1].LastError != "connect: refused" ||
		rows[1].NextAttemptAt.Sub(later).Abs() > time.Second {
		t.Errorf("rows = %+v", rows)
	}
	err = s.Update(ctx, func(tx *Tx) error { return tx.GiveUp(b, "given up") })
	s.View(ctx, func(tx *Tx) (err error) { rows, err = tx.Outbox(OutboxFilter{}); return err })
	if err != nil || rows[1].State != OutboxFailed || rows[1].LastError != "given up" {
		t.Errorf("GiveUp: %v, %+v", err, rows[1])
	}
}
