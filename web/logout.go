package web

import "net/http"

// logout ends the session on the server and forgets the cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.desk.Logout(r.Context(), sessionOf(r).token); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.setCookie(w, s.cookies.session, "", -1)
	s.back(w, r, "/login", "flash.logged_out", false)
}
