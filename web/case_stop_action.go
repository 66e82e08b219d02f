package web

import "net/http"

// caseStopAction stops an approved case's action while it waits for the
// delay, before the admin system was ever called: the case is cancelled
// with the agent's reason. Any agent may.
func (s *Server) caseStopAction(w http.ResponseWriter, r *http.Request) {
	_, err := s.desk.StopAction(r.Context(), r.PathValue("ref"), sessionOf(r).Agent, r.PostFormValue("reason"))
	s.decided(w, r, err, "flash.action_stopped")
}
