package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/mailbox"
	"github.com/recoverybot/recoverybot/outbound"
	"github.com/recoverybot/recoverybot/parser"
	"github.com/recoverybot/recoverybot/rules"
	"github.com/recoverybot/recoverybot/store"
)

// The journey of one message, straight down: the steps of the README's
// "How a message is handled", each a function named for it. The
// machinery that takes batches of messages through them — looking,
// fetching, sealing, parsing on every CPU, grouping the commits, the
// moves on the connection — is in intake.go; the look in look.go.
//
//	0. Look      look.go: Pipeline.look, then passOne for a message
//	             passed over (recorded from its look, never downloaded)
//	1. Ledger    ledger: the row, with the spooled copy, before anything else
//	2. Parse     parse (under the time limit and a panic guard); scan, the
//	             quick look at a downloaded message; tieUnreadable
//	   Decide    decide: a copy met again, or the cases it may concern
//	             (gather) and the rules (rule)
//	3. Commit    commit: the evidence, documents, case, audit trail, reply
//	             and ledger row, in the decision's transaction
//	4. Move      moveAll: to where the decision sends it, recorded

// ledger returns the ledger row of a message, recording it with raw
// (nil: not downloaded) unless it was recorded before; fresh says it was
// recorded now.
func (p *Pipeline) ledger(tx *store.Tx, e store.Entry, raw *store.RawRef) (_ store.Entry, fresh bool, _ error) {
	err := tx.Record(&e, raw)
	if !errors.Is(err, store.ErrDuplicateRow) {
		return e, err == nil, err
	}
	prev, err := tx.EntryByUID(e.Mailbox, e.UIDValidity, e.UID)
	return prev, false, err
}

// parse runs the parser under the per-message time limit, turning a panic
// into an error. The parser looks at the deadline as it works
// (parser.ParseContext): once it has passed, the parse stops within a
// fraction of a second and returns what it read, its header always, with
// an error matching parser.ErrStopped; nothing is left running.
func (p *Pipeline) parse(ctx context.Context, raw []byte) (m *parser.Message, err error) {
	if p.parseHook != nil {
		p.parseHook(raw)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, p.opts.MessageTimeout,
		fmt.Errorf("parsing took longer than %s", p.opts.MessageTimeout))
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("parser panic", "error", fmt.Sprint(r), "stack", string(debug.Stack()))
			m, err = &parser.Message{ParserVersion: parser.Version}, fmt.Errorf("parser crashed: %v", r)
		}
	}()
	m, err = parser.ParseContext(ctx, raw, p.opts.Parse)
	if m == nil {
		m = &parser.Message{ParserVersion: parser.Version}
	}
	return m, err
}

// scan is parser.Scan under a panic guard: a message it cannot read is
// parsed in full, under the parser's own guard.
func (p *Pipeline) scan(raw []byte) (m *parser.Message, sure bool) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("scan panic", "error", fmt.Sprint(r), "stack", string(debug.Stack()))
			m, sure = nil, false
		}
	}()
	return parser.Scan(raw)
}

// tieUnreadable completes a message the parser could not read to the end
// with what ties it to a case: the quick scan's header facts (sender,
// replies) when the parse has none, and its case references and those
// found in the raw bytes when the parse found none.
func (p *Pipeline) tieUnreadable(it *pending) {
	if it.msg == nil || it.perr == nil {
		return
	}
	sc, _ := p.scan(it.raw)
	if sc != nil && it.msg.Sender == "" && len(it.msg.From) == 0 {
		it.msg.MessageID, it.msg.From, it.msg.Sender = sc.MessageID, sc.From, sc.Sender
		it.msg.InReplyTo, it.msg.References, it.msg.AuthResults = sc.InReplyTo, sc.References, sc.AuthResults
	}
	if len(it.msg.CaseRefs) > 0 {
		return
	}
	seen := map[string]bool{}
	var refs []parser.Found
	if sc != nil {
		refs = append(refs, sc.CaseRefs...)
	}
	for _, f := range append(refs, parser.RefsInRaw(it.raw)...) {
		if !seen[f.Value] {
			seen[f.Value] = true
			it.msg.CaseRefs = append(it.msg.CaseRefs, f)
		}
	}
}

// headerOnly reads a message too large to download, of size bytes, from
// its header (it.raw), as unusable: tied to its case, it goes to review.
func (p *Pipeline) headerOnly(ctx context.Context, it *pending, size int64) {
	msg, perr := p.parse(ctx, append(it.raw, "\r\n"...))
	if perr == nil {
		perr = fmt.Errorf("too large: %d bytes, over the limit of %d", size, p.opts.MaxMessageSize)
		msg.Documents = nil
	}
	it.msg, it.perr = msg, &unusable{perr}
}

// unusable marks a message that is tied to its case but cannot be used.
type unusable struct{ err error }

func (u *unusable) Error() string { return u.err.Error() }

// decide decides about one message in tx and commits the decision. unchanged says the message
// is light and nothing changed since it was checked against the cases.
// A message that needs a full parse first is errUnparsed, and nothing is
// written for it.
func (p *Pipeline) decide(tx *store.Tx, it *pending, unchanged bool) (Report, *move, error) {
	first, err := tx.FirstCopy(it.entry.ContentKey, it.entry.ID)
	switch {
	case err == nil:
		mv, err := p.duplicate(tx, it.entry, first, it.msg)
		return Report{UID: it.entry.UID, Status: store.LedgerDuplicate}, mv, err
	case !errors.Is(err, store.ErrNotFound):
		return Report{}, nil, err
	case it.msg == nil:
		// Taken for a copy, but its first copy is not there (this
		// should not happen).
		return Report{}, nil, errUnparsed
	}
	in := rules.Input{Message: it.msg, Now: tx.Now(), Policy: p.opts.Policy}
	if !unchanged {
		if in, err = p.gather(tx, it.msg); err != nil {
			return Report{}, nil, err
		}
	}
	if it.light && len(in.Candidates) > 0 {
		// A case appeared since the scan.
		return Report{}, nil, errUnparsed
	}
	var d rules.Decision
	if it.perr != nil {
		d = unusableDecision(in, it.perr)
	} else {
		d = p.rule(in)
	}
	return p.commit(tx, it.entry, it.msg, d)
}

// errUnparsed is decide's answer for a message it cannot decide
// without a full parse.
var errUnparsed = errors.New("intake: the message needs a full parse")

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
		if open, err := tx.HasOpenCase(msg.Sender); err != nil || !open {
			return in, err
		}
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
	cf.Documents = docs
	if c.LastAutoReplyAt != nil {
		cf.LastAutoReply = *c.LastAutoReplyAt
	}
	return cf, nil
}

// rule runs the rules under a panic guard. They are pure and bounded
// (a message's code candidates are checked only when they are few), so
// they need no time limit of their own and run inside the commit.
func (p *Pipeline) rule(in rules.Input) (d rules.Decision) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("rules panic", "error", fmt.Sprint(r), "stack", string(debug.Stack()))
			d = unusableDecision(in, fmt.Errorf("decision crashed: %v", r))
			if d.Outcome == rules.Review {
				d.Cause = rules.CauseDecisionFailed
			}
		}
	}()
	return rules.Decide(in)
}

// unusableDecision sends a message that could not be read to review when
// it can be tied to a case, and leaves it alone otherwise.
func unusableDecision(in rules.Input, perr error) rules.Decision {
	d := rules.Decision{Outcome: rules.Ignore, Reason: "unreadable: " + perr.Error()}
	cause := rules.CauseUnreadable
	var u *unusable
	if errors.As(perr, &u) {
		d.Reason, cause = u.Error(), rules.CauseTooLarge
	}
	if len(in.Candidates) > 0 {
		cf := in.Candidates[0]
		d.Outcome, d.Case, d.After, d.Cause = rules.Review, &cf, cf.Case, cause
	}
	return d
}

// duplicate records a message as a copy of first and returns the move
// that puts it where first went, if first was to be moved.
func (p *Pipeline) duplicate(tx *store.Tx, entry, first store.Entry, msg *parser.Message) (*move, error) {
	folder := first.MoveTo
	if folder == "" && first.MovedAt == nil {
		// The move of first was abandoned when the UIDVALIDITY changed
		// (store.AbandonMoves): this copy, first met again, goes in its
		// stead, or the message would stay in the inbox for good.
		switch first.Status {
		case store.LedgerProcessed:
			folder = p.opts.ProcessedFolder
		case store.LedgerReview:
			folder = p.opts.ReviewFolder
		}
	}
	if err := tx.Decide(entry.ID, store.Decided{Status: store.LedgerDuplicate, Reason: fmt.Sprintf("same message as #%d", first.ID),
		CaseID: first.CaseID, DuplicateOf: first.ID, MoveTo: folder, MoveOwner: p.id, ParserVersion: first.ParserVersion,
		Sender: senderOf(msg), Date: dateOf(msg)}); err != nil {
		return nil, err
	}
	if folder == "" {
		return nil, nil
	}
	if err := tx.Audit(first.CaseID, recoverybot.SystemActor, "duplicate_message", map[string]string{
		"message": fmt.Sprint(entry.ID), "first": fmt.Sprint(first.ID)}); err != nil {
		return nil, err
	}
	return &move{id: entry.ID, uid: entry.UID, to: folder}, nil
}

// senderOf and dateOf are what the ledger keeps of a message's From and
// Date (msg nil: not parsed, a copy).
func senderOf(msg *parser.Message) string {
	if msg == nil {
		return ""
	}
	return msg.Sender
}

func dateOf(msg *parser.Message) time.Time {
	if msg == nil {
		return time.Time{}
	}
	return msg.Date
}

// commit commits a decision: evidence, documents, the case, the audit
// trail, the reply and the ledger row.
func (p *Pipeline) commit(tx *store.Tx, entry store.Entry, msg *parser.Message, d rules.Decision) (Report, *move, error) {
	rep := Report{UID: entry.UID, From: msg.Sender, Subject: msg.Subject, Reason: d.Reason, Cause: d.Cause, Code: d.Code}
	dec := store.Decided{ParserVersion: msg.ParserVersion, Reason: d.Reason, Sender: msg.Sender, Date: msg.Date}
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
		rep.CaseRef, rep.StateFrom, rep.StateTo, rep.Verdict = c.Ref, c.State, c.State, d.Sender.Status
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
			missing := d.Missing
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
			rep.Missing = d.Missing
		}
	} else if d.Outcome == rules.Review {
		if err := tx.Audit(0, recoverybot.SystemActor, "message_review", map[string]string{
			"message": fmt.Sprint(entry.ID), "reason": d.Reason}); err != nil {
			return rep, nil, err
		}
	}
	dec.MoveOwner = p.id
	if err := tx.Decide(entry.ID, dec); err != nil {
		return rep, nil, err
	}
	if dec.MoveTo == "" {
		return rep, nil, nil
	}
	return rep, &move{id: entry.ID, uid: entry.UID, to: dec.MoveTo}, nil
}

// report says what became of a message: one log line, with its UID, its
// outcome (processed, review, ignored or duplicate), its case and, sent
// to review, the cause, and never its subject, its sender, its code or
// its documents (the reason of a review may name addresses: the line
// says its cause); then OnMessage.
func (p *Pipeline) report(r Report) {
	attrs := []slog.Attr{slog.Uint64("uid", uint64(r.UID)), slog.String("outcome", string(r.Status))}
	if r.CaseRef != "" {
		attrs = append(attrs, slog.String("case", r.CaseRef))
	}
	if r.Status == store.LedgerReview && r.Cause != "" {
		attrs = append(attrs, slog.String("reason", string(r.Cause)))
	}
	p.log.LogAttrs(context.Background(), slog.LevelInfo, "message decided", attrs...)
	if p.opts.OnMessage != nil {
		p.opts.OnMessage(r)
	}
}

// moveAll moves messages, grouped by folder, and records it.
func (p *Pipeline) moveAll(ctx context.Context, conn *mailbox.Conn, f folders, moves []move) (int, error) {
	byFolder := map[string][]move{}
	var order []string // the folders' server names
	for _, m := range moves {
		folder := f.serverName(p.opts, m.to)
		if _, ok := byFolder[folder]; !ok {
			order = append(order, folder)
		}
		byFolder[folder] = append(byFolder[folder], m)
	}
	done := 0
	for _, folder := range order {
		ms := byFolder[folder]
		uids := make([]uint32, len(ms))
		for i, m := range ms {
			uids[i] = m.uid
		}
		placed, err := conn.Move(ctx, uids, folder)
		if err != nil {
			return done, err
		}
		// Where each went, so that a purge can expunge it from there.
		moved := make([]store.Moved, len(ms))
		for i, m := range ms {
			moved[i] = store.Moved{ID: m.id}
			if uid, ok := placed.UIDs[m.uid]; ok {
				moved[i].UIDValidity, moved[i].UID = placed.UIDValidity, uid
			}
		}
		if err := p.store.Update(ctx, func(tx *store.Tx) error { return tx.MarkMovedTo(folder, moved) }); err != nil {
			return done, fmt.Errorf("record moves: %w", err)
		}
		done += len(ms)
	}
	return done, nil
}
