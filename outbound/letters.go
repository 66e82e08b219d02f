package outbound

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/store"
)

// Letters renders, composes and queues the mail recoverybot writes about
// cases. The desk (agents' actions) and the intake (replies to customers)
// both queue through it, inside the transaction of the change that causes
// the mail.
type Letters struct {
	From     string // our address
	FromName string
	Provider string // the provider's name, in signatures
	CodeTTL  time.Duration
	// MessageIDKey keys the Message-IDs of our mail (MessageID): the
	// data directory's vault.PurposeMessageID key. Queue refuses to
	// work without one.
	MessageIDKey []byte
}

// ErrNoMessageIDKey is returned by Queue when Letters has no MessageIDKey.
var ErrNoMessageIDKey = errors.New("outbound: no Message-ID key")

// Letter is one mail to queue.
type Letter struct {
	Template Template
	To       string
	// EventKey names the event that causes the mail ("instructions-1",
	// "decision", "reply-<ledger id>"): the Message-ID derives from it, so
	// the same event can never queue two mails.
	EventKey string
	// Automatic marks a reply to incoming mail (rate-limited per case),
	// as opposed to mail an agent's action causes.
	Automatic bool
	// InReplyTo and References thread the mail with the customer's.
	InReplyTo  string
	References []string
	// Fill sets the template data beyond what the case and profile give.
	Fill func(*Data)
}

// Queue renders l for case c of profile p and puts it in the outbox. A
// mail whose event was already queued is not queued again.
func (ls Letters) Queue(tx *store.Tx, c recoverybot.Case, p recoverybot.Profile, l Letter) error {
	if len(ls.MessageIDKey) < MinMessageIDKey {
		return ErrNoMessageIDKey
	}
	data := Data{
		Locale: p.Locale, Ref: c.Ref, Kind: c.Kind, HolderKind: p.HolderKind, HolderName: p.HolderName,
		Required: recoverybot.RequiredDocuments(p.HolderKind), CodeTTL: ls.CodeTTL,
		Mailbox: ls.From, Provider: ls.Provider,
	}
	if l.Fill != nil {
		l.Fill(&data)
	}
	subject, text, html, err := Render(l.Template, data)
	if err != nil {
		return fmt.Errorf("render %s mail: %w", l.Template, err)
	}
	_, domain, _ := strings.Cut(ls.From, "@")
	auto := "auto-generated"
	if l.Automatic {
		auto = "auto-replied"
	}
	m := Mail{
		From: ls.From, FromName: ls.FromName, To: l.To, Subject: subject, Text: text, HTML: html,
		MessageID: MessageID(ls.MessageIDKey, c.Ref, l.EventKey, domain), InReplyTo: l.InReplyTo, References: l.References,
		AutoSubmitted: auto, Date: tx.Now(),
	}
	raw, err := Compose(m)
	if err != nil {
		return fmt.Errorf("compose %s mail: %w", l.Template, err)
	}
	_, err = tx.Enqueue(store.OutgoingMail{CaseID: c.ID, Template: string(l.Template), MessageID: m.MessageID,
		From: ls.From, To: l.To, Automatic: l.Automatic, Raw: raw})
	if errors.Is(err, store.ErrDuplicateRow) {
		return nil
	}
	return err
}
