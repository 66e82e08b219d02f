package demo

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jhillyerd/enmime/v2"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/internal/browsertest"
	"github.com/recoverybot/recoverybot/internal/smtpsink"
)

// TestDashboardInABrowser is a new agent's first day, in a real Chromium,
// on the demo: log in, see the queue, open a flagged case, see the ID
// photo and the sender verdict, approve it; the admin system receives
// the signed call, the audit log and the customer's mail show it. Then
// an email change that waits for a second agent, and a rejection with a
// reason.
func TestDashboardInABrowser(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan Live, 1)
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, Options{Pace: 50 * time.Millisecond, Listen: "127.0.0.1:0", Out: io.Discard,
			OnReady: func(l Live) { ready <- l }})
		done <- err
	}()
	var live Live
	select {
	case live = <-ready:
	case err := <-done:
		t.Fatalf("demo ended before it was ready: %v", err)
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	}()

	b := browsertest.New(t)
	login := func(name string) {
		b.Navigate(live.URL)
		if !strings.Contains(b.Location(), "/login") {
			t.Fatalf("without a session the dashboard shows %s, want the login page", b.Location())
		}
		b.Fill("#name", name)
		b.Fill("#password", live.Agents[name])
		b.Submit(`form[action="/login"] button`)
		if strings.Contains(b.Location(), "/login") {
			t.Fatalf("%s could not log in: %s", name, b.Text("body"))
		}
	}
	login(agent)

	// The queue of cases ready for review lists all three.
	rows := strings.Join(b.Texts(`a[href^="/cases/"]`), " ")
	for _, ref := range live.Refs {
		if !strings.Contains(rows, ref) {
			t.Errorf("queue lacks %s: %s", ref, rows)
		}
	}

	// Jean's TOTP case: his ID photo, previewed, and his verified sender.
	jean := live.Refs["p-1001"]
	b.Navigate(live.URL + "cases/" + jean)
	if w := b.ImageWidth(`.preview img`); w <= 0 {
		t.Errorf("the ID photo did not render (width %d)", w)
	}
	if !b.Exists(`.badge.sender-verified`) {
		t.Errorf("no verified sender verdict on the case page:\n%s", b.Text("body"))
	}
	b.Fill(`form[action$="/approve"] textarea[name="note"]`, "ID matches the profile")
	b.Submit(`form[action$="/approve"] button`)
	waitFor(t, b, func() bool { return len(live.Hooks()) >= 1 }, "the admin system's call")
	if h := live.Hooks()[0]; h.Case != jean || h.Action != recoverybot.ActionDisableTOTP || len(h.Approvers) != 1 || h.Approvers[0] != agent {
		t.Errorf("admin system received %+v", h)
	}
	waitFor(t, b, func() bool { return mailTo(live.Sent(), "jean.dupont@example.org", "acceptée") }, "the customer's approval mail")
	b.Navigate(live.URL + "cases/" + jean)
	// The audit entry, in the agent's language, by the agent.
	if tl := b.Text(".timeline"); !regexp.MustCompile(`(Approved|Approuvé)\s+` + agent + `\b`).MatchString(tl) {
		t.Errorf("the timeline does not show the approval by %s:\n%s", agent, tl)
	}

	// ACME's email change: the first approval waits for a second agent.
	acme := live.Refs["p-1002"]
	b.Navigate(live.URL + "cases/" + acme)
	b.Click(`form[action$="/approve"] input[name="change_email"]`)
	b.Submit(`form[action$="/approve"] button`)
	if len(live.Hooks()) != 1 {
		t.Fatalf("an email change reached the admin system on one approval: %+v", live.Hooks())
	}
	if !b.Exists(`section.pending`) {
		t.Errorf("the case does not say it waits for a second agent:\n%s", b.Text("body"))
	}
	b.Submit(`form[action="/logout"] button`)
	login(secondAgent)
	b.Navigate(live.URL + "cases/" + acme)
	b.Submit(`form[action$="/approve"] button`)
	waitFor(t, b, func() bool { return len(live.Hooks()) >= 2 }, "the email change's call")
	if h := live.Hooks()[1]; h.Action != recoverybot.ActionChangeEmail || h.NewEmail != "marie.curie@new-acme.example" ||
		strings.Join(h.Approvers, ",") != agent+","+secondAgent {
		t.Errorf("email change call: %+v", h)
	}

	// The club's case, rejected with a reason from the list.
	club := live.Refs["p-1003"]
	b.Navigate(live.URL + "cases/" + club)
	b.Fill(`form[action$="/reject"] select[name="reason"]`, string(recoverybot.RejectForged))
	b.Fill(`form[action$="/reject"] textarea[name="text"]`, "The statutes' seal does not match.")
	b.Submit(`form[action$="/reject"] button`)
	waitFor(t, b, func() bool { return mailTo(live.Sent(), "bureau@club-de-voile.example", "altered") }, "the rejection mail")

	if v := b.Violations(); len(v) > 0 {
		t.Errorf("CSP violations: %q", v)
	}
}

// waitFor polls cond while the daemon works in the background (its
// outbox and action couriers run on their own tick), within the browser's
// hang guard.
func waitFor(t *testing.T, b *browsertest.Browser, cond func() bool, what string) bool {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-b.Context().Done():
			t.Fatalf("waiting for %s: %v", what, b.Context().Err())
		case <-tick.C:
		}
	}
	return true
}

// mailTo reports whether a mail to addr whose text contains want was sent.
func mailTo(sent []smtpsink.Received, addr, want string) bool {
	for _, m := range sent {
		if len(m.To) != 1 || m.To[0] != addr {
			continue
		}
		env, err := enmime.ReadEnvelope(bytes.NewReader(m.Raw))
		if err == nil && (strings.Contains(env.Text, want) || strings.Contains(env.GetHeader("Subject"), want)) {
			return true
		}
	}
	return false
}
