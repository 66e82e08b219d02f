package dovecottest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Doveadm runs doveadm against this server's configuration and returns its
// standard output. Most mail commands need the server running.
func (s *Server) Doveadm(args ...string) ([]byte, error) {
	cmd := exec.Command(DoveadmPath, append([]string{"-c", s.conf}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("dovecottest: doveadm %s: %w: %s", strings.Join(args, " "), err, oneLine(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// status returns one numeric field of `doveadm mailbox status`.
func (s *Server) status(user, mailbox, field string) (uint32, error) {
	out, err := s.Doveadm("-f", "flow", "mailbox", "status", "-u", user, field, mailbox)
	if err != nil {
		return 0, err
	}
	// "-f flow" prints "INBOX messages=3".
	var v string
	for _, f := range strings.Fields(string(out)) {
		if after, ok := strings.CutPrefix(f, field+"="); ok {
			v = after
		}
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("dovecottest: doveadm mailbox status: %w", err)
	}
	return uint32(n), nil
}

// Count returns the number of messages in a user's mailbox.
func (s *Server) Count(user, mailbox string) (int, error) {
	n, err := s.status(user, mailbox, "messages")
	return int(n), err
}

// UIDValidity returns a mailbox's UIDVALIDITY.
func (s *Server) UIDValidity(user, mailbox string) (uint32, error) {
	return s.status(user, mailbox, "uidvalidity")
}

// Flags returns the flags of every message in a mailbox, by UID. A message
// without flags maps to an empty (non-nil) slice.
func (s *Server) Flags(user, mailbox string) (map[uint32][]string, error) {
	out, err := s.Doveadm("-f", "tab", "fetch", "-u", user, "uid flags", "mailbox", mailbox, "all")
	if err != nil {
		return nil, err
	}
	flags := make(map[uint32][]string)
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	for _, line := range lines[min(1, len(lines)):] { // skip the header row
		if line == "" {
			continue
		}
		uid, fl, _ := strings.Cut(line, "\t")
		n, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("dovecottest: doveadm fetch: unexpected line %q", line)
		}
		flags[uint32(n)] = append([]string{}, strings.Fields(fl)...)
	}
	return flags, nil
}

// Mailboxes lists a user's mailboxes by their Dovecot names.
func (s *Server) Mailboxes(user string) ([]string, error) {
	out, err := s.Doveadm("mailbox", "list", "-u", user)
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

// RecreateMailbox renumbers a mailbox under a new UIDVALIDITY, keeping its
// messages and their flags: it stops the server, removes the mailbox's
// dovecot-uidlist and index files (and the mailbox list index, which caches
// UIDVALIDITY), and restarts. Clients are disconnected, as they would be by
// a real server migration. It fails if the UIDVALIDITY did not change.
func (s *Server) RecreateMailbox(user, mailbox string) error {
	before, err := s.UIDValidity(user, mailbox)
	if err != nil {
		return err
	}
	if err := s.Stop(); err != nil {
		return err
	}
	dir := s.maildir(user, mailbox)
	root := filepath.Join(s.home(user), "Maildir")
	var remove []string
	for _, pattern := range []string{
		filepath.Join(dir, "dovecot-uidlist*"),
		filepath.Join(dir, "dovecot.index*"),
		filepath.Join(root, "dovecot.list.index*"),
	} {
		m, _ := filepath.Glob(pattern)
		remove = append(remove, m...)
	}
	for _, p := range remove {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("dovecottest: recreate %s: %w", mailbox, err)
		}
	}
	if err := s.start(); err != nil {
		return err
	}
	after, err := s.UIDValidity(user, mailbox)
	if err != nil {
		return err
	}
	if after == before {
		return fmt.Errorf("dovecottest: recreate %s: UIDVALIDITY still %d", mailbox, after)
	}
	return nil
}
