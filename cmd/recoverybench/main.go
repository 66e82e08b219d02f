// Command recoverybench measures recoverybot against the goals of its
// mailbox issues, on a real Dovecot it starts itself (`make bench`):
//
//   - draining a backlog with `recoverybot run --once` against mbsync
//     (isync) pulling the same mailbox into a Maildir, medians of
//     alternating rounds, on each of four mixes (-mixes): "standard",
//     2,001 messages (200 about open cases with ~100 KB documents, 1,800
//     ordinary support mails of 1 KB to 200 KB, one of 30 MB), where the
//     drain should take at most half of mbsync's time; "attachments", the
//     same with one ordinary mail in six carrying a 1 to 5 MB file;
//     "large-cases", ten 38 MB case messages in a row; "many-small",
//     10,000 small messages, 100 about cases, and one of 40 MB;
//   - recoverybot's peak RSS meanwhile stays under 256 MB, on every mix;
//   - the bytes fetched per message kind (ordinary, large ordinary, case):
//     whole, as the intake downloads them, and by a Glimpse of each
//     (mailbox.Conn.Glimpse: header, BODYSTRUCTURE, the first bytes of
//     the texts), counted by the Conn;
//   - while `recoverybot serve` runs, a customer's complete message
//     changes its case's state within a second of its delivery;
//   - a message carrying a bomb (testdata/bombs: a ToUnicode CMap
//     repeated over the code space, a Flate bomb) costs at most 5 s of
//     CPU through `run --once` (SPEC §7), goes to review, and the
//     genuine message queued behind the bombs is processed.
//
// It prints the figures and whether each goal is met. It exits 1 when the
// benchmark cannot be set up or run, and 0 otherwise, goals met or not
// (-strict: 3 when a goal is missed). Everything it starts is stopped and
// everything it writes is removed, on Ctrl-C too.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("recoverybench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.IntVar(&o.cases, "cases", 200, "backlog messages about open cases (each with a ~100 KB document)")
	fs.IntVar(&o.ordinary, "ordinary", 1800, "ordinary support mails in the backlog (1 KB to 200 KB)")
	fs.IntVar(&o.hugeMB, "huge-mb", 30, "size in MB of the one very large message in the standard backlog (0: none)")
	fs.IntVar(&o.attachEvery, "attach-every", 6, "in the attachments mix, one ordinary mail in this many carries a 1 to 5 MB file")
	fs.StringVar(&o.mixes, "mixes", strings.Join(mixNames, ","), "the backlogs drained, comma-separated: "+strings.Join(mixNames, ", "))
	fs.IntVar(&o.deliveries, "deliveries", 50, "deliveries timed while serve runs")
	fs.IntVar(&o.bombs, "bombs", 5, "messages of each bomb drained with run --once, their CPU measured (0: none)")
	fs.IntVar(&o.rounds, "rounds", 3, "drains timed, alternating with mbsync pulls; the medians are compared")
	fs.StringVar(&o.bin, "bin", "", "benchmark this recoverybot binary instead of one built from the module (an older version, to compare)")
	fs.StringVar(&o.keep, "keep", "", "keep the work directory (Dovecot, data, logs) in this directory instead of a removed temporary one")
	fs.BoolVar(&o.verbose, "v", false, "say what is happening")
	strict := fs.Bool("strict", false, "exit 3 when a goal is missed")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.rounds < 1 || o.deliveries < 1 || o.cases < 0 || o.ordinary < 0 || o.hugeMB < 0 || o.bombs < 0 || o.attachEvery < 1 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "recoverybench: bad arguments (see -help)")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o.stdout, o.stderr = stdout, stderr
	res, err := bench(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "recoverybench: %v\n", err)
		return 1
	}
	if !res.goalsMet() && *strict {
		return 3
	}
	return 0
}

// errGoal marks a result that misses a goal; the run itself succeeded.
var errGoal = errors.New("goal missed")
