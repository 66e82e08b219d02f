package intake

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/mailbox"
	"github.com/recoverybot/recoverybot/store"
)

// expungeBatch bounds the expunges one run takes on; the others wait for
// the next run.
const expungeBatch = 1000

// Expunge removes from the server the messages of purged cases that
// recoverybot moved into its folders (SPEC §8: nothing of a purged case
// stays in clear in an IMAP folder), as store.Store.Purge queued them:
// by their UID in the folder while it keeps its UIDVALIDITY, else by
// their Message-ID (mailbox.Conn.Expunge). It returns how many queued
// messages are now gone from the server; one already gone (expunged by
// someone, its folder deleted) counts as gone. A failure is recorded on
// the expunges concerned, which stay queued for the next run, and the
// others go on; the first failure is returned at the end, or at once
// when the connection is lost. It is idempotent. The connection is left
// with the mailbox it had selected.
func (p *Pipeline) Expunge(ctx context.Context, conn *mailbox.Conn) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pending []store.Expunge
	err := p.store.View(ctx, func(tx *store.Tx) error {
		var err error
		pending, err = tx.PendingExpunges(expungeBatch)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("expunge purged messages: %w", err)
	}
	// One Expunge per folder and UIDVALIDITY the UIDs were recorded
	// under; Folder is "" for messages moved before it was recorded,
	// which MoveTo names.
	type place struct {
		folder, moveTo string
		validity       uint32
	}
	groups := map[place][]store.Expunge{}
	var order []place
	for _, e := range pending {
		k := place{folder: e.Folder, validity: e.UIDValidity}
		if e.Folder == "" {
			k.moveTo = e.MoveTo
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], e)
	}
	// What is recorded of a run is recorded even when ctx ends.
	work := context.WithoutCancel(ctx)
	gone := 0
	var first error
	for _, k := range order {
		es := groups[k]
		n, err := p.expungeFrom(ctx, work, conn, k.folder, k.moveTo, k.validity, es)
		gone += n
		if err == nil {
			continue
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil || errors.Is(err, mailbox.ErrClosed) || errors.Is(err, mailbox.ErrTimeout) {
			break // the connection is gone: the rest waits for the next run
		}
	}
	if first != nil {
		return gone, fmt.Errorf("expunge purged messages: %w", first)
	}
	return gone, nil
}

// expungeFrom expunges messages from one folder and records the outcome.
func (p *Pipeline) expungeFrom(ctx, work context.Context, conn *mailbox.Conn, folder, moveTo string, validity uint32, es []store.Expunge) (int, error) {
	failed := func(ids []int64, err error) error {
		if rerr := p.store.Update(work, func(tx *store.Tx) error { return tx.ExpungesFailed(ids, err.Error()) }); rerr != nil {
			return fmt.Errorf("%w (and recording it: %w)", err, rerr)
		}
		return err
	}
	all := make([]int64, len(es))
	for i, e := range es {
		all[i] = e.ID
	}
	if folder == "" {
		var err error
		if folder, err = conn.EnsureFolder(ctx, moveTo); err != nil {
			return 0, failed(all, err)
		}
	}
	targets := make([]mailbox.Target, len(es))
	for i, e := range es {
		targets[i] = mailbox.Target{UID: e.UID, MessageID: e.MessageID, Size: e.Size}
	}
	res, err := conn.Expunge(ctx, folder, validity, targets)
	if errors.Is(err, mailbox.ErrNoFolder) {
		res, err = mailbox.Expunged{}, nil // nothing of ours is there
	}
	if err != nil {
		return 0, failed(all, err)
	}
	unfindable := map[int]bool{}
	for _, i := range res.Unfindable {
		unfindable[i] = true
	}
	var done, lost []int64
	byCase := map[int64]int{}
	var cases []int64
	for i, e := range es {
		if unfindable[i] {
			lost = append(lost, e.ID)
			continue
		}
		done = append(done, e.ID)
		if byCase[e.CaseID] == 0 {
			cases = append(cases, e.CaseID)
		}
		byCase[e.CaseID]++
	}
	err = p.store.Update(work, func(tx *store.Tx) error {
		if err := tx.ExpungesDone(done); err != nil {
			return err
		}
		for _, c := range cases {
			if err := tx.Audit(c, recoverybot.SystemActor, "messages_expunged", map[string]string{
				"folder": folder, "messages": strconv.Itoa(byCase[c])}); err != nil {
				return err
			}
		}
		if len(lost) > 0 {
			return tx.ExpungesFailed(lost, "neither a UID valid in the folder nor a Message-ID to find it by")
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("record expunges from %q: %w", folder, err)
	}
	if len(done) > 0 {
		p.log.Info("purged messages expunged from the server", "folder", folder, "messages", len(done), "removed", res.Removed)
	}
	if len(lost) > 0 {
		p.log.Warn("purged messages that cannot be found on the server", "folder", folder, "count", len(lost))
		return len(done), fmt.Errorf("%d messages in %q: no UID valid in the folder and no Message-ID to find them by", len(lost), folder)
	}
	return len(done), nil
}
