package desk

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/store"
)

func TestPasswordHashes(t *testing.T) {
	h, err := hashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h, "correct horse") {
		t.Errorf("hash %q: not argon2id in PHC form, or holds the password", h)
	}
	if h2, _ := hashPassword("correct horse battery"); h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false, "": false} {
		if ok, err := checkPassword(h, pw); err != nil || ok != want {
			t.Errorf("checkPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	// The parameters are read from the hash: the dummy one checks.
	if ok, err := checkPassword(dummyHash, "recoverybot: no such agent"); err != nil || !ok {
		t.Errorf("dummy hash: %v, %v", ok, err)
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=19456,t=2,p=1$!!$aGFzaA"} {
		if _, err := checkPassword(bad, "x"); !errors.Is(err, errBadHash) {
			t.Errorf("checkPassword(%q) = %v, want errBadHash", bad, err)
		}
	}
}

func TestAgentsLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.desk.AddAgent(ctx, "alice", "short"); !errors.Is(err, ErrWeakPassword) {
		t.Errorf("short password: %v, want ErrWeakPassword", err)
	}
	if _, err := f.desk.AddAgent(ctx, "", "long enough password"); !errors.Is(err, ErrNoAgent) {
		t.Errorf("no name: %v", err)
	}
	if _, err := f.desk.AddAgent(ctx, "alice", strings.Repeat("x", MaxPasswordLen+1)); !errors.Is(err, ErrBadPassword) {
		t.Errorf("huge password: %v", err)
	}
	a, err := f.desk.AddAgent(ctx, " alice ", "a long secret phrase")
	if err != nil || a.Name != "alice" || !a.Active() {
		t.Fatalf("AddAgent = %+v, %v", a, err)
	}
	if _, err := f.desk.AddAgent(ctx, "alice", "another long phrase"); !errors.Is(err, ErrAgentExists) {
		t.Errorf("second alice: %v, want ErrAgentExists", err)
	}
	if _, err := f.desk.AddAgent(ctx, "bob", "bob's long phrase!"); err != nil {
		t.Fatal(err)
	}

	got, err := f.desk.Authenticate(ctx, "alice", "a long secret phrase")
	if err != nil || got.Name != "alice" {
		t.Errorf("Authenticate = %+v, %v", got, err)
	}
	for _, c := range []struct{ name, pw string }{{"alice", "a long secret phrasE"}, {"carol", "a long secret phrase"}, {"alice", ""}} {
		if _, err := f.desk.Authenticate(ctx, c.name, c.pw); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("Authenticate(%q, %q) = %v, want ErrBadCredentials", c.name, c.pw, err)
		}
	}

	if err := f.desk.DisableAgent(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := f.desk.DisableAgent(ctx, "alice"); err != nil {
		t.Errorf("disabling again: %v, want no error", err)
	}
	if err := f.desk.DisableAgent(ctx, "carol"); !errors.Is(err, ErrUnknownAgent) {
		t.Errorf("disable unknown: %v", err)
	}
	if _, err := f.desk.Authenticate(ctx, "alice", "a long secret phrase"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("a disabled agent logs in: %v", err)
	}
	list, err := f.desk.Agents(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "alice" || list[0].Active() || list[1].Name != "bob" || !list[1].Active() {
		t.Errorf("Agents = %+v, %v", list, err)
	}

	// Each change is audited, once, as the operator's.
	var actions []string
	err = f.st.View(ctx, func(tx *store.Tx) error {
		evs, err := tx.AuditEvents(store.AuditFilter{})
		for _, e := range evs {
			if strings.HasPrefix(e.Action, "agent_") {
				if e.Actor != recoverybot.OperatorActor {
					t.Errorf("%s by %q", e.Action, e.Actor)
				}
				actions = append(actions, e.Action+" "+e.Details["agent"])
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(actions, ", ") != "agent_added alice, agent_added bob, agent_disabled alice" {
		t.Errorf("audit: %v", actions)
	}

	// The password is nowhere in the data directory.
	f.st.Close()
	entries, _ := os.ReadDir(filepath.Dir(f.path))
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(filepath.Dir(f.path), e.Name()))
		if bytes.Contains(b, []byte("a long secret phrase")) {
			t.Errorf("%s holds a password in clear", e.Name())
		}
	}
}
