package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/store"
)

func cmdCasesOpen(ctx context.Context, a *app, args []string) error {
	f := a.flags("cases open")
	profile := f.String("profile", "", "profile ID")
	kind := f.String("kind", "", "lost-email, totp-lockout or ip-lockout")
	contact := f.String("contact", "", "lost-email: the address the customer writes from")
	by := f.String("by", "", "the agent opening the case")
	asJSON := f.Bool("json", false, "print JSON")
	if _, err := f.parse(args); err != nil {
		return err
	}
	if *profile == "" {
		return usagef("cases open: --profile ID is required")
	}
	if *kind == "" {
		return usagef("cases open: --kind is required (lost-email, totp-lockout or ip-lockout)")
	}
	k, err := recoverybot.ParseKind(*kind)
	if err != nil {
		return usageError{strings.TrimPrefix(err.Error(), "recoverybot: ")}
	}
	if _, err := desk.CheckAgent(*by); err != nil {
		return usagef("cases open: %s", agentMessage(err))
	}
	d, err := a.desk(ctx)
	if err != nil {
		return err
	}
	s, err := d.Open(ctx, desk.OpenRequest{ProfileID: *profile, Kind: k, Contact: *contact, By: *by})
	if err != nil {
		return explain(err)
	}
	if *asJSON {
		return a.printJSON(s)
	}
	fmt.Fprintf(a.stdout, "opened %s (%s) for profile %s\n", s.Ref, s.Kind, s.Profile)
	switch {
	case s.Kind.NeedsCode():
		fmt.Fprintf(a.stdout, "a code was queued by mail to %s; it is valid until %s\n", s.Contact, s.CodeExpiresAt.Local().Format(time.DateTime))
	case s.Contact != "":
		fmt.Fprintf(a.stdout, "instructions were queued by mail to %s, and a notice to the profile's address\n", s.Contact)
	default:
		fmt.Fprintf(a.stdout, "no contact address: give the customer the reference %s to put in the subject\n", s.Ref)
	}
	if s.Contact != "" && s.EarlierMessages != nil {
		fmt.Fprintln(a.stdout, earlierMessages(*s.EarlierMessages))
	}
	fmt.Fprintf(a.stdout, "waiting for: %s\n", joinReqs(s.Missing))
	return nil
}

// earlierMessages says what opening a case found of the mail its
// customer sent before.
func earlierMessages(n int) string {
	switch n {
	case 0:
		return "no earlier message from this address"
	case 1:
		return "1 earlier message from this address will be taken for the case"
	}
	return fmt.Sprintf("%d earlier messages from this address will be taken for the case", n)
}

func agentMessage(err error) string {
	if errors.Is(err, desk.ErrNoAgent) {
		return "--by AGENT is required"
	}
	return strings.TrimPrefix(err.Error(), "desk: ")
}

// explain turns the errors agents meet into sentences about their input.
func explain(err error) error {
	var purged *store.PurgedError
	switch {
	case errors.As(err, &purged):
		return fmt.Errorf("the documents and messages of this case were purged on %s (retention)", purged.At.Local().Format(time.DateOnly))
	case errors.Is(err, store.ErrNotFound):
		msg := err.Error()
		if i := strings.Index(msg, ": store: not found"); i >= 0 {
			msg = msg[:i]
		}
		return fmt.Errorf("%s: not found", msg)
	case errors.Is(err, store.ErrOpenCase):
		return errors.New("the profile already has an open case of this kind (see cases list)")
	case errors.Is(err, recoverybot.ErrIllegalTransition):
		var te *recoverybot.TransitionError
		if errors.As(err, &te) {
			return errors.New(te.Error())
		}
	case errors.Is(err, recoverybot.ErrBadRef):
		return usageError{strings.TrimPrefix(err.Error(), "recoverybot: ")}
	case errors.Is(err, desk.ErrNoAgent):
		return usageError{"--by AGENT is required"}
	case errors.Is(err, desk.ErrNeedsReason):
		return usageError{"--reason TEXT is required"}
	case errors.Is(err, desk.ErrClaimed):
		var ce *desk.ClaimedError
		if errors.As(err, &ce) {
			return fmt.Errorf("%s is held by %s (they may release it, or anyone may `cases reassign` it with a reason)", ce.Ref, ce.Holder)
		}
	case errors.Is(err, desk.ErrNoAction):
		return errors.New("the case has no action waiting to be stopped")
	case errors.Is(err, desk.ErrActionStarted):
		return errors.New("too late: the action was already sent to the admin system")
	case errors.Is(err, desk.ErrSameApprover):
		return errors.New("a second, different agent must approve this case")
	case errors.Is(err, desk.ErrBadNewEmail):
		return usageError{"--new-email: not a usable address"}
	case errors.Is(err, desk.ErrNewEmailKind):
		return usageError{"--new-email applies to lost-email cases only"}
	}
	return errors.New(strings.ReplaceAll(strings.ReplaceAll(err.Error(), "desk: ", ""), "store: ", ""))
}

func joinReqs(reqs []recoverybot.Requirement) string {
	if len(reqs) == 0 {
		return "nothing: complete"
	}
	s := make([]string, len(reqs))
	for i, r := range reqs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

func cmdCasesList(ctx context.Context, a *app, args []string) error {
	f := a.flags("cases list")
	state := f.String("state", "", "only cases in this state")
	asJSON := f.Bool("json", false, "print JSON")
	if _, err := f.parse(args); err != nil {
		return err
	}
	var st recoverybot.State
	if *state != "" {
		var err error
		if st, err = recoverybot.ParseState(*state); err != nil {
			return usagef("unknown state %q (want one of %s)", *state, statesList())
		}
	}
	d, err := a.desk(ctx)
	if err != nil {
		return err
	}
	list, err := d.List(ctx, st)
	if err != nil {
		return explain(err)
	}
	if *asJSON {
		return a.printJSON(list)
	}
	if len(list) == 0 {
		fmt.Fprintln(a.stdout, "no cases")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REF\tKIND\tSTATE\tPROFILE\tCONTACT\tMISSING\tOPENED")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Ref, s.Kind, s.State, printable(s.Profile), printable(dash(s.Contact)),
			dash(strings.ReplaceAll(joinReqsShort(s.Missing), " ", "")), s.OpenedAt.Local().Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

func joinReqsShort(reqs []recoverybot.Requirement) string {
	s := make([]string, len(reqs))
	for i, r := range reqs {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func statesList() string {
	s := make([]string, len(recoverybot.States))
	for i, st := range recoverybot.States {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

func cmdCasesShow(ctx context.Context, a *app, args []string) error {
	f := a.flags("cases show")
	asJSON := f.Bool("json", false, "print JSON")
	pos, err := f.parse(args, "REF")
	if err != nil {
		return err
	}
	ref, err := recoverybot.ParseRef(pos[0])
	if err != nil {
		return explain(err)
	}
	d, err := a.desk(ctx)
	if err != nil {
		return err
	}
	s, err := d.Show(ctx, ref)
	if err != nil {
		return explain(err)
	}
	if *asJSON {
		return a.printJSON(s)
	}
	a.printSummary(s)
	return nil
}

func (a *app) printSummary(s desk.Summary) {
	w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	// Every value goes through printable: file names, findings, reasons
	// and history come from customers' mail or agents' typing.
	row := func(k, v string) { fmt.Fprintf(w, "%s\t%s\n", k, printable(v)) }
	q := printable
	row("ref", s.Ref)
	row("kind", string(s.Kind))
	row("state", string(s.State))
	row("profile", fmt.Sprintf("%s (%s)", s.Profile, s.HolderKind))
	row("contact", dash(s.Contact))
	row("sender", dash(string(s.SenderStatus)))
	if s.Kind.NeedsCode() {
		code := "not yet"
		if s.CodeVerified {
			code = "verified"
		} else if s.CodeExpiresAt != nil {
			code = "not yet (expires " + s.CodeExpiresAt.Local().Format(time.DateTime) + ")"
		}
		row("code", code)
		row("failed code attempts", fmt.Sprintf("%d of %d", s.FailedCodeAttempts, recoverybot.MaxCodeAttempts))
	}
	row("missing", joinReqs(s.Missing))
	for _, fl := range s.Flags {
		row("flag", fl)
	}
	row("opened", s.OpenedAt.Local().Format(time.DateTime)+" by "+s.OpenedBy)
	if s.DecidedAt != nil {
		row("decided", s.DecidedAt.Local().Format(time.DateTime)+" by "+s.DecidedBy)
	}
	if s.PurgedAt != nil {
		row("documents", "purged on "+s.PurgedAt.Local().Format(time.DateTime))
	}
	if s.Note != "" {
		row("note", s.Note)
	}
	if s.Reason != "" {
		row("reason", s.Reason)
	}
	if s.NewEmail != "" {
		row("new email", s.NewEmail)
	}
	if s.ClaimedBy != "" {
		row("held by", s.ClaimedBy)
	}
	if pa := s.PendingApproval; pa != nil {
		row("approval", "waits for a second agent ("+pa.By+" approved "+pa.At.Local().Format(time.DateTime)+")")
	}
	if len(s.Approvers) > 0 {
		row("approved by", strings.Join(s.Approvers, ", "))
	}
	if ac := s.Action; ac != nil {
		v := string(ac.Action) + ": " + string(ac.State)
		switch {
		case ac.State == recoverybot.ActionPending && ac.Attempts == 0:
			v += " (not before " + ac.NotBefore.Local().Format(time.DateTime) + ")"
		case ac.LastError != "":
			v += " (" + ac.LastError + ")"
		case ac.Result != "":
			v += " (" + ac.Result + ")"
		}
		row("action", v)
	}
	w.Flush()
	if len(s.Documents) > 0 {
		fmt.Fprintln(a.stdout, "\ndocuments:")
		w = tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
		for _, d := range s.Documents {
			verdict := ""
			if d.Verdict != "" {
				verdict = string(d.Verdict) + " by " + d.VerdictBy
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\t%d bytes\t%s\t%s\t%s\n", d.Type, q(d.Filename), q(d.MediaType), d.Size, d.SHA256,
				q(strings.Join(d.Findings, "; ")), q(verdict))
		}
		w.Flush()
	}
	if len(s.Messages) > 0 {
		fmt.Fprintln(a.stdout, "\nmessages:")
		w = tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
		for _, m := range s.Messages {
			fmt.Fprintf(w, "  uid %d\t%s\t%s\t%s\t%s\t%s\n", m.UID, m.ReceivedAt.Local().Format(time.DateTime), q(m.Sender),
				m.SenderStatus, q(m.SenderDetail), dash(string(m.CodeResult)))
		}
		w.Flush()
	}
	if len(s.Mail) > 0 {
		fmt.Fprintln(a.stdout, "\nmail:")
		w = tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
		for _, m := range s.Mail {
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", m.Template, q(m.To), m.State, q(m.LastError))
		}
		w.Flush()
	}
	if len(s.Events) > 0 {
		fmt.Fprintln(a.stdout, "\nhistory:")
		w = tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
		for _, e := range s.Events {
			var details []string
			for _, k := range sortedKeys(e.Details) {
				if e.Details[k] != "" {
					details = append(details, k+"="+e.Details[k])
				}
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", e.At.Local().Format(time.DateTime), q(e.Actor), q(e.Action), q(strings.Join(details, " ")))
		}
		w.Flush()
	}
}

// decision runs one of the agent actions that take a REF and --by.
func decision(name string, extra func(f *flags) func(ctx context.Context, d *desk.Desk, ref, by string) (desk.Summary, error)) func(context.Context, *app, []string) error {
	return func(ctx context.Context, a *app, args []string) error {
		f := a.flags(name)
		by := f.String("by", "", "the agent acting")
		asJSON := f.Bool("json", false, "print JSON")
		act := extra(f)
		pos, err := f.parse(args, "REF")
		if err != nil {
			return err
		}
		if _, err := desk.CheckAgent(*by); err != nil {
			return usagef("%s: %s", name, agentMessage(err))
		}
		if _, err := recoverybot.ParseRef(pos[0]); err != nil {
			return explain(err)
		}
		d, err := a.desk(ctx)
		if err != nil {
			return err
		}
		s, err := act(ctx, d, pos[0], *by)
		if err != nil {
			return explain(err)
		}
		if *asJSON {
			return a.printJSON(s)
		}
		switch {
		case s.PendingApproval != nil:
			fmt.Fprintf(a.stdout, "%s waits for a second agent's approval (%s approved)\n", s.Ref, s.PendingApproval.By)
		case name == "cases claim" || name == "cases reassign":
			fmt.Fprintf(a.stdout, "%s is held by %s\n", s.Ref, s.ClaimedBy)
		case name == "cases release":
			fmt.Fprintf(a.stdout, "%s is unassigned\n", s.Ref)
		default:
			fmt.Fprintf(a.stdout, "%s is now %s\n", s.Ref, s.State)
		}
		return nil
	}
}

func cmdCasesClaim(ctx context.Context, a *app, args []string) error {
	return decision("cases claim", func(f *flags) func(context.Context, *desk.Desk, string, string) (desk.Summary, error) {
		return func(ctx context.Context, d *desk.Desk, ref, by string) (desk.Summary, error) {
			return d.Claim(ctx, ref, by)
		}
	})(ctx, a, args)
}

func cmdCasesRelease(ctx context.Context, a *app, args []string) error {
	return decision("cases release", func(f *flags) func(context.Context, *desk.Desk, string, string) (desk.Summary, error) {
		reason := f.String("reason", "", "why, for the record")
		return func(ctx context.Context, d *desk.Desk, ref, by string) (desk.Summary, error) {
			return d.Release(ctx, ref, by, *reason)
		}
	})(ctx, a, args)
}

func cmdCasesReassign(ctx context.Context, a *app, args []string) error {
	return decision("cases reassign", func(f *flags) func(context.Context, *desk.Desk, string, string) (desk.Summary, error) {
		to := f.String("to", "", "the agent who takes the case")
		reason := f.String("reason", "", "why, for the record")
		return func(ctx context.Context, d *desk.Desk, ref, by string) (desk.Summary, error) {
			if strings.TrimSpace(*to) == "" {
				return desk.Summary{}, usagef("cases reassign: --to AGENT is required")
			}
			if strings.TrimSpace(*reason) == "" {
				return desk.Summary{}, usagef("cases reassign: --reason TEXT is required")
			}
			return d.Reassign(ctx, ref, by, *to, *reason)
		}
	})(ctx, a, args)
}

func cmdCasesApprove(ctx context.Context, a *app, args []string) error {
	return decision("cases approve", func(f *flags) func(context.Context, *desk.Desk, string, string) (desk.Summary, error) {
		note := f.String("note", "", "a note for the record")
		newEmail := f.String("new-email", "", "lost-email: change the profile's address to this one")
		return func(ctx context.Context, d *desk.Desk, ref, by string) (desk.Summary, error) {
			return d.Approve(ctx, desk.ApproveRequest{Ref: ref, By: by, Note: *note, NewEmail: *newEmail})
		}
	})(ctx, a, args)
}

func cmdCasesReject(ctx context.Context, a *app, args []string) error {
	return decision("cases reject", func(f *flags) func(context.Context, *desk.Desk, string, string) (desk.Summary, error) {
		reason := f.String("reason", "", "why, told to the customer")
		return func(ctx context.Context, d *desk.Desk, ref, by string) (desk.Summary, error) {
			if strings.TrimSpace(*reason) == "" {
				return desk.Summary{}, usagef("cases reject: --reason TEXT is required")
			}
			return d.Reject(ctx, ref, by, *reason)
		}
	})(ctx, a, args)
}

func cmdCasesCancel(ctx context.Context, a *app, args []string) error {
	return decision("cases cancel", func(f *flags) func(context.Context, *desk.Desk, string, string) (desk.Summary, error) {
		reason := f.String("reason", "", "why, for the record")
		return func(ctx context.Context, d *desk.Desk, ref, by string) (desk.Summary, error) {
			if strings.TrimSpace(*reason) == "" {
				return desk.Summary{}, usagef("cases cancel: --reason TEXT is required")
			}
			return d.Cancel(ctx, ref, by, *reason)
		}
	})(ctx, a, args)
}

func cmdCasesResendCode(ctx context.Context, a *app, args []string) error {
	return decision("cases resend-code", func(f *flags) func(context.Context, *desk.Desk, string, string) (desk.Summary, error) {
		return func(ctx context.Context, d *desk.Desk, ref, by string) (desk.Summary, error) {
			return d.ResendCode(ctx, ref, by)
		}
	})(ctx, a, args)
}

func cmdCasesReopen(ctx context.Context, a *app, args []string) error {
	return decision("cases reopen", func(f *flags) func(context.Context, *desk.Desk, string, string) (desk.Summary, error) {
		return func(ctx context.Context, d *desk.Desk, ref, by string) (desk.Summary, error) {
			return d.Reopen(ctx, ref, by)
		}
	})(ctx, a, args)
}

func cmdCasesDocument(ctx context.Context, a *app, args []string) error {
	f := a.flags("cases document")
	out := f.String("out", "", "write the bytes to this new file, mode 0600 (default: standard output, not a terminal)")
	force := f.Bool("force", false, "with --out: replace the file if it exists (atomically; a symlink is replaced, never followed)")
	by := f.String("by", "", "the agent reading it (recorded)")
	pos, err := f.parse(args, "REF", "SHA256")
	if err != nil {
		return err
	}
	if _, err := recoverybot.ParseRef(pos[0]); err != nil {
		return explain(err)
	}
	sum := strings.ToLower(pos[1])
	if len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" {
		return usagef("cases document: %q is not a SHA-256 (64 hex digits)", printable(pos[1]))
	}
	if _, err := desk.CheckAgent(*by); err != nil {
		return usagef("cases document: %s", agentMessage(err))
	}
	switch {
	case *out == "" && *force:
		return usagef("cases document: --force needs --out FILE")
	case *out == "" && isTerminal(a.stdout):
		return usagef("cases document: standard output is a terminal: give --out FILE or redirect it")
	case *out != "" && !*force:
		// Checked again, without a race, when the file is created.
		if _, err := os.Lstat(*out); err == nil {
			return fmt.Errorf("cases document: %s exists (--force replaces it)", printable(*out))
		}
	}
	d, err := a.desk(ctx)
	if err != nil {
		return err
	}
	_, data, err := d.DownloadDocument(ctx, pos[0], sum, *by)
	if err != nil {
		return explain(err)
	}
	if *out == "" {
		_, err = a.stdout.Write(data)
		return err
	}
	if *force {
		err = replaceFile(*out, data)
	} else {
		err = createFile(*out, data)
	}
	if err != nil {
		return fmt.Errorf("cases document: %w", err)
	}
	return nil
}

// createFile writes data to a new file of mode 0600, whatever the umask.
// An existing file or symlink, even a dangling one, is refused (O_EXCL,
// O_NOFOLLOW): an ID scan is never written through a link or into a
// file that others may already read.
func createFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists (--force replaces it)", printable(path))
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", printable(path), err)
	}
	if err := writePrivate(f, data); err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", printable(path), err)
	}
	return nil
}

// replaceFile writes data to a new private file in path's directory and
// renames it over path: whatever path was (a file of another mode, a
// symlink), it becomes this file, and a reader never sees it half
// written.
func replaceFile(path string, data []byte) error {
	if st, err := os.Lstat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s is a directory", printable(path))
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("create a file next to %s: %w", printable(path), err)
	}
	tmp := f.Name()
	if err := writePrivate(f, data); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", printable(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replace %s: %w", printable(path), err)
	}
	return nil
}

// writePrivate makes f mode 0600 (the umask may have taken bits away, never
// added any: this puts back the owner's), writes data, syncs and closes f.
func writePrivate(f *os.File, data []byte) error {
	err := f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func cmdCasesAsk(ctx context.Context, a *app, args []string) error {
	return decision("cases ask", func(f *flags) func(context.Context, *desk.Desk, string, string) (desk.Summary, error) {
		reason := f.String("reason", "", "why: unreadable, expired, wrong-person or cropped")
		note := f.String("note", "", "words of the agent's own, added to the mail")
		doc := f.String("document", "", "what to ask for: a document type or a document's SHA-256 (default identity_document)")
		return func(ctx context.Context, d *desk.Desk, ref, by string) (desk.Summary, error) {
			r, err := recoverybot.ParseAskReason(*reason)
			if err != nil {
				return desk.Summary{}, usagef("cases ask: --reason %s", strings.TrimPrefix(err.Error(), "recoverybot: unknown reason "))
			}
			return d.Ask(ctx, desk.AskRequest{Ref: ref, By: by, Reason: r, Note: *note, Document: *doc})
		}
	})(ctx, a, args)
}

func cmdCasesStopAction(ctx context.Context, a *app, args []string) error {
	return decision("cases stop-action", func(f *flags) func(context.Context, *desk.Desk, string, string) (desk.Summary, error) {
		reason := f.String("reason", "", "why, for the record")
		return func(ctx context.Context, d *desk.Desk, ref, by string) (desk.Summary, error) {
			return d.StopAction(ctx, ref, by, *reason)
		}
	})(ctx, a, args)
}
