package store

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/recoverybot/recoverybot"
)

// PutProfile inserts p or, when a profile with its ID exists, updates it.
// It reports whether the profile was new. p must have been validated.
func (t *Tx) PutProfile(p recoverybot.Profile) (created bool, err error) {
	res, err := t.tx.Exec(`UPDATE profiles SET email = ?, phone = ?, holder_kind = ?, holder_name = ?,
		representative = ?, siren = ?, rna = ?, locale = ?, updated_at = ? WHERE id = ?`,
		p.Email, p.Phone, string(p.HolderKind), p.HolderName, p.Representative, p.SIREN, p.RNA, p.Locale, ts(t.now), p.ID)
	if err != nil {
		return false, fmt.Errorf("update profile %s: %w", p.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return false, nil
	}
	_, err = t.tx.Exec(`INSERT INTO profiles (id, email, phone, holder_kind, holder_name, representative,
		siren, rna, locale, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.Email, p.Phone, string(p.HolderKind), p.HolderName, p.Representative, p.SIREN, p.RNA, p.Locale, ts(t.now), ts(t.now))
	if err != nil {
		return false, fmt.Errorf("insert profile %s: %w", p.ID, err)
	}
	return true, nil
}

// SetProfileEmail changes the address of a profile (a lost-email case
// approved with a new address).
func (t *Tx) SetProfileEmail(id, email string) error {
	res, err := t.tx.Exec(`UPDATE profiles SET email = ?, updated_at = ? WHERE id = ?`, email, ts(t.now), id)
	if err != nil {
		return fmt.Errorf("set profile %s email: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("profile %s: %w", id, ErrNotFound)
	}
	return nil
}

const profileColumns = `id, email, phone, holder_kind, holder_name, representative, siren, rna, locale`

func scanProfile(row interface{ Scan(...any) error }) (recoverybot.Profile, error) {
	var p recoverybot.Profile
	var hk string
	err := row.Scan(&p.ID, &p.Email, &p.Phone, &hk, &p.HolderName, &p.Representative, &p.SIREN, &p.RNA, &p.Locale)
	p.HolderKind = recoverybot.HolderKind(hk)
	return p, err
}

// Profile returns the profile with the given ID, or ErrNotFound.
func (t *Tx) Profile(id string) (recoverybot.Profile, error) {
	p, err := scanProfile(t.tx.QueryRow(`SELECT `+profileColumns+` FROM profiles WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("profile %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("read profile %q: %w", id, err)
	}
	return p, nil
}

// Profiles returns every profile, ordered by ID.
func (t *Tx) Profiles() ([]recoverybot.Profile, error) {
	rows, err := t.tx.Query(`SELECT ` + profileColumns + ` FROM profiles ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	defer rows.Close()
	out := []recoverybot.Profile{}
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, fmt.Errorf("list profiles: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ProfilesByEmail returns the profiles whose address is email (normalised).
func (t *Tx) ProfilesByEmail(email string) ([]recoverybot.Profile, error) {
	rows, err := t.tx.Query(`SELECT `+profileColumns+` FROM profiles WHERE email = ? ORDER BY id`, email)
	if err != nil {
		return nil, fmt.Errorf("profiles by email: %w", err)
	}
	defer rows.Close()
	out := []recoverybot.Profile{}
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, fmt.Errorf("profiles by email: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
