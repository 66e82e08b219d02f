package config

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Key is the key at fault, spelt as in `config example`
	// ("imap.username"), or the unknown key itself; empty when the file
	// cannot be read as TOML at all.
	Key string
	// Line is where the key stands in the file; 0: not known (a key the
	// file does not set, or a setting from the environment).
	Line int
	// Message says what is wrong, in one line naming the key.
	Message string
}

// String returns the message, after its line when it is known.
func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("line %d: %s", p.Line, p.Message)
	}
	return p.Message
}

// Problems is every problem of a configuration, unknown keys first (in
// the order of the file: a misspelt key often explains a problem that
// follows), then in the order of the keys in `config example`.
type Problems []Problem

// Error is one line: the first problem, and how many follow.
func (ps Problems) Error() string {
	switch len(ps) {
	case 0:
		return "no problem"
	case 1:
		return ps[0].String()
	}
	return fmt.Sprintf("%s (and %d more)", ps[0].String(), len(ps)-1)
}

// err returns ps sorted as an error, or nil when there is none (never a
// nil Problems in an error, which would not be nil).
func (ps Problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	ps.sort()
	return ps
}

// sort orders ps by the place of their keys in the example; unknown
// keys, which the example lacks, come first and keep their order.
func (ps Problems) sort() {
	rank := exampleOrder()
	sort.SliceStable(ps, func(i, j int) bool {
		ri, ok := rank[ps[i].Key]
		if !ok {
			ri = -1
		}
		rj, ok := rank[ps[j].Key]
		if !ok {
			rj = -1
		}
		return ri < rj
	})
}

// FileError is what is wrong with one configuration file.
type FileError struct {
	Path     string
	Problems Problems
}

// Error is one line naming the file.
func (e *FileError) Error() string { return "config " + e.Path + ": " + e.Problems.Error() }

// Unwrap returns the problems.
func (e *FileError) Unwrap() error { return e.Problems }

// Lines returns one line per problem, each naming the file.
func (e *FileError) Lines() []string {
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = "config " + e.Path + ": " + p.String()
	}
	return out
}

var (
	exampleSection = regexp.MustCompile(`^\[([a-z_]+)\]$`)
	exampleKey     = regexp.MustCompile(`^([a-z_]+) = `)
)

// exampleOrder numbers the example's sections and keys ("imap",
// "imap.address") in the order they appear.
func exampleOrder() map[string]int {
	order := map[string]int{}
	section := ""
	for _, l := range strings.Split(example, "\n") {
		if m := exampleSection.FindStringSubmatch(l); m != nil {
			section = m[1]
			order[section] = len(order)
			continue
		}
		if m := exampleKey.FindStringSubmatch(l); m != nil {
			key := m[1]
			if section != "" {
				key = section + "." + key
			}
			order[key] = len(order)
		}
	}
	return order
}

// checker collects problems.
type checker struct{ ps Problems }

func (c *checker) add(key, format string, args ...any) {
	c.ps = append(c.ps, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
}

// has reports whether key has a problem already.
func (c *checker) has(key string) bool {
	for _, p := range c.ps {
		if p.Key == key {
			return true
		}
	}
	return false
}

// merge adds the problems of other whose keys have none in c yet, and
// of the secrets' files behind them: a value that did not decode, or a
// password file that cannot be read, is not also empty or wrong.
func (c *checker) merge(other *checker) {
	var keep Problems
	for _, p := range other.ps {
		if !c.has(p.Key) && !c.has(p.Key+"_file") {
			keep = append(keep, p)
		}
	}
	c.ps = append(c.ps, keep...)
}
