package web

import "net/http"

// caseRelease gives up the agent's claim on the case, with an optional
// reason; the case waits unassigned for another agent.
func (s *Server) caseRelease(w http.ResponseWriter, r *http.Request) {
	_, err := s.desk.Release(r.Context(), r.PathValue("ref"), sessionOf(r).Agent, r.PostFormValue("reason"))
	s.decided(w, r, err, "flash.released")
}
