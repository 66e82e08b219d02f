// Package work counts the work the parsers of untrusted bytes do, and
// stops them when a message's work budget is spent or its context is
// done (its deadline passed, or the daemon is stopping).
//
// A unit of work is about the cost of reading one byte: parsers charge
// the bytes they lex, decompress or scan, and a weight for what costs
// more (an entry of a map built, a MIME part). Charges are counted, not
// timed, so that the same input always stops at the same place; the
// context is the one clock, read every checkEvery units.
package work

import (
	"context"
	"errors"
	"fmt"
)

// ErrSpent is the error of a budget whose units are spent.
var ErrSpent = errors.New("work budget spent")

// checkEvery is how many units may be charged between two looks at the
// context: at a few nanoseconds a unit, well under a millisecond.
const checkEvery = 1 << 16

// Budget is the work left to a message, or to a part of it. A nil
// *Budget charges nothing and never stops. A Budget is not safe for use
// by several goroutines at once.
type Budget struct {
	ctx    context.Context
	parent *Budget
	limit  int64
	spent  int64
	check  int64 // spent at which the context is next read
	err    error
}

// New returns a budget of units, stopped early when ctx is done.
func New(ctx context.Context, units int64) *Budget {
	return &Budget{ctx: ctx, limit: units}
}

// Sub returns a budget of at most units, taken from b: what it spends,
// b spends. It stops when b does. Sub of a nil budget is a new budget
// of units without a context.
func (b *Budget) Sub(units int64) *Budget {
	if b == nil {
		return New(context.Background(), units)
	}
	return &Budget{ctx: b.ctx, parent: b, limit: units, check: checkEvery}
}

// Spend charges n units and reports whether the work may go on. Once it
// has returned false it always does: Err says why.
func (b *Budget) Spend(n int64) bool {
	if b == nil {
		return true
	}
	if b.err != nil {
		return false
	}
	if b.spent+n > b.limit {
		// Not charged, to b or its parent: a part over its own budget
		// leaves the rest of the message what it has.
		b.err = fmt.Errorf("%w: %d units", ErrSpent, b.limit)
		return false
	}
	if b.parent != nil && !b.parent.Spend(n) {
		b.err = b.parent.err
		return false
	}
	b.spent += n
	if b.parent == nil && b.spent >= b.check {
		b.check = b.spent + checkEvery
		if err := contextErr(b.ctx); err != nil {
			b.err = err
			return false
		}
	}
	return true
}

// OK reports whether the work may go on, charging nothing.
func (b *Budget) OK() bool { return b.Spend(0) }

// Check reads the context now, and reports whether the work may go on.
func (b *Budget) Check() bool {
	if b == nil {
		return true
	}
	root := b
	for root.parent != nil {
		root = root.parent
	}
	if root.err == nil {
		root.err = contextErr(root.ctx)
	}
	return b.OK()
}

// Stopped reports whether the work was stopped by the context (rather
// than by the units of this budget or of its parents).
func (b *Budget) Stopped() bool {
	return b != nil && b.err != nil && !errors.Is(b.err, ErrSpent)
}

// Err is nil while the work may go on; then an error wrapping ErrSpent,
// or the context's error or cause.
func (b *Budget) Err() error {
	if b == nil {
		return nil
	}
	return b.err
}

// Spent is the number of units charged.
func (b *Budget) Spent() int64 {
	if b == nil {
		return 0
	}
	return b.spent
}

// Left is the number of units left, never below 0.
func (b *Budget) Left() int64 {
	if b == nil {
		return 1<<63 - 1
	}
	left := max(b.limit-b.spent, 0)
	if b.parent != nil {
		left = min(left, b.parent.Left())
	}
	return left
}

// contextErr is nil while ctx is not done; then its error, after its
// cause when it has one ("parsing took longer than 30s: context deadline
// exceeded"), matching both.
func contextErr(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	if cause := context.Cause(ctx); cause != nil && cause != err {
		return fmt.Errorf("%w: %w", cause, err)
	}
	return err
}
