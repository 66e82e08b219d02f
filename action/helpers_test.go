package action_test

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

// clock is a test clock, safe to read from the receiver's goroutine.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testVault(t *testing.T) *vault.Vault {
	t.Helper()
	v, err := vault.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func openStore(t *testing.T, path string, clk *clock) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), path, testVault(t), store.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newStore(t *testing.T, clk *clock) (*store.Store, string) {
	path := filepath.Join(t.TempDir(), "recoverybot.db")
	return openStore(t, path, clk), path
}

// queue opens a case for a new profile and queues its action, due now.
func queue(t *testing.T, st *store.Store, profile string, a recoverybot.Action) recoverybot.ActionCall {
	t.Helper()
	var call recoverybot.ActionCall
	err := st.Update(context.Background(), func(tx *store.Tx) error {
		p := recoverybot.Profile{ID: profile, Email: profile + "@example.org", HolderKind: recoverybot.HolderIndividual,
			HolderName: "Holder " + profile, Locale: "fr"}
		if _, err := tx.PutProfile(p); err != nil {
			return err
		}
		ref, err := recoverybot.NewRef()
		if err != nil {
			return err
		}
		c := recoverybot.Case{Ref: ref, ProfileID: profile, Kind: recoverybot.KindTOTPLockout, Contact: p.Email,
			State: recoverybot.StateApproved, OpenedBy: "alice", OpenedAt: tx.Now(), UpdatedAt: tx.Now()}
		if err := tx.InsertCase(&c); err != nil {
			return err
		}
		call = recoverybot.ActionCall{CaseID: c.ID, CaseRef: c.Ref, ProfileID: profile, Action: a,
			Approvers: []string{"alice"}, ApprovedAt: tx.Now(), NotBefore: tx.Now()}
		if a == recoverybot.ActionChangeEmail {
			call.NewEmail = "new@example.org"
			call.Approvers = append(call.Approvers, "bob")
		}
		return tx.QueueAction(&call)
	})
	if err != nil {
		t.Fatal(err)
	}
	return call
}

func callOf(t *testing.T, st *store.Store, id int64) recoverybot.ActionCall {
	t.Helper()
	var c recoverybot.ActionCall
	if err := st.View(context.Background(), func(tx *store.Tx) (err error) { c, err = tx.ActionCall(id); return err }); err != nil {
		t.Fatal(err)
	}
	return c
}
