package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/recoverybot/recoverybot"
)

// ErrAgentExists is returned by AddAgent for a name already taken.
var ErrAgentExists = errors.New("store: agent exists")

// AddAgent records a new agent with their password hash.
func (t *Tx) AddAgent(name, passwordHash string) (recoverybot.Agent, error) {
	_, err := t.tx.Exec(`INSERT INTO agents (name, password, created_at, updated_at) VALUES (?, ?, ?, ?)`,
		name, passwordHash, ts(t.now), ts(t.now))
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE constraint failed") {
			return recoverybot.Agent{}, fmt.Errorf("agent %q: %w", name, ErrAgentExists)
		}
		return recoverybot.Agent{}, fmt.Errorf("add agent %q: %w", name, err)
	}
	return recoverybot.Agent{Name: name, CreatedAt: t.now}, nil
}

// DisableAgent marks an agent disabled; disabling one already disabled
// changes nothing (changed is false).
func (t *Tx) DisableAgent(name string) (changed bool, _ error) {
	res, err := t.tx.Exec(`UPDATE agents SET disabled_at = ?, updated_at = ? WHERE name = ? AND disabled_at IS NULL`,
		ts(t.now), ts(t.now), name)
	if err != nil {
		return false, fmt.Errorf("disable agent %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, nil
	}
	if _, _, err := t.Agent(name); err != nil {
		return false, err
	}
	return false, nil
}

// Agent returns an agent and their password hash, or ErrNotFound.
func (t *Tx) Agent(name string) (recoverybot.Agent, string, error) {
	var a recoverybot.Agent
	var hash, created string
	var disabled sql.NullString
	err := t.tx.QueryRow(`SELECT name, password, created_at, disabled_at FROM agents WHERE name = ?`, name).
		Scan(&a.Name, &hash, &created, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return a, "", fmt.Errorf("agent %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return a, "", fmt.Errorf("read agent %q: %w", name, err)
	}
	if a.CreatedAt, err = parseTS(created); err != nil {
		return a, "", err
	}
	if a.DisabledAt, err = parseNullTS(disabled); err != nil {
		return a, "", err
	}
	return a, hash, nil
}

// Agents returns every agent, by name.
func (t *Tx) Agents() ([]recoverybot.Agent, error) {
	rows, err := t.tx.Query(`SELECT name, created_at, disabled_at FROM agents ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	defer rows.Close()
	out := []recoverybot.Agent{}
	for rows.Next() {
		var a recoverybot.Agent
		var created string
		var disabled sql.NullString
		if err := rows.Scan(&a.Name, &created, &disabled); err != nil {
			return nil, fmt.Errorf("list agents: %w", err)
		}
		if a.CreatedAt, err = parseTS(created); err != nil {
			return nil, err
		}
		if a.DisabledAt, err = parseNullTS(disabled); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
