package instance

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestOneHolderAtATime(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks are per open file description: a second Acquire in
	// this process is refused as another process's would be.
	_, err = Acquire(dir)
	var held *HeldError
	if !errors.As(err, &held) || held.PID != os.Getpid() || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second Acquire = %v, want held by pid %d", err, os.Getpid())
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

// TestKilledHolderFreesTheLock: a holder that dies (here flock(1) run as
// another process, killed) leaves nothing that blocks the next start.
func TestKilledHolderFreesTheLock(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Fatal("flock(1) (util-linux) is needed by this test")
	}
	dir := t.TempDir()
	path := dir + "/" + FileName
	cmd := exec.Command("flock", "--exclusive", "--close", path, "sh", "-c", "echo locked; exec sleep 60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the holder and its child, killed together
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "locked\n" {
		t.Fatalf("flock did not lock: %q, %v", buf, err)
	}
	var held *HeldError
	if _, err := Acquire(dir); !errors.As(err, &held) {
		t.Fatalf("Acquire while another process holds it = %v", err)
	}
	// flock(1) holds the lock itself (--close keeps it from its child):
	// once it is killed and reaped, the kernel has dropped the lock.
	cmd.Process.Kill()
	cmd.Wait()
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after the holder was killed: %v", err)
	}
	l.Release()
}
