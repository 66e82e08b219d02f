package intake

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/textproto"
	"regexp"
	"runtime/debug"
	"strings"
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
	// BatchBytes bounds the bytes fetched before they are processed. 0: 16 MiB.
	BatchBytes int64
	Policy     rules.Policy
	Letters    outbound.Letters
	Parse      parser.Options
	Logger     *slog.Logger
	// OnMessage, when set, is told what became of each message (the demo
	// prints it). It must not block.
	OnMessage func(Report)
}

// Report says what became of one message.
type Report struct {
	UID       uint32
	From      string
	Subject   string
	Status    store.LedgerStatus
	Reason    string
	CaseRef   string
	StateFrom recoverybot.State
	StateTo   recoverybot.State
	Missing   []recoverybot.Requirement
	Documents int
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
		o.BatchBytes = 16 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{store: st, opts: o, log: o.Logger}
}

// folders are the server names of the destination folders.
type folders struct{ processed, review string }

type move struct {
	id     int64
	uid    uint32
	folder string
}

// Drain processes every message of the mailbox above the last UID
// processed, in UID order, and moves those tied to a case. It returns on
// the first error of the connection or the store; what was committed
// stays committed, and the next Drain goes on from there.
func (p *Pipeline) Drain(ctx context.Context, conn *mailbox.Conn) (Stats, error) {
	var stats Stats
	status, err := conn.Select(ctx, p.opts.Mailbox)
	if err != nil {
		return stats, err
	}
	var f folders
	if f.processed, err = conn.EnsureFolder(ctx, p.opts.ProcessedFolder); err != nil {
		return stats, err
	}
	if f.review, err = conn.EnsureFolder(ctx, p.opts.ReviewFolder); err != nil {
		return stats, err
	}
	validity := status.UIDValidity
	var last uint32
	err = p.store.Update(ctx, func(tx *store.Tx) error {
		known, lastUID, found, err := tx.MailboxState(p.opts.Mailbox)
		if err != nil {
			return err
		}
		if found && known == validity {
			last = lastUID
			return nil
		}
		if found {
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
		return stats, fmt.Errorf("mailbox state: %w", err)
	}

	// Moves decided before a crash or a lost connection.
	var pending []store.Entry
	if err := p.store.View(ctx, func(tx *store.Tx) error {
		pending, err = tx.PendingMoves(p.opts.Mailbox, validity)
		return err
	}); err != nil {
		return stats, err
	}
	var redo []move
	for _, e := range pending {
		redo = append(redo, move{id: e.ID, uid: e.UID, folder: p.folderOf(f, e.MoveTo)})
	}
	n, err := p.moveAll(ctx, conn, redo)
	stats.Moved += n
	if err != nil {
		return stats, err
	}

	list, err := conn.Since(ctx, last)
	if err != nil {
		return stats, err
	}
	for len(list) > 0 {
		if err := ctx.Err(); err != nil {
			return stats, err
		}
		// A batch: consecutive messages up to BatchBytes; a message too
		// large to download is handled alone from its header.
		if list[0].Size > p.opts.MaxMessageSize {
			mv, err := p.oversized(ctx, conn, validity, list[0], &stats)
			if err != nil {
				return stats, err
			}
			var moves []move
			if mv != nil {
				moves = p.resolve(f, *mv)
			}
			n, err := p.moveAll(ctx, conn, moves)
			stats.Moved += n
			if err != nil {
				return stats, err
			}
			list = list[1:]
			continue
		}
		var uids []uint32
		var size int64
		i := 0
		for ; i < len(list) && list[i].Size <= p.opts.MaxMessageSize; i++ {
			if len(uids) > 0 && (size+list[i].Size > p.opts.BatchBytes || len(uids) >= 200) {
				break
			}
			uids = append(uids, list[i].UID)
			size += list[i].Size
		}
		list = list[i:]
		raws := make(map[uint32][]byte, len(uids))
		err := conn.Fetch(ctx, uids, func(uid uint32, raw []byte) error {
			raws[uid] = raw
			return nil
		})
		if err != nil {
			return stats, err
		}
		// A message taken in hand is finished even when ctx is cancelled
		// (shutdown): its commit and its move do not see the cancellation.
		work := context.WithoutCancel(ctx)
		var moves []move
		for _, uid := range uids {
			if ctx.Err() != nil {
				break
			}
			raw, ok := raws[uid]
			if !ok {
				// Expunged by someone else between the listing and the
				// fetch: nothing to process.
				continue
			}
			delete(raws, uid)
			stats.Fetched++
			mv, err := p.process(work, validity, uid, raw, &stats)
			if err != nil {
				return stats, err
			}
			if mv != nil {
				moves = append(moves, *mv)
			}
		}
		n, err := p.moveAll(work, conn, p.resolve(f, moves...))
		stats.Moved += n
		if err != nil {
			return stats, err
		}
	}
	return stats, ctx.Err()
}

func (p *Pipeline) folderOf(f folders, moveTo string) string {
	switch moveTo {
	case p.opts.ReviewFolder:
		return f.review
	case p.opts.ProcessedFolder:
		return f.processed
	}
	return moveTo
}

func (p *Pipeline) resolve(f folders, moves ...move) []move {
	for i := range moves {
		moves[i].folder = p.folderOf(f, moves[i].folder)
	}
	return moves
}

// moveAll moves messages, grouped by folder, and records it.
func (p *Pipeline) moveAll(ctx context.Context, conn *mailbox.Conn, moves []move) (int, error) {
	byFolder := map[string][]move{}
	var order []string
	for _, m := range moves {
		if _, ok := byFolder[m.folder]; !ok {
			order = append(order, m.folder)
		}
		byFolder[m.folder] = append(byFolder[m.folder], m)
	}
	done := 0
	for _, folder := range order {
		ms := byFolder[folder]
		uids := make([]uint32, len(ms))
		ids := make([]int64, len(ms))
		for i, m := range ms {
			uids[i], ids[i] = m.uid, m.id
		}
		if err := conn.Move(ctx, uids, folder); err != nil {
			return done, err
		}
		if err := p.store.Update(ctx, func(tx *store.Tx) error { return tx.MarkMoved(ids) }); err != nil {
			return done, fmt.Errorf("record moves: %w", err)
		}
		done += len(ms)
	}
	return done, nil
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
	if len(messageID) > 250 {
		messageID = messageID[:250]
	}
	if messageID == "" {
		sum := sha256.Sum256(raw)
		return "", "raw:" + hex.EncodeToString(sum[:])
	}
	sum := sha256.Sum256(body)
	return messageID, "mid:" + messageID + ":" + hex.EncodeToString(sum[:])
}

// process takes one downloaded message through the pipeline and returns
// the move it needs, if any.
func (p *Pipeline) process(ctx context.Context, validity, uid uint32, raw []byte, stats *Stats) (*move, error) {
	mid, key := contentKey(raw)
	entry := store.Entry{Mailbox: p.opts.Mailbox, UIDValidity: validity, UID: uid, MessageID: mid,
		ContentKey: key, Size: int64(len(raw))}

	// 1. Ledger: recorded, sealed, before anything else.
	err := p.store.Update(ctx, func(tx *store.Tx) error {
		prev, err := tx.EntryByUID(p.opts.Mailbox, validity, uid)
		if err == nil {
			entry = prev // recorded before a crash: decide it now
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.Record(&entry, raw)
	})
	if err != nil {
		return nil, fmt.Errorf("record UID %d: %w", uid, err)
	}
	if entry.Status != store.LedgerReceived {
		// Decided before; only the position was lost. Go on.
		return nil, p.store.Update(ctx, func(tx *store.Tx) error { return tx.SetMailboxState(p.opts.Mailbox, validity, uid) })
	}

	// 2. A message met before is a duplicate, moved with its first copy.
	var mv *move
	dup := false
	err = p.store.Update(ctx, func(tx *store.Tx) error {
		first, err := tx.FirstCopy(key, entry.ID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		dup = true
		if err := tx.Decide(entry.ID, store.Decided{Status: store.LedgerDuplicate, Reason: fmt.Sprintf("same message as #%d", first.ID),
			CaseID: first.CaseID, DuplicateOf: first.ID, MoveTo: first.MoveTo, ParserVersion: first.ParserVersion}); err != nil {
			return err
		}
		if first.MoveTo != "" {
			mv = &move{id: entry.ID, uid: uid, folder: first.MoveTo}
			if err := tx.Audit(first.CaseID, recoverybot.SystemActor, "duplicate_message", map[string]string{
				"message": fmt.Sprint(entry.ID), "first": fmt.Sprint(first.ID)}); err != nil {
				return err
			}
		}
		return tx.SetMailboxState(p.opts.Mailbox, validity, uid)
	})
	if err != nil {
		return nil, fmt.Errorf("duplicate check UID %d: %w", uid, err)
	}
	if dup {
		stats.Duplicates++
		p.report(Report{UID: uid, Status: store.LedgerDuplicate})
		return mv, nil
	}

	// 3. Parse, bounded and guarded.
	msg, perr := p.parse(ctx, raw)
	// 4 and 5. Decide and commit, in one transaction.
	return p.commit(ctx, validity, entry, msg, perr, raw, stats)
}

// oversized records a message too large to download from its header and
// sends it to review when it is tied to a case.
func (p *Pipeline) oversized(ctx context.Context, conn *mailbox.Conn, validity uint32, s mailbox.Summary, stats *Stats) (*move, error) {
	header, err := conn.FetchHeader(ctx, s.UID)
	if errors.Is(err, mailbox.ErrNoMessage) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	stats.Fetched++
	mid, _ := contentKey(header)
	key := ""
	if mid != "" {
		key = fmt.Sprintf("big:%s:%d", mid, s.Size)
	}
	entry := store.Entry{Mailbox: p.opts.Mailbox, UIDValidity: validity, UID: s.UID, MessageID: mid, ContentKey: key, Size: s.Size}
	err = p.store.Update(ctx, func(tx *store.Tx) error {
		prev, err := tx.EntryByUID(p.opts.Mailbox, validity, s.UID)
		if err == nil {
			entry = prev
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.Record(&entry, nil)
	})
	if err != nil || entry.Status != store.LedgerReceived {
		return nil, err
	}
	msg, perr := p.parse(ctx, append(header, "\r\n"...))
	if perr == nil {
		perr = fmt.Errorf("too large: %d bytes, over the limit of %d", s.Size, p.opts.MaxMessageSize)
		msg.Documents = nil
	}
	return p.commit(ctx, validity, entry, msg, &unusable{perr}, nil, stats)
}

// unusable marks a message that is tied to its case but cannot be used.
type unusable struct{ err error }

func (u *unusable) Error() string { return u.err.Error() }

// parse runs the parser under the per-message time limit, turning a panic
// into an error. On a timeout the parse goroutine is abandoned: the
// parser bounds its own work, so it ends soon after.
func (p *Pipeline) parse(ctx context.Context, raw []byte) (*parser.Message, error) {
	type result struct {
		m   *parser.Message
		err error
	}
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				p.log.Error("parser panic", "error", fmt.Sprint(r), "stack", string(debug.Stack()))
				ch <- result{err: fmt.Errorf("parser crashed: %v", r)}
			}
		}()
		m, err := parser.Parse(raw, p.opts.Parse)
		ch <- result{m, err}
	}()
	timer := time.NewTimer(p.opts.MessageTimeout)
	defer timer.Stop()
	select {
	case r := <-ch:
		if r.m == nil {
			r.m = &parser.Message{ParserVersion: parser.Version}
		}
		return r.m, r.err
	case <-timer.C:
		return &parser.Message{ParserVersion: parser.Version}, fmt.Errorf("parsing took longer than %s", p.opts.MessageTimeout)
	case <-ctx.Done():
		return &parser.Message{ParserVersion: parser.Version}, ctx.Err()
	}
}

// refInRaw finds case references in bytes the parser could not read, so
// that a broken message about a case still reaches review.
var refInRaw = regexp.MustCompile(`(?i)\bRC[-_ ]?([2-9A-HJKMNP-Z]{6})\b`)

func (p *Pipeline) commit(ctx context.Context, validity uint32, entry store.Entry, msg *parser.Message, perr error, raw []byte, stats *Stats) (*move, error) {
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if perr != nil && len(msg.CaseRefs) == 0 {
		seen := map[string]bool{}
		limit := raw
		if len(limit) > 1<<20 {
			limit = limit[:1<<20]
		}
		for _, sub := range refInRaw.FindAllSubmatch(limit, 20) {
			if ref, err := recoverybot.ParseRef(string(sub[1])); err == nil && !seen[ref] {
				seen[ref] = true
				msg.CaseRefs = append(msg.CaseRefs, parser.Found{Value: ref, Masked: ref, Where: "raw"})
			}
		}
	}
	var rep Report
	var mv *move
	err := p.store.Update(ctx, func(tx *store.Tx) error {
		in, err := p.gather(tx, msg)
		if err != nil {
			return err
		}
		var d rules.Decision
		if perr != nil {
			d = unusableDecision(in, perr)
		} else {
			d = p.decide(ctx, in)
		}
		rep, mv, err = p.apply(tx, entry, msg, d)
		if err != nil {
			return err
		}
		return tx.SetMailboxState(p.opts.Mailbox, validity, entry.UID)
	})
	if err != nil {
		return nil, fmt.Errorf("commit UID %d: %w", entry.UID, err)
	}
	switch rep.Status {
	case store.LedgerProcessed:
		stats.Processed++
	case store.LedgerReview:
		stats.Review++
	default:
		stats.Ignored++
	}
	p.report(rep)
	return mv, nil
}

func (p *Pipeline) report(r Report) {
	if p.opts.OnMessage != nil {
		p.opts.OnMessage(r)
	}
}

// unusableDecision sends a message that could not be read to review when
// it can be tied to a case, and leaves it alone otherwise.
func unusableDecision(in rules.Input, perr error) rules.Decision {
	d := rules.Decision{Outcome: rules.Ignore, Reason: "unreadable: " + perr.Error()}
	var u *unusable
	if errors.As(perr, &u) {
		d.Reason = u.Error()
	}
	if len(in.Candidates) > 0 {
		cf := in.Candidates[0]
		d.Outcome, d.Case, d.After = rules.Review, &cf, cf.Case
	}
	return d
}

// decide runs the rules under the time limit and a panic guard.
func (p *Pipeline) decide(ctx context.Context, in rules.Input) rules.Decision {
	ch := make(chan rules.Decision, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				p.log.Error("rules panic", "error", fmt.Sprint(r), "stack", string(debug.Stack()))
				ch <- unusableDecision(in, fmt.Errorf("decision crashed: %v", r))
			}
		}()
		ch <- rules.Decide(in)
	}()
	select {
	case d := <-ch:
		return d
	case <-time.After(p.opts.MessageTimeout):
		return unusableDecision(in, fmt.Errorf("deciding took longer than %s", p.opts.MessageTimeout))
	case <-ctx.Done():
		return unusableDecision(in, ctx.Err())
	}
}

// gather loads the cases a message may be about: by reference, by our
// Message-ID in its threading headers or bounce report, and by sender.
func (p *Pipeline) gather(tx *store.Tx, msg *parser.Message) (rules.Input, error) {
	in := rules.Input{Message: msg, Now: tx.Now(), Policy: p.opts.Policy}
	seen := map[int64]bool{}
	add := func(c recoverybot.Case, via string) error {
		if seen[c.ID] {
			return nil
		}
		seen[c.ID] = true
		cf, err := caseFile(tx, c, via)
		if err != nil {
			return err
		}
		in.Candidates = append(in.Candidates, cf)
		return nil
	}
	for _, f := range msg.CaseRefs {
		c, err := tx.CaseByRef(f.Value)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return in, err
		}
		if err := add(c, "ref"); err != nil {
			return in, err
		}
	}
	if msg.Bounce != nil && msg.Bounce.OriginalMessageID != "" {
		if out, err := tx.OutgoingByMessageID(msg.Bounce.OriginalMessageID); err == nil && out.CaseID != 0 {
			c, err := tx.CaseByID(out.CaseID)
			if err != nil {
				return in, err
			}
			in.BouncedTemplate = out.Template
			if err := add(c, "bounce"); err != nil {
				return in, err
			}
		}
	}
	for _, id := range append(append([]string{}, msg.InReplyTo...), msg.References...) {
		out, err := tx.OutgoingByMessageID(id)
		if err != nil || out.CaseID == 0 {
			continue
		}
		c, err := tx.CaseByID(out.CaseID)
		if err != nil {
			return in, err
		}
		if err := add(c, "thread"); err != nil {
			return in, err
		}
	}
	if msg.Sender != "" {
		cases, err := tx.ListCases(store.CaseFilter{Open: true, Contact: msg.Sender})
		if err != nil {
			return in, err
		}
		for _, c := range cases {
			if err := add(c, "sender"); err != nil {
				return in, err
			}
		}
	}
	return in, nil
}

func caseFile(tx *store.Tx, c recoverybot.Case, via string) (rules.CaseFile, error) {
	cf := rules.CaseFile{Case: c, Via: via}
	var err error
	if cf.Profile, err = tx.Profile(c.ProfileID); err != nil {
		return cf, err
	}
	if c.Kind.NeedsCode() {
		code, err := tx.CurrentCode(c.ID)
		if err == nil {
			cf.Code = &code
		} else if !errors.Is(err, store.ErrNotFound) {
			return cf, err
		}
	}
	docs, err := tx.Documents(c.ID)
	if err != nil {
		return cf, err
	}
	for _, d := range docs {
		cf.Documents = append(cf.Documents, d.Type)
	}
	if c.LastAutoReplyAt != nil {
		cf.LastAutoReply = *c.LastAutoReplyAt
	}
	return cf, nil
}

// apply commits a decision: evidence, documents, the case, the audit
// trail, the reply and the ledger row.
func (p *Pipeline) apply(tx *store.Tx, entry store.Entry, msg *parser.Message, d rules.Decision) (Report, *move, error) {
	rep := Report{UID: entry.UID, From: msg.Sender, Subject: msg.Subject, Reason: d.Reason}
	dec := store.Decided{ParserVersion: msg.ParserVersion, Reason: d.Reason}
	switch d.Outcome {
	case rules.Ignore:
		dec.Status = store.LedgerIgnored
	case rules.Review:
		dec.Status, dec.MoveTo = store.LedgerReview, p.opts.ReviewFolder
	default:
		dec.Status, dec.MoveTo = store.LedgerProcessed, p.opts.ProcessedFolder
	}
	rep.Status = dec.Status
	if d.Case != nil {
		c := d.Case.Case
		dec.CaseID = c.ID
		rep.CaseRef, rep.StateFrom, rep.StateTo = c.Ref, c.State, c.State
		ev := store.Evidence{CaseID: c.ID, MessageID: entry.ID, Sender: d.Sender.Address,
			SenderStatus: string(d.Sender.Status), SenderDetail: d.Sender.Detail, CodeResult: string(d.Code), Automatic: msg.Automatic}
		if err := tx.AddEvidence(ev); err != nil && !errors.Is(err, store.ErrDuplicateRow) {
			return rep, nil, err
		}
		details := map[string]string{"message": fmt.Sprint(entry.ID), "outcome": string(d.Outcome),
			"sender": d.Sender.Address, "sender_status": string(d.Sender.Status), "sender_detail": d.Sender.Detail}
		if d.Reason != "" {
			details["reason"] = d.Reason
		}
		if d.Code != "" {
			details["code"] = string(d.Code)
		}
		if d.Outcome == rules.Apply || d.Outcome == rules.Record {
			for i := range d.Documents {
				pd := d.Documents[i]
				doc := recoverybot.Document{Type: pd.Type, Filename: pd.Filename, DeclaredType: pd.DeclaredType,
					MediaType: pd.MediaType, SHA256: pd.SHA256, Signals: pd.Signals, Findings: pd.Findings}
				if err := tx.AddDocument(c.ID, entry.ID, msg.ParserVersion, &doc, pd.Data); err != nil {
					return rep, nil, err
				}
			}
			details["documents"] = fmt.Sprint(len(d.Documents))
			rep.Documents = len(d.Documents)
			after := d.After
			if d.Reply != nil {
				now := tx.Now()
				after.LastAutoReplyAt = &now
			}
			if d.Code == recoverybot.CodeMatch {
				if err := tx.UseCode(c.ID); err != nil {
					return rep, nil, err
				}
			}
			if err := tx.UpdateCase(after); err != nil {
				return rep, nil, err
			}
			rep.StateTo = after.State
		}
		if err := tx.Audit(c.ID, recoverybot.SystemActor, "message_"+string(d.Outcome), details); err != nil {
			return rep, nil, err
		}
		for _, e := range d.Events {
			if err := tx.Audit(c.ID, recoverybot.SystemActor, e.Action, e.Details); err != nil {
				return rep, nil, err
			}
		}
		if d.Reply != nil {
			missing := d.Reply.Missing
			refs := append(append([]string{}, msg.References...), msg.MessageID)
			if msg.MessageID == "" {
				refs = msg.References
			}
			err := p.opts.Letters.Queue(tx, d.After, d.Case.Profile, outbound.Letter{
				Template: outbound.Template(d.Reply.Template), To: d.Reply.To, EventKey: fmt.Sprintf("reply-%d", entry.ID),
				Automatic: true, InReplyTo: msg.MessageID, References: refs,
				Fill: func(data *outbound.Data) { data.Missing = missing },
			})
			if err != nil {
				return rep, nil, err
			}
		}
		rep.Missing = nil
		if d.Outcome == rules.Apply {
			rep.Missing = recoverybot.Missing(c.Kind, d.Case.Profile.HolderKind, progress(d, p.opts.Policy))
		}
	} else if d.Outcome == rules.Review {
		if err := tx.Audit(0, recoverybot.SystemActor, "message_review", map[string]string{
			"message": fmt.Sprint(entry.ID), "reason": d.Reason}); err != nil {
			return rep, nil, err
		}
	}
	if err := tx.Decide(entry.ID, dec); err != nil {
		return rep, nil, err
	}
	if dec.MoveTo == "" {
		return rep, nil, nil
	}
	return rep, &move{id: entry.ID, uid: entry.UID, folder: dec.MoveTo}, nil
}

func progress(d rules.Decision, pol rules.Policy) recoverybot.Progress {
	docs := append([]recoverybot.DocumentType{}, d.Case.Documents...)
	for _, doc := range d.Documents {
		docs = append(docs, doc.Type)
	}
	return recoverybot.Progress{Documents: docs, SenderStatus: d.After.SenderStatus, CodeVerified: d.After.CodeVerified,
		UnverifiedSenderCounts: !pol.RequireAuthenticatedSender}
}
