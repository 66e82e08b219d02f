package browsertest

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// record keeps the console errors and the CSP violations among the tab's
// events. chromedp calls it in the tab's event loop, in the order the browser
// sent the events, from the tab's first event on.
func (b *Browser) record(ev any) {
	var msg string
	violation := false
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		msg = "console." + string(ev.Type) + ": " + argsText(ev.Args)
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg = d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			first, _, _ := strings.Cut(d.Exception.Description, "\n")
			msg += " " + first
		}
		if d.URL != "" {
			msg += " (" + d.URL + ")"
		}
	case *log.EventEntryAdded:
		e := ev.Entry
		if e.Level != log.EntryLevelError || isFavicon(e) {
			return
		}
		// Chromium reports a Content-Security-Policy violation, enforced or
		// report-only, as a security entry naming the policy.
		violation = e.Source == log.EntrySourceSecurity && strings.Contains(e.Text, "Content Security Policy")
		msg = e.Text
		if e.URL != "" {
			msg += " (" + e.URL + ")"
		}
	default:
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.consoleErrors = append(b.consoleErrors, msg)
	if violation {
		b.violations = append(b.violations, msg)
	}
}

// isFavicon reports whether the entry is the failure of the browser's own
// request for /favicon.ico: the page did not ask for it, and it comes at no
// fixed time after the page has loaded, so that counting it would make a
// check of the console flaky.
func isFavicon(e *log.Entry) bool {
	if e.Source != log.EntrySourceNetwork {
		return false
	}
	u, err := url.Parse(e.URL)
	return err == nil && u.Path == "/favicon.ico"
}

// argsText renders a console call's arguments as the console shows them,
// closely enough for a failure message.
func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		var s string
		switch {
		case a.Type == runtime.RemoteObjectTypeString && json.Unmarshal(a.Value, &s) == nil:
		case a.Description != "":
			s = a.Description
		case len(a.Value) > 0:
			s = string(a.Value)
		default:
			s = string(a.Type)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// ConsoleErrors returns, in order, every error the tab's console has shown
// so far: console.error and failed console.assert calls, uncaught exceptions
// and the browser's own error entries (a resource that failed to load, a CSP
// violation).
func (b *Browser) ConsoleErrors() []string {
	b.t.Helper()
	b.sync()
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.consoleErrors...)
}

// Violations returns, in order, the Content-Security-Policy violations the
// tab has reported so far: a page that keeps its policy has none.
func (b *Browser) Violations() []string {
	b.t.Helper()
	b.sync()
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.violations...)
}

// sync makes a round trip to the page. The tab handles the browser's
// messages in order, so once the answer is in, every event the page sent
// before it has been recorded.
func (b *Browser) sync() {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[int]("0")); err != nil {
		b.fatalf("read the console: %v", b.explain(err))
	}
}
