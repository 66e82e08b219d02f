package sweep

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot/outbound"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

// scriptedMailer answers by recipient: ok@ is accepted, busy@ and late@
// refused for now (451), gone@ for good (550).
type scriptedMailer struct {
	mu    sync.Mutex
	tries map[string]int
}

func (m *scriptedMailer) Send(ctx context.Context, from, to string, raw []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tries[to]++
	switch {
	case strings.HasPrefix(to, "ok@"):
		return nil
	case strings.HasPrefix(to, "gone@"):
		return &outbound.SendError{Stage: "rcpt", Code: 550, Err: errors.New("550 5.1.1 no such user")}
	}
	return &outbound.SendError{Stage: "rcpt", Code: 451, Temporary: true, Err: errors.New("451 4.7.1 greylisted")}
}

func (m *scriptedMailer) snapshot() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{}
	for k, v := range m.tries {
		out[k] = v
	}
	return out
}

// TestOutboxJob: the outbox job sends what is due, defers what fails
// temporarily, marks failed what is refused or past its give-up, and
// counts each; run again at the same instant it changes nothing.
func TestOutboxJob(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := t0.Add(-49 * time.Hour)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	v, _ := vault.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"), v, store.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	queue := func(to string) {
		t.Helper()
		err := st.Update(ctx, func(tx *store.Tx) error {
			_, err := tx.Enqueue(store.OutgoingMail{Template: "instructions", MessageID: to + ".id", From: "contact@hosting.example",
				To: to, Raw: []byte("Subject: s\r\n\r\nt\r\n")})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	queue("late@example.org") // 49 hours ago, never sent since
	mu.Lock()
	now = t0
	mu.Unlock()
	for _, to := range []string{"ok@example.org", "busy@example.org", "gone@example.org"} {
		queue(to)
	}
	mailer := &scriptedMailer{tries: map[string]int{}}
	rec := &recorder{}
	s := New(Options{Record: rec.record, Now: clock})
	if err := RegisterOutbox(s, &outbound.Courier{Store: st, Mailer: mailer, GiveUp: 48 * time.Hour}, "@every 1m"); err != nil {
		t.Fatal(err)
	}
	if j := s.Jobs(); len(j) != 1 || j[0].Name != JobOutbox || j[0].Spec != "@every 1m" {
		t.Fatalf("jobs: %+v", j)
	}
	r, err := s.Run(ctx, JobOutbox)
	if want := map[string]int{"sent": 1, "deferred": 1, "failed": 2}; err != nil || r.Outcome != store.RunOK || !reflect.DeepEqual(r.Counts, want) {
		t.Fatalf("first run: %+v, %v; want counts %v", r, err, want)
	}
	rows := outboxRows(t, st)
	want := map[string]store.OutboxState{"late@example.org": store.OutboxFailed, "ok@example.org": store.OutboxSent,
		"busy@example.org": store.OutboxPending, "gone@example.org": store.OutboxFailed}
	for _, m := range rows {
		if m.State != want[m.To] {
			t.Errorf("%s: %s, want %s", m.To, m.State, want[m.To])
		}
	}
	if e := rows[0].LastError; !strings.Contains(e, "given up 48h") || !strings.Contains(e, "greylisted") {
		t.Errorf("the mail past its give-up: error %q", e)
	}
	tries := mailer.snapshot()
	r, err = s.Run(ctx, JobOutbox)
	if want := map[string]int{"sent": 0, "deferred": 0, "failed": 0}; err != nil || r.Outcome != store.RunOK || !reflect.DeepEqual(r.Counts, want) {
		t.Errorf("second run: %+v, %v; want counts %v", r, err, want)
	}
	if again := outboxRows(t, st); !reflect.DeepEqual(again, rows) {
		t.Errorf("the second run changed the outbox:\n%+v\n%+v", rows, again)
	}
	if again := mailer.snapshot(); !reflect.DeepEqual(again, tries) {
		t.Errorf("the second run sent again: %v, then %v", tries, again)
	}
	if runs := rec.of(JobOutbox); len(runs) != 2 {
		t.Errorf("%d runs recorded", len(runs))
	}
}

func outboxRows(t *testing.T, st *store.Store) []store.OutgoingMail {
	t.Helper()
	var rows []store.OutgoingMail
	err := st.View(context.Background(), func(tx *store.Tx) (err error) { rows, err = tx.Outbox(store.OutboxFilter{}); return err })
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
