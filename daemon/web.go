package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/recoverybot/recoverybot/config"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/preview"
	"github.com/recoverybot/recoverybot/web"
)

// WebOptions are what the dashboard runs with beside the configuration.
type WebOptions struct {
	Desk *desk.Desk
	// Ready answers /readyz with the names of the checks that fail
	// (Daemon.Ready); nil: always ready.
	Ready func(ctx context.Context) []string
	// Metrics is served at /metrics when not nil.
	Metrics http.Handler
	Logger  *slog.Logger
}

// NewWeb returns the dashboard of a configuration's [web] section, its
// previews made by the preview package (pdftoppm for PDFs).
func NewWeb(c config.Config, o WebOptions) (*web.Server, error) {
	proxies, err := c.Web.Proxies()
	if err != nil {
		return nil, err
	}
	return web.New(web.Options{
		Desk: o.Desk, Previews: previews{preview.New(preview.Options{})}, Secure: c.Web.Secure(),
		TrustedProxies: proxies, ProxyUserHeader: c.Web.ProxyUserHeader,
		Metrics: o.Metrics, Ready: o.Ready, Logger: o.Logger,
	})
}

// previews adapts preview.Renderer to web.Previewer.
type previews struct{ r *preview.Renderer }

func (p previews) Render(ctx context.Context, data []byte) ([][]byte, error) {
	pages, err := p.r.Render(ctx, data)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(pages))
	for i, pg := range pages {
		out[i] = pg.PNG
	}
	return out, nil
}

// ListenWeb opens the dashboard's listener on [web] listen, so that a
// port in use is an error before anything else starts.
func ListenWeb(c config.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", c.Web.Listen)
	if err != nil {
		return nil, fmt.Errorf("dashboard: listen on %s: %w", c.Web.Listen, err)
	}
	return ln, nil
}

// ServeWeb serves h on ln, over TLS when [web] has a certificate, until
// ctx ends; then it lets the requests in flight finish for a few seconds.
func ServeWeb(ctx context.Context, c config.Config, ln net.Listener, h http.Handler, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      2 * time.Minute, // a PDF's previews take pdftoppm's time
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	done := make(chan error, 1)
	go func() {
		if c.Web.TLSCert != "" {
			done <- srv.ServeTLS(ln, c.Web.TLSCert, c.Web.TLSKey)
		} else {
			done <- srv.Serve(ln)
		}
	}()
	log.Info("dashboard serving", "address", "http"+map[bool]string{true: "s"}[c.Web.TLSCert != ""]+"://"+ln.Addr().String())
	select {
	case err := <-done:
		return fmt.Errorf("dashboard: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		srv.Close()
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("dashboard: %w", err)
	}
	return nil
}

// ServeWithWeb is Serve with the dashboard on ln beside it: both stop when
// ctx ends, and either failing stops the other.
func (d *Daemon) ServeWithWeb(ctx context.Context, ln net.Listener) error {
	srv, err := NewWeb(d.opts.Config, WebOptions{Desk: d.desk, Ready: d.readyNames, Metrics: d.metrics.Handler(),
		Logger: d.log.With("component", "web")})
	if err != nil {
		ln.Close()
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	webDone := make(chan error, 1)
	go func() {
		err := ServeWeb(ctx, d.opts.Config, ln, srv.Handler(), d.log.With("component", "web"))
		cancel()
		webDone <- err
	}()
	err = d.Serve(ctx)
	cancel()
	if werr := <-webDone; err == nil {
		err = werr
	}
	return err
}
