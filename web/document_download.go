package web

import (
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode"
)

// documentDownload hands over a document's original bytes, on the
// agent's explicit request (a POST), audited as downloaded: always as an
// attachment of no particular type, so that no browser renders it.
func (s *Server) documentDownload(w http.ResponseWriter, r *http.Request) {
	doc, data, err := s.desk.DownloadDocument(r.Context(), r.PathValue("ref"), r.PathValue("sha"), sessionOf(r).Agent)
	if err != nil {
		s.decided(w, r, err, "")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", attachment(doc.Filename, doc.SHA256))
	h.Set("Content-Security-Policy", untrustedCSP)
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(data)
}

// attachment is the Content-Disposition of a download (RFC 6266), with
// the customer's filename made harmless (no path, no control
// characters), or the hash when nothing is left of it.
func attachment(filename, sha string) string {
	name := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '/' || r == '\\' || r == '"' {
			return '_'
		}
		return r
	}, filename)
	name = strings.TrimLeft(strings.TrimSpace(name), ".")
	if name == "" {
		name = sha
	}
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": name}); v != "" {
		return v
	}
	return "attachment"
}
