package mailbox

import (
	"context"
	"fmt"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/recoverybot/recoverybot/internal/fault"
)

// Wait blocks until there may be new mail in the selected mailbox, then
// returns nil: the caller then lists new messages with Since.
//
// With IDLE it returns as soon as the server reports EXISTS, or after
// maxWait (zero: 25 minutes), restarting IDLE every five minutes meanwhile.
// Without IDLE it sleeps poll (zero: one minute; at most maxWait) and sends
// NOOP. New mail reported during earlier commands makes it return at once.
//
// It returns ctx.Err() when ctx is cancelled (the connection then remains
// usable if the server answered DONE promptly), and an error when the
// connection is broken. It never blocks much longer than maxWait plus the
// command timeout: a watchdog closes a connection that stopped answering.
func (c *Conn) Wait(ctx context.Context, maxWait, poll time.Duration) error {
	if c.takeNewMail() {
		return nil
	}
	if maxWait <= 0 {
		maxWait = 25 * time.Minute
	}
	if poll <= 0 {
		poll = time.Minute
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.selected(); err != nil {
		return fmt.Errorf("wait: %w", err)
	}
	if !c.CanIdle() {
		return c.poll(ctx, min(poll, maxWait))
	}
	// One watchdog for the whole wait, so that it ends by maxWait plus the
	// command timeout. It does not watch ctx: on cancellation IDLE is
	// ended politely, below.
	deadline := time.Now().Add(maxWait)
	w := c.watch(context.Background(), "idle", maxWait+c.opts.CommandTimeout)
	err := c.idle(ctx, deadline)
	if why := w.stop(); why != nil {
		return fmt.Errorf("idle: %w", why)
	}
	return err
}

func (c *Conn) idle(ctx context.Context, deadline time.Time) error {
	// Not every server reports, when IDLE starts, mail that arrived since
	// the last command (go-imap's own server does not): ask first.
	if err := c.client.Noop().Wait(); err != nil {
		return c.idleError(fmt.Errorf("noop: %w", err))
	}
	if c.takeNewMail() {
		return nil
	}
	for {
		cmd, err := c.client.Idle()
		if err != nil {
			return c.idleError(err)
		}
		timer := time.NewTimer(min(time.Until(deadline), c.idleRestart))
		var mail, done bool
		var cause error
		select {
		case <-c.newMail:
			mail = true
		case <-timer.C:
			done = !time.Now().Before(deadline)
		case <-ctx.Done():
			cause = ctx.Err()
		case <-c.client.Closed():
		}
		timer.Stop()
		if cause != nil {
			// End IDLE, but do not let a dead server hold up a shutdown.
			quick := c.watch(context.Background(), "idle done", min(c.opts.CommandTimeout, 5*time.Second))
			if err := endIdle(cmd); err == nil {
				c.log.Debug("idle ended", "reason", "cancelled")
			}
			quick.stop()
			return cause
		}
		if err := endIdle(cmd); err != nil {
			return c.idleError(err)
		}
		if isClosed(c.client) {
			return c.idleError(nil)
		}
		// Mail may also have arrived while IDLE was ending.
		if mail || c.takeNewMail() || done {
			return nil
		}
	}
}

func endIdle(cmd *imapclient.IdleCommand) error {
	if err := cmd.Close(); err != nil {
		return err
	}
	return cmd.Wait()
}

func (c *Conn) idleError(err error) error {
	if isClosed(c.client) {
		if err != nil {
			return fault.Wrap(fault.ConnectionLost, fmt.Errorf("idle: %w: %w", ErrClosed, err))
		}
		return fault.Wrap(fault.ConnectionLost, fmt.Errorf("idle: %w", ErrClosed))
	}
	return fmt.Errorf("idle: %w", err)
}

// poll sleeps d, then sends NOOP, which lets the server report new mail.
func (c *Conn) poll(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.client.Closed():
		return fault.Wrap(fault.ConnectionLost, fmt.Errorf("poll: %w", ErrClosed))
	case <-c.newMail:
		return nil
	case <-timer.C:
	}
	return c.do(ctx, "noop", func(*watchdog) error { return c.client.Noop().Wait() })
}
