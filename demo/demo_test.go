package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/internal/metricstest"
)

// TestDemo plays the whole scenario and checks where it ends: the quick
// start must keep working.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{Pace: 150 * time.Millisecond, Out: &out, Exit: true, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	want := map[recoverybot.Kind]recoverybot.State{
		recoverybot.KindTOTPLockout: recoverybot.StateApproved,
		recoverybot.KindLostEmail:   recoverybot.StateApproved,
		recoverybot.KindIPLockout:   recoverybot.StateReadyForReview,
	}
	if len(res.Cases) != 3 {
		t.Fatalf("%d cases", len(res.Cases))
	}
	for _, c := range res.Cases {
		if c.State != want[c.Kind] || len(c.Missing) != 0 || !c.SenderVerified {
			t.Errorf("%s %s: state %s, missing %v, sender %s", c.Ref, c.Kind, c.State, c.Missing, c.SenderStatus)
		}
		if c.Kind.NeedsCode() && (!c.CodeVerified || c.FailedCodeAttempts != 0) {
			t.Errorf("%s: code verified %v, failed attempts %d (the forged code must not count)", c.Ref, c.CodeVerified, c.FailedCodeAttempts)
		}
	}
	if res.Inbox != 1 {
		t.Errorf("%d messages left in the mailbox, want the one support mail", res.Inbox)
	}
	// Instructions ×3, owner notice, acknowledgement, under review ×3,
	// approval notices ×2 and decisions ×2; nothing to the forger,
	// nothing to the auto-reply.
	if len(res.Sent) != 12 {
		t.Errorf("%d mails sent, want 12", len(res.Sent))
	}
	// The admin system received one signed call per approval, the email
	// change with both approvers.
	if len(res.Hooks) != 2 {
		t.Fatalf("admin system received %+v", res.Hooks)
	}
	for _, h := range res.Hooks {
		if h.Action == recoverybot.ActionChangeEmail && (len(h.Approvers) != 2 || h.NewEmail != "marie.curie@new-acme.example") {
			t.Errorf("email change call: %+v", h)
		}
	}
	for _, m := range res.Sent {
		for _, to := range m.To {
			if strings.Contains(to, "free-mail.example") {
				t.Errorf("mail sent to the forger's Reply-To %s", to)
			}
		}
	}
	// The dashboard's /metrics counted the scenario: seven messages,
	// one of them not about a case, one forged; two calls of the hook.
	metricstest.Parse(t, res.Metrics).Check(t, map[string]float64{
		"recoverybot_messages_fetched_total":             7,
		"recoverybot_messages_ignored_total":             1,
		`recoverybot_action_calls_total{outcome="done"}`: 2,
		`recoverybot_outbox_mails_total{outcome="sent"}`: float64(len(res.Sent)),
		`recoverybot_cases{state="approved"}`:            2,
		`recoverybot_cases{state="ready_for_review"}`:    1,
	})
	text := out.String()
	for _, line := range []string{"not about a case, left untouched", "sent to REVIEW: sender check failed", "automatic mail"} {
		if !strings.Contains(text, line) {
			t.Errorf("demo output lacks %q:\n%s", line, text)
		}
	}
}
