package recoverybot

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestNewCodeShape(t *testing.T) {
	shape := regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$`)
	seen := map[string]bool{}
	for i := 0; i < 2000; i++ {
		c, err := NewCode()
		if err != nil {
			t.Fatal(err)
		}
		if !shape.MatchString(c) {
			t.Fatalf("code %q has the wrong shape", c)
		}
		if seen[c] {
			t.Fatalf("code %q drawn twice in 2000 draws of 40 bits", c)
		}
		seen[c] = true
	}
}

func TestNormalizeCode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"7KQ2-M9XA", "7KQ2M9XA"},
		{"7kq2m9xa", "7KQ2M9XA"},
		{" 7KQ2 M9XA ", "7KQ2M9XA"},
		{"7 K Q 2 - M 9 X A", "7KQ2M9XA"},
		{"OI1L-ABCD", "0111ABCD"},
		{"7KQ2\u00a0M9XA", "7KQ2M9XA"},
		{"7KQ2\u2011M9XA", "7KQ2M9XA"},
	}
	for _, tt := range tests {
		got, err := NormalizeCode(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeCode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "7KQ2-M9X", "7KQ2-M9XAB", "7KQ2_M9XA", "7KQ2-M9X!", "ÉKQ2-M9XA"} {
		if _, err := NormalizeCode(bad); err == nil {
			t.Errorf("NormalizeCode(%q) accepted", bad)
		}
	}
}

func TestCodeCheck(t *testing.T) {
	key, err := NewCodeKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	code, _ := NewCode()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h, err := key.Hash("RC-7KQ2M9", code)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(h, []byte(code)) || bytes.Contains(h, []byte(strings.ReplaceAll(code, "-", ""))) {
		t.Fatal("hash contains the code")
	}
	issued := IssuedCode{Hash: h, IssuedAt: now, ExpiresAt: now.Add(DefaultCodeTTL)}
	lower := strings.ToLower(strings.ReplaceAll(code, "-", " "))
	tests := []struct {
		name      string
		c         IssuedCode
		ref, cand string
		at        time.Time
		want      CodeResult
	}{
		{"right code", issued, "RC-7KQ2M9", code, now.Add(time.Hour), CodeMatch},
		{"typed loosely", issued, "RC-7KQ2M9", lower, now.Add(time.Hour), CodeMatch},
		{"wrong code", issued, "RC-7KQ2M9", "AAAA-AAAA", now, CodeMismatch},
		{"not a code", issued, "RC-7KQ2M9", "hello", now, CodeMismatch},
		{"other case", issued, "RC-22222A", code, now, CodeMismatch},
		{"one second before expiry", issued, "RC-7KQ2M9", code, now.Add(DefaultCodeTTL - time.Second), CodeMatch},
		{"at expiry", issued, "RC-7KQ2M9", code, now.Add(DefaultCodeTTL), CodeExpired},
		{"used", IssuedCode{Hash: h, ExpiresAt: now.Add(time.Hour), UsedAt: &now}, "RC-7KQ2M9", code, now, CodeUsed},
	}
	for _, tt := range tests {
		if got := key.Check(tt.c, tt.ref, tt.cand, tt.at); got != tt.want {
			t.Errorf("%s: Check = %s, want %s", tt.name, got, tt.want)
		}
	}
	other, _ := NewCodeKey(bytes.Repeat([]byte{8}, 32))
	if other.Check(issued, "RC-7KQ2M9", code, now) != CodeMismatch {
		t.Error("a code checked under another server secret matched")
	}
	if _, err := NewCodeKey([]byte("short")); err == nil {
		t.Error("short key accepted")
	}
}

func TestRefs(t *testing.T) {
	shape := regexp.MustCompile(`^RC-[2-9A-HJKMNP-Z]{6}$`)
	for i := 0; i < 1000; i++ {
		r, err := NewRef()
		if err != nil {
			t.Fatal(err)
		}
		if !shape.MatchString(r) || strings.ContainsAny(r[3:], "01OIL") {
			t.Fatalf("ref %q has an ambiguous or wrong shape", r)
		}
		if got, err := ParseRef(strings.ToLower(r)); err != nil || got != r {
			t.Fatalf("ParseRef(%q) = %q, %v", strings.ToLower(r), got, err)
		}
	}
	for _, bad := range []string{"", "RC-", "RC-12345", "RC-ABCDE0", "RC-ABCDEFG", "XX-ABCDEF"} {
		if _, err := ParseRef(bad); err == nil {
			t.Errorf("ParseRef(%q) accepted", bad)
		}
	}
	if got, err := ParseRef("rc7kq2m9"); err != nil || got != "RC-7KQ2M9" {
		t.Errorf("ParseRef(rc7kq2m9) = %q, %v", got, err)
	}
}

// TestNewCodeEntropy pins the code's 40 bits: eight symbols of the whole
// Crockford alphabet, each uniform and independent of its neighbour and
// of its place in the other group, and no repeat in 20,000 codes. A
// generator of half the entropy fails it: 16 symbols fail the
// distribution, 20 random bits spread over eight symbols fail the pairs
// and repeat (about 190 repeats expected, against one run in 5,000 with
// 40 bits).
func TestNewCodeEntropy(t *testing.T) {
	if CodeAlphabet != "0123456789ABCDEFGHJKMNPQRSTVWXYZ" || CodeLength != 8 {
		t.Fatalf("code alphabet %q, length %d: want Crockford base32, 8 symbols", CodeAlphabet, CodeLength)
	}
	const n = 20000
	var counts [CodeLength][32]int
	pairs := map[[2]int]*[32 * 32]int{}
	for _, p := range [][2]int{{0, 1}, {3, 4}, {6, 7}, {0, 4}, {1, 5}, {2, 6}, {3, 7}} {
		pairs[p] = new([32 * 32]int)
	}
	seen := make(map[string]bool, n)
	for i := 0; i < n; i++ {
		c, err := NewCode()
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != CodeLength+1 || c[4] != '-' {
			t.Fatalf("code %q is not XXXX-XXXX", c)
		}
		sym := c[:4] + c[5:]
		if seen[sym] {
			t.Fatalf("code %q drawn twice in %d draws", c, i+1)
		}
		seen[sym] = true
		var idx [CodeLength]int
		for p := 0; p < CodeLength; p++ {
			idx[p] = strings.IndexByte(CodeAlphabet, sym[p])
			if idx[p] < 0 {
				t.Fatalf("code %q has %q, not in the alphabet", c, sym[p])
			}
			counts[p][idx[p]]++
		}
		for p, cells := range pairs {
			cells[idx[p[0]]*32+idx[p[1]]]++
		}
	}
	// chi² against the uniform law. 31 degrees of freedom: mean 31, sd 7.9;
	// 1023: mean 1023, sd 45. The bounds are about 7 sd away.
	chi2 := func(cells []int) float64 {
		expected := float64(n) / float64(len(cells))
		var x float64
		for _, o := range cells {
			d := float64(o) - expected
			x += d * d / expected
		}
		return x
	}
	for p := range counts {
		if x := chi2(counts[p][:]); x > 90 {
			t.Errorf("position %d: chi² %.0f over 31 degrees of freedom: its symbols are not uniform (%v)", p, x, counts[p])
		}
	}
	for p, cells := range pairs {
		if x := chi2(cells[:]); x > 1340 {
			t.Errorf("positions %d and %d: chi² %.0f over 1023 degrees of freedom: they are not independent", p[0], p[1], x)
		}
	}
}
