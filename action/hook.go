package action

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/recoverybot/recoverybot"
)

// Hook tells the admin system about one call. Call returns what the
// admin system answered (one line; the Courier cuts it to
// recoverybot.ActionResultMax bytes), or an error that says, through
// Temporary, whether trying the same call again later can help. Call may
// be called more than once for one call, always with the same Key.
type Hook interface {
	Call(ctx context.Context, c recoverybot.ActionCall) (result string, err error)
}

// Error is a failed Call.
type Error struct {
	// Temporary is true when a later attempt can succeed: the admin
	// system could not be reached, timed out, or answered 408, 429 or
	// 5xx (a command exited 75). It is false when it refused the call (an
	// other 4xx, a 3xx, a command's other exit status) or the call could
	// not be written.
	Temporary bool
	// Status is the HTTP status or the command's exit status; 0 when
	// there was no answer.
	Status int
	// RetryAfter is how long the admin system asked us to wait
	// (Retry-After); 0 when it did not say.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	kind := "permanent"
	if e.Temporary {
		kind = "temporary"
	}
	return fmt.Sprintf("action hook (%s): %v", kind, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent marks err as one a retry cannot help.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Err: err}
}

// Temporary reports whether a later attempt can succeed after err: false
// only for an *Error that says so. An error of unknown kind is taken for
// temporary, since calls are idempotent and given up in time.
func Temporary(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Temporary
	}
	return err != nil
}

// retryAfter is the wait err asks for, 0 when none.
func retryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// Request is the JSON a hook sends: the webhook's body, the command's
// standard input. Times are RFC 3339 in UTC, to the second.
type Request struct {
	Case           string             `json:"case"`
	Profile        string             `json:"profile"`
	Action         recoverybot.Action `json:"action"`
	NewEmail       string             `json:"new_email"` // change_email only; empty otherwise
	Approvers      []string           `json:"approvers"`
	ApprovedAt     string             `json:"approved_at"`
	IdempotencyKey string             `json:"idempotency_key"`
	SentAt         string             `json:"sent_at"`
}

// NewRequest returns the request for a call sent at sentAt.
func NewRequest(c recoverybot.ActionCall, sentAt time.Time) Request {
	approvers := c.Approvers
	if approvers == nil {
		approvers = []string{}
	}
	return Request{Case: c.CaseRef, Profile: c.ProfileID, Action: c.Action, NewEmail: c.NewEmail, Approvers: approvers,
		ApprovedAt: c.ApprovedAt.UTC().Format(time.RFC3339), IdempotencyKey: c.Key,
		SentAt: sentAt.UTC().Format(time.RFC3339)}
}

// errNoKey refuses a call without an idempotency key: the admin system
// could not tell its repeats apart.
var errNoKey = errors.New("call without an idempotency key")

// maxAnswer is how much of an answer (a response body, a command's
// output) is read; the rest is discarded.
const maxAnswer = 64 << 10

// DefaultTimeout bounds one call of a hook that sets no timeout.
const DefaultTimeout = 30 * time.Second
