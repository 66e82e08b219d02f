package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/recoverybot/recoverybot/internal/dovecottest"
	"github.com/recoverybot/recoverybot/mailbox"
	"github.com/recoverybot/recoverybot/parser"
)

// A mix is one backlog the drain is timed on.
type mix struct {
	name string
	// cases messages about open cases, each with a document of caseDoc
	// bytes; ordinary support mails, every attachEvery-th (0: none)
	// carrying a 1 to 5 MB file, the others of ordLo to ordHi bytes;
	// one message of hugeMB MB when hugeMB > 0.
	cases, caseDoc int
	ordinary       int
	ordLo, ordHi   int
	attachEvery    int
	hugeMB         int
	ratioGoal      bool // the drain's ratio to mbsync has a goal
}

// mixNames are the mixes -mixes accepts, in the order they run.
var mixNames = []string{"standard", "attachments", "large-cases", "many-small"}

func mixes(o options) ([]mix, error) {
	all := map[string]mix{
		// The mailbox of the issue: 2,001 messages.
		"standard": {name: "standard", cases: o.cases, caseDoc: 100 << 10, ordinary: o.ordinary, ordLo: 1 << 10, ordHi: 200 << 10,
			hugeMB: o.hugeMB, ratioGoal: true},
		// The same with large attachments on ordinary mail.
		"attachments": {name: "attachments", cases: o.cases, caseDoc: 100 << 10, ordinary: o.ordinary, ordLo: 1 << 10, ordHi: 200 << 10,
			attachEvery: o.attachEvery},
		// Ten 38 MB case messages in a row.
		"large-cases": {name: "large-cases", cases: 10, caseDoc: 28_500_000}, // base64: 38 MB
		// 10,000 small messages and a 40 MB one.
		"many-small": {name: "many-small", cases: 100, caseDoc: 100 << 10, ordinary: 10000, ordLo: 1 << 10, ordHi: 8 << 10, hugeMB: 40},
	}
	var out []mix
	for _, name := range strings.Split(o.mixes, ",") {
		m, ok := all[strings.TrimSpace(name)]
		if !ok {
			return nil, fmt.Errorf("-mixes: unknown mix %q (want some of %s)", name, strings.Join(mixNames, ","))
		}
		out = append(out, m)
	}
	slices.SortStableFunc(out, func(a, b mix) int { return slices.Index(mixNames, a.name) - slices.Index(mixNames, b.name) })
	return slices.CompactFunc(out, func(a, b mix) bool { return a.name == b.name }), nil
}

// maxCases is how many backlog cases the mixes need.
func maxCases(ms []mix) int {
	n := 0
	for _, m := range ms {
		n = max(n, m.cases)
	}
	return n
}

// maxMessage is the largest message a mix holds, in bytes.
func maxMessage(ms []mix) int64 {
	var n int64
	for _, m := range ms {
		n = max(n, int64(m.hugeMB)*1000*1000, int64(m.caseDoc)*4/3, 5<<20*4/3)
	}
	return n
}

func (m mix) describe() string {
	var parts []string
	if m.cases > 0 {
		parts = append(parts, fmt.Sprintf("%d about open cases with a %s document (%s a message)", m.cases, size(int64(m.caseDoc)), size(int64(m.caseDoc)*4/3)))
	}
	if m.ordinary > 0 {
		s := fmt.Sprintf("%d ordinary of %s to %s", m.ordinary, size(int64(m.ordLo)), size(int64(m.ordHi)))
		if m.attachEvery > 0 {
			s += fmt.Sprintf(", 1 in %d of them with a 1 to 5 MB file", m.attachEvery)
		}
		parts = append(parts, s)
	}
	if m.hugeMB > 0 {
		parts = append(parts, fmt.Sprintf("1 of %d MB", m.hugeMB))
	}
	return strings.Join(parts, ", ")
}

func size(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.0f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.0f KB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// Message kinds, as the bytes fetched are reported.
const (
	kindCase     = "case"
	kindOrdinary = "ordinary"
	kindLarge    = "large ordinary" // an attachment of 1 to 5 MB, or the huge one
)

// seedMix writes a mix's backlog into INBOX, shuffled, in chunks so that
// the benchmark itself holds little of it in memory. It returns each
// message's kind by Message-ID.
func seedMix(dc *dovecottest.Server, user string, m mix, cases []openCase) (n int, total int64, kinds map[string]string, err error) {
	c := newCorpus(1)
	type item struct{ caseIdx int } // -1: ordinary, -2: the huge one
	plan := make([]item, 0, m.cases+m.ordinary+1)
	for i := range m.cases {
		plan = append(plan, item{i})
	}
	for range m.ordinary {
		plan = append(plan, item{-1})
	}
	if m.hugeMB > 0 {
		plan = append(plan, item{-2})
	}
	if m.name != "large-cases" { // those come in a row
		rand.New(rand.NewPCG(3, 4)).Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
	}
	kinds = make(map[string]string)
	var chunk [][]byte
	var chunkBytes int
	flush := func() error {
		err := dc.SaveMany(user, "INBOX", chunk)
		chunk, chunkBytes = chunk[:0], 0
		return err
	}
	ordinary := 0
	for _, k := range plan {
		var raw []byte
		kind := kindOrdinary
		switch k.caseIdx {
		case -1:
			ordinary++
			if m.attachEvery > 0 && ordinary%m.attachEvery == 0 {
				raw, kind = c.supportMail(1000*1000+c.rnd.IntN(4*1000*1000)), kindLarge
			} else {
				raw = c.supportMail(c.logUniform(m.ordLo, m.ordHi))
			}
		case -2:
			raw, kind = c.supportMail(m.hugeMB*1000*1000), kindLarge
		default:
			raw, kind = c.caseMail(cases[k.caseIdx].ref, cases[k.caseIdx].contact, m.caseDoc), kindCase
		}
		kinds[c.lastID] = kind
		chunk = append(chunk, raw)
		chunkBytes += len(raw)
		n++
		total += int64(len(raw))
		if len(chunk) == 100 || chunkBytes > 64<<20 {
			if err := flush(); err != nil {
				return n, total, kinds, err
			}
		}
	}
	if len(chunk) > 0 {
		err = flush()
	}
	return n, total, kinds, err
}

// glimpseText is the bound on the bytes of each text part a Glimpse
// fetches in the benchmark.
const glimpseText = 16 << 10

// kindBytes is what messages of one kind cost to fetch.
type kindBytes struct {
	kind    string
	n       int
	whole   int64 // RFC822.SIZE: fetching them whole
	glimpse int64 // message data of their Glimpses
}

// glimpseRun is one Glimpse of the whole mailbox, with a Conn of its own.
type glimpseRun struct {
	wall     time.Duration
	stats    mailbox.Stats // what the Conn received
	kinds    []kindBytes
	outlined int // messages with an outline (Root)
}

// glimpseAll glimpses every message of INBOX, as an intake looking
// before downloading does, and counts the bytes by kind.
func glimpseAll(ctx context.Context, dc *dovecottest.Server, kinds map[string]string) (glimpseRun, error) {
	var r glimpseRun
	c, err := mailbox.Dial(ctx, mailbox.Options{Address: dc.Addr(), Security: mailbox.SecurityNone, Username: dc.User(), Password: dc.Password()})
	if err != nil {
		return r, err
	}
	defer c.Close()
	start := time.Now()
	if _, err := c.Select(ctx, "INBOX"); err != nil {
		return r, err
	}
	list, err := c.Since(ctx, 0)
	if err != nil {
		return r, err
	}
	uids := make([]uint32, len(list))
	for i, s := range list {
		uids[i] = s.UID
	}
	byKind := make(map[string]*kindBytes)
	for _, k := range []string{kindOrdinary, kindLarge, kindCase} {
		byKind[k] = &kindBytes{kind: k}
	}
	before := c.Stats()
	err = c.Glimpse(ctx, uids, glimpseText, func(s mailbox.Summary, g parser.Glimpse) error {
		msg, err := mail.ReadMessage(bytes.NewReader(g.Header))
		if err != nil {
			return fmt.Errorf("UID %d: header: %w", s.UID, err)
		}
		id := strings.Trim(msg.Header.Get("Message-Id"), "<>")
		kb, ok := byKind[kinds[id]]
		if !ok {
			return fmt.Errorf("UID %d: Message-ID %q was not seeded", s.UID, id)
		}
		kb.n++
		kb.whole += s.Size
		kb.glimpse += int64(len(g.Header)) + partBytes(g.Root)
		if g.Root != nil {
			r.outlined++
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	r.wall = time.Since(start)
	after := c.Stats()
	r.stats = mailbox.Stats{Received: after.Received - before.Received, Message: after.Message - before.Message}
	for _, k := range []string{kindOrdinary, kindLarge, kindCase} {
		if byKind[k].n > 0 {
			r.kinds = append(r.kinds, *byKind[k])
		}
	}
	return r, nil
}

func partBytes(p *parser.Part) int64 {
	if p == nil {
		return 0
	}
	n := int64(len(p.Text) + len(p.Header))
	for _, c := range p.Children {
		n += partBytes(c)
	}
	return n
}

func printBytes(w io.Writer, g glimpseRun, messages int) {
	fmt.Fprintf(w, "  bytes fetched per message kind: downloaded whole vs looked at (a Glimpse), and what the intake fetches: a look, then the whole message when it may concern a case\n")
	fmt.Fprintf(w, "  (header, BODYSTRUCTURE, %d KiB of each text part; %d messages glimpsed in %.2f s, %d with an outline, %s of message data, %s received):\n",
		glimpseText>>10, messages, g.wall.Seconds(), g.outlined, mb(g.stats.Message), mb(g.stats.Received))
	var whole, look int64
	for _, k := range g.kinds {
		// A case message is looked at, then downloaded whole.
		then := k.glimpse
		if k.kind == kindCase {
			then += k.whole
		}
		whole += k.whole
		look += then
		fmt.Fprintf(w, "    %-15s %6d  whole %10s (%9s each)   glimpse %9s (%7s each)   look, then whole if a case %10s\n",
			k.kind, k.n, mb(k.whole), kb(k.whole/int64(k.n)), mb(k.glimpse), kb(k.glimpse/int64(k.n)), mb(then))
	}
	fmt.Fprintf(w, "    %-15s %6d  whole %10s                   look, then whole if a case %10s (%.1f%%)\n",
		"all", messages, mb(whole), mb(look), 100*float64(look)/float64(max(whole, 1)))
}

func mb(n int64) string {
	if n < 1e6 {
		return kb(n)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
func kb(n int64) string { return fmt.Sprintf("%.1f KB", float64(n)/1e3) }
