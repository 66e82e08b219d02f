package daemon_test

import (
	"context"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/daemon"
	"github.com/recoverybot/recoverybot/intake"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

// TestRunOnceTakesMailThatCameBeforeItsCase: a customer writes to
// contact with their ID before the agent opens the case; the message is
// left alone (it concerns no case yet). `cases open` counts it, and the
// next `run --once` takes it for the case, once, with the copy a second
// delivery left (moved with it, as duplicates are); an unrelated earlier
// message stays where it was.
func TestRunOnceTakesMailThatCameBeforeItsCase(t *testing.T) {
	e := start(t, nil)
	contact := "jean.new@elsewhere.example"
	earlier := letter{from: contact, subject: "Je n'ai plus accès à mon email", text: "Bonjour, ci-joint ma carte.",
		auth: []string{pass(domainOf(contact))}, files: map[string][]byte{"cni.jpg": jpeg}}.bytes()
	e.deliver(earlier)
	e.deliver(earlier) // delivered twice (two aliases, a retry)
	e.deliver(letter{from: "someone@else.example", subject: "Question", text: "Une question sur ma facture.",
		auth: []string{pass("else.example")}}.bytes())
	if r := e.once(); r.Ignored != 2 || r.Duplicates != 1 || r.Moved != 0 {
		t.Fatalf("before the case: %+v, want every message left alone, one a copy", r)
	}
	s := e.open("p-ind", recoverybot.KindLostEmail, contact)
	if s.EarlierMessages == nil || *s.EarlierMessages != 1 {
		t.Fatalf("cases open found %v earlier messages, want 1", s.EarlierMessages)
	}
	r := e.once()
	if r.Processed != 1 || r.Moved != 2 {
		t.Errorf("run after cases open = %+v, want the earlier message processed and moved with its copy", r)
	}
	got := e.show(s.Ref)
	if got.State != recoverybot.StateReadyForReview || len(got.Documents) != 1 {
		t.Errorf("case after the look-back: %s with %d documents", got.State, len(got.Documents))
	}
	if r := e.once(); r.Processed != 0 || r.Fetched != 0 || r.Moved != 0 {
		t.Errorf("second run = %+v, want nothing more", r)
	}
	if got := e.show(s.Ref); len(got.Documents) != 1 {
		t.Errorf("documents after a second run: %d", len(got.Documents))
	}
	if n, err := e.dovecot.Count(e.dovecot.User(), "INBOX"); err != nil || n != 1 {
		t.Errorf("INBOX holds %d messages (%v), want the unrelated one", n, err)
	}
}

// TestServeTakesEarlierMailWhileIdle: with the daemon serving and idle
// (no new mail to wake it), a case opened from the CLI gets the mail
// its customer sent before, fetched by the daemon.
func TestServeTakesEarlierMailWhileIdle(t *testing.T) {
	e := start(t, nil)
	contact := "jean.new@elsewhere.example"
	e.deliver(letter{from: contact, subject: "Accès perdu", text: "Bonjour, ci-joint ma carte.",
		auth: []string{pass(domainOf(contact))}, files: map[string][]byte{"cni.jpg": jpeg}}.bytes())
	e.once()

	v, err := vault.Open(e.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := recoverybot.NewCodeKey(v.CodeKey())
	reports := make(chan intake.Report, 16)
	d, err := daemon.New(daemon.Options{Config: e.cfg, Store: e.st, CodeKey: key, MessageIDKey: v.Key(vault.PurposeMessageID),
		Now: e.now, OutboxInterval: 20 * time.Millisecond, OnMessage: func(r intake.Report) { reports <- r }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	for ready := false; !ready; ready = len(d.Ready(context.Background())) == 0 {
		time.Sleep(10 * time.Millisecond) // the watcher connects and drains, then idles
	}
	s := e.open("p-ind", recoverybot.KindLostEmail, contact)
	select {
	case r := <-reports:
		if r.CaseRef != s.Ref || r.Status != store.LedgerProcessed {
			t.Errorf("report = %+v, want the earlier message processed for %s", r, s.Ref)
		}
	case <-time.After(time.Minute):
		t.Fatal("the serving daemon did not take the earlier mail")
	}
	if got := e.show(s.Ref); got.State != recoverybot.StateReadyForReview {
		t.Errorf("case: %s", got.State)
	}
}
