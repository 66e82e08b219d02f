package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/recoverybot/recoverybot/internal/dovecottest"
)

// goalBombCPU is SPEC §7's bound on the CPU one message may cost.
const goalBombCPU = 5.0 // seconds

// bombsPerMessage is how many copies of its bomb each bomb message
// carries: more than the work budget of a message lets it read.
const bombsPerMessage = 4

// bombRun is one `run --once` over bombs of one kind with a genuine
// case message queued behind them.
type bombRun struct {
	kind   string // the file in testdata/bombs
	n      int    // bomb messages
	run    usage
	counts map[string]int
}

// ok reports whether the bombs went to review, the genuine message
// was processed, and each bomb message cost no more than the goal.
func (b bombRun) ok(base usage) bool {
	return b.counts["fetched"] == b.n+1 && b.counts["review"] == b.n && b.counts["processed"] == 1 && b.perMessage(base) <= goalBombCPU
}

// perMessage is the CPU one bomb message cost: the run's, less the
// baseline run's (start-up, one genuine message), shared by the bombs.
func (b bombRun) perMessage(base usage) float64 {
	return max(b.run.cpu-base.cpu, 0).Seconds() / float64(b.n)
}

// bombCases is how many cases the bomb runs use: one for the baseline's
// genuine message, then per kind one the bombs are about and one for the
// genuine message behind them.
const bombCases = 5

// bombs drains, with `run --once`, first one genuine message about a case
// (the baseline), then for each bomb of testdata/bombs n messages
// carrying it bombsPerMessage times (the CMap bomb sent from a case's
// contact address with no reference, the Flate bomb naming its case)
// followed by one genuine message. Each bomb message should go to
// review, the genuine one be processed (bombRun.ok).
func bombs(ctx context.Context, root, bin, conf string, log io.Writer, dc *dovecottest.Server, n int, cases []openCase) (usage, []bombRun, error) {
	c := newCorpus(7)
	user := dc.User()
	base, counts, err := drainOf(ctx, bin, conf, log, dc, user, [][]byte{c.caseMail(cases[0].ref, cases[0].contact, 100<<10)})
	if err != nil {
		return base, nil, err
	}
	if counts["fetched"] != 1 || counts["processed"] != 1 {
		return base, nil, fmt.Errorf("baseline run --once: %v, want 1 fetched and processed", counts)
	}
	var runs []bombRun
	for i, kind := range []string{"cmap.pdf", "flate.pdf"} {
		pdf, err := os.ReadFile(filepath.Join(root, "testdata", "bombs", kind))
		if err != nil {
			return base, runs, err
		}
		target, behind := cases[1+2*i], cases[2+2*i]
		var msgs [][]byte
		for range n {
			subject := "mes documents" // the CMap bomb: tied by its sender alone
			if kind == "flate.pdf" {
				subject = "Re: [" + target.ref + "] mes documents"
			}
			var atts []attachment
			for j := range bombsPerMessage {
				atts = append(atts, attachment{fmt.Sprintf("document-%d.pdf", j+1), "application/pdf", pdf})
			}
			msgs = append(msgs, compose(c.messageID(), "Client <"+target.contact+">", subject,
				"Bonjour,\r\nvoici les documents demandés.\r\n", atts...))
		}
		msgs = append(msgs, c.caseMail(behind.ref, behind.contact, 100<<10))
		u, counts, err := drainOf(ctx, bin, conf, log, dc, user, msgs)
		if err != nil {
			return base, runs, err
		}
		runs = append(runs, bombRun{kind: kind, n: n, run: u, counts: counts})
	}
	return base, runs, nil
}

// drainOf puts msgs in INBOX and drains them with `run --once`.
func drainOf(ctx context.Context, bin, conf string, log io.Writer, dc *dovecottest.Server, user string, msgs [][]byte) (usage, map[string]int, error) {
	if err := dc.SaveMany(user, "INBOX", msgs); err != nil {
		return usage{}, nil, err
	}
	return runOnce(ctx, bin, conf, log)
}

func printBombs(w io.Writer, base usage, runs []bombRun) {
	fmt.Fprintf(w, "  bomb messages (%d bombs each) through run --once, a genuine message behind them\n", bombsPerMessage)
	fmt.Fprintf(w, "  (baseline run, one genuine message: %.2f s CPU; goal: <= %.0f s CPU a message, bombs to review, the genuine one processed):\n",
		base.cpu.Seconds(), goalBombCPU)
	for _, b := range runs {
		fmt.Fprintf(w, "    %-9s x %-3d %6.2f s wall %6.2f s CPU  %5.2f s CPU a message  %d to review, %d processed, %d ignored  peak RSS %d MB  %s\n",
			b.kind, b.n, b.run.wall.Seconds(), b.run.cpu.Seconds(), b.perMessage(base),
			b.counts["review"], b.counts["processed"], b.counts["ignored"], b.run.rss>>20, verdict(b.ok(base)))
	}
}
