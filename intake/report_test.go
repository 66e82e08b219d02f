package intake_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/intake"
	"github.com/recoverybot/recoverybot/rules"
	"github.com/recoverybot/recoverybot/store"
)

// lockedBuffer is a log's destination that the pipeline's goroutines
// share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestOneLogLinePerMessage: each message decided gets one log line with
// its UID, its outcome, its case and, for review, the cause; never its
// code, its sender, its subject or its documents. Its report carries what
// the metrics count, its delivery being the server's INTERNALDATE, not
// the Date the sender wrote.
func TestOneLogLinePerMessage(t *testing.T) {
	var logs lockedBuffer
	var mu sync.Mutex
	var reports []intake.Report
	var backlog []time.Time
	fetched := 0
	w := newWorldWith(t, func(o *intake.Options) {
		o.OnBacklog = func(oldest time.Time) { mu.Lock(); backlog = append(backlog, oldest); mu.Unlock() }
		o.OnFetched = func(n int) { mu.Lock(); fetched += n; mu.Unlock() }
		o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		o.OnMessage = func(r intake.Report) { mu.Lock(); reports = append(reports, r); mu.Unlock() }
	})
	ctx := context.Background()
	s, err := w.desk.Open(ctx, desk.OpenRequest{ProfileID: "p-1", Kind: recoverybot.KindTOTPLockout, By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	code := w.code(s.Ref)
	user := w.dovecot.User()
	auth := trustedID + "; spf=pass smtp.mailfrom=example.org; dmarc=pass header.from=example.org"
	old := regexp.MustCompile(`Date: [^\r]*`).ReplaceAll(customerMail("someone@else.example", "Question about my invoice", "Hello", "", nil),
		[]byte("Date: Tue, 02 Jan 2024 10:00:00 +0000"))
	evidence := customerMail("jean@example.org", "Re: ["+s.Ref+"] Kilimandjaro", "Voici ma carte et le code "+code, auth,
		map[string][]byte{"cni.jpg": jpeg})
	for _, raw := range [][]byte{old, evidence, evidence,
		customerMail("jean@evil.example", "Re: ["+s.Ref+"] Tombouctou", "C'est moi", trustedID+"; spf=pass smtp.mailfrom=evil.example; dmarc=pass header.from=evil.example", nil)} {
		if err := w.dovecot.Deliver(user, raw); err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now()
	if _, err := w.pipeline.Drain(ctx, w.conn()); err != nil {
		t.Fatal(err)
	}

	type line struct {
		Msg     string  `json:"msg"`
		UID     *uint32 `json:"uid"`
		Outcome string  `json:"outcome"`
		Case    string  `json:"case"`
		Reason  string  `json:"reason"`
	}
	var got []line
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		if l.Msg == "message decided" {
			got = append(got, l)
		}
	}
	if len(got) != 4 {
		t.Fatalf("%d message lines, want 4:\n%s", len(got), logs.String())
	}
	want := []line{
		{Outcome: "ignored"},
		{Outcome: "processed", Case: s.Ref},
		{Outcome: "duplicate"},
		{Outcome: "review", Case: s.Ref, Reason: string(rules.CauseOtherAddress)},
	}
	for i, l := range got {
		if l.UID == nil || *l.UID != uint32(i+1) {
			t.Errorf("line %d: uid %v, want %d", i, l.UID, i+1)
		}
		l.UID, l.Msg = nil, ""
		if l != want[i] {
			t.Errorf("line %d = %+v, want %+v", i, l, want[i])
		}
	}
	for _, secret := range []string{code, strings.ReplaceAll(code, "-", ""), "jean@", "example.org", "evil.example", "else.example",
		"Kilimandjaro", "Tombouctou", "invoice", "cni.jpg", "carte"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log shows %q:\n%s", secret, logs.String())
		}
	}

	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 4 {
		t.Fatalf("%d reports", len(reports))
	}
	for i, r := range reports {
		if r.Decided.Before(before.Add(-time.Minute)) || r.Delivered.Before(before.Add(-time.Minute)) || r.Decided.Before(r.Delivered) {
			t.Errorf("report %d: delivered %v, decided %v (the test began at %v)", i, r.Delivered, r.Decided, before)
		}
	}
	if r := reports[1]; r.Verdict != recoverybot.SenderVerified || r.Code != recoverybot.CodeMatch || r.Cause != "" || r.Status != store.LedgerProcessed {
		t.Errorf("the case's message: %+v", r)
	}
	if r := reports[3]; r.Cause != rules.CauseOtherAddress || r.Verdict != recoverybot.SenderVerified || r.Code != "" {
		t.Errorf("the other address's message: %+v", r)
	}
	if r := reports[0]; r.Verdict != "" || r.Code != "" {
		t.Errorf("the ordinary mail: %+v", r)
	}
	// The pipeline said it downloaded four messages, that the oldest
	// waiting was the first delivered (by the server's clock, not its
	// Date of 2024), then that none waits.
	if fetched != 4 {
		t.Errorf("OnFetched was told of %d messages, want 4", fetched)
	}
	if len(backlog) != 2 || !backlog[0].Equal(reports[0].Delivered) || !backlog[1].IsZero() {
		t.Errorf("OnBacklog was told %v, want [%v, zero]", backlog, reports[0].Delivered)
	}
}
