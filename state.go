package recoverybot

import (
	"errors"
	"fmt"
	"strings"
)

// State is where a case stands (SPEC §2).
type State string

// The states of a case. A case is open while it is awaiting evidence, ready
// for review or locked; the other states are final.
const (
	StateAwaitingEvidence State = "awaiting_evidence"
	StateReadyForReview   State = "ready_for_review"
	StateApproved         State = "approved"
	StateRejected         State = "rejected"
	StateLocked           State = "locked"
	StateExpired          State = "expired"
	StateCancelled        State = "cancelled"
)

// States lists every state.
var States = []State{
	StateAwaitingEvidence, StateReadyForReview, StateApproved, StateRejected,
	StateLocked, StateExpired, StateCancelled,
}

// OpenStates lists the states of an open case.
var OpenStates = []State{StateAwaitingEvidence, StateReadyForReview, StateLocked}

// ErrUnknownState is returned by ParseState.
var ErrUnknownState = errors.New("recoverybot: unknown case state")

// ParseState reads a state name.
func ParseState(s string) (State, error) {
	st := State(strings.ToLower(strings.TrimSpace(s)))
	for _, known := range States {
		if st == known {
			return st, nil
		}
	}
	return "", fmt.Errorf("%w %q", ErrUnknownState, s)
}

// Open reports whether a case in this state can still change. Mail about a
// case that is not open is recorded but changes nothing.
func (s State) Open() bool {
	return s == StateAwaitingEvidence || s == StateReadyForReview || s == StateLocked
}

// Event is what happens to a case: the input of the state machine.
type Event string

// The events of the case state machine.
const (
	EventEvidenceComplete Event = "evidence_complete" // everything required is present
	EventApprove          Event = "approve"           // an agent approves
	EventReject           Event = "reject"            // an agent rejects
	EventLock             Event = "lock"              // too many wrong codes
	EventReopen           Event = "reopen"            // an agent reopens a locked case
	EventExpire           Event = "expire"            // no complete evidence in time
	EventCancel           Event = "cancel"            // an agent withdraws the case
	// EventEvidenceIncomplete: what made the case complete no longer
	// counts (an agent refused a document or asked for it again).
	EventEvidenceIncomplete Event = "evidence_incomplete"
	// EventStopAction: an agent stops an approval's action while it
	// still waits for [policy] action_delay.
	EventStopAction Event = "stop_action"
)

// ErrIllegalTransition is wrapped by every *TransitionError.
var ErrIllegalTransition = errors.New("recoverybot: illegal state transition")

// TransitionError is returned by Transition when an event is not allowed
// in a state. errors.Is(err, ErrIllegalTransition) holds for it.
type TransitionError struct {
	From  State
	Event Event
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot %s a case that is %s", strings.ReplaceAll(string(e.Event), "_", " "), e.From)
}

// Unwrap makes errors.Is(err, ErrIllegalTransition) true.
func (e *TransitionError) Unwrap() error { return ErrIllegalTransition }

// transitions is the whole state machine: from state, on event, to state.
// Anything absent is illegal.
var transitions = map[State]map[Event]State{
	StateAwaitingEvidence: {
		EventEvidenceComplete: StateReadyForReview,
		EventReject:           StateRejected,
		EventLock:             StateLocked,
		EventExpire:           StateExpired,
		EventCancel:           StateCancelled,
	},
	StateReadyForReview: {
		EventApprove:            StateApproved,
		EventReject:             StateRejected,
		EventCancel:             StateCancelled,
		EventEvidenceIncomplete: StateAwaitingEvidence,
	},
	StateApproved: {
		EventStopAction: StateCancelled,
	},
	StateLocked: {
		EventReopen: StateAwaitingEvidence,
		EventReject: StateRejected,
		EventExpire: StateExpired,
		EventCancel: StateCancelled,
	},
}

// Transition returns the state a case in state from moves to on event ev,
// or a *TransitionError when the event is not allowed there.
func Transition(from State, ev Event) (State, error) {
	if to, ok := transitions[from][ev]; ok {
		return to, nil
	}
	return from, &TransitionError{From: from, Event: ev}
}
