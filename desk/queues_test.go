package desk

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/store"
)

func refs(list []Summary) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.Ref)
	}
	return out
}

func TestQueues(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	code, err := f.desk.Open(ctx, OpenRequest{ProfileID: "p-ind", Kind: recoverybot.KindTOTPLockout, By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	lost, err := f.desk.Open(ctx, OpenRequest{ProfileID: "p-co", Kind: recoverybot.KindLostEmail, Contact: "new@else.example", By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	queue := func(q QueueName, query string) []string {
		t.Helper()
		list, err := f.desk.Queue(ctx, q, "alice", query)
		if err != nil {
			t.Fatal(err)
		}
		return refs(list)
	}
	if got := queue(QueueWaiting, ""); len(got) != 2 {
		t.Errorf("waiting: %v", got)
	}
	if got := queue(QueueAttention, ""); len(got) != 0 {
		t.Errorf("attention, nothing wrong: %v", got)
	}
	// Our mail failed: the case needs attention.
	err = f.st.Update(ctx, func(tx *store.Tx) error {
		c, _ := tx.CaseByRef(code.Ref)
		mail, err := tx.Outbox(store.OutboxFilter{CaseID: c.ID})
		if err != nil {
			return err
		}
		return tx.MarkFailed(mail[0].ID, "550 no such user")
	})
	if err != nil {
		t.Fatal(err)
	}
	// A message about the other went to review.
	err = f.st.Update(ctx, func(tx *store.Tx) error {
		c, _ := tx.CaseByRef(lost.Ref)
		return tx.Audit(c.ID, recoverybot.SystemActor, "message_review", map[string]string{"reason": "sender check failed"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := queue(QueueAttention, ""); !slices.Contains(got, code.Ref) || !slices.Contains(got, lost.Ref) {
		t.Errorf("attention: %v", got)
	}
	why, err := f.desk.Attention(ctx, lost.Ref)
	if err != nil || !slices.Equal(why, AttentionReasons{AttentionReview}) {
		t.Errorf("Attention = %v, %v", why, err)
	}
	// An agent acting on the case has seen it.
	if _, err := f.desk.Cancel(ctx, lost.Ref, "bob", "duplicate"); err != nil {
		t.Fatal(err)
	}
	if got := queue(QueueAttention, ""); slices.Contains(got, lost.Ref) {
		t.Errorf("a closed case needs attention: %v", got)
	}
	if got := queue(QueueClosed, ""); !slices.Equal(got, []string{lost.Ref}) {
		t.Errorf("closed: %v", got)
	}
	// Search: by profile address, contact, reference, profile ID.
	for query, want := range map[string]string{"gerant@acme": lost.Ref, "NEW@ELSE": lost.Ref, code.Ref[3:]: code.Ref, "p-ind": code.Ref} {
		if got := queue(QueueAll, query); !slices.Equal(got, []string{want}) {
			t.Errorf("search %q: %v", query, got)
		}
	}
	// Until claims exist, every open case is unassigned.
	if got := queue(QueueUnassigned, ""); !slices.Equal(got, []string{code.Ref}) {
		t.Errorf("unassigned: %v", got)
	}
	if got := queue(QueueMine, ""); len(got) != 0 {
		t.Errorf("mine: %v", got)
	}
	if _, err := f.desk.Queue(ctx, "bogus", "alice", ""); !errors.Is(err, ErrUnknownQueue) {
		t.Errorf("bogus queue: %v", err)
	}
}
