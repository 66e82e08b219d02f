package desk

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/store"
)

// Errors of document verdicts, for errors.Is.
var (
	ErrNoDocument    = errors.New("desk: the case has no such document")
	ErrBadVerdict    = errors.New("desk: a verdict is accepted or refused")
	ErrBadDocType    = errors.New("desk: bad document type")
	ErrDocumentTaken = errors.New("desk: the document's bytes do not fit that type")
)

// JudgeRequest is an agent's verdict on one document of a case.
type JudgeRequest struct {
	Ref, By string
	// SHA256 names the document: its SHA-256, or a prefix of at least 8
	// hexadecimal digits that only it has.
	SHA256  string
	Verdict recoverybot.Verdict
	Reason  string // required to refuse
	// Type, when not empty, corrects the type recoverybot gave the
	// document (accepting a scan it classified as other).
	Type recoverybot.DocumentType
}

// JudgeDocument records an agent's verdict on one document: an accepted
// document counts whatever recoverybot found in it, a refused one never
// does. When that changes whether the case is complete, the case moves:
// ready for review when nothing is missing any more, back to awaiting
// evidence when something now is. The customer is not written to; Ask
// does that.
func (d *Desk) JudgeDocument(ctx context.Context, req JudgeRequest) (Summary, error) {
	reason := strings.TrimSpace(req.Reason)
	switch req.Verdict {
	case recoverybot.VerdictAccepted:
	case recoverybot.VerdictRefused:
		if reason == "" {
			return Summary{}, fmt.Errorf("refuse document: %w", ErrNeedsReason)
		}
	default:
		return Summary{}, fmt.Errorf("judge document: %w", ErrBadVerdict)
	}
	if req.Type != "" {
		if !req.Type.Valid() {
			return Summary{}, fmt.Errorf("judge document: %w %q", ErrBadDocType, req.Type)
		}
	}
	by := strings.TrimSpace(req.By)
	sum, err := d.act(ctx, req.Ref, by, actHolder, func(tx *store.Tx, c *recoverybot.Case, p recoverybot.Profile) error {
		if !c.State.Open() {
			return fmt.Errorf("%w (it is %s)", ErrClosed, c.State)
		}
		doc, err := findDocument(tx, c.ID, req.SHA256)
		if err != nil {
			return err
		}
		newType := req.Type
		if newType == doc.Type {
			newType = ""
		}
		if newType != "" && !recoverybot.AcceptsMediaType(newType, doc.MediaType) {
			return fmt.Errorf("%w: %s is %s", ErrDocumentTaken, doc.Filename, doc.MediaType)
		}
		if err := tx.JudgeDocument(c.ID, doc.SHA256, req.Verdict, reason, by, newType); err != nil {
			return err
		}
		details := map[string]string{"sha256": doc.SHA256, "filename": doc.Filename, "reason": reason}
		if newType != "" {
			details["type"], details["type_before"] = string(newType), string(doc.Type)
		}
		if err := tx.Audit(c.ID, by, "document_"+string(req.Verdict), details); err != nil {
			return err
		}
		return d.settle(tx, c, p, by)
	})
	if err != nil {
		return Summary{}, fmt.Errorf("%s document of %s: %w", verdictVerb(req.Verdict), req.Ref, err)
	}
	return sum, nil
}

func verdictVerb(v recoverybot.Verdict) string {
	if v == recoverybot.VerdictRefused {
		return "refuse"
	}
	return "accept"
}

// findDocument returns the document of case caseID that sum names, in
// full or by a prefix of at least 8 digits.
func findDocument(tx *store.Tx, caseID int64, sum string) (recoverybot.Document, error) {
	sum = strings.ToLower(strings.TrimSpace(sum))
	docs, err := tx.Documents(caseID)
	if err != nil {
		return recoverybot.Document{}, err
	}
	var found []recoverybot.Document
	for _, doc := range docs {
		if doc.SHA256 == sum {
			return doc, nil
		}
		if len(sum) >= 8 && strings.HasPrefix(doc.SHA256, sum) {
			found = append(found, doc)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	return recoverybot.Document{}, fmt.Errorf("%w: %q", ErrNoDocument, sum)
}

// settle moves an open case to the state its evidence now calls for,
// after an agent's verdict: complete and awaiting becomes ready for
// review, incomplete and ready goes back to awaiting evidence. A pending
// first approval lapses whatever the verdict.
func (d *Desk) settle(tx *store.Tx, c *recoverybot.Case, p recoverybot.Profile, by string) error {
	docs, err := tx.Documents(c.ID)
	if err != nil {
		return err
	}
	missing := recoverybot.Missing(c.Kind, p.HolderKind, recoverybot.Progress{
		Documents: docs, SenderStatus: c.SenderStatus, CodeVerified: c.CodeVerified,
		UnverifiedSenderCounts: d.opts.UnverifiedSenderCounts,
	})
	// The evidence a first approval rested on changed: it lapses, and
	// the case needs a new one.
	if c.PendingApproval != nil {
		c.PendingApproval = nil
		if err := tx.Audit(c.ID, by, "approval_withdrawn", map[string]string{"reason": "the evidence changed"}); err != nil {
			return err
		}
	}
	switch {
	case c.State == recoverybot.StateAwaitingEvidence && len(missing) == 0:
		if err := transition(tx, c, recoverybot.EventEvidenceComplete, by); err != nil {
			return err
		}
		return tx.Audit(c.ID, by, "evidence_complete", nil)
	case c.State == recoverybot.StateReadyForReview && len(missing) > 0:
		if err := transition(tx, c, recoverybot.EventEvidenceIncomplete, by); err != nil {
			return err
		}
		return tx.Audit(c.ID, by, "evidence_incomplete", map[string]string{"missing": joinMissing(missing)})
	}
	return nil
}

func joinMissing(reqs []recoverybot.Requirement) string {
	s := make([]string, len(reqs))
	for i, r := range reqs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}
