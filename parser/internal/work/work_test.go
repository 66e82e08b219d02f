package work

import (
	"context"
	"errors"
	"testing"
)

func TestSpend(t *testing.T) {
	b := New(context.Background(), 100)
	if !b.Spend(60) || !b.Spend(40) {
		t.Fatal("the budget's own units refused")
	}
	if b.Spend(1) || !errors.Is(b.Err(), ErrSpent) || b.Spent() != 100 || b.Left() != 0 || b.Stopped() {
		t.Fatalf("past the budget: err %v, spent %d", b.Err(), b.Spent())
	}
	if b.Spend(0) {
		t.Fatal("a spent budget went on")
	}
}

func TestSub(t *testing.T) {
	b := New(context.Background(), 100)
	s := b.Sub(30)
	if !s.Spend(30) || s.Spend(1) {
		t.Fatal("sub-budget not bounded by its own units")
	}
	if b.Spent() != 30 || b.Err() != nil || !b.Spend(70) {
		t.Fatalf("parent: spent %d, err %v: a part over its budget must leave the rest what it has", b.Spent(), b.Err())
	}
	s2 := b.Sub(50)
	if s2.Left() != 0 || s2.Spend(1) || !errors.Is(s2.Err(), ErrSpent) {
		t.Fatalf("a sub-budget of a spent parent: left %d, err %v", s2.Left(), s2.Err())
	}
}

func TestNil(t *testing.T) {
	var b *Budget
	if !b.Spend(1<<40) || b.Err() != nil || b.Spent() != 0 || !b.Check() {
		t.Fatal("a nil budget must charge nothing and never stop")
	}
	if s := b.Sub(10); !s.Spend(10) || s.Spend(1) {
		t.Fatal("Sub of nil must be a budget of its own units")
	}
}

// The context is read at the first charge, then every checkEvery units:
// a cancelled context stops the work within checkEvery units.
func TestContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	b := New(ctx, 1<<40)
	s := b.Sub(1 << 30)
	if !s.Spend(1) {
		t.Fatal("stopped before the cancel")
	}
	cancel()
	n := int64(0)
	for s.Spend(1) {
		n++
	}
	if n > checkEvery || !errors.Is(s.Err(), context.Canceled) || !s.Stopped() || !b.Stopped() {
		t.Fatalf("went on for %d units after the cancel; err %v", n, s.Err())
	}

	ctx, cancelCause := context.WithCancelCause(context.Background())
	b = New(ctx, 1<<40)
	cancelCause(errors.New("took too long"))
	if b.Check() || !errors.Is(b.Err(), context.Canceled) || b.Err().Error() != "took too long: context canceled" {
		t.Fatalf("Check after the cancel: err %v", b.Err())
	}
}
