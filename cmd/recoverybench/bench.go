package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/config"
	"github.com/recoverybot/recoverybot/daemon"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/internal/dovecottest"
	"github.com/recoverybot/recoverybot/internal/smtpsink"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

// usage is what /usr/bin/time -v reports about one run.
type usage struct {
	wall, cpu time.Duration // cpu: user + system
	rss       int64         // peak resident set size, bytes
}

// drain and pull are the median runs; rss is the largest peak of all.
func (r mixResult) drain() usage { return medianUsage(r.drains) }
func (r mixResult) pull() usage  { return medianUsage(r.pulls) }
func (r mixResult) ratio() float64 {
	return r.drain().wall.Seconds() / r.pull().wall.Seconds()
}
func (r mixResult) rss() int64 {
	var m int64
	for _, u := range r.drains {
		m = max(m, u.rss)
	}
	return m
}
func (r mixResult) goalsMet() bool {
	return r.rss() < goalRSS && (!r.mix.ratioGoal || r.ratio() <= goalRatio)
}

func medianUsage(us []usage) usage {
	s := slices.Clone(us)
	slices.SortFunc(s, func(a, b usage) int { return int(a.wall - b.wall) })
	return s[len(s)/2]
}

type options struct {
	cases, ordinary, hugeMB, deliveries, rounds, bombs int
	attachEvery                                        int
	mixes, keep, bin                                   string
	verbose                                            bool
	stdout, stderr                                     io.Writer
}

// The goals of the issue. The ratio's is the standard mix's.
const (
	goalRatio = 0.5
	goalRSS   = 256 << 20
	goalDelay = time.Second
)

// mixResult is the drain of one mix.
type mixResult struct {
	mix      mix
	messages int
	bytes    int64
	drains   []usage // recoverybot run --once, one per round
	pulls    []usage // mbsync, one per round
	counts   map[string]int
	look     glimpseRun
	// sent is what Dovecot's log says it sent to recoverybot's sessions
	// and to mbsync's, in the median rounds' runs (out=, in bytes).
	sentDrain, sentPull []int64
}

type result struct {
	mixes    []mixResult
	delays   []time.Duration
	bombBase usage     // run --once over one genuine message
	bombs    []bombRun // run --once over bombs, a genuine message behind
}

func (r result) delayMedian() time.Duration {
	s := slices.Clone(r.delays)
	slices.Sort(s)
	return s[len(s)/2]
}

func (r result) goalsMet() bool {
	for _, b := range r.bombs {
		if !b.ok(r.bombBase) {
			return false
		}
	}
	for _, m := range r.mixes {
		if !m.goalsMet() {
			return false
		}
	}
	return r.delayMedian() < goalDelay && slices.Max(r.delays) < goalDelay
}

// bench is the whole run. Everything it starts is stopped before it
// returns.
func bench(ctx context.Context, o options) (res result, err error) {
	say := o.say
	ms, err := mixes(o)
	if err != nil {
		return res, err
	}
	for _, tool := range []string{"mbsync", "/usr/bin/time"} {
		if _, err := exec.LookPath(tool); err != nil {
			return res, fmt.Errorf("%s is missing: apt-get install isync time (%w)", tool, err)
		}
	}
	root, err := moduleRoot()
	if err != nil {
		return res, err
	}
	work := o.keep
	if work == "" {
		if work, err = os.MkdirTemp("", "recoverybench-"); err != nil {
			return res, err
		}
		defer os.RemoveAll(work)
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return res, err
	}

	bin := o.bin
	if bin == "" {
		say("building recoverybot")
		bin = filepath.Join(work, "recoverybot")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/recoverybot")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			return res, fmt.Errorf("go build ./cmd/recoverybot: %w\n%s", err, out)
		}
	}

	say("starting Dovecot and an SMTP sink")
	dc, err := dovecottest.Launch(work)
	if err != nil {
		return res, err
	}
	defer dc.Stop()
	sink, err := smtpsink.Start("127.0.0.1:0")
	if err != nil {
		return res, err
	}
	defer sink.Close()
	dataDir := filepath.Join(work, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		return res, err
	}
	conf, err := writeConfig(work, dataDir, dc, sink.Addr(), maxMessage(ms)+10<<20)
	if err != nil {
		return res, err
	}
	logFile, err := os.Create(filepath.Join(work, "recoverybot.log"))
	if err != nil {
		return res, err
	}
	defer logFile.Close()

	say("opening %d cases", maxCases(ms)+o.deliveries+bombCases)
	backlogCases, laterCases, err := openCases(ctx, conf, dataDir, maxCases(ms), o.deliveries+bombCases)
	if err != nil {
		return res, err
	}
	laterCases, forBombs := laterCases[:o.deliveries], laterCases[o.deliveries:]

	// A first run on the empty mailbox sends the mail that opening the
	// cases queued (instructions, notices to the old addresses) and
	// creates the folders, so that the timed runs do the drain alone.
	say("sending the mail the cases queued")
	if _, counts, err := runOnce(ctx, bin, conf, logFile); err != nil {
		return res, err
	} else if counts["sent"] == 0 || counts["send_failed"] != 0 {
		return res, fmt.Errorf("the first run --once sent %d mails, %d failed: want the cases' mail sent", counts["sent"], counts["send_failed"])
	}

	rc, err := writeMbsyncrc(work, dc)
	if err != nil {
		return res, err
	}
	pristine := filepath.Join(work, "data.pristine")
	if err := copyDir(dataDir, pristine); err != nil {
		return res, err
	}
	for i, m := range ms {
		if i > 0 {
			if err := emptyMailbox(dc, dataDir, pristine); err != nil {
				return res, err
			}
		}
		r, err := drainMix(ctx, o, m, work, bin, conf, rc, logFile, dc, dataDir, pristine, backlogCases)
		if err != nil {
			return res, fmt.Errorf("mix %s: %w", m.name, err)
		}
		res.mixes = append(res.mixes, r)
		printDrain(o.stdout, r)
		printBytes(o.stdout, r.look, r.messages)
	}

	if o.bombs > 0 {
		say("bombs: %d messages of each kind through run --once", o.bombs)
		if res.bombBase, res.bombs, err = bombs(ctx, root, bin, conf, logFile, dc, o.bombs, forBombs); err != nil {
			return res, err
		}
		printBombs(o.stdout, res.bombBase, res.bombs)
	}

	say("recoverybot serve: %d deliveries", o.deliveries)
	if res.delays, err = delays(ctx, bin, conf, logFile, dataDir, dc, laterCases); err != nil {
		return res, err
	}
	printDelays(o.stdout, res)
	if res.goalsMet() {
		fmt.Fprintln(o.stdout, "recoverybench: every goal met")
	} else {
		fmt.Fprintf(o.stdout, "recoverybench: %v\n", errGoal)
	}
	return res, nil
}

func (o options) say(format string, args ...any) {
	if o.verbose {
		fmt.Fprintf(o.stderr, "recoverybench: "+format+"\n", args...)
	}
}

// emptyMailbox removes every message, from INBOX and recoverybot's
// folders, and puts the data directory back as it was before the first
// mix: the next mix starts afresh.
func emptyMailbox(dc *dovecottest.Server, dataDir, pristine string) error {
	for _, folder := range []string{"INBOX", "Recovery.Processed", "Recovery.Review"} {
		if _, err := dc.Doveadm("expunge", "-u", dc.User(), "mailbox", folder, "all"); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(dataDir); err != nil {
		return err
	}
	return copyDir(pristine, dataDir)
}

// drainMix seeds a mix, glimpses it, and times the drain against mbsync
// in alternating rounds.
func drainMix(ctx context.Context, o options, m mix, work, bin, conf, rc string, logFile io.Writer, dc *dovecottest.Server, dataDir, pristine string, cases []openCase) (mixResult, error) {
	r := mixResult{mix: m}
	o.say("%s: seeding the mailbox", m.name)
	user := dc.User()
	var kinds map[string]string
	var err error
	if r.messages, r.bytes, kinds, err = seedMix(dc, user, m, cases); err != nil {
		return r, err
	}
	if n, err := dc.Count(user, "INBOX"); err != nil || n != r.messages {
		return r, fmt.Errorf("INBOX holds %d messages after seeding %d (%v)", n, r.messages, err)
	}
	fmt.Fprintf(o.stdout, "recoverybench: mix %s: %d messages in INBOX (%s), %.1f MB\n", m.name, r.messages, m.describe(), float64(r.bytes)/1e6)

	// Both see the same messages: mbsync pulls them, then recoverybot
	// drains them, then the mailbox and the data directory are put back as
	// they were for the next round. A first, untimed pull warms Dovecot's
	// indexes and the page cache, so that no timed run pays for that.
	// Rounds alternate the two and the medians are compared, so that a
	// burst of load on a shared machine does not decide the ratio.
	o.say("%s: mbsync: warming up", m.name)
	if _, err := mbsync(ctx, rc, filepath.Join(work, "warm"), r.messages); err != nil {
		return r, err
	}
	o.say("%s: glimpsing every message", m.name)
	if r.look, err = glimpseAll(ctx, dc, kinds); err != nil {
		return r, fmt.Errorf("glimpse: %w", err)
	}
	for round := range o.rounds {
		if round > 0 {
			if err := reset(dc, user, dataDir, pristine, r.messages); err != nil {
				return r, err
			}
		}
		o.say("%s: round %d: mbsync", m.name, round+1)
		off := dc.LogSize()
		pull, err := mbsync(ctx, rc, filepath.Join(work, fmt.Sprintf("maildir-%d", round)), r.messages)
		if err != nil {
			return r, err
		}
		r.pulls = append(r.pulls, pull)
		r.sentPull = append(r.sentPull, sentSince(dc, off))
		off = dc.LogSize()
		o.say("%s: round %d: recoverybot run --once", m.name, round+1)
		drain, counts, err := runOnce(ctx, bin, conf, logFile)
		if err != nil {
			return r, err
		}
		if counts["fetched"] != r.messages || counts["processed"]+counts["review"] != m.cases || counts["moved"] != m.cases {
			return r, fmt.Errorf("run --once did not drain the backlog as expected: %v (want %d fetched, %d processed or to review, and moved)",
				counts, r.messages, m.cases)
		}
		r.drains, r.counts = append(r.drains, drain), counts
		r.sentDrain = append(r.sentDrain, sentSince(dc, off))
		o.say("%s: round %d: mbsync %.2f s, recoverybot %.2f s", m.name, round+1, pull.wall.Seconds(), drain.wall.Seconds())
	}
	return r, nil
}

// sentSince is what Dovecot sent to the IMAP sessions that ended since
// its log had size off: the sessions of the run just made, whose ends the
// server logs once it has closed them.
func sentSince(dc *dovecottest.Server, off int64) int64 {
	n, _ := dc.SentSince(off)
	return n
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func printDrain(w io.Writer, r mixResult) {
	walls := func(us []usage) string {
		var s []string
		for _, u := range us {
			s = append(s, fmt.Sprintf("%.2f", u.wall.Seconds()))
		}
		return strings.Join(s, ", ")
	}
	d, p := r.drain(), r.pull()
	fmt.Fprintf(w, "  drain of the %s mix, median of %d rounds (wall s: recoverybot %s; mbsync %s):\n",
		r.mix.name, len(r.drains), walls(r.drains), walls(r.pulls))
	fmt.Fprintf(w, "    recoverybot run --once   %6.2f s wall %6.2f s CPU  (%d fetched, %d processed, %d to review, %d moved, %d not about a case)\n",
		d.wall.Seconds(), d.cpu.Seconds(), r.counts["fetched"], r.counts["processed"], r.counts["review"], r.counts["moved"], r.counts["ignored"])
	fmt.Fprintf(w, "    mbsync pull              %6.2f s wall %6.2f s CPU  (peak RSS %d MB)\n", p.wall.Seconds(), p.cpu.Seconds(), p.rss>>20)
	if r.mix.ratioGoal {
		fmt.Fprintf(w, "    ratio recoverybot/mbsync %6.2f                goal <= %.2f   %s\n", r.ratio(), goalRatio, verdict(r.ratio() <= goalRatio))
	} else {
		fmt.Fprintf(w, "    ratio recoverybot/mbsync %6.2f\n", r.ratio())
	}
	fmt.Fprintf(w, "    recoverybot peak RSS     %6d MB               goal < %d MB  %s\n", r.rss()>>20, goalRSS>>20, verdict(r.rss() < goalRSS))
	if len(r.sentDrain) > 0 {
		fmt.Fprintf(w, "    sent by Dovecot (its log, out=, the last round): to recoverybot %.1f MB, to mbsync %.1f MB\n",
			float64(r.sentDrain[len(r.sentDrain)-1])/1e6, float64(r.sentPull[len(r.sentPull)-1])/1e6)
	}
}

func printDelays(w io.Writer, r result) {
	fmt.Fprintf(w, "  delivery to case state change, %d deliveries while serve runs:\n", len(r.delays))
	fmt.Fprintf(w, "    median %7.3f s            goal < %v         %s\n", r.delayMedian().Seconds(), goalDelay, verdict(r.delayMedian() < goalDelay))
	fmt.Fprintf(w, "    max    %7.3f s            goal < %v         %s\n", slices.Max(r.delays).Seconds(), goalDelay, verdict(slices.Max(r.delays) < goalDelay))
}

// moduleRoot finds the recoverybot module, from which the binary is built.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run recoverybench inside the recoverybot module (make bench)")
	}
	return filepath.Dir(mod), nil
}

func writeConfig(work, dataDir string, dc *dovecottest.Server, smtpAddr string, maxSize int64) (string, error) {
	conf := fmt.Sprintf(`data_dir = %q
log_level = "warn"

[imap]
address = %q
security = "none"
username = %q
password = %q
mailbox = "INBOX"
processed_folder = "Recovery/Processed"
review_folder = "Recovery/Review"
max_message_size = %d
idle_timeout = "10m"

[smtp]
address = %q
security = "none"
from = "contact@hosting.example"

[auth]
trusted_authserv_ids = ["mx.hosting.example"]

[web]
listen = "127.0.0.1:0"
`, dataDir, dc.Addr(), dc.User(), dc.Password(), maxSize, smtpAddr)
	path := filepath.Join(work, "recoverybot.toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return "", err
	}
	if _, err := config.Load(path, nil); err != nil {
		return "", fmt.Errorf("the benchmark's configuration: %w", err)
	}
	return path, nil
}

type openCase struct {
	id           int64
	ref, contact string
}

// openCases opens lost-email cases in the data directory before the
// daemon first runs, as an agent does: n for the backlog, later for the
// deliveries timed while serve runs.
func openCases(ctx context.Context, conf, dataDir string, n, later int) ([]openCase, []openCase, error) {
	cfg, err := config.Load(conf, nil)
	if err != nil {
		return nil, nil, err
	}
	st, key, midKey, err := openStore(ctx, dataDir)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	d := daemon.NewDesk(cfg, st, key, midKey, nil)
	profiles := make([]recoverybot.Profile, n+later)
	for i := range profiles {
		profiles[i] = recoverybot.Profile{ID: fmt.Sprintf("p-%d", 1000+i), Email: fmt.Sprintf("owner%d@old-isp.example", i),
			HolderKind: recoverybot.HolderIndividual, HolderName: fmt.Sprintf("Holder %d", i), Locale: "fr"}
	}
	if _, err := d.ImportProfiles(ctx, profiles, "recoverybench", "bench"); err != nil {
		return nil, nil, err
	}
	cases := make([]openCase, len(profiles))
	for i, p := range profiles {
		contact := fmt.Sprintf("customer%d@new-isp.example", i)
		s, err := d.Open(ctx, desk.OpenRequest{ProfileID: p.ID, Kind: recoverybot.KindLostEmail, Contact: contact, By: "bench"})
		if err != nil {
			return nil, nil, err
		}
		cases[i] = openCase{ref: s.Ref, contact: contact}
	}
	err = st.View(ctx, func(tx *store.Tx) error {
		for i := range cases {
			c, err := tx.CaseByRef(cases[i].ref)
			if err != nil {
				return err
			}
			cases[i].id = c.ID
		}
		return nil
	})
	return cases[:n], cases[n:], err
}

// openStore opens the data directory's store, with its code key and the
// key of our Message-IDs.
func openStore(ctx context.Context, dataDir string) (*store.Store, recoverybot.CodeKey, []byte, error) {
	v, err := vault.Open(dataDir)
	if err != nil {
		return nil, recoverybot.CodeKey{}, nil, err
	}
	st, err := store.Open(ctx, filepath.Join(dataDir, "recoverybot.db"), v, store.Options{})
	if err != nil {
		return nil, recoverybot.CodeKey{}, nil, err
	}
	key, err := recoverybot.NewCodeKey(v.CodeKey())
	if err != nil {
		st.Close()
	}
	return st, key, v.Key(vault.PurposeMessageID), err
}

func writeMbsyncrc(work string, dc *dovecottest.Server) (string, error) {
	host, port, _ := strings.Cut(dc.Addr(), ":")
	rc := fmt.Sprintf(`IMAPAccount bench
Host %s
Port %s
User %s
Pass %s
SSLType None
AuthMechs LOGIN

IMAPStore far
Account bench

MaildirStore near
Path %s/
Inbox %s/INBOX

Channel bench
Far :far:
Near :near:
Patterns INBOX
Create Near
Sync Pull
SyncState *
`, host, port, dc.User(), dc.Password(), filepath.Join(work, "@MAILDIR@"), filepath.Join(work, "@MAILDIR@"))
	path := filepath.Join(work, "mbsyncrc")
	return path, os.WriteFile(path, []byte(rc), 0o600)
}

// mbsync pulls INBOX into a fresh Maildir under dir and returns what the
// run used, after checking that every message arrived.
func mbsync(ctx context.Context, rcTemplate, dir string, want int) (usage, error) {
	tmpl, err := os.ReadFile(rcTemplate)
	if err != nil {
		return usage{}, err
	}
	rc := rcTemplate + "." + filepath.Base(dir)
	if err := os.WriteFile(rc, bytes.ReplaceAll(tmpl, []byte(filepath.Join(filepath.Dir(rcTemplate), "@MAILDIR@")), []byte(dir)), 0o600); err != nil {
		return usage{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return usage{}, err
	}
	var out bytes.Buffer
	u, err := timed(ctx, &out, &out, "mbsync", "-q", "-c", rc, "bench")
	if err != nil {
		return u, fmt.Errorf("mbsync: %w\n%s", err, lastLines(out.String(), 30))
	}
	n := 0
	for _, sub := range []string{"cur", "new"} {
		entries, err := os.ReadDir(filepath.Join(dir, "INBOX", sub))
		if err != nil {
			return u, fmt.Errorf("mbsync's Maildir: %w", err)
		}
		n += len(entries)
	}
	if n != want {
		return u, fmt.Errorf("mbsync pulled %d messages, want %d", n, want)
	}
	return u, os.RemoveAll(dir) // the next pull starts from nothing, and the disk is spared

}

// timed runs a command under /usr/bin/time -v, whose report ends up in
// stderr after the command's own output.
func timed(ctx context.Context, stdout io.Writer, stderr *bytes.Buffer, name string, args ...string) (usage, error) {
	cmd := exec.CommandContext(ctx, "/usr/bin/time", append([]string{"-v", name}, args...)...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	err := cmd.Run()
	u := usage{wall: time.Since(start)}
	if err != nil {
		return u, err
	}
	var user, sys float64
	sc := bufio.NewScanner(strings.NewReader(stderr.String()))
	for sc.Scan() {
		key, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ": ")
		if !ok {
			continue
		}
		switch key {
		case "Maximum resident set size (kbytes)":
			kb, _ := strconv.ParseInt(v, 10, 64)
			u.rss = kb << 10
		case "User time (seconds)":
			user, _ = strconv.ParseFloat(v, 64)
		case "System time (seconds)":
			sys, _ = strconv.ParseFloat(v, 64)
		}
	}
	if u.rss == 0 {
		return u, errors.New("no peak RSS in the report of /usr/bin/time -v")
	}
	u.cpu = time.Duration((user + sys) * float64(time.Second))
	return u, nil
}

// runOnce runs `recoverybot run --once --json`.
func runOnce(ctx context.Context, bin, conf string, log io.Writer) (usage, map[string]int, error) {
	var stdout, stderr bytes.Buffer
	u, err := timed(ctx, &stdout, &stderr, bin, "--config", conf, "run", "--once", "--json")
	log.Write(stderr.Bytes())
	if err != nil {
		return u, nil, fmt.Errorf("recoverybot run --once: %w\n%s", err, lastLines(stderr.String(), 30))
	}
	var counts map[string]int
	if err := json.Unmarshal(stdout.Bytes(), &counts); err != nil {
		return u, nil, fmt.Errorf("recoverybot run --once --json printed %q: %w", stdout.String(), err)
	}
	return u, counts, nil
}

// reset puts the mailbox and the data directory back as they were before
// a drain: the messages recoverybot moved go back to INBOX (under new
// UIDs, which a fresh database does not mind) and the database is the
// one from before.
func reset(dc *dovecottest.Server, user, dataDir, pristine string, want int) error {
	for _, folder := range []string{"Recovery.Processed", "Recovery.Review"} {
		if _, err := dc.Doveadm("move", "-u", user, "INBOX", "mailbox", folder, "all"); err != nil {
			return err
		}
	}
	if n, err := dc.Count(user, "INBOX"); err != nil || n != want {
		return fmt.Errorf("INBOX holds %d messages after the reset, want %d (%v)", n, want, err)
	}
	if err := os.RemoveAll(dataDir); err != nil {
		return err
	}
	return copyDir(pristine, dataDir)
}

// copyDir copies a directory of regular files and directories, keeping
// their modes.
func copyDir(from, to string) error {
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := copyDir(filepath.Join(from, e.Name()), filepath.Join(to, e.Name())); err != nil {
				return err
			}
			continue
		}
		if !e.Type().IsRegular() {
			return fmt.Errorf("copy %s: %s is not a regular file", from, e.Name())
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, info.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// delays runs `recoverybot serve` and times, for each case, the delivery
// over LMTP of the customer's complete message until the case is ready
// for review, read from the database as an agent's dashboard would.
func delays(ctx context.Context, bin, conf string, log io.Writer, dataDir string, dc *dovecottest.Server, cases []openCase) ([]time.Duration, error) {
	st, _, _, err := openStore(ctx, dataDir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	ledgerRows := func() (int, error) {
		n := 0
		err := st.View(ctx, func(tx *store.Tx) error {
			es, err := tx.Entries(store.LedgerFilter{})
			n = len(es)
			return err
		})
		return n, err
	}
	before, err := ledgerRows()
	if err != nil {
		return nil, err
	}
	serve := exec.Command(bin, "--config", conf, "serve")
	serve.Stdout, serve.Stderr = log, log
	if err := serve.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		serve.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				return fmt.Errorf("recoverybot serve did not exit cleanly on SIGTERM: %w", err)
			}
			return nil
		case <-time.After(30 * time.Second):
			serve.Process.Kill()
			<-exited
			return errors.New("recoverybot serve did not stop within 30 s of SIGTERM")
		}
	}
	defer stop()

	// serve is up and watching once it has taken in a first message.
	c := newCorpus(2)
	user := dc.User()
	if err := dc.Deliver(user, c.supportMail(2000)); err != nil {
		return nil, err
	}
	if err := poll(ctx, 30*time.Second, exited, func() (bool, error) {
		n, err := ledgerRows()
		return n > before, err
	}); err != nil {
		return nil, fmt.Errorf("serve did not take in a first message: %w", err)
	}

	var ds []time.Duration
	for _, oc := range cases {
		raw := c.caseMail(oc.ref, oc.contact, 100<<10)
		time.Sleep(200 * time.Millisecond) // serve back in IDLE
		start := time.Now()
		if err := dc.Deliver(user, raw); err != nil {
			return nil, err
		}
		err := poll(ctx, 30*time.Second, exited, func() (bool, error) {
			var state recoverybot.State
			err := st.View(ctx, func(tx *store.Tx) error {
				c, err := tx.CaseByID(oc.id)
				state = c.State
				return err
			})
			return state == recoverybot.StateReadyForReview, err
		})
		if err != nil {
			return nil, fmt.Errorf("case %s: %w", oc.ref, err)
		}
		ds = append(ds, time.Since(start))
	}
	return ds, stop()
}

// poll checks cond every 2 ms until it holds, the process exits or
// timeout passes.
func poll(ctx context.Context, timeout time.Duration, exited <-chan error, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("recoverybot serve exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not after %v", timeout)
		}
	}
}
