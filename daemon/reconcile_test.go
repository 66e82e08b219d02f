package daemon_test

import (
	"context"
	"testing"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/store"
)

// TestReconcileJobTakesMailDeliveredWhileNothingWatched: with no daemon
// running, a customer's message arrives; the scheduled reconcile, run on
// demand, takes it through the pipeline for its case and records the
// run; a second run finds nothing.
func TestReconcileJobTakesMailDeliveredWhileNothingWatched(t *testing.T) {
	e := start(t, nil)
	ctx := context.Background()
	contact := "jean.new@elsewhere.example"
	s := e.open("p-ind", recoverybot.KindLostEmail, contact)
	e.once()
	e.deliver(letter{from: contact, subject: "[" + s.Ref + "] mes documents", text: "Bonjour, ci-joint ma carte.",
		auth: []string{pass(domainOf(contact))}, files: map[string][]byte{"cni.jpg": jpeg}}.bytes())

	run, err := e.d.Scheduler().Run(ctx, "reconcile")
	if err != nil || run.Outcome != store.RunOK {
		t.Fatalf("sweep reconcile = %+v, %v", run, err)
	}
	if run.Counts["fetched"] != 1 || run.Counts["processed"] != 1 || run.Counts["moved"] != 1 || run.Counts["vanished"] != 0 {
		t.Errorf("reconcile counts = %v, want the message fetched, processed and moved", run.Counts)
	}
	if got := e.show(s.Ref); got.State != recoverybot.StateReadyForReview || len(got.Documents) != 1 {
		t.Errorf("case after reconcile: %s with %d documents", got.State, len(got.Documents))
	}
	again, err := e.d.Scheduler().Run(ctx, "reconcile")
	if err != nil || again.Outcome != store.RunOK || again.Counts["fetched"] != 0 || again.Counts["processed"] != 0 {
		t.Errorf("second reconcile = %+v, %v; want nothing new", again, err)
	}
	if r := e.once(); r.Fetched != 0 || r.Processed != 0 {
		t.Errorf("run --once after reconcile = %+v, want nothing left", r)
	}
}
