package pdftext_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/recoverybot/recoverybot/parser/internal/testpdf"
	"github.com/recoverybot/recoverybot/parser/internal/work"
	"github.com/recoverybot/recoverybot/parser/pdftext"
)

// A ToUnicode CMap whose bfrange maps the whole code space, 300 times
// over (580 bytes, 20 million map entries, 15 s of CPU before the work
// budget): Analyze stops at its budget and says so.
func TestCMapBombSpendsItsBudget(t *testing.T) {
	w := work.New(context.Background(), pdftext.DefaultWork)
	r := pdftext.Analyze(testpdf.CMapBomb(300, 1), pdftext.Limits{Work: w})
	if !slices.Contains(r.Limited, "work") || !errors.Is(w.Err(), work.ErrSpent) {
		t.Errorf("limited %v, work error %v: want the work budget reached", r.Limited, w.Err())
	}
	if w.Spent() > pdftext.DefaultWork {
		t.Errorf("spent %d units, more than the budget of %d", w.Spent(), pdftext.DefaultWork)
	}
	// Without a budget of its own, Analyze has the default one.
	if r := pdftext.Analyze(testpdf.CMapBomb(300, 1), pdftext.Limits{}); !slices.Contains(r.Limited, "work") {
		t.Errorf("default limits: limited %v", r.Limited)
	}
}

// A font given inline in the page's resources is made again at every
// selection (Tf); its CMap is read once, whatever the count.
func TestCMapReadOnce(t *testing.T) {
	one := work.New(context.Background(), 1<<40)
	pdftext.Analyze(testpdf.CMapBomb(1, 1), pdftext.Limits{Work: one})
	many := work.New(context.Background(), 1<<40)
	r := pdftext.Analyze(testpdf.CMapBomb(1, 100_000), pdftext.Limits{Work: many})
	if len(r.Limited) != 0 || strings.TrimSpace(r.Text) != "A" {
		t.Errorf("limited %v, text %q", r.Limited, r.Text)
	}
	// The 100,000 selections cost their bytes decompressed and lexed
	// (about 21 units each), not 100,000 readings of the CMap (6.5
	// million units each).
	if extra := many.Spent() - one.Spent(); extra > 3_000_000 {
		t.Errorf("100,000 selections of the font cost %d units more than one", extra)
	}
}

// A Flate bomb (60 MiB of zeros in 60 KB) stops at the work budget:
// decompressing is charged by the byte, as it goes.
func TestFlateBombSpendsItsBudget(t *testing.T) {
	const budget = 10_000_000
	w := work.New(context.Background(), budget)
	r := pdftext.Analyze(testpdf.Bomb(60<<20), pdftext.Limits{Work: w, MaxStream: 64 << 20})
	if !slices.Contains(r.Limited, "work") || w.Spent() > budget || r.Decoded > budget {
		t.Errorf("limited %v, spent %d units, decoded %d bytes: want the budget of %d units reached", r.Limited, w.Spent(), r.Decoded, budget)
	}
	if len(r.Problems) != 0 {
		t.Errorf("problems %v: a spent budget is a limit, not damage", r.Problems)
	}
}

// countdown is a context cancelled at the n-th look at it: the parser
// looks every few tens of thousands of units, so the work done after
// the cancellation is counted by the looks that follow it.
type countdown struct {
	context.Context
	cancel context.CancelFunc
	left   atomic.Int64
	looks  atomic.Int64
}

func newCountdown(n int64) *countdown {
	ctx, cancel := context.WithCancel(context.Background())
	c := &countdown{Context: ctx, cancel: cancel}
	c.left.Store(n)
	return c
}

func (c *countdown) Err() error {
	c.looks.Add(1)
	if c.left.Add(-1) <= 0 {
		c.cancel()
	}
	return c.Context.Err()
}

// A cancelled context stops Analyze at the next look: it returns at
// once, with "work" limited and the context's error.
func TestAnalyzeStopsWhenCancelled(t *testing.T) {
	for name, pdf := range map[string][]byte{"cmap bomb": testpdf.CMapBomb(300, 1), "flate bomb": testpdf.Bomb(60 << 20)} {
		t.Run(name, func(t *testing.T) {
			ctx := newCountdown(3)
			w := work.New(ctx, 1<<40)
			r := pdftext.Analyze(pdf, pdftext.Limits{Work: w, MaxStream: 64 << 20})
			if !slices.Contains(r.Limited, "work") || !errors.Is(w.Err(), context.Canceled) {
				t.Errorf("limited %v, work error %v", r.Limited, w.Err())
			}
			// The third look sees the cancellation (and context.Cause
			// looks once more to read it): nothing runs after it.
			if n := ctx.looks.Load(); n != 4 {
				t.Errorf("%d looks at the context: want the work stopped at the third, when it was cancelled", n)
			}
		})
	}
}
