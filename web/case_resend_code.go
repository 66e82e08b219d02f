package web

import "net/http"

// caseResendCode issues and mails a new code; the former one stops working.
func (s *Server) caseResendCode(w http.ResponseWriter, r *http.Request) {
	_, err := s.desk.ResendCode(r.Context(), r.PathValue("ref"), sessionOf(r).Agent)
	s.decided(w, r, err, "flash.code_resent")
}
