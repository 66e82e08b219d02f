package recoverybot

import "testing"

// FuzzNormalizeCode: whatever a customer types, normalising never panics
// and yields 8 code symbols or an error; normalising is idempotent.
func FuzzNormalizeCode(f *testing.F) {
	for _, s := range []string{"7KQ2-M9XA", "7kq2 m9xa", "OIL1-UUUU", "", "ÉÉÉÉ-ÉÉÉÉ", "7KQ2\u00a0M9XA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := NormalizeCode(s)
		if err != nil {
			return
		}
		if len(c) != CodeLength {
			t.Fatalf("NormalizeCode(%q) = %q", s, c)
		}
		if again, err := NormalizeCode(c); err != nil || again != c {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, c, again, err)
		}
	})
}

// FuzzParseRef: a reference typed by anyone parses to the canonical form
// or fails.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"RC-7KQ2M9", "rc7kq2m9", "RC-", "RC-0000OO"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			return
		}
		if again, err := ParseRef(r); err != nil || again != r || len(r) != len(RefPrefix)+RefLength {
			t.Fatalf("ParseRef(%q) = %q; again %q, %v", s, r, again, err)
		}
	})
}
