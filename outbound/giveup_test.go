package outbound_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot/outbound"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

// busyMailer answers every mail with a temporary failure (a 451 to DATA)
// and counts the attempts.
type busyMailer struct {
	mu       sync.Mutex
	attempts int
}

func (m *busyMailer) Send(ctx context.Context, from, to string, raw []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attempts++
	return &outbound.SendError{Temporary: true, Code: 451, Stage: "data", Err: errBusy}
}

type busyError struct{}

func (busyError) Error() string { return "451 4.3.0 try again later" }

var errBusy = busyError{}

// TestCourierGivesUpAfterTheLastAttempt: a mail that keeps failing
// temporarily is retried with backoff up to MaxAttempts (12 when 0),
// then marked failed with the last error, and never tried again.
func TestCourierGivesUpAfterTheLastAttempt(t *testing.T) {
	for _, tt := range []struct{ max, want int }{{0, 12}, {3, 3}} {
		ctx := context.Background()
		var mu sync.Mutex
		now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		v, _ := vault.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
		st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"), v, store.Options{Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		queueMail(t, st, "busy@example.org", "busy@hosting.example")
		mailer := &busyMailer{}
		c := &outbound.Courier{Store: st, Mailer: mailer, MaxAttempts: tt.max}
		failedTotal := 0
		// Well past the longest backoff each time, far more often than
		// the attempts allowed.
		for round := 0; round < tt.want+10; round++ {
			sent, failed, err := c.Drain(ctx)
			if err != nil || sent != 0 {
				t.Fatalf("max %d, round %d: Drain = %d sent, %d failed, %v", tt.max, round, sent, failed, err)
			}
			failedTotal += failed
			mu.Lock()
			now = now.Add(12 * time.Hour)
			mu.Unlock()
		}
		if mailer.attempts != tt.want || failedTotal != 1 {
			t.Errorf("max %d: %d attempts, %d reported failed; want %d attempts, then failed once", tt.max, mailer.attempts, failedTotal, tt.want)
		}
		var rows []store.OutgoingMail
		st.View(ctx, func(tx *store.Tx) error { rows, err = tx.Outbox(store.OutboxFilter{}); return err })
		if len(rows) != 1 || rows[0].State != store.OutboxFailed || rows[0].Attempts != tt.want || !strings.Contains(rows[0].LastError, errBusy.Error()) {
			t.Errorf("max %d: row = %+v, want failed after %d attempts with the last error", tt.max, rows, tt.want)
		}
	}
}
