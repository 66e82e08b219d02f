package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Session is a dashboard session as stored: the token itself is never
// stored, only its SHA-256.
type Session struct {
	Agent      string
	CSRF       string
	RemoteAddr string
	Via        string // password | proxy
	CreatedAt  time.Time
	LastSeenAt time.Time
	// From the agent's row.
	Lang          string
	AgentDisabled bool
}

// CreateSession records a new session for agent under the hash of its
// token, at the transaction's time.
func (t *Tx) CreateSession(tokenHash []byte, agent, csrf, remoteAddr, via string) error {
	_, err := t.tx.Exec(`INSERT INTO sessions (token_hash, agent, csrf, remote_addr, via, created_at, last_seen_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, tokenHash, agent, csrf, remoteAddr, via, ts(t.now), ts(t.now))
	if err != nil {
		return fmt.Errorf("create session for %q: %w", agent, err)
	}
	return nil
}

// SessionByHash returns the session whose token hashes to tokenHash, or
// ErrNotFound.
func (t *Tx) SessionByHash(tokenHash []byte) (Session, error) {
	var s Session
	var created, seen string
	var disabled sql.NullString
	err := t.tx.QueryRow(`SELECT s.agent, s.csrf, s.remote_addr, s.via, s.created_at, s.last_seen_at, a.lang, a.disabled_at
		FROM sessions s JOIN agents a ON a.name = s.agent WHERE s.token_hash = ?`, tokenHash).
		Scan(&s.Agent, &s.CSRF, &s.RemoteAddr, &s.Via, &created, &seen, &s.Lang, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return s, fmt.Errorf("read session: %w", err)
	}
	if s.CreatedAt, err = parseTS(created); err != nil {
		return s, err
	}
	if s.LastSeenAt, err = parseTS(seen); err != nil {
		return s, err
	}
	s.AgentDisabled = disabled.Valid
	return s, nil
}

// TouchSession records that the session was used now.
func (t *Tx) TouchSession(tokenHash []byte) error {
	if _, err := t.tx.Exec(`UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?`, ts(t.now), tokenHash); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession ends a session and returns whose it was, or ErrNotFound.
func (t *Tx) DeleteSession(tokenHash []byte) (agent string, _ error) {
	err := t.tx.QueryRow(`DELETE FROM sessions WHERE token_hash = ? RETURNING agent`, tokenHash).Scan(&agent)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("delete session: %w", err)
	}
	return agent, nil
}

// DeleteAgentSessions ends every session of an agent.
func (t *Tx) DeleteAgentSessions(agent string) error {
	if _, err := t.tx.Exec(`DELETE FROM sessions WHERE agent = ?`, agent); err != nil {
		return fmt.Errorf("delete sessions of %q: %w", agent, err)
	}
	return nil
}

// PruneSessions deletes the sessions last used before idleBefore or
// created before createdBefore: those that have expired.
func (t *Tx) PruneSessions(idleBefore, createdBefore time.Time) (int64, error) {
	res, err := t.tx.Exec(`DELETE FROM sessions WHERE last_seen_at < ? OR created_at < ?`, ts(idleBefore), ts(createdBefore))
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	return res.RowsAffected()
}

// SetAgentLang records the dashboard language an agent chose, or
// ErrNotFound.
func (t *Tx) SetAgentLang(name, lang string) error {
	res, err := t.tx.Exec(`UPDATE agents SET lang = ?, updated_at = ? WHERE name = ?`, lang, ts(t.now), name)
	if err != nil {
		return fmt.Errorf("set language of %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("agent %q: %w", name, ErrNotFound)
	}
	return nil
}

// The scopes of the login throttle.
const (
	ThrottleAgent   = "agent"   // the name tried
	ThrottleAddress = "address" // the remote address (an IPv6 /64)
)

// LoginLockedUntil returns until when logins for key in scope are
// refused, or nil when they are not.
func (t *Tx) LoginLockedUntil(scope, key string) (*time.Time, error) {
	var locked sql.NullString
	err := t.tx.QueryRow(`SELECT locked_until FROM login_throttle WHERE scope = ? AND key = ?`, scope, key).Scan(&locked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read login throttle: %w", err)
	}
	until, err := parseNullTS(locked)
	if err != nil || until == nil || !until.After(t.now) {
		return nil, err
	}
	return until, nil
}

// RecordLoginFailure counts a failed login for key in scope: failures
// within window of the first one counted add up, and the max-th locks
// logins for key out for lockout (then counting starts again). It
// reports whether this failure set the lock.
func (t *Tx) RecordLoginFailure(scope, key string, window time.Duration, max int, lockout time.Duration) (locked bool, _ error) {
	var failures int
	var start string
	err := t.tx.QueryRow(`SELECT failures, window_start FROM login_throttle WHERE scope = ? AND key = ?`, scope, key).
		Scan(&failures, &start)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		failures, start = 0, ts(t.now)
	case err != nil:
		return false, fmt.Errorf("read login throttle: %w", err)
	}
	began, err := parseTS(start)
	if err != nil {
		return false, err
	}
	if t.now.Sub(began) >= window {
		failures, began = 0, t.now
	}
	failures++
	var until any
	if failures >= max {
		until, locked = ts(t.now.Add(lockout)), true
		failures, began = 0, t.now
	}
	_, err = t.tx.Exec(`INSERT INTO login_throttle (scope, key, failures, window_start, locked_until) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (scope, key) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start,
			locked_until = coalesce(excluded.locked_until, login_throttle.locked_until)`,
		scope, key, failures, ts(began), until)
	if err != nil {
		return false, fmt.Errorf("record login failure: %w", err)
	}
	return locked, nil
}

// ClearLoginFailures forgets the failures counted for key in scope (after
// a successful login), unless logins for it are locked out.
func (t *Tx) ClearLoginFailures(scope, key string) error {
	_, err := t.tx.Exec(`DELETE FROM login_throttle WHERE scope = ? AND key = ? AND (locked_until IS NULL OR locked_until <= ?)`,
		scope, key, ts(t.now))
	if err != nil {
		return fmt.Errorf("clear login failures: %w", err)
	}
	return nil
}
