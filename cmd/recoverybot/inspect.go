package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/recoverybot/recoverybot/parser"
)

// cmdInspect shows what the parser sees in one message, so that an agent
// can answer "why didn't this match?". Code candidates are shown masked,
// never in clear, and the body text is not shown at all (it may hold the
// code). Any file is accepted: what is not a message gives a one-line
// error, a damaged message its findings.
func cmdInspect(ctx context.Context, a *app, args []string) error {
	f := a.flags("inspect")
	asJSON := f.Bool("json", false, "print JSON")
	pos, err := f.parse(args, "FILE")
	if err != nil {
		return err
	}
	path := pos[0]
	var o parser.Options
	raw, err := readLimited(path, o)
	if err != nil {
		return err
	}
	m, perr := parser.ParseContext(ctx, raw, o)
	if errors.Is(perr, parser.ErrNotMessage) {
		return fmt.Errorf("%s: not a mail message (no header at the start)", printable(path))
	}
	// Everything shown comes from the sender: codes masked wherever they
	// are, and (printJSON, printInspect) nothing a terminal would obey.
	shown := redactMessage(m)
	perrText := ""
	if perr != nil {
		perrText = maskCodes(oneLine(perr.Error()), codeSet(m))
	}
	if *asJSON {
		return a.printJSON(inspectJSON(shown, perrText))
	}
	var b bytes.Buffer
	printInspect(&b, path, shown, perrText)
	// The fields are escaped one by one; this catches any that was not.
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		if body, ok := strings.CutSuffix(line, "\n"); ok {
			fmt.Fprintln(a.stdout, printable(body))
		} else if line != "" {
			fmt.Fprint(a.stdout, printable(line))
		}
	}
	return nil
}

func codeSet(m *parser.Message) map[string]bool {
	s := map[string]bool{}
	for _, c := range m.Codes {
		s[c.Value] = true
	}
	return s
}

// readLimited reads a file, but no more than the parser would read in
// full: a larger file is cut one byte past the limit, which the parser
// reports as too large after reading its header.
func readLimited(path string, o parser.Options) ([]byte, error) {
	limit := o.MaxBytes
	if limit <= 0 {
		limit = 50 << 20
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	defer fh.Close()
	if st, err := fh.Stat(); err == nil && st.IsDir() {
		return nil, fmt.Errorf("inspect: %s is a directory", path)
	}
	raw, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return nil, fmt.Errorf("inspect: read %s: %w", path, err)
	}
	return raw, nil
}

// inspectJSON is the Message as SPEC §6 describes `inspect --json`, with
// "parse_error" added when the message could not be read completely.
func inspectJSON(m *parser.Message, perrText string) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return json.RawMessage(`{}`)
	}
	out := bytes.TrimRight(b.Bytes(), "\n")
	if perrText != "" {
		msg, _ := json.Marshal(perrText)
		out = append(append(append(out[:len(out)-1], `,"parse_error":`...), msg...), '}')
	}
	return json.RawMessage(out)
}

// printInspect writes m, already redacted, for a person. Every string
// from the message goes through printable.
func printInspect(w io.Writer, path string, m *parser.Message, perrText string) {
	p := func(label, format string, args ...any) {
		for i, a := range args {
			if s, ok := a.(string); ok {
				args[i] = printable(s)
			}
		}
		fmt.Fprintf(w, "%-14s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	q := printable
	p("file", "%s", path)
	p("parser", "version %d", m.ParserVersion)
	if perrText != "" {
		p("parse error", "%s", perrText)
	}
	switch {
	case m.Sender != "":
		p("from", "%s", m.Sender)
	case len(m.From) == 0:
		p("from", "(none: no readable From address)")
	default:
		p("from", "(none: %d From addresses: %s)", len(m.From), strings.Join(m.From, ", "))
	}
	if len(m.ReplyTo) > 0 {
		p("reply-to", "%s (never trusted)", strings.Join(m.ReplyTo, ", "))
	}
	p("subject", "%s", m.Subject)
	if !m.Date.IsZero() {
		p("date", "%s", m.Date.Format(time.RFC1123Z))
	}
	if m.MessageID != "" {
		p("message-id", "<%s>", m.MessageID)
	}
	if m.Automatic {
		p("automatic", "yes (%s)", strings.Join(m.AutomaticSignals, ", "))
	} else {
		p("automatic", "no")
	}
	if b := m.Bounce; b != nil {
		var parts []string
		for _, kv := range [][2]string{{"original message", angle(b.OriginalMessageID)}, {"recipient", b.Recipient}, {"action", b.Action}, {"status", b.Status}} {
			if kv[1] != "" {
				parts = append(parts, kv[0]+" "+kv[1])
			}
		}
		p("bounce", "%s", orNone(strings.Join(parts, ", ")))
	}
	if len(m.AuthResults) == 0 {
		p("auth results", "none")
	} else {
		fmt.Fprintln(w, "auth results:  (topmost first; which to trust is configured)")
		for i, ar := range m.AuthResults {
			id := ar.AuthServID
			if id == "" {
				id = "(no authserv-id)"
			}
			var note []string
			if ar.Lenient {
				note = append(note, "no authserv-id: never trusted")
			}
			if ar.Error != "" {
				note = append(note, "unreadable: "+q(ar.Error))
			}
			var results []string
			for _, r := range ar.Results {
				s := r.Method + "=" + r.Result
				for _, k := range sortedKeys(r.Props) {
					v := r.Props[k]
					if v == "" || strings.ContainsAny(v, " \t;\"()\\") {
						// As RFC 8601 would quote it: text copied from
						// the sender must not look like a result.
						v = strconv.Quote(v)
					}
					s += " " + k + "=" + v
				}
				if len(r.Repeated) > 0 {
					s += " (repeated: " + strings.Join(r.Repeated, ", ") + ")"
				}
				results = append(results, s)
			}
			line := fmt.Sprintf("  %d. %s: %s", i+1, q(id), q(orNone(strings.Join(results, "; "))))
			if len(note) > 0 {
				line += " [" + strings.Join(note, ", ") + "]"
			}
			fmt.Fprintln(w, line)
		}
	}
	var refs, codes []string
	for _, r := range m.CaseRefs {
		refs = append(refs, fmt.Sprintf("%s (%s)", r.Masked, r.Where))
	}
	for _, c := range m.Codes {
		codes = append(codes, fmt.Sprintf("%s (%s)", c.Masked, c.Where))
	}
	p("references", "%s", orNone(strings.Join(refs, ", ")))
	p("code cand.", "%s", orNone(strings.Join(codes, ", ")))
	if len(m.Documents) == 0 {
		p("documents", "none")
	} else {
		fmt.Fprintln(w, "documents:")
		for i, d := range m.Documents {
			size := fmt.Sprintf("%d bytes", d.Size)
			if d.Width > 0 && d.Height > 0 {
				size += fmt.Sprintf(", %d×%d", d.Width, d.Height)
			}
			switch {
			case d.Pages == 1:
				size += ", 1 page"
			case d.Pages > 1:
				size += fmt.Sprintf(", %d pages", d.Pages)
			}
			fmt.Fprintf(w, "  %d. %-21s \"%s\"\n", i+1, q(string(d.Type)), q(d.Filename))
			declared := ""
			if d.DeclaredType != d.MediaType {
				declared = " (declared " + q(orNone(d.DeclaredType)) + ")"
			}
			fmt.Fprintf(w, "     %s%s, %s, %s part %s\n", q(d.MediaType), declared, size, q(d.Origin), q(d.Part))
			fmt.Fprintf(w, "     sha256 %s\n", q(d.SHA256))
			if len(d.SIREN) > 0 || len(d.RNA) > 0 {
				fmt.Fprintf(w, "     identifiers: %s\n", q(strings.Join(append(append([]string{}, d.SIREN...), d.RNA...), ", ")))
			}
			fmt.Fprintf(w, "     signals: %s\n", q(orNone(strings.Join(d.Signals, "; "))))
			fmt.Fprintf(w, "     findings: %s\n", q(orNone(strings.Join(d.Findings, "; "))))
		}
	}
	if len(m.Findings) > 0 {
		fmt.Fprintln(w, "findings:")
		for _, f := range m.Findings {
			fmt.Fprintf(w, "  - %s\n", q(f))
		}
	}
}

func angle(id string) string {
	if id == "" {
		return ""
	}
	return "<" + id + ">"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
