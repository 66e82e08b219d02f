package dovecottest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// Deliver hands raw to Dovecot's LMTP service for rcptUser (a user name, or
// user@domain), so that it arrives as real mail does: Return-Path and
// Delivered-To are added and IMAP clients in IDLE are notified.
func (s *Server) Deliver(rcptUser string, raw []byte) error {
	rcpt := rcptUser
	if !strings.Contains(rcpt, "@") {
		rcpt += "@localhost"
	}
	conn, err := net.DialTimeout("tcp", s.LMTPAddr(), 5*time.Second)
	if err != nil {
		return fmt.Errorf("dovecottest: deliver to %s: %w", rcpt, err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("dovecottest: deliver to %s: LHLO: %w", rcpt, err)
	}
	if err := c.SendMail("harness@localhost", []string{rcpt}, bytes.NewReader(raw)); err != nil {
		return fmt.Errorf("dovecottest: deliver to %s: %w", rcpt, err)
	}
	return c.Quit()
}

var saveSeq atomic.Uint64

// SaveMany stores messages into a user's mailbox (its Dovecot name, e.g.
// "INBOX" or "Recovery.Processed") by writing Maildir files directly, as a
// local delivery agent does: tmp/ then rename into new/. Dovecot assigns UIDs
// in the order of the slice when it next looks at the mailbox. It is much
// faster than Deliver for seeding thousands of messages, but does not notify
// IDLE clients immediately. A mailbox other than INBOX is created first if
// it does not exist, which needs the server running.
func (s *Server) SaveMany(user, mailbox string, raws [][]byte) error {
	dir := s.maildir(user, mailbox)
	if _, err := os.Stat(filepath.Join(dir, "cur")); err != nil {
		if strings.EqualFold(mailbox, "INBOX") {
			if err := s.mkMaildir(dir); err != nil {
				return err
			}
		} else if _, err := s.Doveadm("mailbox", "create", "-u", user, mailbox); err != nil {
			return err
		}
	}
	// Dovecot orders new files by the time in their name (sec.Musec) when
	// it assigns UIDs: give each message a distinct, increasing one.
	base := time.Now().Unix()
	pid := os.Getpid()
	save := func(i int) error {
		name := fmt.Sprintf("%d.M%06dP%dQ%d.dovecottest", base+int64(i/1000000), i%1000000, pid, saveSeq.Add(1))
		tmp := filepath.Join(dir, "tmp", name)
		f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		_, err = f.Write(raws[i])
		if err == nil {
			err = f.Chown(mailUID, mailGID)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		return os.Rename(tmp, filepath.Join(dir, "new", name))
	}
	// A few writers in parallel: the file system, not the CPU, is the
	// bottleneck.
	var (
		wg    sync.WaitGroup
		next  atomic.Int64
		errMu sync.Mutex
		first error
	)
	for range 4 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(raws) {
					return
				}
				if err := save(i); err != nil {
					errMu.Lock()
					if first == nil {
						first = err
					}
					errMu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return fmt.Errorf("dovecottest: save to %s: %w", mailbox, first)
	}
	return nil
}

// maildir returns the Maildir++ directory of a mailbox: INBOX is the root,
// "A.B" is the root's ".A.B".
func (s *Server) maildir(user, mailbox string) string {
	root := filepath.Join(s.home(user), "Maildir")
	if strings.EqualFold(mailbox, "INBOX") {
		return root
	}
	return filepath.Join(root, "."+mailbox)
}

func (s *Server) mkMaildir(dir string) error {
	for _, d := range []string{dir, filepath.Join(dir, "cur"), filepath.Join(dir, "new"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("dovecottest: %w", err)
		}
		if err := os.Chown(d, mailUID, mailGID); err != nil {
			return fmt.Errorf("dovecottest: %w", err)
		}
	}
	return nil
}
