// Package instance keeps one recoverybot process at a time on a data
// directory: serve and run --once take an exclusive flock(2) on a file
// there, which the kernel releases when the process ends however it ends
// (a SIGKILL, a power loss), so a stale lock never blocks a restart.
package instance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// FileName is the lock file's name in the data directory.
const FileName = "recoverybot.lock"

// HeldError is returned by Acquire when another process holds the lock.
type HeldError struct {
	Dir string
	PID int // 0: unknown
}

func (e *HeldError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("another recoverybot (pid %d) is running on data directory %s", e.PID, e.Dir)
	}
	return fmt.Sprintf("another recoverybot is running on data directory %s", e.Dir)
}

// Lock is a held lock; Release gives it up.
type Lock struct{ f *os.File }

// Acquire takes the data directory's lock without waiting: a lock held by
// another process is a *HeldError naming its pid.
func Acquire(dir string) (*Lock, error) {
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			b := make([]byte, 32)
			n, _ := f.ReadAt(b, 0)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
			return nil, &HeldError{Dir: dir, PID: pid}
		}
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Release gives the lock up. The file stays, so that the next Acquire
// locks the same inode.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
