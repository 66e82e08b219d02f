package web

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/recoverybot/recoverybot/desk"
)

// Previewer turns a document's bytes into PNG images, one per page,
// re-encoded so that nothing of the original file but its pixels reaches
// the browser. It returns an error for a media type it cannot render.
type Previewer interface {
	Render(ctx context.Context, data []byte) ([][]byte, error)
}

// Options configure a Server.
type Options struct {
	Desk *desk.Desk // required
	// Previews renders document previews; nil: no previews, only the
	// audited download.
	Previews Previewer
	// Secure is set when the dashboard is served over TLS (directly or
	// behind a TLS-terminating proxy): cookies are then Secure and the
	// session cookie takes the __Host- prefix.
	Secure bool
	// TrustedProxies are the addresses of reverse proxies whose
	// X-Forwarded-For and ProxyUserHeader are believed. Empty: none.
	TrustedProxies []netip.Prefix
	// ProxyUserHeader, when set, is a request header naming the agent a
	// trusted proxy authenticated (single sign-on). It is read only from
	// a TCP peer in TrustedProxies, and only for an active agent.
	ProxyUserHeader string
	// Metrics is mounted at /metrics when set.
	Metrics http.Handler
	// Ready answers /readyz with the names of the checks that fail
	// (health.Check), none when ready; nil: always ready.
	Ready  func(ctx context.Context) []string
	Logger *slog.Logger
	// Now is the clock of ages shown in queues; nil: time.Now. Sessions
	// run on the store's clock.
	Now func() time.Time
}

// Server is the dashboard.
type Server struct {
	opts    Options
	desk    *desk.Desk
	log     *slog.Logger
	now     func() time.Time
	pages   map[string]*template.Template
	catalog catalog
	cookies cookieNames
	handler http.Handler
	// previews keeps rendered pages a few minutes (previewCache).
	previews *previewCache
}

// New returns the dashboard of o.Desk.
func New(o Options) (*Server, error) {
	if o.Desk == nil {
		return nil, errors.New("web: no desk")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Ready == nil {
		o.Ready = func(context.Context) []string { return nil }
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: o, desk: o.Desk, log: o.Logger, now: o.Now, pages: pages, catalog: newCatalog(),
		cookies: newCookieNames(o.Secure), previews: newPreviewCache(64<<20, 5*time.Minute, o.Now)}
	s.handler = s.routes()
	return s, nil
}

// Handler serves the dashboard, /healthz, /readyz and /metrics.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", s.static())
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.opts.Metrics != nil {
		mux.Handle("GET /metrics", s.opts.Metrics)
	}

	// Pages open to anyone: the login and the language before it.
	mux.Handle("GET /login", s.app(s.loginShow))
	mux.Handle("POST /login", s.app(s.loginSubmit))
	mux.Handle("POST /lang", s.app(s.langSet))

	// Everything else needs a session.
	mux.Handle("POST /logout", s.agent(s.logout))
	mux.Handle("GET /{$}", s.agent(s.queueShow))
	mux.Handle("GET /cases/{ref}", s.agent(s.caseShow))
	mux.Handle("POST /cases/{ref}/approve", s.agent(s.caseApprove))
	mux.Handle("POST /cases/{ref}/reject", s.agent(s.caseReject))
	mux.Handle("POST /cases/{ref}/cancel", s.agent(s.caseCancel))
	mux.Handle("POST /cases/{ref}/resend-code", s.agent(s.caseResendCode))
	mux.Handle("POST /cases/{ref}/reopen", s.agent(s.caseReopen))
	mux.Handle("POST /cases/{ref}/claim", s.agent(s.caseClaim))
	mux.Handle("POST /cases/{ref}/release", s.agent(s.caseRelease))
	mux.Handle("POST /cases/{ref}/reassign", s.agent(s.caseReassign))
	mux.Handle("POST /cases/{ref}/ask", s.agent(s.caseAsk))
	mux.Handle("POST /cases/{ref}/stop-action", s.agent(s.caseStopAction))
	mux.Handle("POST /cases/{ref}/documents/{sha}/judge", s.agent(s.documentJudge))
	mux.Handle("GET /cases/{ref}/documents/{sha}", s.agent(s.documentShow))
	mux.Handle("GET /cases/{ref}/documents/{sha}/preview/{page}", s.agent(s.documentPreview))
	mux.Handle("POST /cases/{ref}/documents/{sha}/download", s.agent(s.documentDownload))
	// Any other path: the session first, so that nothing tells an
	// outsider which paths exist.
	mux.Handle("/", s.agent(func(w http.ResponseWriter, r *http.Request) { s.notFound(w, r) }))

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.log.Warn("cross-origin request refused", "method", r.Method, "path", r.URL.Path, "remote", s.clientAddr(r))
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
	}))
	return securityHeaders(cop.Handler(mux), s.opts.Secure)
}

// app wraps a handler of the dashboard: the session, if any, is read and
// every POST must carry its form token.
func (s *Server) app(h http.HandlerFunc) http.Handler {
	return s.withSession(s.checkCSRF(h))
}

// agent wraps a handler that needs a logged-in agent.
func (s *Server) agent(h http.HandlerFunc) http.Handler {
	return s.app(s.requireSession(h))
}
