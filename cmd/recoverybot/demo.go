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
	if _, err := f.parse(args); err != nil {
		return err
	}
	o := demo.Options{Pace: *pace, DataDir: *dataDir, Out: a.stdout}
	if *verbose {
		o.Logger = newLogger(a.stderr, "info", false)
	}
	_, err := demo.Run(ctx, o)
	return err
}
