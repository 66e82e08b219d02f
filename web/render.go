package web

import (
	"bytes"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"golang.org/x/text/language"
)

//go:embed templates/*.html
var templateFiles embed.FS

// parsePages parses each page with the layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		"datetime": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"inc":      func(i int) int { return i + 1 },
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", n, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// view is what every page's template gets.
type view struct {
	T     messages // the catalogue in the page's language
	Lang  string
	Agent string // "" before login
	CSRF  string // the forms' token
	Path  string // where the page is, for the language form to come back
	Flash string
	Error bool // the flash is an error
	Title string
	Data  any
}

// render writes a page with status code.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, page, title string, data any) {
	t := s.pages[page]
	if t == nil {
		s.serverError(w, r, fmt.Errorf("web: no page %q", page))
		return
	}
	lang := s.lang(r)
	v := view{T: s.catalog.in(lang), Lang: lang, Path: r.URL.RequestURI(), Data: data}
	v.Title = v.T.S(title)
	if cur := sessionOf(r); cur != nil {
		v.Agent, v.CSRF = cur.Agent, cur.CSRF
	} else {
		tok, err := s.ensureLoginToken(w, r)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		v.CSRF = tok
	}
	if key, arg, isErr := s.takeFlash(w, r); key != "" {
		v.Flash, v.Error = v.T.S(key), isErr
		if arg != "" {
			v.Flash = v.T.F(key, arg)
		}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// lang is the language of a request's pages: the agent's choice, else
// the language cookie set before login, else the browser's
// Accept-Language, else French (the provider's).
func (s *Server) lang(r *http.Request) string {
	if cur := sessionOf(r); cur != nil && validLang(cur.Lang) {
		return cur.Lang
	}
	if c, err := r.Cookie(s.cookies.lang); err == nil && validLang(c.Value) {
		return c.Value
	}
	tags, _, _ := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	m := language.NewMatcher([]language.Tag{language.French, language.English})
	_, i, conf := m.Match(tags...)
	if conf != language.No && i == 1 {
		return "en"
	}
	return "fr"
}

func validLang(l string) bool { return l == "fr" || l == "en" }

// A flash is the key of a message shown once on the next page, after a
// redirect. Only keys travel in the cookie, never text: a forged cookie
// can show nothing but one of our messages. The few messages that name
// an agent ("held by %s") carry the name beside the key, and it is shown
// only when it is the name of one of our agents.
const (
	flashOK    = "ok:"
	flashError = "error:"
	flashArg   = "|" // between the key and its argument, base64url
)

// namesAgent reports whether the message of key takes an agent's name.
func namesAgent(key string) bool {
	switch key {
	case "error.claimed", "error.not_holder", "flash.reassigned":
		return true
	}
	return false
}

func (s *Server) flash(w http.ResponseWriter, key, arg string, isErr bool) {
	p := flashOK
	if isErr {
		p = flashError
	}
	v := p + key
	if arg != "" && namesAgent(key) {
		v += flashArg + base64.RawURLEncoding.EncodeToString([]byte(arg))
	}
	s.setCookie(w, s.cookies.flash, v, time.Minute)
}

// takeFlash reads and clears the flash: its message's key, its argument
// and whether it tells of an error. A key we do not have, or a message
// naming someone who is not an agent, is no flash.
func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request) (key, arg string, isErr bool) {
	c, err := r.Cookie(s.cookies.flash)
	if err != nil {
		return "", "", false
	}
	s.setCookie(w, s.cookies.flash, "", -1)
	isErr = strings.HasPrefix(c.Value, flashError)
	key = strings.TrimPrefix(strings.TrimPrefix(c.Value, flashError), flashOK)
	key, enc, _ := strings.Cut(key, flashArg)
	if !s.catalog.has(key) {
		return "", "", false
	}
	if !namesAgent(key) {
		return key, "", isErr
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || !s.isAgent(r, string(b)) {
		return "", "", false
	}
	return key, string(b), isErr
}

// isAgent reports whether name is one of the dashboard's agents.
func (s *Server) isAgent(r *http.Request, name string) bool {
	if name == "" {
		return false
	}
	agents, err := s.desk.Agents(r.Context())
	if err != nil {
		s.log.Error("list agents", "error", err)
		return false
	}
	for _, a := range agents {
		if a.Name == name {
			return true
		}
	}
	return false
}

// back redirects (303) to a page of the dashboard after a form, with a
// flash message.
func (s *Server) back(w http.ResponseWriter, r *http.Request, to, key string, isErr bool) {
	s.backWith(w, r, to, key, "", isErr)
}

// backWith is back with a message that names an agent (namesAgent).
func (s *Server) backWith(w http.ResponseWriter, r *http.Request, to, key, arg string, isErr bool) {
	s.flash(w, key, arg, isErr)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// localPath returns p when it is a path of this site, else "/". Browsers
// read "//host", "/\\host" and the same with tabs or newlines stripped
// as another site, and http.Redirect cleans "/a/../\\host" into "/\\host":
// so a backslash or a control character anywhere refuses p, and what is
// returned is the parsed path and query, starting with a single "/".
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.ContainsRune(p, '\\') ||
		strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	out := u.RequestURI()
	if !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") || strings.HasPrefix(path.Clean(u.Path), "//") {
		return "/"
	}
	return out
}

func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("dashboard request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusNotFound, "error", "error.not_found", "error.not_found")
}
