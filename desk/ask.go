package desk

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/outbound"
	"github.com/recoverybot/recoverybot/store"
)

// AskRequest asks the customer again for one document.
type AskRequest struct {
	Ref, By string
	Reason  recoverybot.AskReason
	// Document names what to ask for: a document's SHA-256 (or a prefix
	// of 8 digits or more) refuses that one; a document type refuses
	// every document of that type. Empty: the identity document.
	Document string
	Note     string // the agent's words, added to the mail
}

// Ask asks the customer again for a document, for a reason from the list
// (unreadable, expired, wrong person, cropped) and an optional note: the
// documents it replaces are refused with that reason, the case waits for
// the new one (a ready case goes back to awaiting evidence), and the
// customer is mailed in their language.
func (d *Desk) Ask(ctx context.Context, req AskRequest) (Summary, error) {
	reason, err := recoverybot.ParseAskReason(string(req.Reason))
	if err != nil {
		return Summary{}, fmt.Errorf("ask again on %s: %w", req.Ref, err)
	}
	note := strings.TrimSpace(req.Note)
	by := strings.TrimSpace(req.By)
	sum, err := d.act(ctx, req.Ref, by, actHolder, func(tx *store.Tx, c *recoverybot.Case, p recoverybot.Profile) error {
		if c.State != recoverybot.StateAwaitingEvidence && c.State != recoverybot.StateReadyForReview {
			return fmt.Errorf("%w (it is %s)", ErrNotAwaiting, c.State)
		}
		want, refuse, err := askedFor(tx, c.ID, req.Document)
		if err != nil {
			return err
		}
		if !slices.Contains(recoverybot.RequiredDocuments(p.HolderKind), want) {
			return fmt.Errorf("%w: a %s profile is not asked for %s", ErrBadDocType, p.HolderKind, want)
		}
		why := string(reason)
		if note != "" {
			why += ": " + note
		}
		for _, sum := range refuse {
			if err := tx.JudgeDocument(c.ID, sum, recoverybot.VerdictRefused, why, by, ""); err != nil {
				return err
			}
		}
		if err := d.settle(tx, c, p, by); err != nil {
			return err
		}
		n, err := tx.CountAudit(c.ID, "document_requested")
		if err != nil {
			return err
		}
		details := map[string]string{"document": string(want), "reason": string(reason), "refused": fmt.Sprint(len(refuse))}
		if note != "" {
			details["note"] = note
		}
		if err := tx.Audit(c.ID, by, "document_requested", details); err != nil {
			return err
		}
		to := c.CustomerAddress(p)
		if to == "" {
			return nil
		}
		return d.queue(tx, *c, p, outbound.AskAgain, to, fmt.Sprintf("ask-again-%d", n+1), func(data *outbound.Data) {
			data.AskReason, data.Document, data.Reason = reason, want, note
		})
	})
	if err != nil {
		return Summary{}, fmt.Errorf("ask again on %s: %w", req.Ref, err)
	}
	return sum, nil
}

// askedFor resolves what an agent asks again for into the document type
// and the SHA-256s of the case's documents it replaces.
func askedFor(tx *store.Tx, caseID int64, what string) (recoverybot.DocumentType, []string, error) {
	what = strings.TrimSpace(what)
	if what == "" {
		what = string(recoverybot.DocIdentity)
	}
	if t := recoverybot.DocumentType(strings.ReplaceAll(what, "-", "_")); t.Valid() {
		docs, err := tx.Documents(caseID)
		if err != nil {
			return "", nil, err
		}
		var sums []string
		for _, doc := range docs {
			if doc.Type == t && doc.Verdict != recoverybot.VerdictRefused {
				sums = append(sums, doc.SHA256)
			}
		}
		return t, sums, nil
	}
	doc, err := findDocument(tx, caseID, what)
	if err != nil {
		return "", nil, err
	}
	return doc.Type, []string{doc.SHA256}, nil
}
