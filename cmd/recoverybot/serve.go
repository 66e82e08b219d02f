package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/daemon"
	"github.com/recoverybot/recoverybot/internal/instance"
	"github.com/recoverybot/recoverybot/internal/sdnotify"
	"github.com/recoverybot/recoverybot/vault"
)

func (a *app) daemon(ctx context.Context, o daemon.Options) (*daemon.Daemon, error) {
	// An incomplete configuration is refused before the data directory is
	// touched.
	if err := a.loadCompleteConfig(); err != nil {
		return nil, err
	}
	o.Exclusive = a.lock != nil
	// The mailbox's largest messages pass through the heap; the limit
	// makes the collector return what they leave rather than let the
	// heap grow to twice them. GOMEMLIMIT, when set, wins.
	if a.cfg.MemoryLimit > 0 && a.getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(a.cfg.MemoryLimit))
	}
	if err := a.openStore(ctx); err != nil {
		return nil, err
	}
	key, err := recoverybot.NewCodeKey(a.vault.CodeKey())
	if err != nil {
		return nil, err
	}
	o.Config, o.Store, o.CodeKey, o.MessageIDKey = a.cfg, a.st, key, a.vault.Key(vault.PurposeMessageID)
	if o.Now == nil {
		o.Now = a.now
	}
	if o.Logger == nil {
		o.Logger = newLogger(a.stderr, a.cfg.LogLevel, a.cfg.LogFormat, false)
	}
	return daemon.New(o)
}

// lockDataDir takes the data directory's lock (internal/instance) for the
// rest of the command: one process at a time drains the mailbox, sends
// the outbox and expunges. A held lock is an error naming the holder.
func (a *app) lockDataDir() error {
	if err := a.loadConfig(); err != nil {
		return err
	}
	if err := os.MkdirAll(a.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory %s: %w", a.cfg.DataDir, err)
	}
	lock, err := instance.Acquire(a.cfg.DataDir)
	if err != nil {
		return err
	}
	a.lock = lock
	return nil
}

func cmdServe(ctx context.Context, a *app, args []string) error {
	if _, err := a.flags("serve").parse(args); err != nil {
		return err
	}
	if err := a.loadCompleteConfig(); err != nil {
		return err
	}
	if err := a.lockDataDir(); err != nil {
		return err
	}
	d, err := a.daemon(ctx, daemon.Options{})
	if err != nil {
		return err
	}
	ln, err := daemon.ListenWeb(a.cfg)
	if err != nil {
		return err
	}
	// The service manager (systemd, Type=notify) is told when the
	// daemon is up, that it is alive while it is, and when it stops.
	n := sdnotify.New(a.getenv, os.Getpid())
	served, stop := context.WithCancel(ctx)
	told := make(chan struct{})
	go func() {
		defer close(told)
		tellServiceManager(served, n, d, newLogger(a.stderr, a.cfg.LogLevel, a.cfg.LogFormat, false).With("component", "sdnotify"))
	}()
	err = d.ServeWithWeb(ctx, ln)
	stop()
	<-told
	return err
}

// tellServiceManager says READY=1 once d serves, WATCHDOG=1 every half
// WatchdogSec while d is alive (daemon.Daemon.Alive: its loops go round,
// not merely this one), and STOPPING=1 when ctx ends.
func tellServiceManager(ctx context.Context, n *sdnotify.Notifier, d *daemon.Daemon, log *slog.Logger) {
	if !n.Enabled() {
		return
	}
	defer func() {
		if err := n.Stopping(); err != nil {
			log.Warn("service manager", "error", err)
		}
	}()
	select {
	case <-ctx.Done():
		return
	case <-d.Serving():
	}
	if err := n.Ready(); err != nil {
		log.Warn("service manager", "error", err)
	}
	interval := n.WatchdogInterval()
	if interval == 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	stuck := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		switch alive := d.Alive(); {
		case alive:
			if err := n.Watchdog(); err != nil {
				log.Warn("service manager", "error", err)
			}
			if stuck {
				log.Info("watchdog: the daemon's loops go round again")
			}
			stuck = false
		case !stuck:
			log.Error("watchdog: the daemon's loops have stopped going round; the service manager is no longer told it is alive")
			stuck = true
		}
	}
}

func cmdRun(ctx context.Context, a *app, args []string) error {
	f := a.flags("run")
	once := f.Bool("once", false, "process everything pending, send the outbox, and exit")
	asJSON := f.Bool("json", false, "print the counts as JSON")
	if _, err := f.parse(args); err != nil {
		return err
	}
	if !*once {
		return usagef("run: --once is required (use serve to keep running)")
	}
	if err := a.loadCompleteConfig(); err != nil {
		return err
	}
	if err := a.lockDataDir(); err != nil {
		return err
	}
	d, err := a.daemon(ctx, daemon.Options{})
	if err != nil {
		return err
	}
	r, err := d.Once(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return a.printJSON(map[string]int{"fetched": r.Fetched, "processed": r.Processed, "review": r.Review,
			"ignored": r.Ignored, "duplicates": r.Duplicates, "moved": r.Moved, "sent": r.Sent, "send_failed": r.Failed})
	}
	fmt.Fprintf(a.stdout, "fetched %d: %d processed, %d to review, %d not about a case, %d duplicates; %d moved; %d mails sent, %d failed\n",
		r.Fetched, r.Processed, r.Review, r.Ignored, r.Duplicates, r.Moved, r.Sent, r.Failed)
	return nil
}
