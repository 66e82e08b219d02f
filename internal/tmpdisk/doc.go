// Package tmpdisk gives tests a small file system of their own (a tmpfs
// mounted on a temporary directory) to fill up or make read-only, so that
// a full disk and a read-only file system are real errors of the kernel,
// not fakes. Mounting needs root (CAP_SYS_ADMIN) on Linux; elsewhere the
// test is skipped, saying why.
package tmpdisk
