package web

import (
	"errors"
	"fmt"
	"net/http"
)

type documentData struct {
	Ref, SHA256, Filename string
	Pages                 []string // preview URLs
	NoPreview             bool
}

// documentShow is the page of one document with every page of its
// preview (a PDF's, mostly).
func (s *Server) documentShow(w http.ResponseWriter, r *http.Request) {
	ref, sha := r.PathValue("ref"), r.PathValue("sha")
	pages, err := s.renderPages(r)
	if err != nil && !errors.Is(err, errNoPreview) {
		s.deskError(w, r, err)
		return
	}
	sum, err2 := s.desk.Show(r.Context(), ref)
	if err2 != nil {
		s.deskError(w, r, err2)
		return
	}
	d := documentData{Ref: sum.Ref, SHA256: sha, NoPreview: err != nil}
	for _, doc := range sum.Documents {
		if doc.SHA256 == sha {
			d.Filename = doc.Filename
		}
	}
	for i := range pages {
		d.Pages = append(d.Pages, fmt.Sprintf("/cases/%s/documents/%s/preview/%d", sum.Ref, sha, i+1))
	}
	s.render(w, r, http.StatusOK, "document", "doc.title", d)
}
