//go:build !(linux || darwin || freebsd)

package health

// freeSpace is not known here: only the write probe tells.
func freeSpace(string) (uint64, bool) { return 0, false }
