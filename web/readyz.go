package web

import (
	"net/http"
	"strings"
)

// readyz answers whether the daemon is ready (Options.Ready): 200 "ready",
// or 503 "not ready:" and the names of the checks that fail, never an
// error's text, an address or a path. It needs no login.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	failed := s.opts.Ready(r.Context())
	if len(failed) == 0 {
		w.Write([]byte("ready\n"))
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write([]byte("not ready: " + strings.Join(failed, ", ") + "\n"))
}
