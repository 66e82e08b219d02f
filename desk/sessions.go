package desk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/recoverybot/recoverybot/store"
)

// The errors of dashboard sessions.
var (
	// ErrSessionExpired: the token names no live session (unknown,
	// logged out, idle or too old, or its agent disabled).
	ErrSessionExpired = errors.New("desk: the session has ended")
	// ErrThrottled: too many failed logins for the name or from the
	// address; the attempt was not checked.
	ErrThrottled = errors.New("desk: too many failed logins, try again later")
	// ErrBadLanguage: the dashboard speaks fr and en.
	ErrBadLanguage = errors.New("desk: unknown dashboard language")
)

// The session and throttling policy (OWASP Session Management and
// Authentication cheat sheets). They live here as constants until
// desk.Options carries them.
const (
	SessionIdle      = 30 * time.Minute // since the last use
	SessionMax       = 12 * time.Hour   // since the login, however busy
	sessionTouchStep = time.Minute      // last use is written at most this often

	LoginMaxFailures   = 5                // failed logins…
	LoginFailureWindow = 15 * time.Minute // …within this long…
	LoginLockout       = 15 * time.Minute // …refuse logins for this long
)

// Session is a logged-in agent's dashboard session.
type Session struct {
	Agent string
	// CSRF is the session's form token, sent back in every form.
	CSRF string
	// Lang is the dashboard language the agent chose, "fr" or "en"; ""
	// when they have not chosen.
	Lang      string
	Via       string // password | proxy
	CreatedAt time.Time
	// ExpiresAt is when the session ends unless used again (the idle
	// limit) or at the latest (the absolute limit).
	ExpiresAt time.Time
}

// The ways a session was opened.
const (
	ViaPassword = "password"
	ViaProxy    = "proxy"
)

// Login checks an agent's name and password and opens a session for
// them. It returns the session and its token, which exists only in the
// agent's cookie: the store keeps its SHA-256. Failures are counted per
// name and per remote address in the store, so that every process
// serving the dashboard agrees; past LoginMaxFailures within
// LoginFailureWindow, logins for that name or from that address are
// refused with ErrThrottled for LoginLockout, without checking the
// password. Logins, failures and lockouts are audited; never the password.
func (d *Desk) Login(ctx context.Context, name, password, remoteAddr string) (Session, string, error) {
	name = strings.TrimSpace(name)
	addr := throttleAddress(remoteAddr)
	nameKey := strings.ToLower(name)
	d.logins.Lock()
	defer d.logins.Unlock()
	var throttled bool
	err := d.store.View(ctx, func(tx *store.Tx) error {
		for _, k := range [][2]string{{store.ThrottleAgent, nameKey}, {store.ThrottleAddress, addr}} {
			until, err := tx.LoginLockedUntil(k[0], k[1])
			if err != nil {
				return err
			}
			throttled = throttled || until != nil
		}
		return nil
	})
	if err != nil {
		return Session{}, "", fmt.Errorf("login: %w", err)
	}
	if throttled {
		// Not audited: while locked out, attempts cost nothing and
		// could fill the audit log; the lockout itself is audited.
		d.log.Warn("login refused: throttled", "agent", name, "remote", addr)
		return Session{}, "", ErrThrottled
	}
	a, err := d.Authenticate(ctx, name, password)
	if errors.Is(err, ErrBadCredentials) {
		if err := d.loginFailed(ctx, name, nameKey, addr); err != nil {
			return Session{}, "", fmt.Errorf("login: %w", err)
		}
		return Session{}, "", ErrBadCredentials
	}
	if err != nil {
		return Session{}, "", fmt.Errorf("login: %w", err)
	}
	return d.openSession(ctx, a.Name, addr, ViaPassword, func(tx *store.Tx) error {
		return tx.ClearLoginFailures(store.ThrottleAgent, nameKey)
	})
}

// LoginTrusted opens a session for an agent a trusted reverse proxy
// vouches for (single sign-on): no password, but the agent must exist and
// be active (ErrBadCredentials otherwise, audited like a failed login).
func (d *Desk) LoginTrusted(ctx context.Context, name, remoteAddr string) (Session, string, error) {
	name = strings.TrimSpace(name)
	addr := throttleAddress(remoteAddr)
	var active bool
	err := d.store.View(ctx, func(tx *store.Tx) error {
		a, _, err := tx.Agent(name)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		active = err == nil && a.Active()
		return err
	})
	if err != nil {
		return Session{}, "", fmt.Errorf("login through the proxy: %w", err)
	}
	if !active {
		err := d.store.Update(ctx, func(tx *store.Tx) error {
			return tx.Audit(0, auditActor(name), "login_failed", map[string]string{"remote_addr": addr, "via": ViaProxy,
				"reason": "no such active agent"})
		})
		if err != nil {
			return Session{}, "", fmt.Errorf("login through the proxy: %w", err)
		}
		return Session{}, "", ErrBadCredentials
	}
	return d.openSession(ctx, name, addr, ViaProxy, nil)
}

// auditActor is the actor of a login event: the name tried when it is
// one an agent could have, a placeholder otherwise.
func auditActor(name string) string {
	if n, err := CheckAgent(name); err == nil {
		return n
	}
	return "invalid-name"
}

func (d *Desk) loginFailed(ctx context.Context, name, nameKey, addr string) error {
	var locked [2]bool
	err := d.store.Update(ctx, func(tx *store.Tx) error {
		for i, k := range [][2]string{{store.ThrottleAgent, nameKey}, {store.ThrottleAddress, addr}} {
			var err error
			if locked[i], err = tx.RecordLoginFailure(k[0], k[1], LoginFailureWindow, LoginMaxFailures, LoginLockout); err != nil {
				return err
			}
		}
		actor := auditActor(name)
		if err := tx.Audit(0, actor, "login_failed", map[string]string{"remote_addr": addr, "via": ViaPassword,
			"reason": "wrong name or password"}); err != nil {
			return err
		}
		for i, scope := range []string{store.ThrottleAgent, store.ThrottleAddress} {
			if locked[i] {
				if err := tx.Audit(0, actor, "login_throttled", map[string]string{"remote_addr": addr, "scope": scope,
					"until": tx.Now().Add(LoginLockout).Format(time.RFC3339)}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil && (locked[0] || locked[1]) {
		d.log.Warn("logins locked out", "agent", name, "remote", addr, "for", LoginLockout)
	}
	return err
}

func (d *Desk) openSession(ctx context.Context, agent, addr, via string, also func(*store.Tx) error) (Session, string, error) {
	token, hash, err := newToken()
	if err != nil {
		return Session{}, "", err
	}
	csrf, _, err := newToken()
	if err != nil {
		return Session{}, "", err
	}
	var s Session
	err = d.store.Update(ctx, func(tx *store.Tx) error {
		now := tx.Now()
		if _, err := tx.PruneSessions(now.Add(-SessionIdle), now.Add(-SessionMax)); err != nil {
			return err
		}
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		if err := tx.CreateSession(hash, agent, csrf, addr, via); err != nil {
			return err
		}
		ss, err := tx.SessionByHash(hash)
		if err != nil {
			return err
		}
		s = sessionOf(ss)
		return tx.Audit(0, agent, "login", map[string]string{"remote_addr": addr, "via": via})
	})
	if err != nil {
		return Session{}, "", fmt.Errorf("login %q: %w", agent, err)
	}
	d.log.Info("agent logged in", "agent", agent, "remote", addr, "via", via)
	return s, token, nil
}

func sessionOf(ss store.Session) Session {
	exp := ss.LastSeenAt.Add(SessionIdle)
	if max := ss.CreatedAt.Add(SessionMax); max.Before(exp) {
		exp = max
	}
	return Session{Agent: ss.Agent, CSRF: ss.CSRF, Lang: ss.Lang, Via: ss.Via, CreatedAt: ss.CreatedAt, ExpiresAt: exp}
}

// Session returns the live session of a token: ErrSessionExpired when
// there is none, when it was idle SessionIdle or open SessionMax (by the
// store's clock), or when its agent was disabled; an ended session is
// deleted. Its last use is recorded at most once a minute.
func (d *Desk) Session(ctx context.Context, token string) (Session, error) {
	hash, ok := tokenHash(token)
	if !ok {
		return Session{}, ErrSessionExpired
	}
	var ss store.Session
	var now time.Time
	err := d.store.View(ctx, func(tx *store.Tx) error {
		var err error
		ss, err = tx.SessionByHash(hash)
		now = tx.Now()
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrSessionExpired
	}
	if err != nil {
		return Session{}, fmt.Errorf("session: %w", err)
	}
	var why string
	switch {
	case ss.AgentDisabled:
		why = "agent disabled"
	case !now.Before(ss.CreatedAt.Add(SessionMax)):
		why = "too old"
	case !now.Before(ss.LastSeenAt.Add(SessionIdle)):
		why = "idle"
	}
	if why != "" {
		err := d.store.Update(ctx, func(tx *store.Tx) error {
			_, err := tx.DeleteSession(hash)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			return Session{}, fmt.Errorf("session: %w", err)
		}
		d.log.Info("session ended", "agent", ss.Agent, "reason", why)
		return Session{}, fmt.Errorf("%w (%s)", ErrSessionExpired, why)
	}
	if now.Sub(ss.LastSeenAt) >= sessionTouchStep {
		err := d.store.Update(ctx, func(tx *store.Tx) error { return tx.TouchSession(hash) })
		if err != nil {
			return Session{}, fmt.Errorf("session: %w", err)
		}
		ss.LastSeenAt = now
	}
	return sessionOf(ss), nil
}

// Logout ends the session of a token on the server, audited; a token of
// no live session is no error.
func (d *Desk) Logout(ctx context.Context, token string) error {
	hash, ok := tokenHash(token)
	if !ok {
		return nil
	}
	var agent string
	err := d.store.Update(ctx, func(tx *store.Tx) error {
		var err error
		agent, err = tx.DeleteSession(hash)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return tx.Audit(0, agent, "logout", nil)
	})
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	if agent != "" {
		d.log.Info("agent logged out", "agent", agent)
	}
	return nil
}

// Languages are the dashboard's languages.
func Languages() []string { return []string{"fr", "en"} }

// SetLanguage remembers the dashboard language an agent chose.
func (d *Desk) SetLanguage(ctx context.Context, agent, lang string) error {
	if lang != "fr" && lang != "en" {
		return fmt.Errorf("%w %q (want fr or en)", ErrBadLanguage, lang)
	}
	err := d.store.Update(ctx, func(tx *store.Tx) error { return tx.SetAgentLang(agent, lang) })
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %q", ErrUnknownAgent, agent)
	}
	return err
}

// tokenBytes is the size of session tokens: 256 bits of randomness.
const tokenBytes = 32

// newToken returns a random token as sent (unpadded base64url) and its
// SHA-256, as stored.
func newToken() (string, []byte, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("session token: %w", err)
	}
	h := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(b), h[:], nil
}

func tokenHash(token string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != tokenBytes {
		return nil, false
	}
	h := sha256.Sum256(b)
	return h[:], true
}

// throttleAddress is the key logins from remoteAddr ("ip:port" or "ip")
// are counted under: the IPv4 address, or the IPv6 /64, which one
// customer line usually gets whole.
func throttleAddress(remoteAddr string) string {
	ap, err := netip.ParseAddrPort(remoteAddr)
	a := ap.Addr()
	if err != nil {
		if a, err = netip.ParseAddr(remoteAddr); err != nil {
			return remoteAddr
		}
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
