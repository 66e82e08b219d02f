package browsertest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// hangGuard is how long one test may drive its browser in all. It only stops
// a test that would otherwise hang; a healthy test takes a second or two.
const hangGuard = 2 * time.Minute

// chromiumNames are the names the browser goes by on PATH: Debian's, other
// distributions', Google's build.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome"}

// Browser is one headless Chromium with one tab, for one test. Its methods
// must be called from the test's goroutine.
type Browser struct {
	t      testing.TB
	ctx    context.Context
	output *tail

	mu            sync.Mutex
	consoleErrors []string
	violations    []string
}

// New starts a headless Chromium for the test and stops it, with every
// process it started, when the test ends. It fails the test (it does not skip
// it) when no Chromium is installed or the browser does not start.
func New(t testing.TB) *Browser {
	t.Helper()
	path, err := findChromium()
	if err != nil {
		t.Fatal(err)
	}
	b := &Browser{t: t, output: &tail{max: 16 << 10}}

	guard, cancelGuard := context.WithTimeout(context.Background(), hangGuard)
	// chromedp's defaults (Puppeteer's) and the flags that matter here, named
	// even where a default already sets them.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		// The new headless mode is the browser agents use, without a window.
		chromedp.Flag("headless", "new"),
		// As root in a container Chromium has no sandbox to start.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// /dev/shm is small in containers; Chromium crashes when it fills.
		chromedp.Flag("disable-dev-shm-usage", true),
		// The test's own servers have self-signed certificates.
		chromedp.IgnoreCertErrors,
		// A laptop screen, the size the dashboard is made for.
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(b.output),
	)
	// The profile directory is chromedp's own temporary one rather than a
	// t.TempDir: Chromium's helper processes can outlive it for a moment and
	// write there, and chromedp kills them and retries the removal, where
	// t.TempDir's cleanup would fail the test.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(guard, opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithListener(b.record))
	t.Cleanup(func() {
		if err := chromedp.Cancel(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			t.Logf("browsertest: stop the browser: %v", err)
		}
		cancelBrowser()
		cancelAlloc() // kills the browser if it did not close, and waits
		cancelGuard()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browsertest: start %s: %v\n%s", path, err, b.output)
	}
	b.ctx = ctx
	t.Cleanup(b.reportFailure)
	return b
}

// findChromium returns the path of the first Chromium found on PATH.
func findChromium() (string, error) {
	for _, name := range chromiumNames {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("browsertest: no %s on PATH: install chromium: scripts/test-deps.sh", strings.Join(chromiumNames, ", "))
}

// Context returns the context of the browser's tab, for chromedp actions
// that the helpers do not cover. Its deadline is the test's hang guard.
func (b *Browser) Context() context.Context {
	return b.ctx
}

// reportFailure logs what a failed test's browser last showed: the page, its
// console and the browser's own output; with -artifacts it keeps a
// screenshot of the page too.
func (b *Browser) reportFailure() {
	if !b.t.Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	url, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		url = fmt.Sprintf("(unknown: %v)", err)
	}
	b.t.Logf("browsertest: the page was %s", url)
	b.mu.Lock()
	console := strings.Join(b.consoleErrors, "\n")
	b.mu.Unlock()
	if console != "" {
		b.t.Logf("browsertest: console errors:\n%s", console)
	}
	if out := b.output.String(); out != "" {
		b.t.Logf("browsertest: browser output (end):\n%s", out)
	}
	if !artifactsKept() {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("browsertest: screenshot: %v", err)
		return
	}
	path := filepath.Join(b.t.ArtifactDir(), "failure.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("browsertest: screenshot: %v", err)
		return
	}
	b.t.Logf("browsertest: screenshot of the page: %s", path)
}

// artifactsKept reports whether go test runs with -artifacts, so that files
// written to t.ArtifactDir outlive the test.
func artifactsKept() bool {
	f := flag.Lookup("test.artifacts")
	return f != nil && f.Value.String() == "true"
}

// tail keeps the end of the browser's output, which is all a failure needs,
// up to max bytes of whole lines. It leaves out Chromium's complaints that
// there is no D-Bus, which a container never has and which would crowd out
// the rest. It is safe for concurrent use.
type tail struct {
	max int

	mu      sync.Mutex
	buf     []byte
	partial []byte // the last line, until its newline comes
}

func (w *tail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := w.partial[:i+1]
		if !bytes.Contains(line, []byte(":ERROR:dbus/")) {
			w.buf = append(w.buf, line...)
		}
		w.partial = w.partial[i+1:]
	}
	if over := len(w.buf) - w.max; over > 0 {
		w.buf = append(w.buf[:0], w.buf[over:]...)
	}
	if len(w.partial) > w.max {
		w.partial = w.partial[len(w.partial)-w.max:]
	}
	return len(p), nil
}

func (w *tail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf) + string(w.partial)
}
