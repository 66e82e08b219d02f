package recoverybot

import "testing"

// TestNormalizeAddress: ASCII letters lose their case and nothing else
// does (no Unicode case folding: the Kelvin sign is not k), and bidi
// controls are refused (SPEC §4).
func TestNormalizeAddress(t *testing.T) {
	tests := []struct {
		in, want string // want "" for refused
	}{
		{"Jean.Dupont@Example.ORG", "jean.dupont@example.org"},
		{"jean+tag@example.org", "jean+tag@example.org"},
		{"  jean@example.org ", "jean@example.org"},
		// The Kelvin sign (U+212A) lower-cases to k under Unicode rules,
		// and is K in NFC: refused, like the other two such characters.
		{"\u212Aelly@example.org", ""},
		{"kelly@\u212Aexample.org", ""},
		{"a\u037Eb@example.org", ""},
		{"a\u1FEFb@example.org", ""},
		{"\u212Belle@example.org", "\u212Belle@example.org"}, // the Angstrom sign is Å in NFC: not ASCII
		// Long s (U+017F) folds to s; capital I with dot (U+0130) to i.
		{"\u017Fam@example.org", "\u017Fam@example.org"},
		{"\u0130van@example.org", "\u0130van@example.org"},
		// Only the ASCII letters of a non-ASCII local part change.
		{"JOSÉ@Example.org", "josÉ@example.org"},
		{"jean@example", ""},
		{"Jean <jean@example.org>", ""},
		{"jean@example.org, x@example.org", ""},
		{"jean\r\n@example.org", ""},
		// Bidi controls: an address that displays as another.
		{"jean\u202Egro.elpmaxe@example.org", ""},
		{"jean\u202A@example.org", ""},
		{"jean\u202B@example.org", ""},
		{"jean\u202C@example.org", ""},
		{"jean\u202D@example.org", ""},
		{"jean@exa\u2066mple.org", ""},
		{"jean\u2067@example.org", ""},
		{"jean\u2068@example.org", ""},
		{"jean\u2069@example.org", ""},
		{"jean\u200E@example.org", ""},
		{"jean\u200F@example.org", ""},
		{"jean\u061C@example.org", ""},
	}
	for _, tt := range tests {
		got, err := NormalizeAddress(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("%q: %q accepted", tt.in, got)
		case tt.want != "" && (err != nil || got != tt.want):
			t.Errorf("%q: %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if k, err := NormalizeAddress("\u212Aelly@example.org"); err == nil && k == "kelly@example.org" {
		t.Errorf("the Kelvin sign matches an ASCII K: %q", k)
	}
}
