package dovecottest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Paths of the Dovecot binaries (Debian packages dovecot-core,
// dovecot-imapd, dovecot-lmtpd).
const (
	DovecotPath = "/usr/sbin/dovecot"
	DoveadmPath = "/usr/bin/doveadm"
)

// ErrNotInstalled is returned by Launch when Dovecot is not installed.
var ErrNotInstalled = errors.New("dovecot not installed: run `make test` as root or apt-get install dovecot-imapd dovecot-lmtpd")

// The mail user every session runs as: nobody/nogroup on Debian.
const (
	mailUID = 65534
	mailGID = 65534
)

const (
	startTimeout = 20 * time.Second
	stopTimeout  = 10 * time.Second
	bindAttempts = 5
)

// Option configures a server.
type Option func(*config)

type config struct {
	users []account
	extra []string
}

type account struct {
	name, password string
}

// WithUser adds a mail account. The first account added is the one User and
// Password report. Without any WithUser the server has one account,
// "contact", with a random password. Names must not contain '@', ':' or
// whitespace: LMTP recipients user@anything are delivered to user.
func WithUser(name, password string) Option {
	return func(c *config) { c.users = append(c.users, account{name, password}) }
}

// WithConfig appends raw lines to the generated dovecot.conf, for example
// "imap_capability = IMAP4rev1 IDLE" to hide MOVE and UIDPLUS from clients.
func WithConfig(lines string) Option {
	return func(c *config) { c.extra = append(c.extra, lines) }
}

// Server is a running (or stopped) Dovecot instance. Its methods are safe
// for concurrent use.
type Server struct {
	dir      string // everything of this server lives here
	baseDir  string // Dovecot's runtime dir (sockets); short, see newBaseDir
	ownsBase bool   // baseDir is outside dir and removed by Stop
	conf     string
	cfg      config

	imapPort, lmtpPort int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been reaped
}

// Launch creates a fresh directory under dir, writes a configuration there
// and starts Dovecot on free loopback ports. The caller must call Stop.
func Launch(dir string, opts ...Option) (*Server, error) {
	if !installed() {
		return nil, ErrNotInstalled
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("dovecottest: Dovecot must be started as root (it switches to the mail user): run `make test` as root")
	}
	s := &Server{}
	for _, o := range opts {
		o(&s.cfg)
	}
	if len(s.cfg.users) == 0 {
		s.cfg.users = []account{{"contact", randomHex(12)}}
	}
	for _, u := range s.cfg.users {
		if u.name == "" || strings.ContainsAny(u.name, "@: \t\n/") || strings.ContainsAny(u.password, ":\n") {
			return nil, fmt.Errorf("dovecottest: invalid user %q", u.name)
		}
	}

	root, err := os.MkdirTemp(dir, "dovecot-")
	if err != nil {
		return nil, fmt.Errorf("dovecottest: %w", err)
	}
	s.dir, err = filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("dovecottest: %w", err)
	}
	var lastErr error
	defer func() {
		if lastErr != nil && s.ownsBase {
			os.RemoveAll(s.baseDir)
		}
	}()
	if lastErr = s.prepare(); lastErr != nil {
		return nil, lastErr
	}
	for range bindAttempts {
		if s.imapPort, s.lmtpPort, lastErr = freePorts(); lastErr != nil {
			return nil, lastErr
		}
		if lastErr = s.writeConfig(); lastErr != nil {
			return nil, lastErr
		}
		lastErr = s.start()
		if lastErr == nil {
			return s, nil
		}
		if !errors.Is(lastErr, errAddrInUse) {
			break
		}
	}
	return nil, lastErr
}

// installed reports whether Dovecot with its IMAP and LMTP services and
// doveadm are present.
func installed() bool {
	for _, p := range []string{DovecotPath, DoveadmPath} {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	for _, libexec := range []string{"/usr/lib/dovecot", "/usr/libexec/dovecot"} {
		_, imapErr := os.Stat(filepath.Join(libexec, "imap"))
		_, lmtpErr := os.Stat(filepath.Join(libexec, "lmtp"))
		if imapErr == nil && lmtpErr == nil {
			return true
		}
	}
	return false
}

// prepare lays out the directory: world-searchable so that Dovecot's
// unprivileged processes reach it, users' homes owned by the mail user.
func (s *Server) prepare() error {
	if err := os.Chmod(s.dir, 0o755); err != nil {
		return fmt.Errorf("dovecottest: %w", err)
	}
	if err := makeSearchable(filepath.Dir(s.dir)); err != nil {
		return err
	}
	// Unix socket paths are limited to 108 bytes; Dovecot's longest is
	// about 30 bytes past base_dir.
	s.baseDir = filepath.Join(s.dir, "run")
	if len(s.baseDir) > 70 {
		d, err := os.MkdirTemp("", "dt-")
		if err != nil {
			return fmt.Errorf("dovecottest: %w", err)
		}
		s.baseDir, s.ownsBase = d, true
	}
	for _, d := range []string{"state", "log"} {
		if err := os.Mkdir(filepath.Join(s.dir, d), 0o755); err != nil {
			return fmt.Errorf("dovecottest: %w", err)
		}
	}
	var passwd strings.Builder
	for _, u := range s.cfg.users {
		home := s.home(u.name)
		if err := os.MkdirAll(home, 0o700); err != nil {
			return fmt.Errorf("dovecottest: %w", err)
		}
		if err := os.Chown(home, mailUID, mailGID); err != nil {
			return fmt.Errorf("dovecottest: %w", err)
		}
		// user:password:uid:gid:gecos:home:shell:extra — home must be
		// absolute: passwd-file does not expand variables in it.
		fmt.Fprintf(&passwd, "%s:{PLAIN}%s:%d:%d::%s::\n", u.name, u.password, mailUID, mailGID, home)
	}
	if err := os.Chmod(filepath.Join(s.dir, "home"), 0o755); err != nil {
		return fmt.Errorf("dovecottest: %w", err)
	}
	// Read by the auth process, which runs as the dovecot user. The
	// passwords are throw-away test passwords.
	if err := os.WriteFile(filepath.Join(s.dir, "passwd"), []byte(passwd.String()), 0o644); err != nil {
		return fmt.Errorf("dovecottest: %w", err)
	}
	return nil
}

// makeSearchable gives "others" search permission on dir and its parents
// where it is missing, so that the mail user can reach the homes.
func makeSearchable(dir string) error {
	for {
		fi, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("dovecottest: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(dir, fi.Mode().Perm()|0o755); err != nil {
				return fmt.Errorf("dovecottest: make %s searchable: %w", dir, err)
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

func (s *Server) home(user string) string { return filepath.Join(s.dir, "home", user) }

func (s *Server) writeConfig() error {
	s.conf = filepath.Join(s.dir, "dovecot.conf")
	conf := fmt.Sprintf(`# Written by dovecottest; do not edit.
base_dir = %[1]s
state_dir = %[2]s/state
log_path = %[2]s/log/dovecot.log
info_log_path = %[2]s/log/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %%Ln
auth_verbose = yes
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_fsync = never
postmaster_address = postmaster@localhost
hostname = localhost
passdb {
  driver = passwd-file
  args = scheme=PLAIN %[2]s/passwd
}
userdb {
  driver = passwd-file
  args = %[2]s/passwd
}
namespace inbox {
  inbox = yes
  separator = .
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[3]d
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = %[4]d
  }
}
%[5]s
`, s.baseDir, s.dir, s.imapPort, s.lmtpPort, strings.Join(s.cfg.extra, "\n"))
	if err := os.WriteFile(s.conf, []byte(conf), 0o644); err != nil {
		return fmt.Errorf("dovecottest: %w", err)
	}
	return nil
}

var errAddrInUse = errors.New("address already in use")

// start runs the master in the foreground, in its own process group so
// that Stop can reap every process it forked.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("dovecottest: already running")
	}
	if err := os.MkdirAll(s.baseDir, 0o755); err != nil {
		return fmt.Errorf("dovecottest: %w", err)
	}
	out, err := os.OpenFile(filepath.Join(s.dir, "log", "master.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("dovecottest: %w", err)
	}
	defer out.Close()
	logSize := fileSize(filepath.Join(s.dir, "log", "dovecot.log"))
	outSize := fileSize(out.Name())

	cmd := exec.Command(DovecotPath, "-F", "-c", s.conf)
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so that Stop reaps all of Dovecot's
	// processes (and a Ctrl-C meant for a benchmark does not stop the
	// server under it); the parent's death stops it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("dovecottest: start dovecot: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done

	deadline := time.Now().Add(startTimeout)
	for {
		if greet(s.Addr()) == nil {
			return nil
		}
		select {
		case <-done:
			s.cmd, s.done = nil, nil
			killGroup(cmd.Process.Pid)
			msg := tail(filepath.Join(s.dir, "log", "dovecot.log"), logSize) + tail(out.Name(), outSize)
			if strings.Contains(msg, "Address already in use") {
				return fmt.Errorf("dovecottest: %w: %s", errAddrInUse, oneLine(msg))
			}
			return fmt.Errorf("dovecottest: dovecot exited at start: %s", oneLine(msg))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stopLocked()
			return fmt.Errorf("dovecottest: IMAP port %d not ready after %v: %s", s.imapPort, startTimeout,
				oneLine(tail(filepath.Join(s.dir, "log", "dovecot.log"), logSize)))
		}
	}
}

// greet dials the IMAP listener and reads the greeting.
func greet(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "* OK") {
		return fmt.Errorf("unexpected greeting %q", line)
	}
	c.Write([]byte("a LOGOUT\r\n"))
	return nil
}

// Stop stops Dovecot and waits until every one of its processes is gone.
// Stopping a stopped server does nothing. Mail and configuration are kept
// for Restart.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

func (s *Server) stopLocked() error {
	if s.cmd == nil {
		return nil
	}
	pid := s.cmd.Process.Pid
	s.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		err = fmt.Errorf("dovecottest: dovecot did not stop within %v; killed", stopTimeout)
		syscall.Kill(-pid, syscall.SIGKILL)
		<-s.done
	}
	killGroup(pid)
	s.cmd, s.done = nil, nil
	if s.ownsBase {
		os.RemoveAll(s.baseDir)
	}
	return err
}

// killGroup makes sure no process of the group led by pid survives: child
// processes still holding the listening sockets would make Restart fail.
// A process group ID is not reused while any member is alive.
func killGroup(pid int) {
	deadline := time.Now().Add(2 * time.Second)
	for groupAlive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// groupAlive reports whether a process group has a member that is not a
// zombie. Dovecot's children are reparented to PID 1 when the master exits,
// and a PID 1 that is slow to reap them (as in many containers) would
// otherwise keep the group "alive" for seconds.
func groupAlive(pgid int) bool {
	if syscall.Kill(-pgid, 0) != nil {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may contain spaces.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) >= 3 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			return true
		}
	}
	return false
}

// Restart stops and starts Dovecot with the same configuration, ports and
// mail. Connected clients are disconnected.
func (s *Server) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.start()
}

// Running reports whether the server has been started and not stopped.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Addr returns the IMAP listener's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.imapPort)) }

// LMTPAddr returns the LMTP listener's host:port.
func (s *Server) LMTPAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.lmtpPort)) }

// User returns the first account's name.
func (s *Server) User() string { return s.cfg.users[0].name }

// Password returns the first account's password.
func (s *Server) Password() string { return s.cfg.users[0].password }

// Dir returns the server's directory (configuration, logs, homes).
func (s *Server) Dir() string { return s.dir }

// ConfigPath returns the path of the generated dovecot.conf.
func (s *Server) ConfigPath() string { return s.conf }

// LogTail returns the last n bytes of Dovecot's log, for failing tests.
func (s *Server) LogTail(n int64) string {
	p := filepath.Join(s.dir, "log", "dovecot.log")
	return tail(p, max(0, fileSize(p)-n))
}

// LogSize is the size of the server's log, for SentSince.
func (s *Server) LogSize() int64 { return fileSize(filepath.Join(s.dir, "log", "dovecot.log")) }

// SentSince sums what the server says it sent to its IMAP clients in the
// sessions that ended since the log had size offset (LogSize): the out=
// of each "Logged out" or "Disconnected" line, in bytes, and how many
// sessions.
func (s *Server) SentSince(offset int64) (bytes int64, sessions int) {
	b, err := os.ReadFile(filepath.Join(s.dir, "log", "dovecot.log"))
	if err != nil || offset > int64(len(b)) {
		return 0, 0
	}
	for _, line := range strings.Split(string(b[offset:]), "\n") {
		if !strings.Contains(line, " imap(") || !strings.Contains(line, "Disconnected") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "out="); ok {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil {
					bytes += n
					sessions++
				}
			}
		}
	}
	return bytes, sessions
}

func freePorts() (imap, lmtp int, err error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, fmt.Errorf("dovecottest: find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports[0], ports[1], nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// tail returns what was appended to path since offset, at most 4 KiB.
func tail(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || offset > int64(len(b)) {
		return ""
	}
	b = b[offset:]
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "(no log output)"
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " | ")), " ")
}
