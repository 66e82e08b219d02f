package web

import "net/http"

// caseClaim gives the case to the agent, so that no other agent works it.
// A case another agent holds stays theirs, and the flash names them.
func (s *Server) caseClaim(w http.ResponseWriter, r *http.Request) {
	_, err := s.desk.Claim(r.Context(), r.PathValue("ref"), sessionOf(r).Agent)
	s.decided(w, r, err, "flash.claimed")
}
