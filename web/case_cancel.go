package web

import "net/http"

// caseCancel withdraws a case with the agent's reason; no mail is sent.
func (s *Server) caseCancel(w http.ResponseWriter, r *http.Request) {
	_, err := s.desk.Cancel(r.Context(), r.PathValue("ref"), sessionOf(r).Agent, r.PostFormValue("reason"))
	s.decided(w, r, err, "flash.cancelled")
}
