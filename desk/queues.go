package desk

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/store"
)

// ErrNotFound is the store's: no such case, document or profile. It is
// the same value, so errors.Is holds whichever a caller names.
var ErrNotFound = store.ErrNotFound

// ErrUnknownQueue is returned by Queue for a name not in Queues.
var ErrUnknownQueue = errors.New("desk: unknown queue")

// QueueName names one of the dashboard's queues.
type QueueName string

// The queues of the dashboard, in the order of its tabs.
const (
	QueueReady      QueueName = "ready"      // ready for review, oldest first
	QueueMine       QueueName = "mine"       // open cases the agent holds
	QueueUnassigned QueueName = "unassigned" // open cases nobody holds
	QueueWaiting    QueueName = "waiting"    // waiting on the customer (awaiting evidence)
	QueueAttention  QueueName = "attention"  // locked, our mail bounced or failed, a message sent to review
	QueueClosed     QueueName = "closed"     // approved, rejected, expired, cancelled
	QueueAll        QueueName = "all"        // every case: what a search looks through
)

// Queues lists the queues, in the order of the dashboard's tabs.
func Queues() []QueueName {
	return []QueueName{QueueReady, QueueMine, QueueUnassigned, QueueWaiting, QueueAttention, QueueClosed, QueueAll}
}

// ParseQueue reads a queue name; "" is QueueReady.
func ParseQueue(s string) (QueueName, error) {
	if s == "" {
		return QueueReady, nil
	}
	q := QueueName(s)
	if !slices.Contains(Queues(), q) {
		return "", fmt.Errorf("%w %q", ErrUnknownQueue, s)
	}
	return q, nil
}

// AttentionReasons says why a case needs an agent's attention; none: it
// does not.
type AttentionReasons []string

// The reasons a case is in the Needs attention queue.
const (
	AttentionLocked     = "locked"      // too many wrong codes
	AttentionBounced    = "bounced"     // a flag says our mail bounced
	AttentionMailFailed = "mail_failed" // a mail of ours was given up
	AttentionReview     = "review"      // a message about it went to the review folder since an agent last acted
	// AttentionActionFailed: the admin system refused an approval's
	// action, or never answered it.
	AttentionActionFailed = "action_failed"
)

// Queue returns the cases of a queue as agent sees it, filtered by query
// when it is not empty: a case matches when its reference, its profile's
// ID, its contact address or its profile's address contains the query,
// case-insensitively. QueueReady lists the oldest case first, the others
// the newest first.
func (d *Desk) Queue(ctx context.Context, name QueueName, agent, query string) ([]Summary, error) {
	if !slices.Contains(Queues(), name) {
		return nil, fmt.Errorf("%w %q", ErrUnknownQueue, name)
	}
	query = strings.ToLower(strings.TrimSpace(query))
	out := []Summary{}
	err := d.store.View(ctx, func(tx *store.Tx) error {
		f := store.CaseFilter{}
		switch name {
		case QueueReady:
			f.State = recoverybot.StateReadyForReview
		case QueueWaiting:
			f.State = recoverybot.StateAwaitingEvidence
		case QueueMine, QueueUnassigned:
			f.Open = true
		}
		cases, err := tx.ListCases(f)
		if err != nil {
			return err
		}
		for _, c := range cases {
			if name == QueueClosed && c.State.Open() {
				continue
			}
			if query != "" {
				ok, err := matches(tx, c, query)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
			}
			s, err := d.summary(tx, c)
			if err != nil {
				return err
			}
			switch name {
			case QueueMine:
				if s.ClaimedBy != agent || agent == "" {
					continue
				}
			case QueueUnassigned:
				if s.ClaimedBy != "" {
					continue
				}
			case QueueAttention:
				why, err := attention(tx, c)
				if err != nil {
					return err
				}
				if len(why) == 0 {
					continue
				}
			}
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", name, err)
	}
	if name == QueueReady {
		slices.SortStableFunc(out, func(a, b Summary) int { return a.OpenedAt.Compare(b.OpenedAt) })
	} else {
		slices.SortStableFunc(out, func(a, b Summary) int { return b.OpenedAt.Compare(a.OpenedAt) })
	}
	return out, nil
}

func matches(tx *store.Tx, c recoverybot.Case, query string) (bool, error) {
	for _, s := range []string{c.Ref, c.ProfileID, c.Contact} {
		if strings.Contains(strings.ToLower(s), query) {
			return true, nil
		}
	}
	p, err := tx.Profile(c.ProfileID)
	if err != nil {
		return false, err
	}
	return strings.Contains(strings.ToLower(p.Email), query), nil
}

// Attention returns why an open case needs an agent's attention (none
// when it does not, or when it is closed).
func (d *Desk) Attention(ctx context.Context, ref string) (AttentionReasons, error) {
	ref, err := recoverybot.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	var why AttentionReasons
	err = d.store.View(ctx, func(tx *store.Tx) error {
		c, err := tx.CaseByRef(ref)
		if err != nil {
			return err
		}
		why, err = attention(tx, c)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("attention %s: %w", ref, err)
	}
	return why, nil
}

func attention(tx *store.Tx, c recoverybot.Case) (AttentionReasons, error) {
	if !c.State.Open() {
		// An approval the admin system refused or never answered.
		if contains(c.Flags, ActionFailedFlag) {
			return AttentionReasons{AttentionActionFailed}, nil
		}
		return nil, nil
	}
	var why AttentionReasons
	if c.State == recoverybot.StateLocked {
		why = append(why, AttentionLocked)
	}
	if bounced(c) {
		why = append(why, AttentionBounced)
	}
	mail, err := tx.Outbox(store.OutboxFilter{CaseID: c.ID})
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(mail, func(m store.OutgoingMail) bool { return m.State == store.OutboxFailed }) {
		why = append(why, AttentionMailFailed)
	}
	events, err := tx.AuditEvents(store.AuditFilter{CaseID: c.ID})
	if err != nil {
		return nil, err
	}
	// A message sent to review counts until an agent acts on the case.
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i]
		if e.Actor != recoverybot.SystemActor && !strings.HasPrefix(e.Action, "document_") {
			break
		}
		if e.Action == "message_review" {
			why = append(why, AttentionReview)
			break
		}
	}
	return why, nil
}

// Profile returns the profile a case is about, for the agent's review.
func (d *Desk) Profile(ctx context.Context, ref string) (recoverybot.Profile, error) {
	ref, err := recoverybot.ParseRef(ref)
	if err != nil {
		return recoverybot.Profile{}, err
	}
	var p recoverybot.Profile
	err = d.store.View(ctx, func(tx *store.Tx) error {
		c, err := tx.CaseByRef(ref)
		if err != nil {
			return err
		}
		p, err = tx.Profile(c.ProfileID)
		return err
	})
	if err != nil {
		return recoverybot.Profile{}, fmt.Errorf("profile of %s: %w", ref, err)
	}
	return p, nil
}
