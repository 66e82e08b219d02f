package web

import (
	"net/http"
	"strings"
)

// caseReassign gives an open case to another agent (or to oneself, from
// a holder who is away), with a reason.
func (s *Server) caseReassign(w http.ResponseWriter, r *http.Request) {
	to := strings.TrimSpace(r.PostFormValue("to"))
	_, err := s.desk.Reassign(r.Context(), r.PathValue("ref"), sessionOf(r).Agent, to, r.PostFormValue("reason"))
	s.decidedWith(w, r, err, "flash.reassigned", to)
}
