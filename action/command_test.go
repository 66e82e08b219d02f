package action_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/action"
	"golang.org/x/sys/unix"
)

func hookCommand(t *testing.T, timeout time.Duration, args ...string) *action.Command {
	t.Helper()
	c, err := action.NewCommand(action.CommandOptions{Argv: append([]string{"sh", "testdata/hook.sh"}, args...), Timeout: timeout,
		Environ: append(os.Environ(), "RECOVERYBOT_IMAP_PASSWORD=hunter2", "HTTPS_PROXY=http://user:hunter3@proxy:3128")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCommand(t *testing.T) {
	ctx := context.Background()
	res, err := hookCommand(t, 0, "ok").Call(ctx, testCall())
	if err != nil || res != "done for RC-7KQ2M9 (change_email)" {
		t.Errorf("ok: Call = %q, %v", res, err)
	}
	res, err = hookCommand(t, 0, "chatty").Call(ctx, testCall())
	if err != nil || res != "done, at length" {
		t.Errorf("chatty: Call = %q, %v", res, err)
	}
	for _, tc := range []struct {
		mode      string
		temporary bool
		status    int
		says      string
	}{
		{"tempfail", true, 75, "admin API busy"},
		{"fail", false, 1, "no such profile"},
	} {
		_, err := hookCommand(t, 0, tc.mode).Call(ctx, testCall())
		var ae *action.Error
		if !errors.As(err, &ae) || ae.Temporary != tc.temporary || ae.Status != tc.status || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: Call = %v, want temporary %v, status %d, saying %q", tc.mode, err, tc.temporary, tc.status, tc.says)
		}
	}
	// A call without a key is never made.
	c := testCall()
	c.Key = ""
	if _, err := hookCommand(t, 0, "ok").Call(ctx, c); err == nil || action.Temporary(err) {
		t.Errorf("Call without an idempotency key = %v, want permanent", err)
	}
	// Missing program: temporary (install it and the call goes through).
	missing, _ := action.NewCommand(action.CommandOptions{Argv: []string{filepath.Join(t.TempDir(), "no-such-hook")}})
	if _, err := missing.Call(ctx, testCall()); err == nil || !action.Temporary(err) {
		t.Errorf("missing program: Call = %v, want temporary", err)
	}
	if _, err := action.NewCommand(action.CommandOptions{}); err == nil {
		t.Error("NewCommand with no argv accepted")
	}
}

// TestCommandTimeout: past its timeout the command's whole process group
// is killed, its children too, and the call is tried again later.
func TestCommandTimeout(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	_, err := hookCommand(t, 500*time.Millisecond, "hang", pidFile).Call(context.Background(), testCall())
	if err == nil || !action.Temporary(err) || !strings.Contains(err.Error(), "killed after") {
		t.Fatalf("Call of a hanging command = %v, want a temporary timeout", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// The child was killed with its group: its pidfd becomes readable
	// once it has ended (it may be gone already).
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 10_000); n != 1 || err != nil {
		t.Errorf("the command's child %d outlived the timeout (poll %d, %v)", pid, n, err)
	}
}

// TestCommandCourier: the Courier runs a command like a webhook.
func TestCommandCourier(t *testing.T) {
	clk := newClock()
	st, _ := newStore(t, clk)
	c := &action.Courier{Store: st, Hook: hookCommand(t, 0, "ok")}
	call := queue(t, st, "P1", recoverybot.ActionTellEmail)
	drain(t, c, action.Stats{Done: 1})
	if got := callOf(t, st, call.ID); got.State != recoverybot.ActionDone || got.Result != "done for "+call.CaseRef+" (tell_email)" {
		t.Errorf("call = %+v", got)
	}
}
