package web

import "net/http"

// caseReopen puts a locked case back to awaiting evidence.
func (s *Server) caseReopen(w http.ResponseWriter, r *http.Request) {
	_, err := s.desk.Reopen(r.Context(), r.PathValue("ref"), sessionOf(r).Agent)
	s.decided(w, r, err, "flash.reopened")
}
