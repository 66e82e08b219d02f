package web

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/recoverybot/recoverybot/desk"
)

// cookieNames are the names of our cookies. Behind TLS they take the
// __Host- prefix (RFC 6265bis §4.1.3.2): the browser then accepts them
// only Secure, with Path=/ and no Domain, so no sibling host can plant or
// shadow them. Without TLS a browser refuses a __Host- cookie (it must be
// Secure, and Firefox and Safari store Secure cookies from https pages
// only; Chromium makes an exception for http://localhost alone), so on
// plain HTTP — a loopback address, by the configuration's rules — the
// names go without the prefix.
type cookieNames struct {
	session, loginCSRF, lang, flash string
}

func newCookieNames(secure bool) cookieNames {
	p := ""
	if secure {
		p = "__Host-"
	}
	return cookieNames{session: p + "recoverybot-session", loginCSRF: p + "recoverybot-login-csrf",
		lang: p + "recoverybot-lang", flash: p + "recoverybot-flash"}
}

// setCookie sets one of our cookies: host-only, Path=/, HttpOnly,
// SameSite=Strict, Secure behind TLS. maxAge 0: a session cookie; < 0:
// delete it.
func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: s.opts.Secure,
		SameSite: http.SameSiteStrictMode}
	switch {
	case maxAge < 0:
		c.MaxAge = -1
	case maxAge > 0:
		c.MaxAge = int(maxAge.Seconds())
	}
	http.SetCookie(w, c)
}

type sessionKey struct{}

// current is the session of a request, as withSession found it.
type current struct {
	desk.Session
	token string
}

// sessionOf returns the request's session, or nil.
func sessionOf(r *http.Request) *current {
	c, _ := r.Context().Value(sessionKey{}).(*current)
	return c
}

// withSession finds the request's session: the cookie's, or, for a
// request from a trusted proxy naming an agent in ProxyUserHeader, one
// opened for that agent.
func (s *Server) withSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var cur *current
		if c, err := r.Cookie(s.cookies.session); err == nil && c.Value != "" {
			ds, err := s.desk.Session(ctx, c.Value)
			switch {
			case err == nil:
				cur = &current{Session: ds, token: c.Value}
			case errors.Is(err, desk.ErrSessionExpired):
				s.setCookie(w, s.cookies.session, "", -1)
			default:
				s.serverError(w, r, err)
				return
			}
		}
		if name := s.proxyUser(r); name != "" && (cur == nil || cur.Agent != name) {
			if cur != nil {
				// Someone else behind the same browser, as the
				// proxy says: the former session ends.
				if err := s.desk.Logout(ctx, cur.token); err != nil {
					s.serverError(w, r, err)
					return
				}
				cur = nil
			}
			ds, token, err := s.desk.LoginTrusted(ctx, name, s.clientAddr(r))
			switch {
			case err == nil:
				cur = &current{Session: ds, token: token}
				s.setCookie(w, s.cookies.session, token, 0)
			case errors.Is(err, desk.ErrBadCredentials):
				s.log.Warn("proxy named no active agent", "agent", name, "remote", s.clientAddr(r))
			default:
				s.serverError(w, r, err)
				return
			}
		}
		if cur != nil {
			ctx = context.WithValue(ctx, sessionKey{}, cur)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requireSession sends a request without a session to the login page
// (GET) or refuses it (401).
func (s *Server) requireSession(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if sessionOf(r) != nil {
			next(w, r)
			return
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		http.Error(w, "log in first", http.StatusUnauthorized)
	}
}

// peer is the TCP peer of a request.
func peer(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// fromTrustedProxy reports whether the TCP peer is a trusted proxy.
func (s *Server) fromTrustedProxy(r *http.Request) bool {
	a, ok := peer(r)
	return ok && s.trusted(a)
}

// proxyUser is the agent a trusted proxy names, or "".
func (s *Server) proxyUser(r *http.Request) string {
	if s.opts.ProxyUserHeader == "" || !s.fromTrustedProxy(r) {
		return ""
	}
	return strings.TrimSpace(r.Header.Get(s.opts.ProxyUserHeader))
}

// clientAddr is the address logins are throttled and audited under: the
// TCP peer, or, when that is a trusted proxy, the last address in
// X-Forwarded-For that is not one of our proxies (earlier ones are
// whatever the client wrote).
func (s *Server) clientAddr(r *http.Request) string {
	a, ok := peer(r)
	if !ok {
		return r.RemoteAddr
	}
	if !s.trusted(a) {
		return a.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		h = h.Unmap()
		if !s.trusted(h) {
			return h.String()
		}
		a = h
	}
	return a.String()
}
