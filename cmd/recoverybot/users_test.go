package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// runIn runs a command with stdin as its standard input.
func (c *cli) runIn(stdin string, args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, env{stdin: strings.NewReader(stdin), stdout: &o, stderr: &e, getenv: func(k string) string { return c.env[k] }, now: c.now})
	return code, o.String(), e.String()
}

func TestUsersCommands(t *testing.T) {
	c := newCLI(t)
	if out := c.ok("users", "list"); !strings.Contains(out, "no agents") {
		t.Errorf("empty list: %q", out)
	}
	if out := c.ok("users", "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("empty list --json: %q, want []", out)
	}
	code, out, errOut := c.runIn("a long secret phrase\n", "users", "add", "alice")
	if code != 0 || !strings.Contains(out, "agent alice added") || errOut != "" {
		t.Fatalf("users add: %d %q %q", code, out, errOut)
	}
	if strings.Contains(out+errOut, "secret") {
		t.Error("the password was printed")
	}
	for _, tc := range []struct{ stdin, want string }{
		{"another long phrase\n", "exists"},
		{"", "no password on standard input"},
	} {
		code, out, errOut := c.runIn(tc.stdin, "users", "add", "alice")
		if code == 0 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("users add alice with %q: %d %q %q, want one line saying %q", tc.stdin, code, out, errOut, tc.want)
		}
	}
	if code, _, errOut := c.runIn("short\r\n", "users", "add", "bob"); code == 0 || !strings.Contains(errOut, "at least 12 characters") {
		t.Errorf("short password: %d %q", code, errOut)
	}
	if code, _, errOut := c.runIn("bob's long phrase\r\n", "users", "add", "bob"); code != 0 {
		t.Fatalf("users add bob: %s", errOut)
	}
	c.ok("users", "disable", "alice")
	c.fails("no such agent", "users", "disable", "carol")
	c.fails("missing NAME", "users", "add")

	var list []struct {
		Name       string  `json:"name"`
		DisabledAt *string `json:"disabled_at"`
	}
	if err := json.Unmarshal([]byte(c.ok("users", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "alice" || list[0].DisabledAt == nil || list[1].Name != "bob" || list[1].DisabledAt != nil {
		t.Errorf("users list --json = %+v", list)
	}
	table := c.ok("users", "list")
	if !strings.Contains(table, "NAME") || !strings.Contains(table, "disabled") || !strings.Contains(table, "active") {
		t.Errorf("users list:\n%s", table)
	}
	// The operator's changes are in the audit chain, which still holds.
	if code, _, errOut := c.runIn("", "audit", "verify"); code != 0 {
		t.Errorf("audit verify after user changes: %s", errOut)
	}
}
