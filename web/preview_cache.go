package web

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// previewCache keeps the pages rendered for a document, by SHA-256, for a
// few minutes and within a memory budget: the case page shows every page
// of a PDF as its own image, and each would otherwise render the whole
// PDF again. Two requests for the same document while it renders wait
// for the one render. Each request is still audited as a view before it
// reaches the cache.
type previewCache struct {
	maxBytes int
	ttl      time.Duration
	now      func() time.Time

	mu      sync.Mutex
	entries map[string]*list.Element // of *previewEntry, newest at the front
	order   *list.List
	bytes   int
}

type previewEntry struct {
	sha   string
	ready chan struct{} // closed once pages and err are set
	pages [][]byte
	err   error
	size  int
	at    time.Time
}

func newPreviewCache(maxBytes int, ttl time.Duration, now func() time.Time) *previewCache {
	return &previewCache{maxBytes: maxBytes, ttl: ttl, now: now, entries: map[string]*list.Element{}, order: list.New()}
}

// get returns the pages of document sha, rendering them with render when
// they are not cached (or are stale). A failed render is not kept.
func (c *previewCache) get(ctx context.Context, sha string, render func() ([][]byte, error)) ([][]byte, error) {
	c.mu.Lock()
	if el, ok := c.entries[sha]; ok {
		e := el.Value.(*previewEntry)
		select {
		case <-e.ready:
			if c.now().Sub(e.at) < c.ttl {
				c.order.MoveToFront(el)
				c.mu.Unlock()
				return e.pages, nil
			}
			c.remove(el)
		default: // being rendered: wait for it
			c.mu.Unlock()
			select {
			case <-e.ready:
				if e.err != nil {
					return nil, e.err
				}
				return e.pages, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	e := &previewEntry{sha: sha, ready: make(chan struct{})}
	el := c.order.PushFront(e)
	c.entries[sha] = el
	c.mu.Unlock()

	pages, err := render()

	c.mu.Lock()
	defer c.mu.Unlock()
	e.pages, e.err, e.at = pages, err, c.now()
	close(e.ready)
	if err != nil {
		c.remove(el)
		return nil, err
	}
	for _, p := range pages {
		e.size += len(p)
	}
	c.bytes += e.size
	// Evict the least recently used finished entries (the new one last:
	// larger than the whole budget, it is served and not kept).
	for el := c.order.Back(); el != nil && c.bytes > c.maxBytes; {
		prev := el.Prev()
		select {
		case <-el.Value.(*previewEntry).ready:
			c.remove(el)
		default: // still rendering: its owner accounts for it
		}
		el = prev
	}
	return pages, nil
}

// remove drops an entry; c.mu is held.
func (c *previewCache) remove(el *list.Element) {
	e := el.Value.(*previewEntry)
	if cur, ok := c.entries[e.sha]; ok && cur == el {
		delete(c.entries, e.sha)
	}
	c.order.Remove(el)
	c.bytes -= e.size
}
