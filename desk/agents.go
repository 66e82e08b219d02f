package desk

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/store"
)

// The errors of agents' logins.
var (
	ErrAgentExists    = errors.New("desk: an agent of that name exists")
	ErrUnknownAgent   = errors.New("desk: no such agent")
	ErrWeakPassword   = errors.New("desk: password too short")
	ErrBadPassword    = errors.New("desk: password too long or not UTF-8")
	ErrBadCredentials = errors.New("desk: wrong name or password")
)

// checkNewPassword applies the password rules.
func checkNewPassword(pw string) error {
	switch {
	case !utf8.ValidString(pw) || len(pw) > MaxPasswordLen:
		return ErrBadPassword
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return fmt.Errorf("%w: at least %d characters", ErrWeakPassword, MinPasswordLen)
	}
	return nil
}

// AddAgent gives a new agent a dashboard login, audited as done by the
// operator. The password is kept only as an argon2id hash.
func (d *Desk) AddAgent(ctx context.Context, name, password string) (recoverybot.Agent, error) {
	name, err := CheckAgent(name)
	if err != nil {
		return recoverybot.Agent{}, err
	}
	if err := checkNewPassword(password); err != nil {
		return recoverybot.Agent{}, err
	}
	hash, err := hashPassword(password)
	if err != nil {
		return recoverybot.Agent{}, err
	}
	var a recoverybot.Agent
	err = d.store.Update(ctx, func(tx *store.Tx) error {
		var err error
		if a, err = tx.AddAgent(name, hash); err != nil {
			return err
		}
		return tx.Audit(0, recoverybot.OperatorActor, "agent_added", map[string]string{"agent": name})
	})
	if errors.Is(err, store.ErrAgentExists) {
		return a, fmt.Errorf("%w: %q", ErrAgentExists, name)
	}
	return a, err
}

// DisableAgent ends an agent's login for good; the audit log keeps their
// name on what they did. Disabling one already disabled is no error.
func (d *Desk) DisableAgent(ctx context.Context, name string) error {
	name, err := CheckAgent(name)
	if err != nil {
		return err
	}
	err = d.store.Update(ctx, func(tx *store.Tx) error {
		changed, err := tx.DisableAgent(name)
		if err != nil || !changed {
			return err
		}
		if err := tx.DeleteAgentSessions(name); err != nil {
			return err
		}
		return tx.Audit(0, recoverybot.OperatorActor, "agent_disabled", map[string]string{"agent": name})
	})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %q", ErrUnknownAgent, name)
	}
	return err
}

// Agents lists every agent, by name.
func (d *Desk) Agents(ctx context.Context) ([]recoverybot.Agent, error) {
	var out []recoverybot.Agent
	err := d.store.View(ctx, func(tx *store.Tx) error {
		var err error
		out, err = tx.Agents()
		return err
	})
	return out, err
}

// dummyHash is checked against when the agent is unknown, so that an
// unknown name costs the time of a wrong password. It is the hash, with
// the parameters of hashPassword, of a password nobody has.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$cmVjb3Zlcnlib3Qtbm9uZQ$z9ddiX7u0rT9LeykoWYlx/aRz6XEMkdqkjGky5hIYNw"

// Authenticate checks an agent's name and password: ErrBadCredentials for
// an unknown name, a disabled agent or a wrong password alike, in about
// the same time.
func (d *Desk) Authenticate(ctx context.Context, name, password string) (recoverybot.Agent, error) {
	var a recoverybot.Agent
	var hash string
	err := d.store.View(ctx, func(tx *store.Tx) error {
		var err error
		a, hash, err = tx.Agent(name)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return recoverybot.Agent{}, err
	}
	if err != nil || len(password) > MaxPasswordLen {
		_, _ = checkPassword(dummyHash, password)
		return recoverybot.Agent{}, ErrBadCredentials
	}
	ok, err := checkPassword(hash, password)
	if err != nil {
		return recoverybot.Agent{}, fmt.Errorf("agent %q: %w", name, err)
	}
	if !ok || !a.Active() {
		return recoverybot.Agent{}, ErrBadCredentials
	}
	return a, nil
}
