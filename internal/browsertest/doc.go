// Package browsertest drives a real headless Chromium from tests, so that
// the dashboard is tested as an agent uses it: pages rendered by a browser
// under their Content-Security-Policy, forms filled and submitted, cookies
// kept, images decoded.
//
// New starts one browser with one tab for a test and stops it when the test
// ends. The browser is Debian's chromium (scripts/test-deps.sh installs it,
// and so `make test` does); when no Chromium is found the test fails, it
// never skips, so that a machine without a browser cannot pass the suite
// silently. The browser runs as root in a container, which is why its
// sandbox is off; it only ever loads the test's own loopback servers, and it
// accepts their self-signed certificates (httptest.NewTLSServer), so that
// Secure and __Host- cookies work as in production.
//
// The helpers (Navigate, Fill, Click, Submit, Text, ImageWidth, …) fail the
// test with t.Fatal and a line naming the selector and the page. Those that
// read the page (Text, Exists, Count, ImageWidth) look at it as it is, since
// the dashboard renders on the server and a page is complete once Navigate
// or Submit returned; WaitVisible is there for what appears later. Context
// gives the chromedp context for anything the helpers do not cover.
//
// Every test has one deadline, two minutes from New, that guards against a
// hang (a selector that never matches, a click that never navigates); it is
// never an assertion, and nothing here sleeps.
//
// The browser's console is recorded from the start: ConsoleErrors returns
// console.error calls, uncaught exceptions and the browser's error entries
// (a failed load, a blocked resource); Violations returns the subset that are
// Content-Security-Policy violations (CSP Level 3, W3C), which must be none
// on a page that keeps its policy. When a test fails, the page's address,
// its console and the end of the browser's own output are logged, and a
// screenshot is written to t.ArtifactDir (kept with `go test -artifacts`).
package browsertest
