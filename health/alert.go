package health

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/recoverybot/recoverybot/internal/fault"
	"github.com/recoverybot/recoverybot/outbound"
	"github.com/recoverybot/recoverybot/store"
)

// The alerts, as named in the store's episodes and in the outbox.
const (
	AlertFetch  = "fetch"  // fetching has failed for longer than StaleAfter
	AlertToken  = "token"  // the OAuth token failed
	AlertOutbox = "outbox" // the outbox is stuck
)

// Alert mails the support address what went wrong since the last call,
// at most once per episode of each alert, through the outbox in the
// transaction that records the episode: fetching failing for longer than
// StaleAfter (and, once it works again, that it does), the OAuth token
// failing, a mail stuck in the outbox for longer than StaleAfter. The
// daemon calls it every few seconds; it writes nothing while all is well
// and nothing has to end.
func (m *Monitor) Alert(ctx context.Context) error {
	if m.o.SupportAddress == "" {
		return nil
	}
	f := m.fetchState()
	err := m.o.Store.Update(ctx, func(tx *store.Tx) error {
		now := tx.Now()
		if err := m.alertFetch(tx, now, f); err != nil {
			return err
		}
		if err := m.alertToken(tx, f); err != nil {
			return err
		}
		return m.alertOutbox(tx, now)
	})
	if err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	return nil
}

func (m *Monitor) alertFetch(tx *store.Tx, now time.Time, f fetchState) error {
	ep, open, err := tx.AlertEpisode(AlertFetch)
	if err != nil {
		return err
	}
	switch {
	case !f.failing.IsZero():
		if !open {
			// The episode began with the last success, or with the
			// first failure when there was none in this process.
			began := f.failing
			if !f.fetched.IsZero() {
				began = f.fetched
			}
			ep = store.AlertEpisode{Alert: AlertFetch, BeganAt: began, Cause: string(f.cause)}
			if err := tx.BeginAlertEpisode(ep); err != nil {
				return err
			}
		}
		if ep.AlertedAt != nil || now.Sub(ep.BeganAt) <= m.o.StaleAfter {
			return nil
		}
		if err := m.notify(tx, AlertFetch+"-"+stamp(ep.BeganAt), fetchStale(ep.BeganAt, now, f.cause)); err != nil {
			return err
		}
		return tx.MarkAlerted(AlertFetch, string(f.cause))
	case !f.fetched.IsZero() && open:
		if ep.AlertedAt != nil {
			if err := m.notify(tx, AlertFetch+"-"+stamp(ep.BeganAt)+"-recovered", fetchRecovered(ep, f.fetched)); err != nil {
				return err
			}
		}
		return tx.EndAlertEpisode(AlertFetch)
	}
	return nil
}

func (m *Monitor) alertToken(tx *store.Tx, f fetchState) error {
	_, open, err := tx.AlertEpisode(AlertToken)
	if err != nil {
		return err
	}
	switch {
	case f.cause == fault.TokenFailed:
		if open {
			return nil
		}
		ep := store.AlertEpisode{Alert: AlertToken, BeganAt: f.failing, Cause: string(f.cause)}
		if err := tx.BeginAlertEpisode(ep); err != nil {
			return err
		}
		if err := m.notify(tx, AlertToken+"-"+stamp(ep.BeganAt), tokenFailed(ep.BeganAt)); err != nil {
			return err
		}
		return tx.MarkAlerted(AlertToken, string(f.cause))
	case !f.fetched.IsZero() && f.failing.IsZero() && open:
		return tx.EndAlertEpisode(AlertToken)
	}
	return nil
}

func (m *Monitor) alertOutbox(tx *store.Tx, now time.Time) error {
	_, open, err := tx.AlertEpisode(AlertOutbox)
	if err != nil {
		return err
	}
	queued, failing, err := tx.OldestFailingMail()
	if err != nil {
		return err
	}
	switch stuck := failing && now.Sub(queued) > m.o.StaleAfter; {
	case stuck && !open:
		if err := tx.BeginAlertEpisode(store.AlertEpisode{Alert: AlertOutbox, BeganAt: queued}); err != nil {
			return err
		}
		if err := m.notify(tx, AlertOutbox+"-"+stamp(queued), outboxStuck(queued, now)); err != nil {
			return err
		}
		return tx.MarkAlerted(AlertOutbox, "")
	case !stuck && open:
		return tx.EndAlertEpisode(AlertOutbox)
	}
	return nil
}

// notice is an alert mail's subject and text.
type notice struct{ subject, text string }

func (m *Monitor) notify(tx *store.Tx, event string, n notice) error {
	_, err := m.o.Letters.QueueNotice(tx, outbound.Notice{
		Name: outbound.NoticeAlert, To: m.o.SupportAddress, Subject: n.subject, Text: n.text, EventKey: "alert-" + event,
	})
	if err == nil {
		m.log.Warn("alert queued", "alert", event, "to", m.o.SupportAddress)
	}
	return err
}

func stamp(t time.Time) string { return t.UTC().Format("20060102T150405.000000000Z") }

func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// ago writes d to the minute.
func ago(d time.Duration) string {
	d = d.Round(time.Minute)
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	if d >= time.Hour {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func fetchStale(began, now time.Time, c fault.Cause) notice {
	var b strings.Builder
	fmt.Fprintf(&b, "recoverybot has not fetched mail from the contact mailbox since %s (%s ago).\n\n", when(began), ago(now.Sub(began)))
	fmt.Fprintf(&b, "What broke: %s (cause %s in the log).\n", summary(c), c)
	fmt.Fprintf(&b, "What to check: %s\n\n", advice(c))
	b.WriteString("Customers' mail waits in the mailbox meanwhile; none is lost. recoverybot keeps trying, ")
	b.WriteString("and sends one more mail when fetching works again. The log (component=watcher) says more.\n")
	return notice{subject: "recoverybot: fetching mail has failed since " + when(began), text: b.String()}
}

func fetchRecovered(ep store.AlertEpisode, at time.Time) notice {
	var b strings.Builder
	fmt.Fprintf(&b, "recoverybot fetches mail again since %s.\n\n", when(at))
	fmt.Fprintf(&b, "It had not fetched since %s (%s)", when(ep.BeganAt), ago(at.Sub(ep.BeganAt)))
	if ep.Cause != "" {
		fmt.Fprintf(&b, "; the cause was %s: %s", ep.Cause, summary(fault.Cause(ep.Cause)))
	}
	b.WriteString(".\nThe mail that waited meanwhile is being processed now.\n")
	return notice{subject: "recoverybot: fetching mail works again", text: b.String()}
}

func tokenFailed(began time.Time) notice {
	var b strings.Builder
	fmt.Fprintf(&b, "recoverybot could not log in to the contact mailbox with its OAuth token since %s.\n\n", when(began))
	fmt.Fprintf(&b, "What broke: %s (cause %s in the log).\n", summary(fault.TokenFailed), fault.TokenFailed)
	fmt.Fprintf(&b, "What to check: %s\n\n", advice(fault.TokenFailed))
	b.WriteString("recoverybot fetches nothing until a login succeeds. This mail is sent once until then.\n")
	return notice{subject: "recoverybot: the mailbox's OAuth token failed", text: b.String()}
}

func outboxStuck(queued, now time.Time) notice {
	var b strings.Builder
	fmt.Fprintf(&b, "A mail queued at %s (%s ago) is still waiting in the outbox after failed attempts to send it.\n\n",
		when(queued), ago(now.Sub(queued)))
	b.WriteString("What to check: the [smtp] address, security, username and password, and whether the SMTP server ")
	b.WriteString("accepts mail (its log; recoverybot's lines with component=outbox give the cause). ")
	b.WriteString("`recoverybot cases show REF` shows a case's mail and its last error.\n\n")
	b.WriteString("recoverybot keeps trying until [policy] outbox_give_up; this mail is sent once until the outbox moves again ")
	b.WriteString("(it may itself wait behind the stuck mail).\n")
	return notice{subject: "recoverybot: mail is stuck in the outbox since " + when(queued), text: b.String()}
}

// summary says what broke, in a few words.
func summary(c fault.Cause) string {
	switch c {
	case fault.DiskFull:
		return "the disk holding the data directory is full"
	case fault.ReadOnly:
		return "the data directory's file system or database is read-only"
	case fault.DatabaseCorrupt:
		return "the database is corrupt"
	case fault.LoginRefused:
		return "the mailbox server refused the login"
	case fault.TokenFailed:
		return "the OAuth token could not be had, or the server refused it"
	case fault.Unreachable:
		return "the mailbox server cannot be reached"
	case fault.TLS:
		return "TLS with the mailbox server failed"
	case fault.ConnectionLost:
		return "the connection to the mailbox server keeps being lost"
	case fault.Timeout:
		return "the mailbox server does not answer in time"
	case fault.Server:
		return "the mailbox server refuses a command"
	}
	return "an error the log shows"
}

// advice says what to check.
func advice(c fault.Cause) string {
	switch c {
	case fault.DiskFull:
		return "free space on the file system of data_dir (df -h); fetching resumes by itself."
	case fault.ReadOnly:
		return "whether the file system of data_dir was remounted read-only (the kernel log: often after disk errors), and the permissions of data_dir."
	case fault.DatabaseCorrupt:
		return "stop recoverybot and restore the database from the last backup (README: Backup and restore)."
	case fault.LoginRefused:
		return "the [imap] username and password, and whether the account is locked or its password changed."
	case fault.TokenFailed:
		return "[imap] token_file or token_command, and the job that refreshes the token (an expired or revoked grant must be renewed)."
	case fault.Unreachable:
		return "the [imap] address, DNS, the firewall, and whether the IMAP server is up."
	case fault.TLS:
		return "the IMAP server's certificate (expired? issued for another name?) and [imap] security."
	case fault.ConnectionLost, fault.Timeout:
		return "the network between recoverybot and the IMAP server, and the server's load and log."
	case fault.Server:
		return "the IMAP server's log, and that the folders [imap] names exist."
	}
	return "recoverybot's log (component=watcher)."
}
