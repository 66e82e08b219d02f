package mailbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// fetchChunk bounds the UIDs named in one command: servers limit command
// lines (Dovecot: 64 KiB) and a sparse set can be long.
const fetchChunk = 500

// Summary describes a message without its contents.
type Summary struct {
	UID          uint32
	Size         int64 // RFC822.SIZE, in bytes with CRLF line ends
	InternalDate time.Time
}

// Since lists the messages of the selected mailbox whose UID is above
// afterUID, in UID order. Zero lists them all.
func (c *Conn) Since(ctx context.Context, afterUID uint32) ([]Summary, error) {
	c.takeNewMail() // this listing covers every notice received so far
	if afterUID == math.MaxUint32 {
		return nil, nil
	}
	var list []Summary
	err := c.do(ctx, fmt.Sprintf("list messages after UID %d", afterUID), func(w *watchdog) error {
		if err := c.selected(); err != nil {
			return err
		}
		set := imap.UIDSet{{Start: imap.UID(afterUID + 1), Stop: 0}}
		cmd := c.client.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true})
		defer cmd.Close()
		for {
			msg := cmd.Next()
			if msg == nil {
				break
			}
			w.kick()
			buf, err := msg.Collect()
			if err != nil {
				return err
			}
			// "n:*" always includes the last message, even when its UID
			// is below n (RFC 3501 section 6.4.8): drop it.
			if uint32(buf.UID) <= afterUID {
				continue
			}
			list = append(list, Summary{UID: uint32(buf.UID), Size: buf.RFC822Size, InternalDate: buf.InternalDate})
		}
		err := cmd.Close()
		if n, ok := c.count(); ok && n == 0 && errors.As(err, new(*imap.Error)) {
			// Some servers refuse "n:*" in an empty mailbox. The count
			// is only trusted here: a miscount must not hide mail.
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(list, func(a, b Summary) int { return cmp.Compare(a.UID, b.UID) })
	return list, nil
}

// Fetch streams the raw messages with the given UIDs from the selected
// mailbox to fn, one at a time, in UID order, with BODY.PEEK[] so that
// \Seen is not set. UIDs that no longer exist are skipped. fn must not use
// the Conn; the raw slice is fn's to keep. An error from fn stops the fetch
// and is returned as is. The caller bounds memory by passing few UIDs, or
// by fetching headers alone (FetchHeader) for oversized messages.
func (c *Conn) Fetch(ctx context.Context, uids []uint32, fn func(uid uint32, raw []byte) error) error {
	return c.fetchSections(ctx, "fetch", uids, &imap.FetchItemBodySection{Peek: true}, fn)
}

// FetchHeader returns the header of one message (BODY.PEEK[HEADER]), or
// ErrNoMessage when the UID no longer exists.
func (c *Conn) FetchHeader(ctx context.Context, uid uint32) ([]byte, error) {
	var header []byte
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	err := c.fetchSections(ctx, "fetch header", []uint32{uid}, section, func(_ uint32, raw []byte) error {
		header = raw
		return nil
	})
	if err == nil && header == nil {
		err = fmt.Errorf("fetch header of UID %d: %w", uid, ErrNoMessage)
	}
	return header, err
}

type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

func (c *Conn) fetchSections(ctx context.Context, action string, uids []uint32, section *imap.FetchItemBodySection, fn func(uint32, []byte) error) error {
	sorted := slices.Compact(slices.Sorted(slices.Values(uids)))
	for chunk := range slices.Chunk(sorted, fetchChunk) {
		var set imap.UIDSet
		for _, u := range chunk {
			set.AddNum(imap.UID(u))
		}
		err := c.do(ctx, fmt.Sprintf("%s UIDs %s", action, describe(set)), func(w *watchdog) error {
			cmd := c.client.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
			defer cmd.Close()
			for {
				msg := cmd.Next()
				if msg == nil {
					break
				}
				w.kick()
				uid, raw, err := c.readBody(msg)
				if err != nil {
					return err
				}
				if uid == 0 || !set.Contains(imap.UID(uid)) || raw == nil {
					continue // not ours (unsolicited), or the server sent no body
				}
				if err := fn(uid, raw); err != nil {
					return fnError{err}
				}
				w.kick()
			}
			return cmd.Close()
		})
		if fe := (fnError{}); errors.As(err, &fe) {
			return fe.err
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readBody reads one message's UID and body section, streaming the literal.
func (c *Conn) readBody(msg *imapclient.FetchMessageData) (uid uint32, raw []byte, err error) {
	for {
		item := msg.Next()
		if item == nil {
			return uid, raw, nil
		}
		switch item := item.(type) {
		case imapclient.FetchItemDataUID:
			uid = uint32(item.UID)
		case imapclient.FetchItemDataBodySection:
			if item.Literal == nil {
				raw = []byte{}
				continue
			}
			if raw, err = c.readLiteral(item.Literal); err != nil {
				return 0, nil, err
			}
		}
	}
}

// readLiteral reads a literal into a slice of its announced size, rather
// than growing one by doubling as io.ReadAll does: a 30 MB message then
// costs 30 MB, not up to twice that plus the copies.
// The bytes read count in Stats.Message.
func (c *Conn) readLiteral(lit imap.LiteralReader) ([]byte, error) {
	n := lit.Size()
	if n < 0 || n > maxLiteral {
		raw, err := io.ReadAll(lit)
		c.literals.Add(int64(len(raw)))
		return raw, err
	}
	raw := make([]byte, n)
	read, err := io.ReadFull(lit, raw)
	c.literals.Add(int64(read))
	if err != nil {
		return nil, err
	}
	return raw, nil
}

// maxLiteral bounds the buffer allocated up front from a literal's
// announced size; a larger literal is read by growing.
const maxLiteral = 1 << 30

// describe shortens a UID set for error messages.
func describe(set imap.UIDSet) string {
	s := set.String()
	if len(s) > 40 {
		i := strings.LastIndexByte(s[:40], ',')
		s = s[:max(i, 0)] + ",…"
	}
	return s
}

// Summaries describes the messages of the selected mailbox with the given
// UIDs, in UID order; UIDs that no longer exist are skipped.
func (c *Conn) Summaries(ctx context.Context, uids []uint32) ([]Summary, error) {
	var list []Summary
	sorted := slices.Compact(slices.Sorted(slices.Values(uids)))
	for chunk := range slices.Chunk(sorted, fetchChunk) {
		var set imap.UIDSet
		for _, u := range chunk {
			set.AddNum(imap.UID(u))
		}
		err := c.do(ctx, fmt.Sprintf("describe UIDs %s", describe(set)), func(w *watchdog) error {
			if err := c.selected(); err != nil {
				return err
			}
			cmd := c.client.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true})
			defer cmd.Close()
			for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
				w.kick()
				buf, err := msg.Collect()
				if err != nil {
					return err
				}
				if set.Contains(buf.UID) {
					list = append(list, Summary{UID: uint32(buf.UID), Size: buf.RFC822Size, InternalDate: buf.InternalDate})
				}
			}
			return cmd.Close()
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(list, func(a, b Summary) int { return cmp.Compare(a.UID, b.UID) })
	return list, nil
}
