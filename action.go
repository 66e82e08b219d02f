package recoverybot

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Action is what an approval asks the admin system to do.
type Action string

// The actions of the action hook (issue 16): one per kind of case, and
// two for a lost email.
const (
	ActionDisableTOTP      Action = "disable_totp"       // totp-lockout: remove the second factor
	ActionClearIPAllowlist Action = "clear_ip_allowlist" // ip-lockout: empty the IP allowlist
	ActionChangeEmail      Action = "change_email"       // lost-email: set the profile's address to the case's contact
	ActionTellEmail        Action = "tell_email"         // lost-email: only tell the customer the profile's address
)

// Actions lists every action.
var Actions = []Action{ActionDisableTOTP, ActionClearIPAllowlist, ActionChangeEmail, ActionTellEmail}

// ErrUnknownAction is returned by ParseAction.
var ErrUnknownAction = errors.New("recoverybot: unknown action")

// ParseAction reads an action as written in the configuration
// ([policy] second_approval) or on the command line.
func ParseAction(s string) (Action, error) {
	a := Action(strings.ToLower(strings.TrimSpace(s)))
	for _, known := range Actions {
		if a == known {
			return a, nil
		}
	}
	return "", fmt.Errorf("%w %q (want disable_totp, clear_ip_allowlist, change_email or tell_email)", ErrUnknownAction, s)
}

// ActionState is where a call of the action hook stands.
type ActionState string

// The states of an action call. A call is pending until the admin system
// says yes (done) or no for good, or it is given up (failed); an agent
// may stop it while it is pending and was never sent (stopped).
const (
	// ActionPending: waiting for its time (the waiting period after the
	// approval) or for a retry.
	ActionPending ActionState = "pending"
	// ActionCalling: being sent. A process that dies here leaves it so;
	// the next start puts it back to pending and it is sent again with
	// the same idempotency key, which the admin system dedupes on.
	ActionCalling ActionState = "calling"
	// ActionDone: the admin system said it did it.
	ActionDone ActionState = "done"
	// ActionFailed: given up after retrying, or refused for good by the
	// admin system.
	ActionFailed ActionState = "failed"
	// ActionStopped: an agent stopped it during the waiting period,
	// before it was ever sent.
	ActionStopped ActionState = "stopped"
)

// Final reports whether nothing more will happen to a call in state s.
func (s ActionState) Final() bool {
	return s == ActionDone || s == ActionFailed || s == ActionStopped
}

// ActionResultMax is the length in bytes past which the admin system's
// answer (ActionCall.Result) and the last error are cut.
const ActionResultMax = 500

// ActionCall is one call of the action hook for an approved case.
type ActionCall struct {
	ID        int64
	CaseID    int64
	CaseRef   string
	ProfileID string
	Action    Action
	NewEmail  string // change_email only: the profile's new address
	// Approvers are the agents who approved, the first first (two for an
	// action under [policy] second_approval).
	Approvers  []string
	ApprovedAt time.Time
	// Key is the idempotency key, random and unique, sent with every
	// attempt: the admin system applies a call once however many times
	// it receives it.
	Key string
	// NotBefore is when the call may first be sent: the approval plus
	// [policy] action_delay.
	NotBefore     time.Time
	State         ActionState
	Attempts      int // how many times it was sent (or begun to be)
	NextAttemptAt time.Time
	LastError     string
	// Result is what the admin system answered: one line, cut to
	// ActionResultMax bytes.
	Result string
	// StoppedBy and StopReason are the agent who stopped the call and
	// why (ActionStopped only).
	StoppedBy, StopReason string
	CreatedAt             time.Time
	// DoneAt is when the call ended (done, failed or stopped); nil while
	// it is pending or being sent.
	DoneAt *time.Time
}

// NewActionKey returns a fresh idempotency key: 128 random bits in hex.
func NewActionKey() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new idempotency key: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// OneLine makes s fit a single line of at most max bytes: line breaks and
// other control characters become spaces, runs of spaces one, and a cut
// never splits a UTF-8 sequence (invalid bytes become U+FFFD). What an outside system answers is
// shown to agents and logged this way.
func OneLine(s string, max int) string {
	var b strings.Builder
	space := false
	for _, r := range strings.TrimSpace(s) {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' || r == ' ' {
			space = true
			continue
		}
		sep := space && b.Len() > 0
		space = false
		n := utf8.RuneLen(r)
		if n < 0 {
			n = 3 // written as U+FFFD
		}
		if sep {
			n++
		}
		if b.Len()+n > max {
			break
		}
		if sep {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
