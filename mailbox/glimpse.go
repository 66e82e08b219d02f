package mailbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/recoverybot/recoverybot/parser"
)

// The bounds of a Glimpse: what one message may cost, whatever it holds.
const (
	// GlimpseHeaderMax bounds a header fetched for a Glimpse, the
	// message's or a forwarded message's. A longer header is cut there
	// and the Glimpse's Root is nil: the message is to be judged whole.
	GlimpseHeaderMax = 256 << 10
	// GlimpseTexts is the most text parts (text/plain, text/html) whose
	// first bytes are fetched per message, in the outline's order.
	GlimpseTexts = 8
	// GlimpseForwards is the most message/rfc822 parts, nested ones
	// included, whose header is fetched per message.
	GlimpseForwards = 4

	// An outline with more parts, or deeper, is nonsense: Root is nil.
	glimpseParts = 512
	glimpseDepth = 24
	// glimpseChunk bounds the messages whose glimpses are held at once:
	// at most about 50 × (2 headers of 256 KiB + 8 texts + 4 headers).
	glimpseChunk = 50
)

// Glimpse tells, for each message of the selected mailbox with one of the
// given UIDs, what the server can say of it without sending it whole:
// RFC822.SIZE, INTERNALDATE, the header and BODYSTRUCTURE in one UID
// FETCH for up to 50 messages, then, in UID FETCH commands pipelined
// behind it (one per distinct set of sections), the first textBound bytes
// of up to GlimpseTexts text/plain and text/html parts of each message and
// the headers of up to GlimpseForwards forwarded message/rfc822 parts.
// Every section is fetched with BODY.PEEK: \Seen is never set.
//
// fn is called once per message still in the mailbox, in UID order; UIDs
// that no longer exist are skipped. fn must not use the Conn; the Glimpse
// is fn's to keep. An error from fn stops Glimpse and is returned as is.
//
// A message the server cannot describe (a NO for it, no BODYSTRUCTURE, an
// outline with an empty multipart or absurdly many or deep parts, a
// section it would not send) or whose header exceeds GlimpseHeaderMax
// still gets a Glimpse, with Root nil: the caller downloads it to judge
// it. Only a broken connection (ErrClosed, ErrTimeout, the context's
// error) fails the whole call.
//
// Sections in Root follow parser.Part: the body of a single-part message
// is Section "" (its text is fetched as BODY[1]); the body of a forwarded
// message at "2" is Section "2.1" when single-part and, when multipart,
// Section "2" like the message/rfc822 part itself, its parts being "2.1",
// "2.2" on the wire.
func (c *Conn) Glimpse(ctx context.Context, uids []uint32, textBound int64, fn func(s Summary, g parser.Glimpse) error) error {
	if textBound < 0 {
		return fmt.Errorf("mailbox: glimpse: text bound %d: want 0 or more bytes", textBound)
	}
	sorted := slices.Compact(slices.Sorted(slices.Values(uids)))
	for chunk := range slices.Chunk(sorted, glimpseChunk) {
		looks, err := c.glimpseChunk(ctx, chunk, textBound)
		if err != nil {
			return err
		}
		for _, l := range looks {
			if err := fn(l.sum, l.g); err != nil {
				return err
			}
		}
	}
	return nil
}

// look is one message's Glimpse while it is being put together.
type look struct {
	sum    Summary
	g      parser.Glimpse
	wanted []wanted // the sections to fetch for Root
	sig    string   // the wanted sections, named: messages alike share a UID FETCH
}

// wanted is a section to fetch and the part it fills.
type wanted struct {
	part    *parser.Part
	section *imap.FetchItemBodySection
	header  bool // a forwarded header, not a text
}

func (c *Conn) glimpseChunk(ctx context.Context, chunk []uint32, textBound int64) ([]*look, error) {
	var set imap.UIDSet
	for _, u := range chunk {
		set.AddNum(imap.UID(u))
	}
	looks, refused, err := c.describeForGlimpse(ctx, set, textBound)
	if err != nil {
		return nil, err
	}
	if refused {
		// The server refused the command, or some of it: the UIDs it
		// did not describe either went away or are messages it cannot
		// describe, which still exist.
		var missing []uint32
		for _, u := range chunk {
			if _, ok := looks[u]; !ok {
				missing = append(missing, u)
			}
		}
		if len(missing) > 0 {
			list, err := c.Summaries(ctx, missing)
			switch {
			case err == nil:
				for _, s := range list {
					looks[s.UID] = &look{sum: s, g: parser.Glimpse{Size: s.Size}}
				}
			case errors.Is(err, ErrClosed) || errors.Is(err, ErrTimeout) || ctx.Err() != nil:
				return nil, err
			default: // unknown: assume they exist, to be fetched whole
				for _, u := range missing {
					looks[u] = &look{sum: Summary{UID: u}}
				}
			}
		}
	}
	if err := c.fetchGlimpseSections(ctx, looks, textBound); err != nil {
		return nil, err
	}
	out := make([]*look, 0, len(looks))
	for _, u := range chunk {
		if l, ok := looks[u]; ok {
			out = append(out, l)
		}
	}
	return out, nil
}

// describeForGlimpse runs the first UID FETCH: size, date, header and
// outline. refused says the server answered NO or BAD.
func (c *Conn) describeForGlimpse(ctx context.Context, set imap.UIDSet, textBound int64) (map[uint32]*look, bool, error) {
	looks := make(map[uint32]*look)
	refused := false
	header := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true,
		Partial: &imap.SectionPartial{Offset: 0, Size: GlimpseHeaderMax + 1}}
	err := c.do(ctx, fmt.Sprintf("glimpse UIDs %s", describe(set)), func(w *watchdog) error {
		if err := c.selected(); err != nil {
			return err
		}
		cmd := c.client.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true,
			BodyStructure: &imap.FetchItemBodyStructure{Extended: true}, BodySection: []*imap.FetchItemBodySection{header}})
		defer cmd.Close()
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			w.kick()
			l, bs, gotHeader, err := c.readDescription(msg)
			if err != nil {
				return err
			}
			if l.sum.UID == 0 || !set.Contains(imap.UID(l.sum.UID)) {
				continue
			}
			looks[l.sum.UID] = l
			if bs == nil || !gotHeader || len(l.g.Header) > GlimpseHeaderMax {
				l.g.Header = l.g.Header[:min(len(l.g.Header), GlimpseHeaderMax)]
				continue // Root nil
			}
			l.g.Root, l.wanted = outline(bs, textBound)
			for _, wt := range l.wanted {
				l.sig += sectionName(wt.section) + " "
			}
		}
		return c.serverRefusal(cmd.Close(), &refused)
	})
	return looks, refused, err
}

// serverRefusal swallows a NO or BAD from a server still connected,
// noting it in refused.
func (c *Conn) serverRefusal(err error, refused *bool) error {
	if err != nil && errors.As(err, new(*imap.Error)) && !isClosed(c.client) {
		*refused = true
		return nil
	}
	return err
}

func (c *Conn) readDescription(msg *imapclient.FetchMessageData) (l *look, bs imap.BodyStructure, gotHeader bool, err error) {
	l = &look{}
	for item := msg.Next(); item != nil; item = msg.Next() {
		switch item := item.(type) {
		case imapclient.FetchItemDataUID:
			l.sum.UID = uint32(item.UID)
		case imapclient.FetchItemDataRFC822Size:
			l.sum.Size, l.g.Size = item.Size, item.Size
		case imapclient.FetchItemDataInternalDate:
			l.sum.InternalDate = item.Time
		case imapclient.FetchItemDataBodyStructure:
			bs = item.BodyStructure
		case imapclient.FetchItemDataBodySection:
			if item.Section.Specifier != imap.PartSpecifierHeader || len(item.Section.Part) > 0 {
				continue
			}
			if l.g.Header, err = c.readBounded(item.Literal, GlimpseHeaderMax+1); err != nil {
				return nil, nil, false, err
			}
			gotHeader = true
		}
	}
	return l, bs, gotHeader, nil
}

// fetchGlimpseSections fetches the texts and forwarded headers of every
// look that has an outline, one UID FETCH per distinct set of sections,
// the commands pipelined.
func (c *Conn) fetchGlimpseSections(ctx context.Context, looks map[uint32]*look, textBound int64) error {
	groups := make(map[string][]*look)
	var order []string
	for _, u := range slices.Sorted(maps.Keys(looks)) {
		l := looks[u]
		if l.g.Root == nil || len(l.wanted) == 0 {
			continue
		}
		if _, ok := groups[l.sig]; !ok {
			order = append(order, l.sig)
		}
		groups[l.sig] = append(groups[l.sig], l)
	}
	if len(order) == 0 {
		return nil
	}
	return c.do(ctx, fmt.Sprintf("glimpse the texts of %d messages", len(looks)), func(w *watchdog) error {
		if err := c.selected(); err != nil {
			return err
		}
		cmds := make([]*imapclient.FetchCommand, len(order))
		sets := make([]imap.UIDSet, len(order))
		for i, sig := range order {
			for _, l := range groups[sig] {
				sets[i].AddNum(imap.UID(l.sum.UID))
			}
			var sections []*imap.FetchItemBodySection
			for _, wt := range groups[sig][0].wanted {
				sections = append(sections, wt.section)
			}
			cmds[i] = c.client.Fetch(sets[i], &imap.FetchOptions{UID: true, BodySection: sections})
		}
		// Dovecot runs pipelined FETCH commands concurrently, their
		// responses interleaved: each command is read on its own.
		got := make([]map[uint32]map[string][]byte, len(cmds))
		errs := make([]error, len(cmds))
		var kick sync.Mutex
		var wg sync.WaitGroup
		for i, cmd := range cmds {
			wg.Go(func() {
				got[i] = make(map[uint32]map[string][]byte)
				for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
					kick.Lock()
					w.kick()
					kick.Unlock()
					uid, data, err := c.readSections(msg, max(textBound, GlimpseHeaderMax+1))
					if err != nil {
						errs[i] = err
						cmd.Close()
						return
					}
					if uid != 0 && sets[i].Contains(imap.UID(uid)) {
						got[i][uid] = data
					}
				}
				refused := false
				errs[i] = c.serverRefusal(cmd.Close(), &refused)
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		for i, sig := range order {
			for _, l := range groups[sig] {
				fill(l, got[i][l.sum.UID])
			}
		}
		return nil
	})
}

// fill puts the sections fetched into a look's outline; a section missing
// or a header too long leaves the look without an outline.
func fill(l *look, data map[string][]byte) {
	for _, wt := range l.wanted {
		b, ok := data[sectionName(wt.section)]
		if !ok || (wt.header && len(b) > GlimpseHeaderMax) {
			l.g.Root = nil
			return
		}
		if wt.header {
			wt.part.Header = b
			continue
		}
		wt.part.Text = b
		wt.part.Truncated = int64(len(b)) < wt.part.Size
	}
}

func (c *Conn) readSections(msg *imapclient.FetchMessageData, limit int64) (uint32, map[string][]byte, error) {
	var uid uint32
	data := make(map[string][]byte)
	for item := msg.Next(); item != nil; item = msg.Next() {
		switch item := item.(type) {
		case imapclient.FetchItemDataUID:
			uid = uint32(item.UID)
		case imapclient.FetchItemDataBodySection:
			b, err := c.readBounded(item.Literal, limit)
			if err != nil {
				return 0, nil, err
			}
			data[sectionName(item.Section)] = b
		}
	}
	return uid, data, nil
}

// readBounded reads at most max bytes of a literal and discards the rest;
// a NIL literal reads as empty. The bytes read count in Stats.Message.
func (c *Conn) readBounded(lit imap.LiteralReader, limit int64) ([]byte, error) {
	if lit == nil {
		return []byte{}, nil
	}
	n := lit.Size()
	if n < 0 || n > limit {
		n = limit
	}
	b, err := readAppend(make([]byte, 0, n), io.LimitReader(lit, limit))
	c.literals.Add(int64(len(b)))
	if err != nil {
		return nil, err
	}
	rest, err := io.Copy(io.Discard, lit)
	c.literals.Add(rest)
	return b, err
}

func readAppend(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = slices.Grow(b, 4096)
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// sectionName names a fetched section the way responses echo it, without
// the partial's length: "1.2", "2.HEADER", "HEADER".
func sectionName(s *imap.FetchItemBodySection) string {
	var b strings.Builder
	for i, n := range s.Part {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(n))
	}
	if s.Specifier != imap.PartSpecifierNone {
		if len(s.Part) > 0 {
			b.WriteByte('.')
		}
		b.WriteString(string(s.Specifier))
	}
	return b.String()
}

// outline converts the server's BODYSTRUCTURE to a parser.Part tree and
// lists the sections to fetch for it; nil when the structure is nonsense.
func outline(bs imap.BodyStructure, textBound int64) (*parser.Part, []wanted) {
	o := outliner{textBound: textBound}
	root := o.convert(bs, nil, true, 0)
	if o.bad {
		return nil, nil
	}
	return root, o.wanted
}

type outliner struct {
	textBound       int64
	parts           int
	texts, forwards int
	wanted          []wanted
	bad             bool
}

// convert converts one node. For a single part, wire is its section
// number; for a multipart, the prefix of its parts' numbers. root says bs
// is the message's own body.
func (o *outliner) convert(bs imap.BodyStructure, wire []int, root bool, depth int) *parser.Part {
	o.parts++
	if o.parts > glimpseParts || depth > glimpseDepth {
		o.bad = true
		return nil
	}
	switch bs := bs.(type) {
	case *imap.BodyStructureMultiPart:
		if len(bs.Children) == 0 || bs.Subtype == "" {
			o.bad = true
			return nil
		}
		p := &parser.Part{Section: join(wire), Type: "multipart", Subtype: strings.ToLower(bs.Subtype)}
		if bs.Extended != nil {
			p.Params = lowerParams(bs.Extended.Params)
			p.Disposition, p.Filename = disposition(bs.Extended.Disposition, nil)
		}
		for i, child := range bs.Children {
			n := append(slices.Clone(wire), i+1)
			cp := o.convert(child, n, false, depth+1)
			if o.bad {
				return nil
			}
			p.Children = append(p.Children, cp)
		}
		return p
	case *imap.BodyStructureSinglePart:
		if bs.Type == "" || bs.Subtype == "" {
			o.bad = true
			return nil
		}
		if root {
			wire = []int{1}
		}
		p := &parser.Part{Type: strings.ToLower(bs.Type), Subtype: strings.ToLower(bs.Subtype),
			Params: lowerParams(bs.Params), Encoding: strings.ToLower(bs.Encoding), Size: int64(bs.Size)}
		if !root {
			p.Section = join(wire)
		}
		var d *imap.BodyStructureDisposition
		if bs.Extended != nil {
			d = bs.Extended.Disposition
		}
		p.Disposition, p.Filename = disposition(d, p.Params)
		switch {
		case p.Type == "text" && (p.Subtype == "plain" || p.Subtype == "html"):
			if o.texts < GlimpseTexts && o.textBound > 0 {
				o.texts++
				if p.Size == 0 {
					p.Text = []byte{}
					break
				}
				o.wanted = append(o.wanted, wanted{part: p, section: &imap.FetchItemBodySection{Part: wire, Peek: true,
					Partial: &imap.SectionPartial{Offset: 0, Size: o.textBound}}})
			}
		case p.Type == "message" && (p.Subtype == "rfc822" || p.Subtype == "global"):
			if o.forwards < GlimpseForwards {
				o.forwards++
				o.wanted = append(o.wanted, wanted{part: p, header: true, section: &imap.FetchItemBodySection{Part: wire,
					Specifier: imap.PartSpecifierHeader, Peek: true, Partial: &imap.SectionPartial{Offset: 0, Size: GlimpseHeaderMax + 1}}})
			}
			if bs.MessageRFC822 != nil && bs.MessageRFC822.BodyStructure != nil {
				inner := bs.MessageRFC822.BodyStructure
				n := wire
				if _, single := inner.(*imap.BodyStructureSinglePart); single {
					n = append(slices.Clone(wire), 1)
				}
				cp := o.convert(inner, n, false, depth+1)
				if o.bad {
					return nil
				}
				p.Children = []*parser.Part{cp}
			}
		}
		return p
	default:
		o.bad = true
		return nil
	}
}

func join(wire []int) string {
	s := make([]string, len(wire))
	for i, n := range wire {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ".")
}

// lowerParams copies params with lower-case names, decoding RFC 2231
// extended values (name*=utf-8'fr'caf%C3%A9) where the server left them encoded.
func lowerParams(params map[string]string) map[string]string {
	if len(params) == 0 {
		return nil
	}
	out := make(map[string]string, len(params))
	var extended []string
	for k, v := range params {
		k = strings.ToLower(k)
		if strings.Contains(k, "*") {
			extended = append(extended, k)
		}
		out[k] = v
	}
	if len(extended) > 0 {
		decode2231(out)
	}
	return out
}

// decode2231 decodes the RFC 2231 parameters of params (continuations,
// charset and percent-encoding) into plain names, with mime's parser.
func decode2231(params map[string]string) {
	var b strings.Builder
	b.WriteString("x/x")
	for _, k := range slices.Sorted(maps.Keys(params)) {
		v := params[k]
		b.WriteString("; " + k + "=")
		if strings.HasSuffix(k, "*") {
			b.WriteString(v)
		} else {
			b.WriteString(`"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`)
		}
	}
	_, decoded, err := mime.ParseMediaType(b.String())
	if err != nil {
		return
	}
	for k := range params {
		if strings.Contains(k, "*") {
			delete(params, k)
		}
	}
	for k, v := range decoded {
		params[k] = v
	}
}

// disposition returns a part's disposition, "inline", "attachment" (what
// an unknown one means, RFC 2183 section 2.8) or "", and its file name.
func disposition(d *imap.BodyStructureDisposition, typeParams map[string]string) (string, string) {
	var value, name string
	if d != nil {
		switch value = strings.ToLower(d.Value); value {
		case "", "inline", "attachment":
		default:
			value = "attachment"
		}
		name = lowerParams(d.Params)["filename"]
	}
	if name == "" {
		name = typeParams["name"]
	}
	return value, name
}
