package desk

import (
	"context"
	"fmt"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/store"
)

// The audit actions of an agent's access to a document's bytes.
const (
	ActionDocumentViewed     = "document_viewed"     // a preview, re-encoded, shown in the dashboard
	ActionDocumentDownloaded = "document_downloaded" // the original bytes handed over
)

// ViewDocument returns a document of a case for a preview, audited as
// document_viewed under the agent's name.
func (d *Desk) ViewDocument(ctx context.Context, ref, sha256, by string) (recoverybot.Document, []byte, error) {
	return d.documentAudited(ctx, ref, sha256, by, ActionDocumentViewed)
}

// DownloadDocument returns a document's original bytes for an agent who
// asked for them explicitly, audited as document_downloaded.
func (d *Desk) DownloadDocument(ctx context.Context, ref, sha256, by string) (recoverybot.Document, []byte, error) {
	return d.documentAudited(ctx, ref, sha256, by, ActionDocumentDownloaded)
}

func (d *Desk) documentAudited(ctx context.Context, ref, sha256, by, action string) (recoverybot.Document, []byte, error) {
	by, err := CheckAgent(by)
	if err != nil {
		return recoverybot.Document{}, nil, err
	}
	ref, err = recoverybot.ParseRef(ref)
	if err != nil {
		return recoverybot.Document{}, nil, err
	}
	var doc recoverybot.Document
	var data []byte
	err = d.store.Update(ctx, func(tx *store.Tx) error {
		c, err := tx.CaseByRef(ref)
		if err != nil {
			return err
		}
		if doc, data, err = tx.DocumentBytes(c.ID, sha256); err != nil {
			return err
		}
		return tx.Audit(c.ID, by, action, map[string]string{"sha256": doc.SHA256, "filename": doc.Filename})
	})
	if err != nil {
		return recoverybot.Document{}, nil, fmt.Errorf("document %s of %s: %w", sha256, ref, err)
	}
	return doc, data, nil
}

// Documents returns the metadata of a case's documents (signals and
// findings included), without their bytes: nothing to audit.
func (d *Desk) Documents(ctx context.Context, ref string) ([]recoverybot.Document, error) {
	ref, err := recoverybot.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	var docs []recoverybot.Document
	err = d.store.View(ctx, func(tx *store.Tx) error {
		c, err := tx.CaseByRef(ref)
		if err != nil {
			return err
		}
		docs, err = tx.Documents(c.ID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("documents of %s: %w", ref, err)
	}
	return docs, nil
}
