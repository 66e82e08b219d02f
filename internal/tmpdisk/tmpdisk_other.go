//go:build !linux

package tmpdisk

import "testing"

// Disk is a mounted tmpfs.
type Disk struct{ dir string }

// Mount skips the test: only Linux mounts a tmpfs here.
func Mount(t testing.TB, size int64) *Disk {
	t.Skip("tmpdisk: a small file system of its own needs Linux")
	return nil
}

// Dir is where the file system is mounted.
func (d *Disk) Dir() string { return d.dir }

// Fill writes a file that takes the space left.
func (d *Disk) Fill() {}

// Free removes what Fill wrote.
func (d *Disk) Free() {}

// ReadOnly remounts the file system read-only or read-write.
func (d *Disk) ReadOnly(bool) {}
