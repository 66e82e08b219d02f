package mailaddr

import (
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/recoverybot/recoverybot"
)

// TestNormalize: precomposed and decomposed spellings of a local part
// are one address; case and compatibility forms stay apart.
func TestNormalize(t *testing.T) {
	nfc := "jos\u00e9@example.org"  // é precomposed
	nfd := "jose\u0301@example.org" // e + combining acute
	tests := []struct {
		a, b  string
		equal bool
	}{
		{nfc, nfd, true},
		{"Jos\u00e9@Example.ORG", "jose\u0301@example.org", true},
		{"JOS\u00c9@example.org", nfc, false},               // É is not é: no Unicode case folding
		{"\u017Fam@example.org", "sam@example.org", false},  // long s
		{"\uFB01le@example.org", "file@example.org", false}, // the fi ligature: NFKC would fold it, NFC does not
		{"jean@example.org", "jean@example.org", true},
	}
	for _, tt := range tests {
		a, err := Normalize(tt.a)
		if err != nil {
			t.Fatalf("%q: %v", tt.a, err)
		}
		b, err := Normalize(tt.b)
		if err != nil {
			t.Fatalf("%q: %v", tt.b, err)
		}
		if (a == b) != tt.equal {
			t.Errorf("%q (%q) and %q (%q): equal %v, want %v", tt.a, a, tt.b, b, a == b, tt.equal)
		}
	}
	if n, _ := Normalize(nfd); n != nfc {
		t.Errorf("NFD %+q normalised to %+q, want %+q", nfd, n, nfc)
	}
	for _, bidi := range []string{"jean\u202E@example.org", "jo\u200Fs\u00e9@example.org", "jean@example\u2066.org"} {
		if n, err := Normalize(bidi); err == nil {
			t.Errorf("%+q accepted as %+q", bidi, n)
		}
	}
}

// TestASCIITwins: every character that NFC turns into ASCII (the Kelvin
// sign is K) is refused, here and by the root package, so that no
// non-ASCII address becomes an ASCII one.
func TestASCIITwins(t *testing.T) {
	twins := 0
	for r := rune(0x80); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		n := norm.NFC.String(string(r))
		ascii := true
		for i := 0; i < len(n); i++ {
			ascii = ascii && n[i] < 0x80
		}
		if !ascii {
			continue
		}
		twins++
		addr := "a" + string(r) + "b@example.org"
		if got, err := Normalize(addr); err == nil {
			t.Errorf("%+q (NFC %q) accepted as %q", addr, n, got)
		}
		if got, err := recoverybot.NormalizeAddress(addr); err == nil {
			t.Errorf("root: %+q (NFC %q) accepted as %q", addr, n, got)
		}
	}
	if twins == 0 {
		t.Error("no twin found: the scan is broken")
	}
}

// TestKelvinSign: the Kelvin sign never becomes k.
func TestKelvinSign(t *testing.T) {
	if got, err := Normalize("\u212Aelly@example.org"); err == nil {
		t.Errorf("accepted as %q", got)
	}
}
