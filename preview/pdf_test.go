package preview_test

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot/preview"
)

// a4 is an A4 MediaBox in points.
const a4 = "0 0 595 842"

// pdftoppm returns the real pdftoppm's path, or fails the test.
func pdftoppm(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("pdftoppm")
	if err != nil {
		t.Fatal("pdftoppm not installed: run `make test` as root or apt-get install poppler-utils")
	}
	return p
}

// fake writes a shell script standing in for pdftoppm and returns its
// path. It runs with an empty environment: commands by absolute path.
func fake(t *testing.T, script string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pdftoppm")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPDFPages: pdftoppm renders each page of a PDF, at the DPI.
func TestPDFPages(t *testing.T) {
	t.Parallel()
	bin := pdftoppm(t)
	doc := buildPDF(a4, "Extrait Kbis", "Page deux")
	for _, c := range []struct {
		dpi  int
		w, h int
	}{{0, 910, 1287}, {72, 595, 842}} {
		pages, err := preview.New(preview.Options{Pdftoppm: bin, DPI: c.dpi}).Render(context.Background(), doc)
		if err != nil {
			t.Fatalf("DPI %d: %v", c.dpi, err)
		}
		if len(pages) != 2 {
			t.Fatalf("DPI %d: %d pages, want 2", c.dpi, len(pages))
		}
		checkPages(t, pages)
		for i, p := range pages {
			if p.Width != c.w || p.Height != c.h {
				t.Errorf("DPI %d: page %d is %d×%d, want %d×%d", c.dpi, i+1, p.Width, p.Height, c.w, c.h)
			}
			if !hasInk(t, p) {
				t.Errorf("DPI %d: page %d is blank", c.dpi, i+1)
			}
		}
		if bytes.Equal(pages[0].PNG, pages[1].PNG) {
			t.Errorf("DPI %d: both pages are the same image", c.dpi)
		}
	}
}

// TestPDFMaxPages: only the first MaxPages pages are rendered.
func TestPDFMaxPages(t *testing.T) {
	t.Parallel()
	bin := pdftoppm(t)
	doc := buildPDF(a4, "one", "two", "three")
	for _, max := range []int{1, 2, 3, 4} {
		pages, err := preview.New(preview.Options{Pdftoppm: bin, MaxPages: max, DPI: 20}).Render(context.Background(), doc)
		if err != nil {
			t.Fatalf("MaxPages %d: %v", max, err)
		}
		if want := min(max, 3); len(pages) != want {
			t.Errorf("MaxPages %d: %d pages, want %d", max, len(pages), want)
		}
	}
}

// TestPDFGiantPage: a page of 200 × 200 inches, 22000 pixels square at
// 110 DPI, is cropped to 17 inches square; the crop narrows to fit
// MaxPixels.
func TestPDFGiantPage(t *testing.T) {
	t.Parallel()
	bin := pdftoppm(t)
	cases := []struct {
		mediaBox  string
		maxPixels int64
		w, h      int
	}{
		{"0 0 14400 14400", 0, 1870, 1870},
		{"0 0 14400 300", 0, 1870, 459},
		{a4, 10000, 100, 100},
	}
	for _, c := range cases {
		pages, err := preview.New(preview.Options{Pdftoppm: bin, MaxPixels: c.maxPixels}).Render(context.Background(), buildPDF(c.mediaBox, "big"))
		if err != nil {
			t.Fatalf("%s: %v", c.mediaBox, err)
		}
		checkPages(t, pages)
		if p := pages[0]; p.Width != c.w || p.Height != c.h {
			t.Errorf("%s, MaxPixels %d: %d×%d, want %d×%d", c.mediaBox, c.maxPixels, p.Width, p.Height, c.w, c.h)
		}
	}
}

// TestPDFBroken: a PDF pdftoppm cannot read is ErrRender.
func TestPDFBroken(t *testing.T) {
	t.Parallel()
	bin := pdftoppm(t)
	cases := map[string]string{
		"garbage":  "%PDF-1.4\nthis is not a PDF at all\n",
		"no pages": "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
		"no root":  "%PDF-1.4\ntrailer << >>\n%%EOF\n",
	}
	r := preview.New(preview.Options{Pdftoppm: bin})
	for name, doc := range cases {
		_, err := r.Render(context.Background(), []byte(doc))
		if !errors.Is(err, preview.ErrRender) {
			t.Errorf("%s: Render = %v, want ErrRender", name, err)
		}
	}
}

// TestPDFTimeout: a pdftoppm still running at the timeout is killed with
// its whole process group, a child it started included.
func TestPDFTimeout(t *testing.T) {
	t.Parallel()
	pids := filepath.Join(t.TempDir(), "pids")
	bin := fake(t, "/bin/sleep 1000 &\necho \"$$ $!\" > "+pids+".tmp && /bin/mv "+pids+".tmp "+pids+"\nwait")
	r := preview.New(preview.Options{Pdftoppm: bin, Timeout: time.Second})
	_, err := r.Render(context.Background(), buildPDF(a4, "x"))
	if !errors.Is(err, preview.ErrTimeout) {
		t.Fatalf("Render = %v, want ErrTimeout", err)
	}
	b, err := os.ReadFile(pids)
	if err != nil {
		t.Fatalf("the fake pdftoppm did not start within the timeout: %v", err)
	}
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("pid %q: %v", f, err)
		}
		waitGone(t, pid)
	}
}

// TestPDFCanceled: the caller's context ending kills pdftoppm too, and
// Render says so with the context's error; a render waiting for a slot
// (two already run) gives up with its context.
func TestPDFCanceled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := fake(t, "echo $$ > "+dir+"/started.$$\nexec /bin/sleep 1000")
	r := preview.New(preview.Options{Pdftoppm: bin, Timeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := r.Render(ctx, buildPDF(a4, "x"))
			errs <- err
		}()
	}
	started := waitFiles(t, dir, "started.*", 2)

	done, stop := context.WithCancel(context.Background())
	stop()
	if _, err := r.Render(done, textPNG(t, 2, 2, "")); !errors.Is(err, context.Canceled) {
		t.Errorf("third render with two running = %v, want context.Canceled", err)
	}

	cancel()
	for range 2 {
		if err := <-errs; !errors.Is(err, context.Canceled) || errors.Is(err, preview.ErrTimeout) {
			t.Errorf("canceled render = %v, want context.Canceled", err)
		}
	}
	for _, f := range started {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Ext(f), "."))
		if err != nil {
			t.Fatal(err)
		}
		waitGone(t, pid)
	}
}

// TestPDFOutputCap: a pdftoppm writing without end is stopped at
// MaxOutput.
func TestPDFOutputCap(t *testing.T) {
	t.Parallel()
	r := preview.New(preview.Options{Pdftoppm: fake(t, "exec /usr/bin/yes"), MaxOutput: 1 << 20, Timeout: time.Hour})
	_, err := r.Render(context.Background(), buildPDF(a4, "x"))
	if !errors.Is(err, preview.ErrTooLarge) {
		t.Fatalf("Render = %v, want ErrTooLarge", err)
	}
}

// TestPdftoppmOutput: what pdftoppm writes is hostile too.
func TestPdftoppmOutput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	page := textPNG(t, 5, 4, "")
	three := write("three.png", slices.Concat(page, page, page))
	bomb := write("bomb.png", bombPNG(100000, 100000))
	cut := write("cut.png", page[:len(page)-5])
	cases := []struct {
		name   string
		script string
		opts   preview.Options
		pages  int
		want   error
	}{
		{"three pages", "/bin/cat " + three, preview.Options{}, 3, nil},
		{"more pages than asked", "/bin/cat " + three, preview.Options{MaxPages: 2}, 2, nil},
		{"a bomb of a page", "/bin/cat " + bomb, preview.Options{}, 0, preview.ErrTooLarge},
		{"a truncated page", "/bin/cat " + cut, preview.Options{}, 0, preview.ErrRender},
		{"not a PNG", "echo hello", preview.Options{}, 0, preview.ErrRender},
		{"nothing", "exit 0", preview.Options{}, 0, preview.ErrRender},
		{"a failure", "/bin/cat " + three + "; exit 1", preview.Options{}, 0, preview.ErrRender},
		{"just over MaxOutput", "/bin/cat " + three, preview.Options{MaxOutput: int64(3*len(page) - 1)}, 0, preview.ErrTooLarge},
		{"at MaxOutput", "/bin/cat " + three, preview.Options{MaxOutput: int64(3 * len(page))}, 3, nil},
	}
	for _, c := range cases {
		c.opts.Pdftoppm = fake(t, c.script)
		pages, err := preview.New(c.opts).Render(context.Background(), buildPDF(a4, "x"))
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) || len(pages) != c.pages {
			t.Errorf("%s: Render = %d pages, %v; want %d, %v", c.name, len(pages), err, c.pages, c.want)
		}
		checkPages(t, pages)
	}
	for _, bin := range []string{filepath.Join(dir, "missing"), dir, write("not-executable", []byte("#!/bin/sh\n"))} {
		if _, err := preview.New(preview.Options{Pdftoppm: bin}).Render(context.Background(), buildPDF(a4, "x")); !errors.Is(err, preview.ErrRender) {
			t.Errorf("pdftoppm %s: Render = %v, want ErrRender", bin, err)
		}
	}
}

// TestPdftoppmContained: pdftoppm gets the options, the document on its
// standard input, an empty environment, a private directory removed
// afterwards, and (with prlimit) its resource limits.
func TestPdftoppmContained(t *testing.T) {
	t.Parallel()
	rec := t.TempDir()
	work := t.TempDir()
	page := filepath.Join(rec, "page.png")
	if err := os.WriteFile(page, textPNG(t, 3, 3, ""), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := fake(t, strings.Join([]string{
		`for a in "$@"; do echo "$a"; done > ` + rec + `/args`,
		`/bin/cat /proc/$$/environ > ` + rec + `/env`,
		`/bin/cat > ` + rec + `/stdin`,
		`/bin/pwd > ` + rec + `/cwd`,
		`/usr/bin/stat -c %a . > ` + rec + `/mode`,
		`/bin/cat /proc/$$/limits > ` + rec + `/limits`,
		`/bin/cat ` + page,
	}, "\n"))
	doc := buildPDF(a4, "x")
	pages, err := preview.New(preview.Options{Pdftoppm: bin, TempDir: work, MaxPages: 3, DPI: 100, Timeout: 5 * time.Second, MaxOutput: 1 << 20}).Render(context.Background(), doc)
	if err != nil || len(pages) != 1 {
		t.Fatalf("Render = %d pages, %v", len(pages), err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(rec, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	want := "-q -png -r 100 -f 1 -l 3 -x 0 -y 0 -W 1700 -H 1700 -"
	if got := strings.Join(strings.Fields(read("args")), " "); got != want {
		t.Errorf("arguments %q, want %q", got, want)
	}
	if env := read("env"); env != "" {
		t.Errorf("environment %q, want none", env)
	}
	if read("stdin") != string(doc) {
		t.Error("the document did not come on standard input")
	}
	cwd := strings.TrimSpace(read("cwd"))
	if filepath.Dir(cwd) != work {
		t.Errorf("worked in %s, not in a directory of %s", cwd, work)
	}
	if mode := strings.TrimSpace(read("mode")); mode != "700" {
		t.Errorf("working directory mode %s, want 700", mode)
	}
	if left, _ := os.ReadDir(work); len(left) != 0 {
		t.Errorf("%d entries left in the temporary directory", len(left))
	}
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Log("prlimit not in PATH: no resource limits to check")
		return
	}
	limits := read("limits")
	for _, l := range []string{
		`Max address space\s+536870912\s+536870912`,
		`Max cpu time\s+5\s+6`,
		`Max file size\s+1048576\s+1048576`,
		`Max open files\s+256\s+256`,
		`Max core file size\s+0\s+0`,
	} {
		if !matchLine(limits, l) {
			t.Errorf("limits lack %q:\n%s", l, limits)
		}
	}
}

// waitGone waits until pid is no process or a zombie (killed, waiting for
// a reaper that may never come in a container), and fails after 10 s.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if err == nil {
			if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X') {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs: %s", pid, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFiles waits until dir holds n files matching pattern, and fails
// after 10 s.
func waitFiles(t *testing.T, dir, pattern string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, _ := filepath.Glob(filepath.Join(dir, pattern))
		if len(m) >= n {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d fake pdftoppm started", len(m), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hasInk tells whether a page has a pixel that is not white.
func hasInk(t *testing.T, p preview.Page) bool {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(p.PNG))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if r, g, bl, _ := img.At(x, y).RGBA(); r != 0xFFFF || g != 0xFFFF || bl != 0xFFFF {
				return true
			}
		}
	}
	return false
}

// matchLine tells whether a line of text matches the expression.
func matchLine(text, expr string) bool {
	re := regexp.MustCompile(`^` + expr + `\s`)
	for l := range strings.Lines(text) {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}
