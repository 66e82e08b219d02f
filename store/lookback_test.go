package store

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// A message taken again gets a new copy in the spool; a copy left by an
// attempt that a crash cut short (spooled and pointed at, never decided)
// leaves the spool when the next attempt replaces it.
func TestRespoolReplacesAnEarlierAttempt(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	raw := []byte("From: jean@example.org\r\nSubject: hello\r\n\r\nbefore the case\r\n")
	e := Entry{Mailbox: "INBOX", UIDValidity: 7, UID: 1, MessageID: "m1", ContentKey: "k1", Size: int64(len(raw))}
	ref := spoolOne(t, s, raw)
	if err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.Record(&e, &ref); err != nil {
			return err
		}
		return tx.Decide(e.ID, Decided{Status: LedgerIgnored, Sender: "jean@example.org"})
	}); err != nil {
		t.Fatal(err)
	}
	first, second := spoolOne(t, s, raw), spoolOne(t, s, raw)
	for _, ref := range []RawRef{first, second} {
		if err := s.Update(ctx, func(tx *Tx) error { return tx.Respool(e.ID, ref) }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.spooled(first.ID, first.SHA256); !errors.Is(err, ErrNotFound) {
		t.Errorf("the copy of the interrupted attempt: %v, want it gone from the spool", err)
	}
	if err := s.View(ctx, func(tx *Tx) error {
		got, err := tx.MessageRaw(e.ID)
		if err == nil && !bytes.Equal(got, raw) {
			t.Errorf("MessageRaw = %q, want the message", got)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.Respool(e.ID+1, second) }); !errors.Is(err, ErrNotFound) {
		t.Errorf("Respool of no message: %v, want ErrNotFound", err)
	}
}
