package mailbox

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
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
// whose Message-ID (without angle brackets) is a key of want and whose
// RFC822.SIZE is one of its sizes. SEARCH HEADER matches substrings (RFC
// 3501 section 6.4.4), so each message found is checked against its
// header and its size before it is named: a Message-ID alone is the
// sender's word, which another message may repeat.
func (c *Conn) withMessageIDs(ctx context.Context, want map[string][]int64) ([]uint32, error) {
	ids := slices.Sorted(maps.Keys(want))
	var found []uint32
	for _, id := range ids {
		if id == "" {
			continue
		}
		err := c.do(ctx, fmt.Sprintf("search Message-ID <%s>", id), func(*watchdog) error {
			uids, err := c.search(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: "<" + id + ">"}}})
			found = append(found, uids...)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if len(found) == 0 {
		return nil, nil
	}
	headerID := map[uint32]string{}
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-ID"}, Peek: true}
	err := c.fetchSections(ctx, "fetch Message-ID", found, section, func(uid uint32, raw []byte) error {
		h, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader()
		headerID[uid] = strings.Trim(strings.TrimSpace(h.Get("Message-Id")), "<>")
		return nil
	})
	if err != nil {
		return nil, err
	}
	sums, err := c.Summaries(ctx, found)
	if err != nil {
		return nil, err
	}
	var out []uint32
	for _, s := range sums {
		if sizes, ok := want[headerID[s.UID]]; ok && slices.Contains(sizes, s.Size) {
			out = append(out, s.UID)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
