package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// decoder reads a parsed file into a Config key by key, so that a bad
// value is one problem and the keys after it are still read (a whole
// toml.Decode stops at the first, picked in map order).
type decoder struct {
	md *toml.MetaData
	ch *checker
	// lines holds the line of every key the file sets.
	lines map[string]int
	// first is each key's first place among the file's keys.
	first map[string]int
}

func newDecoder(md *toml.MetaData, ch *checker) *decoder {
	d := &decoder{md: md, ch: ch, lines: map[string]int{}, first: map[string]int{}}
	for i, k := range md.Keys() {
		for n := 1; n <= len(k); n++ {
			s := k[:n].String()
			if _, ok := d.first[s]; !ok {
				d.first[s] = i
			}
		}
	}
	return d
}

// table decodes the keys of one table into the struct v; prefix is the
// table's key and a dot ("imap."), or empty at the top.
func (d *decoder) table(raw map[string]toml.Primitive, v reflect.Value, prefix string) {
	fields := map[string]reflect.Value{}
	for i := 0; i < v.NumField(); i++ {
		fields[v.Type().Field(i).Tag.Get("toml")] = v.Field(i)
	}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	// In the order of the file, whatever the order of the map.
	sort.Slice(names, func(i, j int) bool { return d.first[prefix+names[i]] < d.first[prefix+names[j]] })
	for _, name := range names {
		key, p := prefix+name, raw[name]
		line := d.line(p)
		d.lines[key] = line
		f, ok := fields[name]
		if !ok {
			d.ch.ps = append(d.ch.ps, Problem{Key: key, Line: line, Message: fmt.Sprintf("unknown key %q", key)})
			continue
		}
		if isSection(f.Type()) {
			// A table, or one only implied by dotted keys (no type).
			var sub map[string]toml.Primitive
			if t := d.md.Type(strings.Split(key, ".")...); (t != "Hash" && t != "") || d.md.PrimitiveDecode(p, &sub) != nil {
				d.ch.ps = append(d.ch.ps, Problem{Key: key, Line: line, Message: fmt.Sprintf("%s: want a table ([%s])", key, key)})
				continue
			}
			d.table(sub, f, key+".")
			continue
		}
		// Into a fresh value, so that a list failing half-way leaves the
		// default whole.
		nv := reflect.New(f.Type())
		if err := d.md.PrimitiveDecode(p, nv.Interface()); err != nil {
			d.ch.ps = append(d.ch.ps, Problem{Key: key, Line: line, Message: d.typeProblem(key, f.Type(), err)})
			continue
		}
		f.Set(nv.Elem())
	}
}

func isSection(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	p := reflect.PointerTo(t)
	return !p.Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) && !p.Implements(reflect.TypeFor[toml.Unmarshaler]())
}

// typeProblem words a value that does not decode into a field of type t.
func (d *decoder) typeProblem(key string, t reflect.Type, err error) string {
	// A value our own types refuse (a duration, a size) says why.
	var pe toml.ParseError
	if errors.As(err, &pe) && !strings.HasPrefix(pe.Message, "toml:") {
		return key + ": " + oneLine(pe.Message)
	}
	found := map[string]string{"Integer": "an integer", "Float": "a number with a fraction", "Datetime": "a date",
		"String": "a string", "Bool": "true or false", "Array": "a list", "Hash": "a table", "ArrayHash": "a list of tables"}[d.md.Type(strings.Split(key, ".")...)]
	if found == "" {
		found = "a table"
	}
	if t.Kind() == reflect.Slice && found == "a list" {
		return fmt.Sprintf("%s: want %s, and one of its values is not", key, wanted(t))
	}
	return fmt.Sprintf("%s: want %s, not %s", key, wanted(t), found)
}

func wanted(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[Duration]():
		return `a duration such as "24h"`
	case reflect.TypeFor[ByteSize]():
		return `a size such as "40MB"`
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(wanted(t.Elem()), "a "), "an ") + "s"
	}
	return t.String()
}

// lineProbe refuses every value: BurntSushi/toml tells a key's line only
// in the ParseError of a value that does not decode.
type lineProbe struct{}

func (lineProbe) UnmarshalTOML(any) error { return errors.New("config: line probe") }

// line returns the line of the key holding p: for a table only implied
// by dotted keys (a.b = 1), which has none, the first of its keys'.
func (d *decoder) line(p toml.Primitive) int {
	var pe toml.ParseError
	if err := d.md.PrimitiveDecode(p, &lineProbe{}); errors.As(err, &pe) && pe.Position.Line > 0 {
		return pe.Position.Line
	}
	var sub map[string]toml.Primitive
	if d.md.PrimitiveDecode(p, &sub) != nil {
		return 0
	}
	first := 0
	for _, q := range sub {
		if l := d.line(q); l > 0 && (first == 0 || l < first) {
			first = l
		}
	}
	return first
}
