package web

import "net/http"

// The Content-Security-Policy of every page: nothing but our own files,
// no inline script or style, no framing, forms only to ourselves.
const pageCSP = "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// untrustedCSP is for bytes derived from what customers sent (miniflux's
// proxy does the same): even opened on their own, they run nothing and
// load nothing.
const untrustedCSP = "default-src 'none'; sandbox"

// securityHeaders sets the headers every response carries. Responses are
// not cached (no-store) unless a handler says otherwise: only the static
// files do.
// Behind TLS, browsers are told to come back over TLS only (HSTS, RFC
// 6797).
func securityHeaders(next http.Handler, secure bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		if secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}
