package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/recoverybot/recoverybot/desk"
)

// readPassword reads a new agent's password: from a terminal, asked
// twice without echo; otherwise the first line of standard input (a
// script's pipe), without its line end.
func (a *app) readPassword() (string, error) {
	if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		ask := func(prompt string) (string, error) {
			fmt.Fprint(a.stderr, prompt)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(a.stderr)
			return string(b), err
		}
		pw, err := ask("Password: ")
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		again, err := ask("Again: ")
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		if pw != again {
			return "", errors.New("the two passwords differ")
		}
		return pw, nil
	}
	line, err := bufio.NewReader(io.LimitReader(a.stdin, desk.MaxPasswordLen+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if pw == "" {
		return "", errors.New("no password on standard input (give it as the first line, or run from a terminal)")
	}
	return pw, nil
}

func cmdUsersAdd(ctx context.Context, a *app, args []string) error {
	pos, err := a.flags("users add").parse(args, "NAME")
	if err != nil {
		return err
	}
	d, err := a.desk(ctx)
	if err != nil {
		return err
	}
	pw, err := a.readPassword()
	if err != nil {
		return err
	}
	ag, err := d.AddAgent(ctx, pos[0], pw)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "agent %s added: they can log in to the dashboard\n", ag.Name)
	return nil
}

func cmdUsersDisable(ctx context.Context, a *app, args []string) error {
	pos, err := a.flags("users disable").parse(args, "NAME")
	if err != nil {
		return err
	}
	d, err := a.desk(ctx)
	if err != nil {
		return err
	}
	if err := d.DisableAgent(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "agent %s disabled: they can no longer log in\n", strings.TrimSpace(pos[0]))
	return nil
}

func cmdUsersList(ctx context.Context, a *app, args []string) error {
	f := a.flags("users list")
	asJSON := f.Bool("json", false, "print the agents as a JSON array")
	if _, err := f.parse(args); err != nil {
		return err
	}
	d, err := a.desk(ctx)
	if err != nil {
		return err
	}
	agents, err := d.Agents(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return a.printJSON(agents)
	}
	if len(agents) == 0 {
		fmt.Fprintln(a.stdout, "no agents (recoverybot users add NAME)")
		return nil
	}
	w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tADDED\tSTATE")
	for _, ag := range agents {
		state := "active"
		if ag.DisabledAt != nil {
			state = "disabled " + ag.DisabledAt.UTC().Format(time.DateOnly)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", ag.Name, ag.CreatedAt.UTC().Format(time.DateOnly), state)
	}
	return w.Flush()
}
