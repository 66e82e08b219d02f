package web

import "net/http"

// readyz answers whether the daemon is ready (Options.Ready): 200 or 503.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	ok, err := s.opts.Ready()
	switch {
	case err != nil:
		s.log.Warn("not ready", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not ready\n"))
	case !ok:
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not ready\n"))
	default:
		w.Write([]byte("ready\n"))
	}
}
