package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
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
	if key, isErr := s.takeFlash(w, r); key != "" {
		v.Flash, v.Error = v.T.S(key), isErr
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
// can show nothing but one of our messages.
const (
	flashOK    = "ok:"
	flashError = "error:"
)

func (s *Server) flash(w http.ResponseWriter, key string, isErr bool) {
	p := flashOK
	if isErr {
		p = flashError
	}
	s.setCookie(w, s.cookies.flash, p+key, time.Minute)
}

func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request) (string, bool) {
	c, err := r.Cookie(s.cookies.flash)
	if err != nil {
		return "", false
	}
	s.setCookie(w, s.cookies.flash, "", -1)
	isErr := strings.HasPrefix(c.Value, flashError)
	key := strings.TrimPrefix(strings.TrimPrefix(c.Value, flashError), flashOK)
	if !s.catalog.has(key) {
		return "", false
	}
	return key, isErr
}

// back redirects (303) to a page of the dashboard after a form, with a
// flash message.
func (s *Server) back(w http.ResponseWriter, r *http.Request, to, key string, isErr bool) {
	s.flash(w, key, isErr)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// localPath returns p when it is a path of this site ("/…", not "//…"
// nor "/\…", which browsers read as another host), else "/".
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") ||
		strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	return p
}

func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("dashboard request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusNotFound, "error", "error.not_found", "error.not_found")
}
