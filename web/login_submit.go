package web

import (
	"errors"
	"net/http"

	"github.com/recoverybot/recoverybot/desk"
)

// loginSubmit checks the name and password and opens a session.
func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	name, password := r.PostFormValue("name"), r.PostFormValue("password")
	next := localPath(r.PostFormValue("next"))
	if sessionOf(r) != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	_, token, err := s.desk.Login(r.Context(), name, password, s.clientAddr(r))
	switch {
	case errors.Is(err, desk.ErrBadCredentials):
		s.render(w, r, http.StatusUnauthorized, "login", "login.title", loginData{Next: next, Name: name, Error: "login.bad_credentials"})
		return
	case errors.Is(err, desk.ErrThrottled):
		s.render(w, r, http.StatusTooManyRequests, "login", "login.title", loginData{Next: next, Name: name, Error: "login.throttled"})
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	s.setCookie(w, s.cookies.session, token, 0)
	s.setCookie(w, s.cookies.loginCSRF, "", -1)
	http.Redirect(w, r, next, http.StatusSeeOther)
}
