package tmpdisk

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// Disk is a mounted tmpfs.
type Disk struct {
	t   testing.TB
	dir string
}

// Mount mounts a tmpfs of size bytes on a new temporary directory and
// unmounts it when the test ends. It skips the test when the process may
// not mount (not root).
func Mount(t testing.TB, size int64) *Disk {
	t.Helper()
	dir := t.TempDir()
	err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.FormatInt(size, 10)+",mode=0700")
	if errors.Is(err, syscall.EPERM) {
		t.Skip("tmpdisk: mounting a tmpfs needs root (CAP_SYS_ADMIN); run the tests as root to test a full disk")
	}
	if err != nil {
		t.Fatalf("tmpdisk: mount a tmpfs on %s: %v", dir, err)
	}
	// Cleanup runs last-in first-out: after what the test registered
	// later (closing its files), before TempDir removes the directory.
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("tmpdisk: unmount %s: %v", dir, err)
		}
	})
	return &Disk{t: t, dir: dir}
}

// Dir is where the file system is mounted.
func (d *Disk) Dir() string { return d.dir }

func (d *Disk) filler() string { return filepath.Join(d.dir, ".filler") }

// Fill writes a file that takes the space left, so that the next write
// of a block fails with ENOSPC.
func (d *Disk) Fill() {
	d.t.Helper()
	f, err := os.OpenFile(d.filler(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		d.t.Fatalf("tmpdisk: fill: %v", err)
	}
	defer f.Close()
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			d.t.Fatalf("tmpdisk: fill: %v", err)
		}
	}
}

// Free removes what Fill wrote.
func (d *Disk) Free() {
	d.t.Helper()
	if err := os.Remove(d.filler()); err != nil {
		d.t.Fatalf("tmpdisk: free: %v", err)
	}
}

// ReadOnly remounts the file system read-only (ro true) or read-write.
func (d *Disk) ReadOnly(ro bool) {
	d.t.Helper()
	flags := uintptr(syscall.MS_REMOUNT)
	if ro {
		flags |= syscall.MS_RDONLY
	}
	if err := syscall.Mount("tmpfs", d.dir, "tmpfs", flags, ""); err != nil {
		d.t.Fatalf("tmpdisk: remount %s (read-only %v): %v", d.dir, ro, err)
	}
}
