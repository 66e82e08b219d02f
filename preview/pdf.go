package preview

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// The bounds of a pdftoppm run beyond those of Options.
const (
	// pageInches is the longest page side rendered, in inches: a whole
	// A3 or tabloid page at Options.DPI. pdftoppm renders the top-left
	// square of that side of a larger page (its -W and -H crop), so a
	// page of 200 × 200 inches, the largest PDF allows, costs no more
	// than an A3 one. The crop is also narrowed to fit Options.MaxPixels.
	// (pdftoppm's -scale-to would not do: it sets the resolution so that
	// every page fills its box, overriding -r.)
	pageInches = 17
	// pdftoppmMemory is pdftoppm's address space (RLIMIT_AS): a page at
	// the default bounds takes about 10 MB, poppler itself less than 50.
	pdftoppmMemory = 512 << 20
	// pdftoppmFiles is its open file limit (RLIMIT_NOFILE); fontconfig
	// opens font files one after another.
	pdftoppmFiles = 256
	// waitDelay is how long Wait waits, after pdftoppm is gone, for a
	// process that escaped its group to close the output pipe.
	waitDelay = 2 * time.Second
)

// renderPDF renders the pages of a PDF with pdftoppm, then treats each
// page's PNG as hostile as any image: its header is checked, it is
// decoded and encoded anew.
func (r *Renderer) renderPDF(ctx context.Context, pdf []byte) ([]Page, error) {
	out, err := r.runPdftoppm(ctx, pdf)
	if err != nil {
		return nil, err
	}
	pngs, err := splitPNGs(out, r.o.MaxPages)
	if err != nil {
		return nil, err
	}
	pages := make([]Page, 0, len(pngs))
	for i, b := range pngs {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("preview: render pdf: %w", err)
		}
		p, err := r.reencode(format{kindPNG, "page " + strconv.Itoa(i+1)}, b)
		if err != nil {
			return nil, err
		}
		pages = append(pages, p)
	}
	return pages, nil
}

// runPdftoppm runs pdftoppm on pdf and returns what it wrote: the PNG
// images of the pages, one after the other, on its standard output.
//
// The document goes in on standard input and the images come out on
// standard output, so neither touches the disk. pdftoppm works in a
// fresh 0700 directory removed afterwards (nothing is expected there; a
// file written there is bounded by the file size limit), with an empty
// environment, its diagnostics (which may quote the document) discarded.
// It is the leader of its own process group, which is killed whole when
// the timeout fires, when the output passes MaxOutput, or when the
// caller's context ends. Under prlimit(1), when PATH has it, it also
// runs with limits on its address space, CPU time, file size, open
// files and core dumps; without prlimit (Go cannot set a child's rlimits
// between fork and exec without cgo), the timeout, the output cap and
// the crop hold.
func (r *Renderer) runPdftoppm(ctx context.Context, pdf []byte) ([]byte, error) {
	bin, err := exec.LookPath(r.o.Pdftoppm)
	if err == nil {
		bin, err = filepath.Abs(bin) // it runs in its own directory
	}
	if err != nil {
		return nil, fmt.Errorf("%w: find pdftoppm: %v", ErrRender, err)
	}
	dir, err := os.MkdirTemp(r.o.TempDir, "preview-")
	if err != nil {
		return nil, fmt.Errorf("preview: make a directory for pdftoppm: %w", err)
	}
	defer os.RemoveAll(dir)

	run, stop := context.WithTimeout(ctx, r.o.Timeout)
	defer stop()
	side := strconv.Itoa(r.pageSide())
	args := []string{"-q", "-png", "-r", strconv.Itoa(r.o.DPI),
		"-f", "1", "-l", strconv.Itoa(r.o.MaxPages),
		"-x", "0", "-y", "0", "-W", side, "-H", side,
		"-"} // the document on stdin, and no output root: the images on stdout
	name := bin
	if prlimit, err := exec.LookPath("prlimit"); err == nil {
		name = prlimit
		args = append(append(r.limits(), "--", bin), args...)
	}
	cmd := exec.CommandContext(run, name, args...)
	cmd.Env = []string{}
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(pdf)
	out := &cappedBuffer{max: r.o.MaxOutput, full: stop}
	cmd.Stdout = out
	cmd.Stderr = nil // the null device
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start pdftoppm: %v", ErrRender, err)
	}
	err = cmd.Wait()
	// A process left in the group by a pdftoppm that exited goes too.
	// The group's number cannot name another group while one of its
	// members lives; when none does, the kill finds nothing, unless the
	// pid space wrapped around in the instant since Wait.
	_ = killGroup(cmd.Process.Pid)

	switch {
	case out.over:
		return nil, fmt.Errorf("%w: pdftoppm wrote more than %d bytes", ErrTooLarge, r.o.MaxOutput)
	case err == nil:
		return out.buf.Bytes(), nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("preview: render pdf: %w", ctx.Err())
	case errors.Is(run.Err(), context.DeadlineExceeded), cpuExhausted(err):
		return nil, fmt.Errorf("%w: pdftoppm ran longer than %s", ErrTimeout, r.o.Timeout)
	default:
		return nil, fmt.Errorf("%w: pdftoppm: %v", ErrRender, err)
	}
}

// pageSide is the crop square's side in pixels: pageInches at the DPI,
// narrowed so that a square page stays within MaxPixels.
func (r *Renderer) pageSide() int {
	side := pageInches * float64(r.o.DPI)
	if side*side > float64(r.o.MaxPixels) {
		side = math.Sqrt(float64(r.o.MaxPixels))
	}
	return max(int(side), 1)
}

// limits are prlimit's options for a run. The CPU limit's soft part
// (SIGXCPU) is the timeout, rounded up: CPU time never runs ahead of the
// wall clock for the single-threaded pdftoppm, so it only matters for a
// pdftoppm that outlives us; the hard part (SIGKILL) a second later.
func (r *Renderer) limits() []string {
	cpu := int64(math.Ceil(r.o.Timeout.Seconds()))
	return []string{
		"--as=" + strconv.Itoa(pdftoppmMemory),
		"--cpu=" + strconv.FormatInt(cpu, 10) + ":" + strconv.FormatInt(cpu+1, 10),
		"--fsize=" + strconv.FormatInt(r.o.MaxOutput, 10),
		"--nofile=" + strconv.Itoa(pdftoppmFiles),
		"--core=0",
	}
}

// killGroup kills the process group led by pid; a group already gone is
// no error.
func killGroup(pid int) error {
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// cpuExhausted tells whether the process died of its CPU limit.
func cpuExhausted(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGXCPU
}

// errOutputFull stops the copy of pdftoppm's output; Render reports
// ErrTooLarge instead.
var errOutputFull = errors.New("preview: output cap reached")

// cappedBuffer keeps what pdftoppm writes up to max bytes; the write
// that would pass it fails and calls full, which kills the process
// group. os/exec writes from one goroutine and Wait waits for it, so
// the fields need no lock.
type cappedBuffer struct {
	buf  bytes.Buffer
	max  int64
	over bool
	full func()
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if int64(c.buf.Len())+int64(len(p)) > c.max {
		c.over = true
		c.full()
		return 0, errOutputFull
	}
	return c.buf.Write(p)
}

// splitPNGs cuts pdftoppm's output, PNG files one after another, into
// the files, by their chunk structure (PNG §5.2, §5.3): a signature,
// then chunks of length, type, data and CRC up to IEND. It keeps at most
// maxPages. The CRCs are left to the decoder.
func splitPNGs(b []byte, maxPages int) ([][]byte, error) {
	var files [][]byte
	for len(b) > 0 && len(files) < maxPages {
		if !bytes.HasPrefix(b, pngSignature) {
			return nil, fmt.Errorf("%w: pdftoppm output: page %d is not a PNG", ErrRender, len(files)+1)
		}
		i := len(pngSignature)
		for {
			if len(b)-i < 12 {
				return nil, fmt.Errorf("%w: pdftoppm output: page %d is truncated", ErrRender, len(files)+1)
			}
			n := uint64(binary.BigEndian.Uint32(b[i:]))
			if n > uint64(len(b)-i-12) {
				return nil, fmt.Errorf("%w: pdftoppm output: page %d is truncated", ErrRender, len(files)+1)
			}
			typ := string(b[i+4 : i+8])
			i += 12 + int(n)
			if typ == "IEND" {
				break
			}
		}
		files = append(files, b[:i])
		b = b[i:]
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: pdftoppm rendered no page", ErrRender)
	}
	return files, nil
}
