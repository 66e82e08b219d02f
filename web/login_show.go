package web

import "net/http"

// loginData is the login page's.
type loginData struct {
	Next  string
	Name  string
	Error string // a message key
}

// loginShow shows the login form; a logged-in agent goes to the queues.
func (s *Server) loginShow(w http.ResponseWriter, r *http.Request) {
	if sessionOf(r) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", "login.title", loginData{Next: localPath(r.URL.Query().Get("next"))})
}
