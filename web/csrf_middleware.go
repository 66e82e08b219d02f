package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
)

// maxForm bounds the body of a form: a note, a reason, a few fields.
const maxForm = 64 << 10

// checkCSRF refuses a POST whose "csrf" field is not the session's form
// token, or, before login, the token of the login-CSRF cookie (a double
// submit: a forged form cannot read the cookie to copy it). It comes on
// top of http.CrossOriginProtection, for browsers that send neither
// Sec-Fetch-Site nor Origin.
func (s *Server) checkCSRF(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		want := s.formToken(r)
		got := r.PostFormValue("csrf")
		if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			s.log.Warn("form without its token refused", "path", r.URL.Path, "remote", s.clientAddr(r))
			http.Error(w, "the form has expired: reload the page and try again", http.StatusForbidden)
			return
		}
		next(w, r)
	}
}

// formToken is the token the request's forms carry: the session's, or
// the login-CSRF cookie's before login ("" when there is none).
func (s *Server) formToken(r *http.Request) string {
	if cur := sessionOf(r); cur != nil {
		return cur.CSRF
	}
	if c, err := r.Cookie(s.cookies.loginCSRF); err == nil {
		return c.Value
	}
	return ""
}

// ensureLoginToken returns the token of the login-CSRF cookie, setting a
// new cookie when the request has none.
func (s *Server) ensureLoginToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if c, err := r.Cookie(s.cookies.loginCSRF); err == nil && len(c.Value) >= 32 {
		return c.Value, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	t := base64.RawURLEncoding.EncodeToString(b)
	s.setCookie(w, s.cookies.loginCSRF, t, 0)
	return t, nil
}
