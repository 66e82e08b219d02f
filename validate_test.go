package recoverybot

import (
	"strings"
	"testing"
)

func TestValidSIREN(t *testing.T) {
	for _, ok := range []string{"732829320", "552 100 554", "443061841"} {
		if !ValidSIREN(ok) {
			t.Errorf("ValidSIREN(%q) = false", ok)
		}
	}
	for _, bad := range []string{"732829321", "12345678", "1234567890", "73282932A", ""} {
		if ValidSIREN(bad) {
			t.Errorf("ValidSIREN(%q) = true", bad)
		}
	}
}

func TestValidRNA(t *testing.T) {
	if !ValidRNA("W751234567") || !ValidRNA("w751234567") {
		t.Error("valid RNA refused")
	}
	for _, bad := range []string{"751234567", "W75123456", "W7512345678", "X751234567", "W75123456A"} {
		if ValidRNA(bad) {
			t.Errorf("ValidRNA(%q) = true", bad)
		}
	}
}

func TestProfileValidate(t *testing.T) {
	good := Profile{ID: "p-1", Email: "Jean.Dupont@Example.ORG", HolderKind: "individual", HolderName: "Jean Dupont"}
	p, err := good.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if p.Email != "jean.dupont@example.org" || p.Locale != "fr" {
		t.Errorf("normalised = %+v", p)
	}
	tests := []struct {
		name   string
		mutate func(*Profile)
		want   string
	}{
		{"no id", func(p *Profile) { p.ID = " " }, "id is empty"},
		{"bad email", func(p *Profile) { p.Email = "jean@" }, "invalid email"},
		{"display name", func(p *Profile) { p.Email = "Jean <jean@example.org>" }, "invalid email"},
		{"two addresses", func(p *Profile) { p.Email = "a@example.org, b@example.org" }, "invalid email"},
		{"holder kind", func(p *Profile) { p.HolderKind = "trust" }, "holder_kind"},
		{"company without gérant", func(p *Profile) { p.HolderKind = "company" }, "representative is required"},
		{"association without président", func(p *Profile) { p.HolderKind = "association" }, "representative is required"},
		{"bad siren", func(p *Profile) { p.SIREN = "732829321" }, "Luhn"},
		{"bad rna", func(p *Profile) { p.RNA = "W12" }, "rna"},
		{"bad locale", func(p *Profile) { p.Locale = "de" }, "locale"},
		{"no holder name", func(p *Profile) { p.HolderName = "" }, "holder_name"},
	}
	for _, tt := range tests {
		p := good
		tt.mutate(&p)
		_, err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}
