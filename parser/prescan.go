package parser

import (
	"bufio"
	"bytes"
	"mime"
	"net/textproto"
	"regexp"
	"strings"

	"github.com/recoverybot/recoverybot/parser/internal/work"
)

// structure is what a quick scan of the raw bytes says about a message's
// MIME tree, before enmime reads it: enmime's time grows with the square
// of the nesting depth, so a hostile depth must be refused first.
type structure struct {
	depth, parts int
}

var boundaryParam = regexp.MustCompile(`(?i)boundary\s*=\s*"?([^";\r\n]+)"?`)

// boundaryOf returns the boundary of a multipart Content-Type, or "".
func boundaryOf(contentType string) string {
	if contentType == "" {
		return ""
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err == nil {
		if !strings.HasPrefix(mt, "multipart/") {
			return ""
		}
		return params["boundary"]
	}
	if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(contentType)), "multipart/") {
		return ""
	}
	if m := boundaryParam.FindStringSubmatch(contentType); m != nil {
		return strings.TrimSpace(m[1])
	}
	return ""
}

// prescan follows the boundaries of raw to measure its depth and count
// its parts, stopping as soon as either passes its limit. It reads the
// structure as a lenient MIME parser would: a delimiter line closes the
// parts nested inside its multipart.
//
// Each line read is charged its bytes to wb, and the delimiters open
// (the stack) compared; prescan stops when wb is spent, as if it had
// reached the end.
func prescan(raw []byte, maxDepth, maxParts int, wb *work.Budget) (s structure, exceeded bool) {
	r := bufio.NewReaderSize(bytes.NewReader(raw), 64<<10)
	tp := textproto.NewReader(r)
	h, _ := tp.ReadMIMEHeader()
	var stack []string
	if b := boundaryOf(h.Get("Content-Type")); b != "" {
		stack = append(stack, b)
		s.depth = 1
	}
	for len(stack) > 0 {
		line, err := r.ReadSlice('\n')
		if !wb.Spend(int64(len(line) + len(stack))) {
			break
		}
		if len(line) >= 2 && line[0] == '-' && line[1] == '-' {
			t := bytes.TrimRight(line[2:], " \t\r\n")
			for i := len(stack) - 1; i >= 0; i-- {
				b := stack[i]
				if !bytes.HasPrefix(t, []byte(b)) {
					continue
				}
				rest := t[len(b):]
				if bytes.Equal(rest, []byte("--")) {
					stack = stack[:i]
					break
				}
				if len(rest) != 0 {
					continue
				}
				stack = stack[:i+1]
				s.parts++
				if s.parts > maxParts {
					return s, true
				}
				ph, _ := textproto.NewReader(r).ReadMIMEHeader()
				if nb := boundaryOf(ph.Get("Content-Type")); nb != "" {
					stack = append(stack, nb)
					if len(stack) > s.depth {
						s.depth = len(stack)
					}
					if s.depth > maxDepth {
						return s, true
					}
				}
				break
			}
		}
		if err == bufio.ErrBufferFull {
			// A very long line: skip the rest of it.
			for err == bufio.ErrBufferFull {
				line, err = r.ReadSlice('\n')
				wb.Spend(int64(len(line)))
			}
		}
		if err != nil && err != bufio.ErrBufferFull {
			break
		}
	}
	return s, false
}
