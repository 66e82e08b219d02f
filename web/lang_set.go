package web

import (
	"net/http"
	"time"
)

// langSet changes the dashboard's language: remembered for the agent
// when logged in, in a cookie before.
func (s *Server) langSet(w http.ResponseWriter, r *http.Request) {
	lang := r.PostFormValue("lang")
	back := localPath(r.PostFormValue("back"))
	if !validLang(lang) {
		http.Error(w, "unknown language", http.StatusBadRequest)
		return
	}
	if cur := sessionOf(r); cur != nil {
		if err := s.desk.SetLanguage(r.Context(), cur.Agent, lang); err != nil {
			s.serverError(w, r, err)
			return
		}
	}
	s.setCookie(w, s.cookies.lang, lang, 365*24*time.Hour)
	http.Redirect(w, r, back, http.StatusSeeOther)
}
