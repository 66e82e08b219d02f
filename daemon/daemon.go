// Package daemon assembles recoverybot's long-running parts from the
// configuration: the mailbox watcher and its intake pipeline, the outbox
// courier, the action hook's courier, and the agents' desk. It never touches signals: `serve`,
// `run --once` and the demo call it with a context, and tests run it
// whole.
package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/action"
	"github.com/recoverybot/recoverybot/config"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/health"
	"github.com/recoverybot/recoverybot/intake"
	"github.com/recoverybot/recoverybot/internal/fault"
	"github.com/recoverybot/recoverybot/mailbox"
	"github.com/recoverybot/recoverybot/metrics"
	"github.com/recoverybot/recoverybot/outbound"
	"github.com/recoverybot/recoverybot/rules"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/sweep"
)

// Options are what a Daemon runs with.
type Options struct {
	Config  config.Config
	Store   *store.Store
	CodeKey recoverybot.CodeKey
	// MessageIDKey keys the Message-IDs of our mail: the data
	// directory's vault.PurposeMessageID key.
	MessageIDKey []byte
	Logger       *slog.Logger
	// IMAPTLS and SMTPTLS override the TLS configuration (tests, private
	// CAs); nil means the system roots.
	IMAPTLS, SMTPTLS *tls.Config
	// OnMessage is told what became of each message (the demo prints it).
	OnMessage func(intake.Report)
	// OutboxInterval paces the courier between drains; 0: 30 s.
	OutboxInterval time.Duration
	// Now is the clock the scheduled jobs are given; nil: time.Now.
	Now func() time.Time
	// OnSweep is told of each scheduled job's run once it is recorded.
	OnSweep func(store.SweepRun)
	// Exclusive says the caller holds the data directory's lock
	// (internal/instance): no other process can be sending or moving,
	// so mail a crash left being sent is marked failed as soon as Serve
	// or Once starts, and the moves a crash left undone are made, whoever
	// decided them. Without it the daemon makes only its own moves.
	Exclusive bool
	// ActionHook overrides the configured action hook (tests, a private
	// CA); nil: the one [action] configures, if any. The desks follow
	// the configuration ([action] set or not) to decide whether an
	// approval waits for a hook, so set [action] too.
	ActionHook action.Hook
	// OnActionDone runs in the transaction that records an action call
	// done (action.Courier.OnDone): the desk applies the approval and
	// queues the customer's mail there. nil: the daemon's desk's
	// ActionDone.
	OnActionDone func(tx *store.Tx, call recoverybot.ActionCall) error
	// OnActionResult runs in the transaction that records each outcome
	// of an action call (action.Courier.OnResult): the desk audits and
	// flags failures there. nil: the daemon's desk's ActionResult.
	OnActionResult func(tx *store.Tx, call recoverybot.ActionCall) error
}

// Daemon is recoverybot at work.
type Daemon struct {
	opts     Options
	log      *slog.Logger
	pipeline *intake.Pipeline
	courier  *outbound.Courier
	// actions sends the action calls; nil when no hook is configured.
	actions *action.Courier
	imap    mailbox.Options
	sched   *sweep.Scheduler
	desk    *desk.Desk
	metrics *metrics.Metrics

	// kick wakes the courier: the pipeline committed mail to send.
	kick chan struct{}

	// health answers Ready and sends the alerts.
	health *health.Monitor

	// live is what Alive answers from (notify.go).
	live liveness
}

// Letters returns the mail settings of a configuration, with the key of
// our Message-IDs.
func Letters(c config.Config, messageIDKey []byte) outbound.Letters {
	return outbound.Letters{From: c.SMTP.From, FromName: c.SMTP.FromName, Provider: c.ProviderName, CodeTTL: c.Policy.CodeTTL.D(),
		MessageIDKey: messageIDKey}
}

// NewDesk returns the agents' desk for a configuration, with the code key
// and the key of our Message-IDs. An approval waits for the action hook
// when [action] configures one, [policy] action_delay after it is made.
func NewDesk(c config.Config, st *store.Store, key recoverybot.CodeKey, messageIDKey []byte, log *slog.Logger) *desk.Desk {
	return desk.New(st, key, desk.Options{
		MessageIDKey:           messageIDKey,
		CodeTTL:                c.Policy.CodeTTL.D(),
		UnverifiedSenderCounts: !c.Auth.RequireAuthenticatedSender,
		From:                   c.SMTP.From,
		FromName:               c.SMTP.FromName,
		Provider:               c.ProviderName,
		Lookback:               c.Policy.Lookback.D(),
		ActionHook:             c.Action.Configured(),
		ActionDelay:            c.Policy.ActionDelay.D(),
		SecondApproval:         c.Policy.SecondApproval,
		Logger:                 log,
	})
}

// NewCourier returns the outbox courier of a configuration: it sends
// through [smtp] and gives up on a mail [policy] outbox_give_up after it
// was queued. smtpTLS overrides the TLS configuration (tests, private
// CAs); nil means the system roots. log nil: the courier logs nothing. It
// does not connect yet.
func NewCourier(c config.Config, st *store.Store, smtpTLS *tls.Config, log *slog.Logger) (*outbound.Courier, error) {
	sender, err := outbound.NewSender(outbound.SMTPOptions{
		Address: c.SMTP.Address, Security: c.SMTP.Security, Username: c.SMTP.Username, Password: c.SMTP.Password,
		TLSConfig: smtpTLS,
	})
	if err != nil {
		return nil, err
	}
	return &outbound.Courier{Store: st, Mailer: sender, Logger: log, GiveUp: c.Policy.OutboxGiveUp.D()}, nil
}

// NewActionHook returns the action hook [action] configures: a signed
// webhook to webhook_url, or the local command; nil (and no error) when
// neither is set. It does not connect yet.
func NewActionHook(c config.Config) (action.Hook, error) {
	a := c.Action
	switch {
	case a.WebhookURL != "":
		return action.NewWebhook(action.WebhookOptions{URL: a.WebhookURL, Secret: []byte(a.Secret), Timeout: a.Timeout.D()})
	case len(a.Command) > 0:
		return action.NewCommand(action.CommandOptions{Argv: a.Command, Timeout: a.Timeout.D()})
	}
	return nil, nil
}

// NewActionCourier returns the courier of the action calls through hook,
// with the desk's hooks onDone and onResult (either may be nil); nil when
// hook is nil. log nil: the courier logs nothing.
func NewActionCourier(c config.Config, st *store.Store, hook action.Hook, log *slog.Logger,
	onDone, onResult func(*store.Tx, recoverybot.ActionCall) error) *action.Courier {
	if hook == nil {
		return nil
	}
	return &action.Courier{Store: st, Hook: hook, Logger: log, OnDone: onDone, OnResult: onResult,
		// Far beyond the time limit of a call: a call being sent that
		// long belongs to a process that died.
		Stale: max(action.DefaultStale, 10*c.Action.Timeout.D())}
}

// Parts are what the scheduled jobs work with.
type Parts struct {
	Desk    *desk.Desk
	Courier *outbound.Courier
	// Pipeline and Dial reach the mailbox, for purge (its expunges) and
	// reconcile; without Dial those jobs say NoMailbox.
	Pipeline  *intake.Pipeline
	Dial      func(ctx context.Context) (*mailbox.Conn, error)
	NoMailbox error
}

// NewScheduler returns the scheduled jobs of a configuration, not yet
// started: expire, remind, purge, reconcile, outbox and, with a [support]
// address, digest, each on its [schedule] spec. recorded, when not nil,
// is called with each run once it is stored.
func NewScheduler(c config.Config, st *store.Store, p Parts, now func() time.Time, log *slog.Logger,
	recorded func(store.SweepRun)) (*sweep.Scheduler, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := sweep.New(sweep.Options{Now: now, Logger: log, Record: func(ctx context.Context, r store.SweepRun) error {
		_, err := st.RecordSweepRun(ctx, r)
		if err == nil && recorded != nil {
			recorded(r)
		}
		return err
	}})
	err := sweep.RegisterDesk(s, p.Desk, sweep.DeskJobs{
		ExpireSpec: c.Schedule.Expire, CaseTTL: c.Policy.CaseTTL.D(),
		RemindSpec: c.Schedule.Remind, RemindAfter: c.Policy.RemindAfter.D(),
		DigestSpec: c.Schedule.Digest, SupportAddress: c.Support.Address, DigestAlways: c.Support.DigestAlways,
	})
	if err != nil {
		return nil, err
	}
	err = sweep.RegisterMailbox(s, sweep.MailboxJobs{PurgeSpec: c.Schedule.Purge, Retention: c.Policy.Retention.D(),
		ReconcileSpec: c.Schedule.Reconcile, Store: st, Pipeline: p.Pipeline, Dial: p.Dial, NoMailbox: p.NoMailbox})
	if err != nil {
		return nil, err
	}
	if err := sweep.RegisterOutbox(s, p.Courier, c.Schedule.Outbox); err != nil {
		return nil, err
	}
	return s, nil
}

// New checks the configuration's mailbox and SMTP settings and assembles
// a Daemon. It does not connect yet.
func New(o Options) (*Daemon, error) {
	c := o.Config
	if err := c.Complete(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	imapOpts := mailbox.Options{
		Address: c.IMAP.Address, Security: mailbox.Security(c.IMAP.Security), Username: c.IMAP.Username,
		Password: c.IMAP.Password, TLSConfig: o.IMAPTLS, CommandTimeout: c.IMAP.CommandTimeout.D(),
		Logger: log.With("component", "imap"),
	}
	switch {
	case c.IMAP.TokenFile != "":
		imapOpts.Token = mailbox.TokenFromFile(c.IMAP.TokenFile)
	case len(c.IMAP.TokenCommand) > 0:
		imapOpts.Token = mailbox.TokenFromCommand(c.IMAP.TokenCommand)
	}
	courier, err := NewCourier(c, o.Store, o.SMTPTLS, log.With("component", "outbox"))
	if err != nil {
		return nil, err
	}
	hook := o.ActionHook
	if hook == nil {
		if hook, err = NewActionHook(c); err != nil {
			return nil, err
		}
	}
	dsk := NewDesk(c, o.Store, o.CodeKey, o.MessageIDKey, log.With("component", "desk"))
	onDone, onResult := o.OnActionDone, o.OnActionResult
	if onDone == nil {
		onDone = dsk.ActionDone
	}
	if onResult == nil {
		onResult = dsk.ActionResult
	}
	actions := NewActionCourier(c, o.Store, hook, log.With("component", "action"), onDone, onResult)
	// The metrics are made once the jobs are known (their names are
	// labels); nothing runs before.
	var m *metrics.Metrics
	courier.OnDrain = func(st outbound.Stats) { m.Outbox(st) }
	courier.OnFailure = func(c fault.Cause) { m.OutboxError(c) }
	if actions != nil {
		actions.OnDrain = func(st action.Stats) { m.Actions(st) }
	}
	kick := make(chan struct{}, 1)
	pipeline := intake.New(o.Store, intake.Options{
		Mailbox: c.IMAP.Mailbox, ProcessedFolder: c.IMAP.ProcessedFolder, ReviewFolder: c.IMAP.ReviewFolder,
		MaxMessageSize: int64(c.IMAP.MaxMessageSize),
		Policy: rules.Policy{TrustedAuthservIDs: c.Auth.TrustedAuthservIDs, RequireAuthenticatedSender: c.Auth.RequireAuthenticatedSender,
			ReplyInterval: c.Policy.ReplyInterval.D(), CodeKey: o.CodeKey,
			MaxCodeCandidates: c.Policy.MaxCodeCandidates, MaxDocumentsPerMessage: c.Policy.MaxDocumentsPerMessage,
			MaxDocumentsPerCase: c.Policy.MaxDocumentsPerCase},
		Letters: Letters(c, o.MessageIDKey),
		Shared:  !o.Exclusive,
		Logger:  log.With("component", "intake"),
		OnMessage: func(r intake.Report) {
			m.Message(r)
			if o.OnMessage != nil {
				o.OnMessage(r)
			}
		},
		OnFetched: func(n int) { m.Fetched(n) },
		OnBacklog: func(oldest time.Time) { m.Backlog(oldest) },
		AfterCommit: func() {
			select {
			case kick <- struct{}{}:
			default:
			}
		},
	})
	if o.OutboxInterval == 0 {
		o.OutboxInterval = 30 * time.Second
	}
	dial := func(ctx context.Context) (*mailbox.Conn, error) { return mailbox.Dial(ctx, imapOpts) }
	parts := Parts{Desk: dsk, Courier: courier, Pipeline: pipeline, Dial: dial}
	sched, err := NewScheduler(c, o.Store, parts, o.Now, log.With("component", "sweep"), func(r store.SweepRun) {
		select { // the job may have queued mail
		case kick <- struct{}{}:
		default:
		}
		m.Sweep(r)
		if o.OnSweep != nil {
			o.OnSweep(r)
		}
	})
	if err != nil {
		return nil, err
	}
	monitor := health.New(health.Options{Store: o.Store, Now: o.Now, StaleAfter: c.Support.StaleAfter.D(), DataDir: c.DataDir,
		SupportAddress: c.Support.Address, Letters: Letters(c, o.MessageIDKey), Logger: log.With("component", "health")})
	var jobs []string
	for _, j := range sched.Jobs() {
		jobs = append(jobs, j.Name)
	}
	m = metrics.New(metrics.Options{Store: o.Store, Now: o.Now, Jobs: jobs,
		Logger: log.With("component", "metrics")})
	return &Daemon{
		opts: o, log: log, pipeline: pipeline, imap: imapOpts, kick: kick, sched: sched, courier: courier, actions: actions,
		desk: dsk, health: monitor, metrics: m,
	}, nil
}

// failInterrupted marks failed the mail a crash left being sent, when the
// daemon runs alone on its data directory.
func (d *Daemon) failInterrupted(ctx context.Context) {
	if !d.opts.Exclusive {
		return
	}
	n, err := d.courier.FailInterrupted(ctx)
	if err != nil {
		d.log.Error("outbox", "cause", fault.Of(err), "error", err)
	}
	d.metrics.Outbox(outbound.Stats{Failed: n})
}

// Metrics returns what the daemon counts, which ServeWithWeb serves at
// /metrics.
func (d *Daemon) Metrics() *metrics.Metrics { return d.metrics }

// Desk returns the agents' desk the daemon's action courier reports to:
// the one the dashboard must use.
func (d *Daemon) Desk() *desk.Desk { return d.desk }

// Scheduler returns the daemon's scheduled jobs, which Serve runs (and
// Once does not).
func (d *Daemon) Scheduler() *sweep.Scheduler { return d.sched }

// Dial connects to the mailbox.
func (d *Daemon) Dial(ctx context.Context) (*mailbox.Conn, error) {
	return mailbox.Dial(ctx, d.imap)
}

// Result is what one pass did.
type Result struct {
	intake.Stats
	Sent, Failed int
	// Actions is what became of the action calls due.
	Actions action.Stats
}

// Once processes everything pending in the mailbox and sends the outbox,
// then the action calls due, then the mail those caused. Replies go out
// while the mailbox is still being drained.
func (d *Daemon) Once(ctx context.Context) (Result, error) {
	var r Result
	d.failInterrupted(ctx)
	d.sweepSpool(ctx)
	conn, err := d.Dial(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.metrics.IMAPError(err)
		}
		return r, err
	}
	defer conn.Close()
	drained := make(chan struct{})
	var sendErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			final := false
			select {
			case <-d.kick:
			case <-drained:
				final = true
			}
			st, err := d.courier.Drain(ctx)
			r.Sent, r.Failed = r.Sent+st.Sent, r.Failed+st.Failed
			if err != nil && !final {
				d.log.Error("outbox", "cause", fault.Of(err), "error", err)
			}
			if final {
				sendErr = err
				return
			}
		}
	})
	// The earlier mail of a case first, for UID order; a look-back that
	// fails does not keep new mail waiting, and is said after the drain.
	earlier, lookErr := d.lookBack(ctx, conn)
	r.Stats, err = d.pipeline.Drain(ctx, conn)
	r.Stats.Add(earlier)
	switch {
	case err == nil:
		d.metrics.Drained()
	case ctx.Err() == nil:
		d.metrics.IMAPError(err)
	}
	close(drained)
	wg.Wait()
	actErr := d.drainActions(ctx, &r)
	switch {
	case err != nil:
		return r, err
	case lookErr != nil:
		return r, fmt.Errorf("earlier mail of a new case: %w", lookErr)
	case sendErr != nil:
		return r, sendErr
	}
	return r, actErr
}

// drainActions sends the action calls due and, when some were done (the
// desk may have queued the customer's mail with them), the outbox again.
// It counts in r when r is not nil.
func (d *Daemon) drainActions(ctx context.Context, r *Result) error {
	if d.actions == nil {
		return nil
	}
	st, err := d.actions.Drain(ctx)
	if r != nil {
		r.Actions.Done, r.Actions.Deferred, r.Actions.Failed = r.Actions.Done+st.Done, r.Actions.Deferred+st.Deferred, r.Actions.Failed+st.Failed
	}
	if err != nil {
		err = fmt.Errorf("action hook: %w", err)
	}
	if st.Done > 0 {
		sent, sendErr := d.courier.Drain(ctx)
		if r != nil {
			r.Sent, r.Failed = r.Sent+sent.Sent, r.Failed+sent.Failed
		}
		err = errors.Join(err, sendErr)
	}
	return err
}

// lookBack takes, on conn, the mail that came before its case (SPEC §5)
// when a case opened since the last look queued some
// (intake.Pipeline.Lookback).
func (d *Daemon) lookBack(ctx context.Context, conn *mailbox.Conn) (intake.Stats, error) {
	pending, err := d.opts.Store.HasPendingLookbacks(ctx)
	if err != nil || !pending {
		return intake.Stats{}, err
	}
	st, err := d.pipeline.Lookback(ctx, conn)
	if st.Fetched > 0 {
		d.log.Info("earlier mail taken for its case", "fetched", st.Fetched, "processed", st.Processed, "review", st.Review,
			"moved", st.Moved)
	}
	return st, err
}

// lookBackNow is Serve's look for earlier mail between the watcher's
// drains, on a connection of its own, so that a case opened while the
// watcher waits for new mail gets its earlier mail within
// OutboxInterval.
func (d *Daemon) lookBackNow(ctx context.Context) {
	pending, err := d.opts.Store.HasPendingLookbacks(ctx)
	if err != nil || !pending {
		if err != nil && ctx.Err() == nil {
			d.log.Warn("look-back", "error", err)
		}
		return
	}
	conn, err := d.Dial(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("look-back: connect to the mailbox", "error", err)
		}
		return
	}
	defer conn.Close()
	if _, err := d.lookBack(ctx, conn); err != nil && ctx.Err() == nil {
		d.log.Warn("look-back", "error", err)
	}
	d.wake()
}

// wake tells the courier there may be mail to send.
func (d *Daemon) wake() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// spoolOrphanAge is how old a spooled message no ledger row points at
// must be before it is taken for one a crash left behind.
const spoolOrphanAge = time.Hour

// sweepSpool deletes the raw messages a crash left in the spool between
// spooling and recording them.
func (d *Daemon) sweepSpool(ctx context.Context) {
	n, err := d.opts.Store.SweepSpool(ctx, spoolOrphanAge)
	switch {
	case err != nil:
		d.log.Warn("spool sweep", "error", err)
	case n > 0:
		d.log.Info("spool sweep: raw messages left by an interrupted run deleted", "count", n)
	}
}

// Ready returns the health checks that fail (package health): the store
// takes no writes, the mailbox has not been drained within [support]
// stale_after, the outbox is stuck, a scheduled job keeps failing. None:
// ready.
func (d *Daemon) Ready(ctx context.Context) []health.Check {
	return d.health.Ready(ctx)
}

// readyNames is Ready as the dashboard's /readyz takes it.
func (d *Daemon) readyNames(ctx context.Context) []string {
	var names []string
	for _, c := range d.Ready(ctx) {
		names = append(names, string(c))
	}
	return names
}

// alert mails the support address what went wrong, once per episode
// (health.Monitor.Alert).
func (d *Daemon) alert(ctx context.Context) {
	if err := d.health.Alert(ctx); err != nil && ctx.Err() == nil {
		d.log.Error("alerts", "cause", fault.Of(err), "error", err)
	}
}

// Serve runs until ctx ends: it watches the mailbox (IDLE or polling,
// reconnecting with backoff), sends the outbox, then the action calls
// due, after each drain and every OutboxInterval, and runs the scheduled
// jobs on their [schedule]. The action calls a crash left being sent are
// sent again first, with their idempotency keys. On cancellation it
// finishes the message in hand and returns nil.
func (d *Daemon) Serve(ctx context.Context) error {
	c := d.opts.Config
	d.failInterrupted(ctx)
	d.sweepSpool(ctx)
	if d.actions != nil {
		if _, err := d.actions.Resume(ctx); err != nil {
			d.log.Error("action hook", "error", err)
		}
	}
	kick := d.kick
	w := &intake.Watcher{
		Pipeline: d.pipeline, Dial: d.Dial,
		IdleTimeout: c.IMAP.IdleTimeout.D(), PollInterval: c.IMAP.PollInterval.D(),
		BeforeDrain: func(ctx context.Context, conn *mailbox.Conn) {
			if _, err := d.lookBack(ctx, conn); err != nil && ctx.Err() == nil {
				d.log.Warn("look-back", "error", err)
			}
		},
		AfterDrain: func(context.Context) {
			select {
			case kick <- struct{}{}:
			default:
			}
		},
		OnState: func(ok bool, err error) {
			if ok {
				d.health.Fetched()
				d.metrics.Drained()
			} else {
				d.health.FetchFailed(err)
				d.metrics.IMAPError(err)
				d.metrics.Reconnect()
			}
		},
		Logger: d.log.With("component", "watcher"),
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d.opts.OutboxInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-kick:
			}
			d.alert(ctx)
			if _, err := d.courier.Drain(ctx); err != nil && ctx.Err() == nil {
				d.log.Error("outbox", "cause", fault.Of(err), "error", err)
			}
			if err := d.drainActions(ctx, nil); err != nil && ctx.Err() == nil {
				d.log.Error("action hook", "error", err)
			}
			d.beat(loopOutbox)
		}
	}()
	wg.Go(func() {
		t := time.NewTicker(d.opts.OutboxInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			d.lookBackNow(ctx)
			d.beat(loopLookBack)
		}
	})
	d.sched.Start(ctx)
	d.log.Info("recoverybot serving", "mailbox", c.IMAP.Mailbox, "imap", c.IMAP.Address)
	d.started()
	err := w.Run(ctx)
	d.stopped()
	d.sched.Stop()
	wg.Wait()
	d.log.Info("recoverybot stopped")
	return err
}
