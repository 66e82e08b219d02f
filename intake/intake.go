package intake

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/textproto"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/mailbox"
	"github.com/recoverybot/recoverybot/outbound"
	"github.com/recoverybot/recoverybot/parser"
	"github.com/recoverybot/recoverybot/rules"
	"github.com/recoverybot/recoverybot/store"
)

// Options configure a Pipeline.
type Options struct {
	Mailbox         string // e.g. INBOX
	ProcessedFolder string // '/'-separated, e.g. Recovery/Processed
	ReviewFolder    string
	// MaxMessageSize: larger messages are recorded from their header only
	// and, when tied to a case, sent to review. 0: 40 MB.
	MaxMessageSize int64
	// MessageTimeout bounds parsing and deciding one message. 0: 30 s.
	MessageTimeout time.Duration
	// BatchBytes bounds the bytes fetched before they are processed. 0: 8 MiB.
	BatchBytes int64
	Policy     rules.Policy
	Letters    outbound.Letters
	Parse      parser.Options
	Logger     *slog.Logger
	// OnMessage, when set, is told what became of each message (the demo
	// prints it), once its decision is committed. It is called from the
	// pipeline's goroutines, one call at a time, and must not block.
	OnMessage func(Report)
	// OnFetched, when set, is told how many messages were taken from the
	// mailbox (downloaded, or looked at and passed over)
	// (the daemon's metrics). It must not block.
	OnFetched func(n int)
	// OnBacklog, when set, is told when the oldest message Drain listed
	// and has not decided yet was delivered (its INTERNALDATE), and zero
	// once Drain decided them all. It must not block.
	OnBacklog func(oldest time.Time)
	// Shared says the data directory's lock is not held: another
	// pipeline may work the same mailbox at the same time, so Drain
	// makes only the moves this pipeline decided, never those another
	// decided and may be making (the daemon holds the lock and makes
	// every move a crash left undone).
	Shared bool
	// AfterCommit, when set, is called after each transaction that
	// committed decisions (and maybe queued replies: the daemon wakes
	// its courier). It must not block.
	AfterCommit func()
}

// Report says what became of one message.
type Report struct {
	UID     uint32
	From    string
	Subject string
	Status  store.LedgerStatus
	Reason  string
	// Cause is the Reason in a word, one of rules.Causes (review only).
	Cause     rules.Cause
	CaseRef   string
	StateFrom recoverybot.State
	StateTo   recoverybot.State
	Missing   []recoverybot.Requirement
	Documents int
	// Verdict is the sender check's of a message about a case ("" for
	// the others); Code the code check's result ("": none made).
	Verdict recoverybot.SenderStatus
	Code    recoverybot.CodeResult
	// Delivered is the message's IMAP INTERNALDATE, or its Date when the
	// server gave none (zero: neither known); Decided is when its
	// decision was committed, by the store's clock.
	Delivered, Decided time.Time
}

// Stats counts what a Drain did.
type Stats struct {
	Fetched, Processed, Review, Ignored, Duplicates, Moved int
}

// Pipeline processes the messages of one mailbox.
type Pipeline struct {
	store *store.Store
	opts  Options
	log   *slog.Logger
	// id names this pipeline as the maker of the moves it decides
	// (store.Decided.MoveOwner).
	id string
	// parseHook, when set (tests), is called with the raw message
	// before each full parse, on the goroutine that parses.
	parseHook func(raw []byte)
	// mu lets one of Drain, Lookback, Reconcile and Expunge work at a
	// time: each runs on a connection of its own (the watcher's, a
	// scheduled job's), and two of them taking one message through the
	// pipeline at once could commit it twice.
	mu sync.Mutex
}

// New returns a Pipeline.
func New(st *store.Store, o Options) *Pipeline {
	if o.MaxMessageSize == 0 {
		o.MaxMessageSize = 40 * 1000 * 1000
	}
	if o.MessageTimeout == 0 {
		o.MessageTimeout = 30 * time.Second
	}
	if o.BatchBytes == 0 {
		o.BatchBytes = 8 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{store: st, opts: o, log: o.Logger, id: rand.Text()}
}

// folders are the server names of the destination folders.
type folders struct{ processed, review string }

// move is a message to move: where to, as the configuration and the
// ledger name the folder (Options.ProcessedFolder or ReviewFolder; the
// server's name for it is in folders).
type move struct {
	id  int64
	uid uint32
	to  string
}

// Drain processes every message of the mailbox above the last UID
// processed, in UID order, and moves those tied to a case. It returns on
// the first error of the connection or the store; what was committed
// stays committed, and the next Drain goes on from there.
func (p *Pipeline) Drain(ctx context.Context, conn *mailbox.Conn) (Stats, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var stats Stats
	at, err := p.begin(ctx, conn, &stats)
	if err != nil {
		return stats, err
	}
	list, err := conn.Since(ctx, at.last)
	if err != nil {
		return stats, err
	}
	p.backlog(list)
	err = p.take(ctx, conn, at, list, &stats)
	if err == nil {
		p.backlog(nil)
	}
	return stats, err
}

// backlog tells OnBacklog the delivery of the oldest message of list.
func (p *Pipeline) backlog(list []mailbox.Summary) {
	if p.opts.OnBacklog == nil {
		return
	}
	var oldest time.Time
	for _, s := range list {
		if !s.InternalDate.IsZero() && (oldest.IsZero() || s.InternalDate.Before(oldest)) {
			oldest = s.InternalDate
		}
	}
	p.opts.OnBacklog(oldest)
}

// fetched tells OnFetched that n messages were downloaded.
func (p *Pipeline) fetched(n int) {
	if p.opts.OnFetched != nil && n > 0 {
		p.opts.OnFetched(n)
	}
}

// position is where the ledger stands in the selected mailbox.
type position struct {
	validity uint32
	last     uint32 // the highest UID processed
	folders  folders
	// changed: the UIDVALIDITY is not the one of the last run; redone
	// counts the moves left undone by an earlier run, made now.
	changed bool
	redone  int
}

// begin selects the mailbox, checks its UIDVALIDITY against the
// ledger's, and makes the moves decided before a crash or a lost
// connection.
func (p *Pipeline) begin(ctx context.Context, conn *mailbox.Conn, stats *Stats) (position, error) {
	var at position
	status, err := conn.Select(ctx, p.opts.Mailbox)
	if err != nil {
		return at, err
	}
	f := &at.folders
	if f.processed, err = conn.EnsureFolder(ctx, p.opts.ProcessedFolder); err != nil {
		return at, err
	}
	if f.review, err = conn.EnsureFolder(ctx, p.opts.ReviewFolder); err != nil {
		return at, err
	}
	validity := status.UIDValidity
	at.validity = validity
	err = p.store.Update(ctx, func(tx *store.Tx) error {
		at.last, at.changed = 0, false
		known, lastUID, found, err := tx.MailboxState(p.opts.Mailbox)
		if err != nil {
			return err
		}
		if found && known == validity {
			at.last = lastUID
			return nil
		}
		if found {
			at.changed = true
			n, err := tx.AbandonMoves(p.opts.Mailbox, validity)
			if err != nil {
				return err
			}
			p.log.Warn("UIDVALIDITY changed: every message will be checked again; those already processed are recognised",
				"mailbox", p.opts.Mailbox, "old", known, "new", validity, "abandoned_moves", n)
			if err := tx.Audit(0, recoverybot.SystemActor, "uidvalidity_changed", map[string]string{
				"mailbox": p.opts.Mailbox, "old": fmt.Sprint(known), "new": fmt.Sprint(validity)}); err != nil {
				return err
			}
		}
		return tx.SetMailboxState(p.opts.Mailbox, validity, 0)
	})
	if err != nil {
		return at, fmt.Errorf("mailbox state: %w", err)
	}

	// Moves decided before a crash or a lost connection.
	var pending []store.Entry
	if err := p.store.View(ctx, func(tx *store.Tx) error {
		owner := ""
		if p.opts.Shared {
			owner = p.id
		}
		pending, err = tx.PendingMoves(p.opts.Mailbox, validity, owner)
		return err
	}); err != nil {
		return at, err
	}
	var redo []move
	for _, e := range pending {
		redo = append(redo, move{id: e.ID, uid: e.UID, to: e.MoveTo})
	}
	n, err := p.moveAll(ctx, conn, at.folders, redo)
	stats.Moved += n
	at.redone = n
	return at, err
}

// take takes the messages of list, in UID order, through the pipeline
// and moves those tied to a case.
func (p *Pipeline) take(ctx context.Context, conn *mailbox.Conn, at position, list []mailbox.Summary, stats *Stats) error {
	validity, f := at.validity, at.folders
	// A message taken in hand is finished even when ctx is cancelled
	// (shutdown): its commit and its move do not see the cancellation.
	work := context.WithoutCancel(ctx)
	moveAll := func(moves []move) error {
		n, err := p.moveAll(work, conn, f, moves)
		stats.Moved += n
		return err
	}

	// Three goroutines, each batch going through them in turn: this one
	// owns the connection and fetches batches of messages; the spooler
	// seals them into the spool; the stage records each batch in the
	// ledger, then parses, decides and commits it, one batch after the
	// other, so that UID order holds. The stage hands back the moves of
	// a committed batch, which this goroutine makes between fetches. At
	// most heldBatches*BatchBytes of messages are held at once (or one
	// message larger than that, alone).
	batches := make(chan *batch, 1)
	spooled := make(chan *batch, 1)
	results := make(chan batchResult, 1)
	go func() {
		defer close(spooled)
		for b := range batches {
			if ctx.Err() == nil {
				b.err = p.spool(work, b)
			} else {
				b.skip = true // shutdown: left for the next Drain
			}
			spooled <- b
		}
	}()
	go func() {
		defer close(results)
		failed := false
		for b := range spooled {
			if failed || b.skip || ctx.Err() != nil {
				// After an error, or on shutdown before it is begun, a
				// batch is left for the next Drain.
				p.unspool(work, b.spooled)
				results <- batchResult{}
				continue
			}
			r := batchResult{err: b.err}
			if r.err == nil {
				r = p.stage(ctx, validity, b)
			}
			failed = r.err != nil
			results <- r
		}
	}()
	var sizes []int64 // of the batches handed to the spooler and not yet done
	var held int64
	handle := func(r batchResult) error {
		held -= sizes[0]
		sizes = sizes[1:]
		stats.Add(r.stats)
		if r.err != nil {
			return r.err // its moves are made by the next Drain
		}
		return moveAll(r.moves)
	}
	finish := func() error {
		close(batches)
		var first error
		for r := range results {
			if err := handle(r); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	// What the looks saw of the messages not yet batched.
	seen := map[uint32]*looked{}
	for len(list) > 0 && ctx.Err() == nil {
		b := &batch{delivered: map[uint32]time.Time{}}
		if _, ok := seen[list[0].UID]; !ok && list[0].Size <= p.opts.MaxMessageSize {
			// 0. Look before downloading.
			if err := p.look(work, conn, list, seen); err != nil {
				finish()
				return err
			}
		}
		if list[0].Size > p.opts.MaxMessageSize {
			// Too large to download: recorded from its header alone.
			b.over, b.size = &list[0], 0
			list = list[1:]
		} else {
			// Consecutive messages looked at: those passed over, and those
			// to download up to BatchBytes (or one larger message).
			i := 0
			for ; i < len(list) && list[i].Size <= p.opts.MaxMessageSize && len(b.order) < maxBatch; i++ {
				l, ok := seen[list[i].UID]
				if !ok {
					break // not looked at yet: the next batch
				}
				if l.passed {
					b.passing = append(b.passing, passing{uid: list[i].UID, looked: l})
				} else {
					if len(b.uids) > 0 && b.size+list[i].Size > p.opts.BatchBytes {
						break
					}
					b.uids = append(b.uids, list[i].UID)
					b.size += list[i].Size
				}
				b.order = append(b.order, list[i].UID)
				b.delivered[list[i].UID] = list[i].InternalDate
				delete(seen, list[i].UID)
			}
			list = list[i:]
		}
		for len(sizes) > 0 && held+b.size > heldBatches*p.opts.BatchBytes {
			if err := handle(<-results); err != nil {
				finish()
				return err
			}
		}
		// The fetch is not cut short by a shutdown, which would close
		// the connection before the batches in hand are moved.
		if err := p.fetch(work, conn, b); err != nil {
			finish()
			return err
		}
		if ctx.Err() != nil {
			break // shutdown: the batch just fetched is left for the next Drain
		}
		for sent := false; !sent; {
			select {
			case batches <- b:
				sent = true
				sizes = append(sizes, b.size)
				held += b.size
			case r := <-results:
				if err := handle(r); err != nil {
					finish()
					return err
				}
			}
		}
	}
	if err := finish(); err != nil {
		return err
	}
	return ctx.Err()
}

// maxBatch bounds the messages of a batch.
const maxBatch = 200

// heldBatches is how many batches' worth of messages Drain holds at most:
// one fetched, one being spooled, one being committed.
const heldBatches = 3

// batch is a run of consecutive messages fetched together, or one message
// too large to download.
type batch struct {
	uids    []uint32
	size    int64
	raws    map[uint32][]byte
	spooled map[uint32]spooled
	// over is the message too large to download, and header its header.
	over   *mailbox.Summary
	header []byte
	// passing are the messages passed over after a look: nothing is
	// downloaded, spooled or parsed for them; order is every message of
	// the batch, passed over or downloaded, in UID order.
	passing []passing
	order   []uint32
	// err is the spooler's failure; skip: not spooled, for shutdown.
	err  error
	skip bool
	// delivered are the messages' INTERNALDATEs, by UID.
	delivered map[uint32]time.Time
}

// fetch downloads the messages of b (the header alone of a message too
// large). UIDs expunged by someone else since the listing are absent.
func (p *Pipeline) fetch(ctx context.Context, conn *mailbox.Conn, b *batch) error {
	if b.over != nil {
		header, err := conn.FetchHeader(ctx, b.over.UID)
		if errors.Is(err, mailbox.ErrNoMessage) {
			return nil
		}
		b.header = header
		return err
	}
	b.raws = make(map[uint32][]byte, len(b.uids))
	if len(b.uids) == 0 {
		return nil // every message passed over
	}
	return conn.Fetch(ctx, b.uids, func(uid uint32, raw []byte) error {
		b.raws[uid] = raw
		return nil
	})
}

// stage takes a fetched batch through the pipeline, up to the moves.
func (p *Pipeline) stage(ctx context.Context, validity uint32, b *batch) batchResult {
	var r batchResult
	work := context.WithoutCancel(ctx)
	if b.over != nil {
		if b.header != nil {
			r.moves, r.err = p.oversized(work, validity, *b.over, b.header, &r.stats)
		}
		return r
	}
	// 1. Ledger: the whole batch recorded, sealed, before anything else
	// happens to any of it (one transaction, not one each).
	entries, err := p.record(work, validity, b)
	if err != nil {
		r.err = err
		return r
	}
	r.stats.Fetched += len(entries)
	p.fetched(len(entries))
	passed := make(map[uint32]*looked, len(b.passing))
	for _, it := range b.passing {
		passed[it.uid] = it.looked
	}
	items := make([]*pending, len(entries))
	for i, e := range entries {
		items[i] = newPending(e, b.raws[e.UID])
		items[i].delivered = b.delivered[e.UID]
		items[i].passed = passed[e.UID]
	}
	// 2 to 5: parse, decide and commit.
	r.moves, r.err = p.process(ctx, validity, items, &r.stats)
	return r
}

// batchResult is what processing a batch did.
type batchResult struct {
	moves []move
	stats Stats
	err   error
}

// Add adds the counts of o to s.
func (s *Stats) Add(o Stats) {
	s.Fetched += o.Fetched
	s.Processed += o.Processed
	s.Review += o.Review
	s.Ignored += o.Ignored
	s.Duplicates += o.Duplicates
	s.Moved += o.Moved
}

// serverName is the server's name of a folder the configuration names
// (a ledger row's move_to).
func (f folders) serverName(o Options, to string) string {
	switch to {
	case o.ReviewFolder:
		return f.review
	case o.ProcessedFolder:
		return f.processed
	}
	return to
}

// contentKey identifies a message met again: its Message-ID with the hash
// of its body (a duplicate delivery differs only in trace headers), or the
// hash of the whole message when it has no Message-ID.
func contentKey(raw []byte) (messageID, key string) {
	header, body := raw, []byte(nil)
	for _, sep := range [][]byte{[]byte("\r\n\r\n"), []byte("\n\n")} {
		if i := bytes.Index(raw, sep); i >= 0 {
			header, body = raw[:i+len(sep)], raw[i+len(sep):]
			break
		}
	}
	h, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(header))).ReadMIMEHeader()
	messageID = strings.Trim(strings.TrimSpace(h.Get("Message-Id")), "<>")
	if len(messageID) > store.MaxMessageIDLen {
		messageID = messageID[:store.MaxMessageIDLen]
	}
	if messageID == "" {
		sum := sha256.Sum256(raw)
		return "", "raw:" + hex.EncodeToString(sum[:])
	}
	sum := sha256.Sum256(body)
	return messageID, "mid:" + messageID + ":" + hex.EncodeToString(sum[:])
}

// spooled is a fetched message in the spool.
type spooled struct {
	messageID, contentKey string
	ref                   store.RawRef
}

// spool hashes and seals the messages of a batch, on every CPU, and puts
// them in the store's spool, in one transaction.
func (p *Pipeline) spool(ctx context.Context, b *batch) error {
	if b.over != nil || len(b.raws) == 0 {
		return nil
	}
	type sealed struct {
		uid      uint32
		mid, key string
		blob     store.Sealed
		err      error
	}
	prepared := make([]sealed, 0, len(b.raws))
	for _, uid := range b.uids {
		if _, ok := b.raws[uid]; ok {
			prepared = append(prepared, sealed{uid: uid})
		}
	}
	// Two tasks per message, hashing its body and sealing it, so that a
	// large message alone takes two CPUs too.
	type task struct {
		s    *sealed
		seal bool
	}
	var wg sync.WaitGroup
	next := make(chan task)
	for range min(runtime.GOMAXPROCS(0), 2*len(prepared)) {
		wg.Go(func() {
			for t := range next {
				raw := b.raws[t.s.uid]
				if t.seal {
					t.s.blob, t.s.err = p.store.Seal(store.BlobMessage, raw)
				} else {
					t.s.mid, t.s.key = contentKey(raw)
				}
			}
		})
	}
	for i := range prepared {
		next <- task{s: &prepared[i], seal: true}
		next <- task{s: &prepared[i]}
	}
	close(next)
	wg.Wait()
	blobs := make([]store.Sealed, len(prepared))
	for i, s := range prepared {
		if s.err != nil {
			return fmt.Errorf("UID %d: %w", s.uid, s.err)
		}
		blobs[i] = s.blob
	}
	refs, err := p.store.Spool(ctx, blobs)
	if err != nil {
		return err
	}
	b.spooled = make(map[uint32]spooled, len(prepared))
	for i, s := range prepared {
		b.spooled[s.uid] = spooled{messageID: s.mid, contentKey: s.key, ref: refs[i]}
	}
	return nil
}

// unspool drops spooled messages no ledger row points at. It is only
// tidying: SweepSpool gets those it misses.
func (p *Pipeline) unspool(ctx context.Context, sp map[uint32]spooled) {
	ids := make([]int64, 0, len(sp))
	for _, s := range sp {
		ids = append(ids, s.ref.ID)
	}
	if err := p.store.Unspool(ctx, ids); err != nil {
		p.log.Warn("spooled messages left for the sweep", "count", len(ids), "error", err)
	}
}

// record adds the spooled messages of a batch to the ledger, in one
// transaction, and returns their rows in UID order. A message recorded
// before a crash keeps its row (and its decision, if it was decided),
// and its new copy in the spool is dropped.
func (p *Pipeline) record(ctx context.Context, validity uint32, b *batch) ([]store.Entry, error) {
	var entries []store.Entry
	unused := map[uint32]spooled{}
	err := p.store.Update(ctx, func(tx *store.Tx) error {
		entries = entries[:0]
		clear(unused)
		passed := make(map[uint32]*looked, len(b.passing))
		for _, it := range b.passing {
			passed[it.uid] = it.looked
		}
		for _, uid := range b.order {
			if l := passed[uid]; l != nil {
				// Recorded from its look, with no copy of it.
				e, _, err := p.ledger(tx, store.Entry{Mailbox: p.opts.Mailbox, UIDValidity: validity, UID: uid,
					MessageID: trimMessageID(l.msg.MessageID), ContentKey: l.key, Size: l.size}, nil)
				if err != nil {
					return fmt.Errorf("record UID %d: %w", uid, err)
				}
				entries = append(entries, e)
				continue
			}
			s, ok := b.spooled[uid]
			if !ok {
				continue
			}
			e, fresh, err := p.ledger(tx, store.Entry{Mailbox: p.opts.Mailbox, UIDValidity: validity, UID: uid, MessageID: s.messageID,
				ContentKey: s.contentKey, Size: int64(len(b.raws[uid]))}, &s.ref)
			if err != nil {
				return fmt.Errorf("record UID %d: %w", uid, err)
			}
			if !fresh {
				unused[uid] = s
			}
			entries = append(entries, e)
		}
		return nil
	})
	if err != nil {
		p.unspool(ctx, b.spooled)
		return nil, err
	}
	p.unspool(ctx, unused)
	return entries, err
}

// pending is a recorded message on its way through the pipeline.
type pending struct {
	entry store.Entry
	raw   []byte // the raw message; its header alone when too large to download
	// again: the message was decided before, tied to no case, and is
	// taken again for a case opened after it (Lookback); its decision
	// replaces the one its row has.
	again bool
	// copyOf: a message with its content key was decided before, so this
	// one needs no parsing (a hint: the commit checks again).
	copyOf bool
	msg    *parser.Message // nil until parsed
	perr   error
	// delivered is the message's INTERNALDATE (zero: not known).
	delivered time.Time
	// light: msg comes from parser.Scan only, which showed the message is
	// about no case at generation gen (store.Tx.Generation); the commit
	// parses it fully if that changed since.
	light bool
	gen   int64
	// passed: the message was passed over by its look (never
	// downloaded; raw is nil): what the look saw.
	passed *looked
	// parsed is closed once msg and perr are set, or skipped is (no parse
	// started: shutdown).
	parsed  chan struct{}
	skipped bool
}

func newPending(e store.Entry, raw []byte) *pending {
	return &pending{entry: e, raw: raw, parsed: make(chan struct{})}
}

// deliveredAt is when the message was delivered: its INTERNALDATE, or
// its Date when the server gave none (zero: neither known).
func (it *pending) deliveredAt() time.Time {
	if it.delivered.IsZero() && it.msg != nil {
		return it.msg.Date
	}
	return it.delivered
}

// undecided reports whether the message is to be decided: recorded and
// not decided yet (a message decided before a crash is only passed
// over), or taken again.
func (it *pending) undecided() bool {
	return it.entry.Status == store.LedgerReceived || it.again
}

// commitGroup bounds the messages committed in one transaction.
const commitGroup = 64

// process takes the recorded messages of a batch through the rest of the
// pipeline, in UID order, and returns the moves they need. Parsing, the
// slow part, runs on every CPU at once, each message under its own time
// limit, ahead of the commits; the decisions are committed in UID order,
// those of consecutive messages already parsed together in one
// transaction with the mailbox position. On shutdown (ctx cancelled) no
// new parse starts; the messages parsed so far are committed and the
// others stay recorded for the next run.
func (p *Pipeline) process(ctx context.Context, validity uint32, items []*pending, stats *Stats) ([]move, error) {
	work := context.WithoutCancel(ctx)
	// 2. Check them all against the cases.
	p.check(work, items)
	// 3. Parse the others, bounded and guarded, one message per CPU at a
	// time. No new parse starts once process has returned (an error).
	launch, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		slots := make(chan struct{}, max(runtime.GOMAXPROCS(0), 1))
		for _, it := range items {
			if !it.undecided() || it.light || it.copyOf || it.passed != nil {
				close(it.parsed)
				continue
			}
			select {
			case slots <- struct{}{}:
			case <-launch.Done():
			}
			if launch.Err() != nil {
				it.skipped = true
				close(it.parsed)
				continue
			}
			go func() {
				defer func() { <-slots; close(it.parsed) }()
				it.msg, it.perr = p.parse(work, it.raw)
			}()
		}
	}()

	// 4 and 5. Decide and commit, as the parses complete, in UID order.
	var moves []move
	for i := 0; i < len(items); {
		<-items[i].parsed
		if items[i].skipped {
			break
		}
		j := i + 1
		for j < len(items) && j-i < commitGroup && done(items[j]) {
			j++
		}
		mv, err := p.commitBatch(work, validity, items[i:j], stats)
		moves = append(moves, mv...)
		if err != nil {
			return moves, err
		}
		i = j
	}
	return moves, nil
}

// done reports whether a message is parsed, without waiting.
func done(it *pending) bool {
	select {
	case <-it.parsed:
		return !it.skipped
	default:
		return false
	}
}

// oversized records a message too large to download from its header and
// sends it to review when it is tied to a case.
func (p *Pipeline) oversized(ctx context.Context, validity uint32, s mailbox.Summary, header []byte, stats *Stats) ([]move, error) {
	stats.Fetched++
	p.fetched(1)
	mid, _ := contentKey(header)
	key := ""
	if mid != "" {
		// No body to hash: the size of the body stands in for it, which
		// a second delivery (other trace headers) does not change.
		key = fmt.Sprintf("big:%s:%d", mid, s.Size-int64(len(header)))
	}
	it := &pending{raw: header, delivered: s.InternalDate}
	err := p.store.Update(ctx, func(tx *store.Tx) error {
		var err error
		it.entry, _, err = p.ledger(tx, store.Entry{Mailbox: p.opts.Mailbox, UIDValidity: validity, UID: s.UID, MessageID: mid,
			ContentKey: key, Size: s.Size}, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record UID %d: %w", s.UID, err)
	}
	if it.entry.Status == store.LedgerReceived {
		p.headerOnly(ctx, it, s.Size)
	}
	return p.commitBatch(ctx, validity, []*pending{it}, stats)
}

// check is the fast path for the ordinary mail of a shared mailbox:
// parser.Scan reads the header facts and the case references of each
// message without decoding files (on every CPU), and when nothing in a
// message can tie it to a case (no reference to a known case, no open
// case for its sender, no reply to our mail, no delivery report), it is
// light: it needs no full parse, and its commit need not look at the
// cases again unless they changed since (it.gen). Otherwise check tells
// whether it is a copy of a message decided before (it.copyOf), which
// needs no parse either. The lookups share one read transaction. On an
// error nothing is set: the messages are parsed, and their commit
// decides.
func (p *Pipeline) check(ctx context.Context, items []*pending) {
	type scan struct {
		m    *parser.Message
		sure bool
	}
	scans := make([]scan, len(items))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(items)) {
		wg.Go(func() {
			for i := range next {
				scans[i].m, scans[i].sure = p.scan(items[i].raw)
			}
		})
	}
	for i, it := range items {
		if it.undecided() && it.passed == nil {
			next <- i
		}
	}
	close(next)
	wg.Wait()
	err := p.store.View(ctx, func(tx *store.Tx) error {
		gen, err := tx.Generation()
		if err != nil {
			return err
		}
		for i, it := range items {
			if !it.undecided() || it.passed != nil {
				continue
			}
			if sc := scans[i]; sc.sure {
				in, err := p.gather(tx, sc.m)
				if err != nil {
					return err
				}
				if len(in.Candidates) == 0 {
					it.msg, it.light, it.gen = sc.m, true, gen
					continue
				}
			}
			_, err := tx.FirstCopy(it.entry.ContentKey, it.entry.ID)
			it.copyOf = err == nil
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		p.log.Warn("check against the cases failed: the batch is parsed in full", "error", err)
		for _, it := range items {
			it.msg, it.light, it.copyOf = nil, false, false
		}
	}
}

// commitBatch decides about parsed messages and commits the decisions, with
// the mailbox position, in UID order. A message met before (same content
// key as a message already decided, in an earlier batch or earlier in
// this one) is recorded as its duplicate instead, and moved with it. A
// message decided before a crash, or by another process since it was
// recorded, is only passed over. A message taken again (Lookback) is
// decided anew if it is still as recoverybot left it, and its lookback is
// done in the same transaction either way; it does not move the mailbox
// position, which is Drain's.
//
// The decisions go in one transaction, unless a message turns out to
// need a full parse there (a case appeared for it since it was checked):
// the messages before it are committed, with the position up to them
// only, it is parsed outside the transaction, so that the writer is never
// held while a message is parsed, and the rest are committed in the next.
func (p *Pipeline) commitBatch(ctx context.Context, validity uint32, items []*pending, stats *Stats) ([]move, error) {
	for _, it := range items {
		p.tieUnreadable(it)
	}
	var moves []move
	for len(items) > 0 {
		n, mv, err := p.commitSome(ctx, validity, items, stats)
		moves = append(moves, mv...)
		if err != nil {
			return moves, err
		}
		if items = items[n:]; len(items) > 0 {
			it := items[0]
			it.msg, it.perr = p.parse(ctx, it.raw)
			it.light, it.copyOf = false, false
			p.tieUnreadable(it)
		}
	}
	return moves, nil
}

// commitSome commits, in one transaction, the decisions about the
// messages of items up to the first that needs a full parse, and returns
// how many it decided or passed over (all of them, or the index of that
// one).
func (p *Pipeline) commitSome(ctx context.Context, validity uint32, items []*pending, stats *Stats) (int, []move, error) {
	var reports []Report
	var moves []move
	var n int
	err := p.store.Update(ctx, func(tx *store.Tx) error {
		reports, moves, n = reports[:0], moves[:0], len(items)
		gen := int64(-1) // the generation, once read; -1 after a change
		var last uint32  // the mailbox position: the last message Drain met
		for i, it := range items {
			if !it.again {
				if it.entry.Status != store.LedgerReceived {
					last = it.entry.UID
					continue // decided before a crash
				}
				// Read again in the writer's transaction: another
				// process on the same data directory may have decided
				// it since it was recorded, and its move is that
				// process's.
				cur, err := tx.Entry(it.entry.ID)
				if err != nil {
					return err
				}
				if cur.Status != store.LedgerReceived {
					last = it.entry.UID
					continue
				}
			} else {
				cur, err := tx.Entry(it.entry.ID)
				if err != nil {
					return err
				}
				if !p.leftAlone(cur, validity) {
					// Decided otherwise since it was queued.
					if err := tx.FinishLookbacks(it.entry.ID); err != nil {
						return err
					}
					continue
				}
			}
			if it.passed != nil {
				if gen < 0 {
					var err error
					if gen, err = tx.Generation(); err != nil {
						return err
					}
				}
				rep, mv, err := p.passOne(tx, it, gen)
				if err != nil {
					return fmt.Errorf("UID %d: %w", it.entry.UID, err)
				}
				rep.Delivered, rep.Decided = it.deliveredAt(), tx.Now()
				last = it.entry.UID
				reports = append(reports, rep)
				if mv != nil {
					moves = append(moves, *mv)
				}
				continue
			}
			unchanged := false
			if it.light {
				if gen < 0 {
					var err error
					if gen, err = tx.Generation(); err != nil {
						return err
					}
				}
				unchanged = gen == it.gen
			}
			rep, mv, err := p.decide(tx, it, unchanged)
			if errors.Is(err, errUnparsed) {
				n = i // the position stays before it
				break
			}
			if err != nil {
				return fmt.Errorf("UID %d: %w", it.entry.UID, err)
			}
			rep.Delivered, rep.Decided = it.deliveredAt(), tx.Now()
			if !it.again {
				last = it.entry.UID
			}
			if it.again {
				if err := tx.FinishLookbacks(it.entry.ID); err != nil {
					return err
				}
				copies, err := p.tieCopies(tx, it.entry.ID, validity)
				if err != nil {
					return fmt.Errorf("UID %d: %w", it.entry.UID, err)
				}
				moves = append(moves, copies...)
			}
			if !unchanged {
				gen = -1 // this decision may have changed a case
			}
			reports = append(reports, rep)
			if mv != nil {
				moves = append(moves, *mv)
			}
		}
		if last == 0 {
			return nil
		}
		return tx.SetMailboxState(p.opts.Mailbox, validity, last)
	})
	if err != nil {
		return 0, nil, fmt.Errorf("commit: %w", err)
	}
	p.account(reports, stats)
	return n, moves, nil
}

// account tells of the decisions a transaction committed: AfterCommit,
// the counts of stats and a report of each.
func (p *Pipeline) account(reports []Report, stats *Stats) {
	if p.opts.AfterCommit != nil && len(reports) > 0 {
		p.opts.AfterCommit()
	}
	for _, rep := range reports {
		switch rep.Status {
		case store.LedgerProcessed:
			stats.Processed++
		case store.LedgerReview:
			stats.Review++
		case store.LedgerDuplicate:
			stats.Duplicates++
		default:
			stats.Ignored++
		}
		p.report(rep)
	}
}
