package recoverybot

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAction(t *testing.T) {
	for _, a := range Actions {
		if got, err := ParseAction(" " + strings.ToUpper(string(a)) + " "); err != nil || got != a {
			t.Errorf("ParseAction(%q) = %q, %v", a, got, err)
		}
	}
	for _, s := range []string{"", "reset_password", "change-email"} {
		if _, err := ParseAction(s); !errors.Is(err, ErrUnknownAction) {
			t.Errorf("ParseAction(%q) = %v, want ErrUnknownAction", s, err)
		}
	}
}

func TestOneLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"ok", 10, "ok"},
		{"  done:\r\n  id 42\t\x1b[31m ", 100, "done: id 42 [31m"},
		{"abcdef", 3, "abc"},
		{"ab cd", 3, "ab"},
		{"éé", 3, "é"},
		{"a\u2028b", 10, "a b"},
		{"a\xffb", 10, "a\uFFFDb"},
	} {
		if got := OneLine(tc.in, tc.max); got != tc.want {
			t.Errorf("OneLine(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestNewActionKey(t *testing.T) {
	a, err := NewActionKey()
	b, _ := NewActionKey()
	if err != nil || len(a) != 32 || a == b {
		t.Errorf("NewActionKey = %q, %q, %v", a, b, err)
	}
}
