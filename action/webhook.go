package action

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/recoverybot/recoverybot"
)

// WebhookOptions configure a Webhook.
type WebhookOptions struct {
	// URL is where calls are POSTed: https://, or http:// to a loopback
	// address (127.0.0.0/8, ::1, or localhost resolving only to those).
	URL string
	// Secret keys the signature; at least MinSecretLen bytes.
	Secret []byte
	// Timeout bounds one call, answer included; 0: DefaultTimeout.
	Timeout time.Duration
	// TLSConfig overrides the TLS configuration (tests, a private CA);
	// nil: the system roots, TLS 1.2 at least.
	TLSConfig *tls.Config
	// Now is the clock of the timestamp and sent_at; nil: time.Now.
	Now func() time.Time
}

// Webhook is a Hook that POSTs signed JSON to the admin system.
type Webhook struct {
	url     *url.URL
	secret  []byte
	timeout time.Duration
	now     func() time.Time
	client  *http.Client
}

// ErrInsecure: a plain http:// URL to a host that is not this machine.
var ErrInsecure = errors.New("action: plain http is allowed only to a loopback address")

// NewWebhook checks the options and returns the Webhook. It resolves a
// plain-HTTP host now, and refuses it unless every address is loopback;
// it does not connect.
func NewWebhook(o WebhookOptions) (*Webhook, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("action webhook %q: want an https:// URL", redact(o.URL))
	}
	if u.User != nil {
		return nil, fmt.Errorf("action webhook %s: credentials in the URL are not sent; the signature authenticates", u.Redacted())
	}
	plain := false
	switch u.Scheme {
	case "https":
	case "http":
		if err := checkLoopback(u.Hostname()); err != nil {
			return nil, fmt.Errorf("action webhook %s: %w", u.Redacted(), err)
		}
		plain = true
	default:
		return nil, fmt.Errorf("action webhook %s: scheme %q, want https (or http to a loopback address)", u.Redacted(), u.Scheme)
	}
	if len(o.Secret) < MinSecretLen {
		return nil, fmt.Errorf("action webhook %s: the secret is %d bytes, want at least %d", u.Redacted(), len(o.Secret), MinSecretLen)
	}
	switch {
	case o.Timeout < 0:
		return nil, fmt.Errorf("action webhook %s: timeout %v is negative", u.Redacted(), o.Timeout)
	case o.Timeout == 0:
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	tc := o.TLSConfig
	if tc == nil {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		tc = tc.Clone()
	}
	dialer := &net.Dialer{Timeout: o.Timeout}
	if plain {
		// Checked again on every connection, whatever the name resolves
		// to by then: the signed call never leaves the machine in clear.
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, _ := net.SplitHostPort(address)
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("%w: %s", ErrInsecure, address)
			}
			return nil
		}
	}
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   o.Timeout,
		ResponseHeaderTimeout: o.Timeout,
		MaxIdleConns:          2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	if !plain {
		tr.Proxy = http.ProxyFromEnvironment
	}
	client := &http.Client{
		Transport: tr,
		Timeout:   o.Timeout,
		// The signed call goes where it was configured to, nowhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	secret := append([]byte(nil), o.Secret...)
	return &Webhook{url: u, secret: secret, timeout: o.Timeout, now: o.Now, client: client}, nil
}

// checkLoopback refuses a host that is not this machine: an IP that is
// not loopback, or a name other than localhost, or localhost resolving
// anywhere else.
func checkLoopback(host string) error {
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("%w, not %s", ErrInsecure, host)
		}
		return nil
	}
	if !strings.EqualFold(host, "localhost") {
		return fmt.Errorf("%w (an IP in 127.0.0.0/8, ::1 or localhost), not %s", ErrInsecure, host)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("resolve %s: no address", host)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return fmt.Errorf("%w: %s resolves to %s", ErrInsecure, host, a.IP)
		}
	}
	return nil
}

// redact hides the credentials of a URL that did not parse.
func redact(s string) string {
	if at := strings.LastIndex(s, "@"); at >= 0 {
		if i := strings.Index(s, "://"); i >= 0 && i < at {
			return s[:i+3] + "…" + s[at:]
		}
		return "…" + s[at:]
	}
	return s
}

// String names the webhook by its URL, never its secret.
func (w *Webhook) String() string { return "webhook " + w.where() }

// where names the webhook in logs and errors: scheme, host and path, not
// the query string or credentials, which may carry a token.
func (w *Webhook) where() string {
	return (&url.URL{Scheme: w.url.Scheme, Host: w.url.Host, Path: w.url.Path}).String()
}

// Call POSTs c, signed, and returns the admin system's answer: the
// first line of the body of a 2xx response, or its status when the body
// is empty.
func (w *Webhook) Call(ctx context.Context, c recoverybot.ActionCall) (string, error) {
	if c.Key == "" {
		return "", Permanent(errNoKey)
	}
	sentAt := w.now()
	body, err := json.Marshal(NewRequest(c, sentAt))
	if err != nil {
		return "", Permanent(fmt.Errorf("encode call: %w", err))
	}
	timestamp := strconv.FormatInt(sentAt.Unix(), 10)
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url.String(), bytes.NewReader(body))
	if err != nil {
		return "", Permanent(fmt.Errorf("POST %s: %w", w.where(), err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "recoverybot")
	req.Header.Set(HeaderIdempotencyKey, c.Key)
	req.Header.Set(HeaderTimestamp, timestamp)
	req.Header.Set(HeaderSignature, Sign(w.secret, timestamp, body))
	resp, err := w.client.Do(req)
	if err != nil {
		// A *url.Error quotes the whole URL, query string included, where
		// an operator may have put a token: name it without.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", &Error{Temporary: true, Err: fmt.Errorf("POST %s: %w", w.where(), err)}
	}
	defer resp.Body.Close()
	answer, readErr := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer)) // lets the connection be reused
	text := firstLine(string(answer))
	status := resp.Status
	if text != "" {
		status += ": " + text
	}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		if readErr != nil {
			// Said yes, then the connection broke: the key makes asking
			// again safe.
			return "", &Error{Temporary: true, Status: code, Err: fmt.Errorf("%s, answer cut short: %w", resp.Status, readErr)}
		}
		if text == "" {
			return resp.Status, nil
		}
		return text, nil
	case code >= 300 && code < 400:
		return "", &Error{Status: code, Err: fmt.Errorf("%s to %q: redirects are not followed; configure the final URL",
			resp.Status, recoverybot.OneLine(redact(resp.Header.Get("Location")), 200))}
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return "", &Error{Temporary: true, Status: code, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), sentAt),
			Err: errors.New(status)}
	default:
		return "", &Error{Status: code, Err: errors.New(status)}
	}
}

// parseRetryAfter reads a Retry-After header (RFC 9110 §10.2.3): seconds
// or an HTTP date; 0 when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// firstLine is the first non-empty line of s, made safe to show and log.
func firstLine(s string) string {
	for line := range strings.Lines(s) {
		if l := recoverybot.OneLine(line, recoverybot.ActionResultMax); l != "" {
			return l
		}
	}
	return ""
}
