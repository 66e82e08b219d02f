package action

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/recoverybot/recoverybot"
)

// ExitTempFail is the exit status by which a command says it failed for
// now and should be run again later (EX_TEMPFAIL, sysexits.h).
const ExitTempFail = 75

// EnvIdempotencyKey holds the call's idempotency key in a command's
// environment.
const EnvIdempotencyKey = "RECOVERYBOT_IDEMPOTENCY_KEY"

// CommandOptions configure a Command.
type CommandOptions struct {
	// Argv is the program and its arguments, run without a shell.
	Argv []string
	// Timeout bounds one run; past it the command's whole process group
	// is killed and the call is tried again later. 0: DefaultTimeout.
	Timeout time.Duration
	// Now is the clock of sent_at; nil: time.Now.
	Now func() time.Time
	// Environ is the environment the command starts from; nil: the
	// process's. Variables named RECOVERYBOT_* are removed from it (they
	// hold recoverybot's own secrets), then EnvIdempotencyKey and
	// RECOVERYBOT_CASE, RECOVERYBOT_ACTION are set.
	Environ []string
}

// Command is a Hook that runs a local program: the call's JSON (Request)
// on its standard input; exit 0 is done, with the first line of its
// standard output as the result; exit ExitTempFail is a temporary
// failure; any other exit, or a signal, is permanent. Its standard error's
// first line goes in the error.
type Command struct {
	argv    []string
	timeout time.Duration
	now     func() time.Time
	environ []string
}

// NewCommand checks the options and returns the Command. It does not
// look the program up yet: a program missing at call time is a
// temporary failure, fixed by installing it.
func NewCommand(o CommandOptions) (*Command, error) {
	if len(o.Argv) == 0 || o.Argv[0] == "" {
		return nil, errors.New("action command: empty")
	}
	switch {
	case o.Timeout < 0:
		return nil, fmt.Errorf("action command %s: timeout %v is negative", o.Argv[0], o.Timeout)
	case o.Timeout == 0:
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	env := o.Environ
	if env == nil {
		env = os.Environ()
	}
	// Only what a program needs to run is passed on: the daemon's own
	// environment may hold secrets (RECOVERYBOT_*, a proxy's credentials,
	// a cloud token) that are none of the hook's business.
	var kept []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case name == "PATH", name == "HOME", name == "LANG", name == "TZ", name == "TMPDIR", name == "USER",
			name == "LOGNAME", strings.HasPrefix(name, "LC_"):
			kept = append(kept, kv)
		}
	}
	return &Command{argv: append([]string(nil), o.Argv...), timeout: o.Timeout, now: o.Now, environ: kept}, nil
}

// String names the command by its program.
func (c *Command) String() string { return "command " + c.argv[0] }

// Call runs the command for call.
func (c *Command) Call(ctx context.Context, call recoverybot.ActionCall) (string, error) {
	if call.Key == "" {
		return "", Permanent(errNoKey)
	}
	body, err := json.Marshal(NewRequest(call, c.now()))
	if err != nil {
		return "", Permanent(fmt.Errorf("encode call: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	cmd.Stdin = bytes.NewReader(body)
	stdout, stderr := &capped{max: maxAnswer}, &capped{max: maxAnswer}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = append(append([]string(nil), c.environ...),
		EnvIdempotencyKey+"="+call.Key, "RECOVERYBOT_CASE="+call.CaseRef, "RECOVERYBOT_ACTION="+string(call.Action))
	// Its own process group, killed whole: a script's children do not
	// outlive the timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	err = cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success() {
		// It said yes; a child of its kept the output open.
		err = nil
	}
	why := firstLine(stderr.String())
	if why != "" {
		why = ": " + why
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return firstLine(stdout.String()), nil
	case ctx.Err() != nil:
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return "", &Error{Temporary: true, Err: fmt.Errorf("%s: killed after %v%s", c.argv[0], c.timeout, why)}
		}
		return "", &Error{Temporary: true, Err: fmt.Errorf("%s: %w", c.argv[0], ctx.Err())}
	case errors.As(err, &exit) && exit.ExitCode() == ExitTempFail:
		return "", &Error{Temporary: true, Status: ExitTempFail, Err: fmt.Errorf("%s: exit status %d (try later)%s", c.argv[0], ExitTempFail, why)}
	case errors.As(err, &exit):
		return "", &Error{Status: exit.ExitCode(), Err: fmt.Errorf("%s: %v%s", c.argv[0], err, why)}
	}
	// Not started (missing, not executable), or its output cut short.
	return "", &Error{Temporary: true, Err: fmt.Errorf("run %s: %w", c.argv[0], err)}
}

// capped keeps the first max bytes written to it and discards the rest,
// so that a chatty command never blocks on a full pipe.
type capped struct {
	buf bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (c *capped) String() string { return c.buf.String() }
