package mailbox

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/textproto"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// UIDs returns the UIDs of every message of the selected mailbox, in
// order (UID SEARCH ALL).
func (c *Conn) UIDs(ctx context.Context) ([]uint32, error) {
	var out []uint32
	err := c.do(ctx, "list every UID", func(*watchdog) error {
		if err := c.selected(); err != nil {
			return err
		}
		var err error
		out, err = c.search(&imap.SearchCriteria{})
		return err
	})
	return out, err
}

func (c *Conn) search(criteria *imap.SearchCriteria) ([]uint32, error) {
	data, err := c.client.UIDSearch(criteria, nil).Wait()
	if err != nil {
		return nil, err
	}
	var out []uint32
	for _, u := range data.AllUIDs() {
		out = append(out, uint32(u))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// withMessageIDs returns the UIDs of the messages of the selected mailbox
// whose Message-ID (without angle brackets) is one of ids. SEARCH HEADER
// matches substrings (RFC 3501 section 6.4.4), so each message found is
// checked against its header before it is named.
func (c *Conn) withMessageIDs(ctx context.Context, ids []string) ([]uint32, error) {
	want := map[string]bool{}
	var found []uint32
	for _, id := range ids {
		if id == "" || want[id] {
			continue
		}
		want[id] = true
		err := c.do(ctx, fmt.Sprintf("search Message-ID <%s>", id), func(*watchdog) error {
			uids, err := c.search(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: "<" + id + ">"}}})
			found = append(found, uids...)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	var out []uint32
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-ID"}, Peek: true}
	err := c.fetchSections(ctx, "fetch Message-ID", found, section, func(uid uint32, raw []byte) error {
		h, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader()
		if want[strings.Trim(strings.TrimSpace(h.Get("Message-Id")), "<>")] {
			out = append(out, uid)
		}
		return nil
	})
	slices.Sort(out)
	return slices.Compact(out), err
}
