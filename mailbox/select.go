package mailbox

import (
	"context"
	"errors"
	"fmt"
)

// Status is what SELECT reports about a mailbox.
type Status struct {
	// UIDValidity changes when the server renumbers the mailbox: UIDs
	// remembered under another value mean nothing any more.
	UIDValidity uint32
	// UIDNext is the UID the next message will get at the earliest; zero
	// if the server did not say.
	UIDNext uint32
	// Messages is the number of messages.
	Messages uint32
}

// Select opens a mailbox read-write (MOVE needs it) and returns its status.
func (c *Conn) Select(ctx context.Context, mailbox string) (Status, error) {
	c.takeNewMail() // what SELECT reports supersedes earlier notices
	c.mailbox = ""  // a failed SELECT leaves none selected (RFC 3501 section 6.3.1)
	var st Status
	err := c.do(ctx, fmt.Sprintf("select %q", mailbox), func(*watchdog) error {
		data, err := c.client.Select(mailbox, nil).Wait()
		if err != nil {
			return err
		}
		if data.UIDValidity == 0 {
			return errors.New("server sent no UIDVALIDITY")
		}
		st = Status{UIDValidity: data.UIDValidity, UIDNext: uint32(data.UIDNext), Messages: data.NumMessages}
		c.mailbox = mailbox
		return nil
	})
	return st, err
}

// selected fails unless a mailbox is selected. It does not use the client's
// own state, which go-imap v2.0.0-beta.8 updates only after Select's Wait
// has returned.
func (c *Conn) selected() error {
	if c.mailbox == "" {
		return errors.New("no mailbox selected")
	}
	return nil
}

// count returns the number of messages in the selected mailbox as the
// client tracks it, if it knows.
func (c *Conn) count() (uint32, bool) {
	mb := c.client.Mailbox()
	if mb == nil {
		return 0, false
	}
	return mb.NumMessages, true
}
