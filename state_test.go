package recoverybot

import (
	"errors"
	"testing"
)

func TestTransitionTable(t *testing.T) {
	allowed := map[State]map[Event]State{
		StateAwaitingEvidence: {EventEvidenceComplete: StateReadyForReview, EventReject: StateRejected,
			EventLock: StateLocked, EventExpire: StateExpired, EventCancel: StateCancelled},
		StateReadyForReview: {EventApprove: StateApproved, EventReject: StateRejected, EventCancel: StateCancelled},
		StateLocked:         {EventReopen: StateAwaitingEvidence, EventReject: StateRejected, EventExpire: StateExpired, EventCancel: StateCancelled},
	}
	events := []Event{EventEvidenceComplete, EventApprove, EventReject, EventLock, EventReopen, EventExpire, EventCancel}
	// Every state × every event: the allowed ones move, all others are
	// refused with a typed error and leave the state as it was.
	for _, from := range States {
		for _, ev := range events {
			to, err := Transition(from, ev)
			want, ok := allowed[from][ev]
			if ok {
				if err != nil || to != want {
					t.Errorf("%s on %s = %s, %v; want %s", from, ev, to, err, want)
				}
				continue
			}
			var te *TransitionError
			if !errors.As(err, &te) || !errors.Is(err, ErrIllegalTransition) || te.From != from || te.Event != ev {
				t.Errorf("%s on %s: err = %v, want *TransitionError", from, ev, err)
			}
			if to != from {
				t.Errorf("%s on %s: refused transition returned %s", from, ev, to)
			}
		}
	}
}

func TestClosedStatesAreFinal(t *testing.T) {
	for _, s := range States {
		if s.Open() {
			continue
		}
		for _, ev := range []Event{EventEvidenceComplete, EventApprove, EventReject, EventLock, EventReopen, EventExpire, EventCancel} {
			if _, err := Transition(s, ev); err == nil {
				t.Errorf("closed state %s accepted %s", s, ev)
			}
		}
	}
	open := map[State]bool{StateAwaitingEvidence: true, StateReadyForReview: true, StateLocked: true}
	for _, s := range States {
		if s.Open() != open[s] {
			t.Errorf("%s.Open() = %v", s, s.Open())
		}
	}
}

func TestParseState(t *testing.T) {
	for _, s := range States {
		if got, err := ParseState(" " + string(s) + " "); err != nil || got != s {
			t.Errorf("ParseState(%q) = %q, %v", s, got, err)
		}
	}
	if _, err := ParseState("closed"); !errors.Is(err, ErrUnknownState) {
		t.Errorf("ParseState(closed) err = %v", err)
	}
}
