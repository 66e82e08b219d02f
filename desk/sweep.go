package desk

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/outbound"
	"github.com/recoverybot/recoverybot/store"
)

// The system's own actions, run by the scheduled jobs of package sweep.
// Each is one store transaction, audited under recoverybot.SystemActor,
// and idempotent: run twice at the same instant, the second run finds
// nothing left to do. now is the caller's clock; the rows written carry
// the store's.

// The flags that say our last mail to a case's customer bounced
// (rules.Decide sets them): no reminder goes to such a case.
var bouncedFlags = []string{"code email bounced", "our mail bounced"}

func bounced(c recoverybot.Case) bool {
	return slices.ContainsFunc(c.Flags, func(f string) bool { return slices.Contains(bouncedFlags, f) })
}

// waitingSince returns the cases awaiting evidence that were opened at
// least d before now: those expire and remind act on.
func waitingSince(tx *store.Tx, now time.Time, d time.Duration) ([]recoverybot.Case, error) {
	cases, err := tx.ListCases(store.CaseFilter{State: recoverybot.StateAwaitingEvidence})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(cases, func(c recoverybot.Case) bool { return now.Before(c.OpenedAt.Add(d)) }), nil
}

// Expire closes the cases that have been awaiting evidence for ttl or
// longer since they were opened: each becomes expired, its codes stop
// counting, the audit log says so and the customer is told in the
// profile's locale. Counts: "expired", "mailed".
func (d *Desk) Expire(ctx context.Context, now time.Time, ttl time.Duration) (map[string]int, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("expire: case_ttl %v is not positive", ttl)
	}
	counts := map[string]int{"expired": 0, "mailed": 0}
	var refs []string
	err := d.store.Update(ctx, func(tx *store.Tx) error {
		cases, err := waitingSince(tx, now, ttl)
		if err != nil {
			return err
		}
		for _, c := range cases {
			to, err := recoverybot.Transition(c.State, recoverybot.EventExpire)
			if err != nil {
				return err
			}
			at := tx.Now()
			c.State, c.UpdatedAt, c.DecidedBy, c.DecidedAt = to, at, recoverybot.SystemActor, &at
			if err := tx.UpdateCase(c); err != nil {
				return err
			}
			if err := tx.SupersedeCodes(c.ID); err != nil {
				return err
			}
			if err := tx.Audit(c.ID, recoverybot.SystemActor, "case_expired", map[string]string{
				"case_ttl": ttl.String(), "opened_at": c.OpenedAt.UTC().Format(time.RFC3339)}); err != nil {
				return err
			}
			p, err := tx.Profile(c.ProfileID)
			if err != nil {
				return err
			}
			if to := c.CustomerAddress(p); to != "" {
				if err := d.queue(tx, c, p, outbound.Expired, to, "expired", nil); err != nil {
					return err
				}
				counts["mailed"]++
			}
			counts["expired"]++
			refs = append(refs, c.Ref)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("expire: %w", err)
	}
	for _, ref := range refs {
		d.log.Info("case expired", "case", ref, "agent", recoverybot.SystemActor)
	}
	return counts, nil
}

// reminderAction is the audit action that records a reminder: a case
// that has one is not reminded again.
const reminderAction = "reminder_sent"

// Remind sends one reminder to the customer of each case that has been
// awaiting evidence for after or longer since it was opened, naming what
// is still missing (never the code itself). A case is reminded once; a
// case whose last mail to the customer bounced is not reminded. Counts:
// "reminded", "skipped_bounced".
func (d *Desk) Remind(ctx context.Context, now time.Time, after time.Duration) (map[string]int, error) {
	if after <= 0 {
		return nil, fmt.Errorf("remind: remind_after %v is not positive", after)
	}
	counts := map[string]int{"reminded": 0, "skipped_bounced": 0}
	var refs []string
	err := d.store.Update(ctx, func(tx *store.Tx) error {
		cases, err := waitingSince(tx, now, after)
		if err != nil {
			return err
		}
		for _, c := range cases {
			events, err := tx.AuditEvents(store.AuditFilter{CaseID: c.ID})
			if err != nil {
				return err
			}
			if slices.ContainsFunc(events, func(e recoverybot.AuditEvent) bool { return e.Action == reminderAction }) {
				continue
			}
			if bounced(c) {
				counts["skipped_bounced"]++
				continue
			}
			sum, err := d.summary(tx, c)
			if err != nil {
				return err
			}
			p, err := tx.Profile(c.ProfileID)
			if err != nil {
				return err
			}
			to := c.CustomerAddress(p)
			if len(sum.Missing) == 0 || to == "" {
				continue
			}
			missing := make([]string, len(sum.Missing))
			for i, r := range sum.Missing {
				missing[i] = string(r)
			}
			if err := tx.Audit(c.ID, recoverybot.SystemActor, reminderAction, map[string]string{
				"missing": strings.Join(missing, ", "), "to": to}); err != nil {
				return err
			}
			if err := d.queue(tx, c, p, outbound.Reminder, to, "reminder", func(data *outbound.Data) {
				data.Missing = sum.Missing
			}); err != nil {
				return err
			}
			counts["reminded"]++
			refs = append(refs, c.Ref)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("remind: %w", err)
	}
	for _, ref := range refs {
		d.log.Info("reminder queued", "case", ref)
	}
	return counts, nil
}

// DigestOptions configure Digest.
type DigestOptions struct {
	To     string // [support] address
	Always bool   // digest_always: mail even when there is nothing to say
}

// Digest mails the support address a list of the cases waiting for
// review, oldest first, with their age and kind, and of what is stuck:
// locked cases, cases whose mail bounced, failed outgoing mail and the
// sweep runs that failed since the last digest. Nothing is mailed when
// there is nothing to say, unless o.Always. Counts: "ready", "locked",
// "bounced", "failed_mail", "failed_runs", "mailed".
func (d *Desk) Digest(ctx context.Context, now time.Time, o DigestOptions) (map[string]int, error) {
	if o.To == "" {
		return nil, fmt.Errorf("digest: no [support] address configured")
	}
	counts := map[string]int{}
	err := d.store.Update(ctx, func(tx *store.Tx) error {
		open, err := tx.ListCases(store.CaseFilter{Open: true})
		if err != nil {
			return err
		}
		slices.Reverse(open) // oldest first
		var ready, locked, bouncedCases []recoverybot.Case
		cases := map[int64]recoverybot.Case{}
		for _, c := range open {
			cases[c.ID] = c
			switch {
			case c.State == recoverybot.StateReadyForReview:
				ready = append(ready, c)
			case c.State == recoverybot.StateLocked:
				locked = append(locked, c)
			}
			if bounced(c) {
				bouncedCases = append(bouncedCases, c)
			}
		}
		mail, err := tx.Outbox(store.OutboxFilter{})
		if err != nil {
			return err
		}
		var failedMail []store.OutgoingMail
		var lastDigest time.Time
		for _, m := range mail {
			if m.Template == string(outbound.NoticeDigest) && m.CreatedAt.After(lastDigest) {
				lastDigest = m.CreatedAt
			}
			if m.State == store.OutboxFailed {
				failedMail = append(failedMail, m)
			}
		}
		runs, err := tx.SweepRuns(store.SweepRunFilter{Failed: true, Since: lastDigest})
		if err != nil {
			return err
		}
		slices.Reverse(runs)
		counts["ready"], counts["locked"], counts["bounced"] = len(ready), len(locked), len(bouncedCases)
		counts["failed_mail"], counts["failed_runs"], counts["mailed"] = len(failedMail), len(runs), 0
		if len(ready)+len(locked)+len(bouncedCases)+len(failedMail)+len(runs) == 0 && !o.Always {
			return nil
		}

		var b strings.Builder
		fmt.Fprintf(&b, "recoverybot digest, %s\n\n", now.UTC().Format("2006-01-02 15:04 UTC"))
		fmt.Fprintf(&b, "Waiting for review (%d), oldest first:\n", len(ready))
		for _, c := range ready {
			fmt.Fprintf(&b, "  %s  %-12s  opened %s ago\n", c.Ref, c.Kind, age(now.Sub(c.OpenedAt)))
		}
		fmt.Fprintf(&b, "\nStuck:\n")
		for _, c := range locked {
			fmt.Fprintf(&b, "  %s  %-12s  locked (too many wrong codes), opened %s ago\n", c.Ref, c.Kind, age(now.Sub(c.OpenedAt)))
		}
		for _, c := range bouncedCases {
			fmt.Fprintf(&b, "  %s  %-12s  %s\n", c.Ref, c.Kind, strings.Join(c.Flags, ", "))
		}
		for _, m := range failedMail {
			// Mail of a closed case too: the decision mail that never
			// reached the customer is for an agent to follow up.
			c, ok := cases[m.CaseID]
			if !ok && m.CaseID != 0 {
				if found, err := tx.CaseByID(m.CaseID); err == nil {
					c, ok = found, true
				}
			}
			if ok {
				fmt.Fprintf(&b, "  %s  %-12s  mail failed: %s to %s: %s\n", c.Ref, c.Kind, m.Template, m.To, oneLine(m.LastError))
			} else {
				fmt.Fprintf(&b, "  -  mail failed: %s to %s: %s\n", m.Template, m.To, oneLine(m.LastError))
			}
		}
		for _, r := range runs {
			fmt.Fprintf(&b, "  sweep %s %s at %s: %s\n", r.Job, r.Outcome, r.StartedAt.UTC().Format(time.RFC3339), oneLine(r.Error))
		}
		if len(locked)+len(bouncedCases)+len(failedMail)+len(runs) == 0 {
			fmt.Fprintf(&b, "  nothing\n")
		}
		queued, err := d.letters.QueueNotice(tx, outbound.Notice{
			Name: outbound.NoticeDigest, To: o.To, Text: b.String(),
			Subject:  fmt.Sprintf("recoverybot digest: %d waiting for review, %d stuck", len(ready), len(locked)+len(bouncedCases)+len(failedMail)+len(runs)),
			EventKey: "digest-" + now.UTC().Format("20060102T150405.000000000"),
		})
		if err != nil {
			return err
		}
		if queued {
			counts["mailed"] = 1
			return tx.Audit(0, recoverybot.SystemActor, "digest_sent", map[string]string{
				"to": o.To, "ready": fmt.Sprint(len(ready)), "stuck": fmt.Sprint(len(locked) + len(bouncedCases) + len(failedMail) + len(runs))})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("digest: %w", err)
	}
	return counts, nil
}

// age writes a duration in days and hours, or hours and minutes.
func age(d time.Duration) string {
	d = d.Round(time.Minute)
	if d < 0 {
		d = 0
	}
	if days := int(d / (24 * time.Hour)); days > 0 {
		return fmt.Sprintf("%dd%02dh", days, int(d%(24*time.Hour)/time.Hour))
	}
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
