package main

import (
	"context"
	"time"

	"github.com/recoverybot/recoverybot/demo"
)

func cmdDemo(ctx context.Context, a *app, args []string) error {
	f := a.flags("demo")
	pace := f.Duration("pace", 1500*time.Millisecond, "time between two customer messages")
	dataDir := f.String("data-dir", "", "keep the demo's database in this directory (default: a temporary one)")
	verbose := f.Bool("v", false, "log what the daemon does")
	exit := f.Bool("exit", false, "play the whole script, the agents' approvals included, and exit")
	listen := f.String("listen", "", "the dashboard's address (default 127.0.0.1:8080, or a free port)")
	if _, err := f.parse(args); err != nil {
		return err
	}
	o := demo.Options{Pace: *pace, DataDir: *dataDir, Out: a.stdout, Exit: *exit, Listen: *listen}
	if *verbose {
		o.Logger = newLogger(a.stderr, "info", "text", false)
	}
	_, err := demo.Run(ctx, o)
	return err
}
