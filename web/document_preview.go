package web

import (
	"errors"
	"net/http"
	"strconv"
)

// maxPages bounds the pages of a preview.
const maxPages = 50

// errNoPreview: the document has no preview (its type is not one a
// Previewer renders, or there is no Previewer).
var errNoPreview = errors.New("web: no preview for this document")

// renderPages reads a document for a preview (audited as viewed) and
// renders its pages, as re-encoded PNG images.
func (s *Server) renderPages(r *http.Request) ([][]byte, error) {
	ref, sha := r.PathValue("ref"), r.PathValue("sha")
	sum, err := s.desk.Show(r.Context(), ref)
	if err != nil {
		return nil, err
	}
	found := false
	for _, d := range sum.Documents {
		if d.SHA256 == sha {
			found = true
			if d.Purged || !previewable(d.MediaType) || s.opts.Previews == nil {
				return nil, errNoPreview
			}
		}
	}
	if !found {
		return nil, errNoPreview
	}
	doc, data, err := s.desk.ViewDocument(r.Context(), ref, sha, sessionOf(r).Agent)
	if err != nil {
		return nil, err
	}
	// The sniffed type is checked again on the row read with the bytes.
	if !previewable(doc.MediaType) {
		return nil, errNoPreview
	}
	pages, err := s.previews.get(r.Context(), doc.SHA256, func() ([][]byte, error) {
		return s.opts.Previews.Render(r.Context(), data)
	})
	if err != nil {
		s.log.Warn("no preview", "case", sum.Ref, "sha256", sha, "media_type", doc.MediaType, "error", err)
		return nil, errNoPreview
	}
	if len(pages) > maxPages {
		pages = pages[:maxPages]
	}
	return pages, nil
}

// documentPreview serves page n (from 1) of a document's preview: a PNG
// image the Previewer re-encoded, never the original bytes, under a CSP
// that lets it run and load nothing even opened on its own.
func (s *Server) documentPreview(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("page"))
	if err != nil || n < 1 || n > maxPages {
		http.NotFound(w, r)
		return
	}
	pages, err := s.renderPages(r)
	if errors.Is(err, errNoPreview) || (err == nil && n > len(pages)) {
		http.Error(w, "no preview; download the original", http.StatusNotFound)
		return
	}
	if err != nil {
		if key, ours := errorKey(err); ours && key == "error.not_found" {
			http.NotFound(w, r)
			return
		}
		s.serverError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Content-Security-Policy", untrustedCSP)
	h.Set("Content-Disposition", "inline")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(pages[n-1])
}
