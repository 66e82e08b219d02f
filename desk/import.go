package desk

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/internal/mailaddr"
	"github.com/recoverybot/recoverybot/store"
)

// ErrBadImport wraps every reason a profiles file is refused.
var ErrBadImport = errors.New("desk: bad profiles file")

// profileFields are the columns of a CSV file and the keys of a JSON
// object, named as in SPEC §2.
var profileFields = []string{"id", "email", "phone", "holder_kind", "holder_name", "representative", "siren", "rna", "locale"}

var requiredFields = []string{"id", "email", "holder_kind", "holder_name"}

// ReadProfiles reads a profiles file: a JSON array of objects, or CSV with
// a header row (comma or semicolon separated, optional UTF-8 BOM). Every
// row is validated; the first bad one refuses the whole file with its
// line number (the CSV header is line 1) and the reason.
func ReadProfiles(data []byte) ([]recoverybot.Profile, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: the file is empty", ErrBadImport)
	}
	var (
		profiles []recoverybot.Profile
		lines    []int
		err      error
	)
	if t := bytes.TrimSpace(data); t[0] == '[' || t[0] == '{' {
		profiles, lines, err = readJSON(data)
	} else {
		profiles, lines, err = readCSV(data)
	}
	if err != nil {
		return nil, err
	}
	if len(profiles) == 0 {
		return nil, fmt.Errorf("%w: no profiles in the file", ErrBadImport)
	}
	seen := map[string]int{}
	for i, p := range profiles {
		// Validate normalises the address, NFC aside (the root package
		// has no Unicode tables): NFC first, so that a profile's address
		// and a message's compare (SPEC §4).
		if n, err := mailaddr.Normalize(p.Email); err == nil {
			p.Email = n
		}
		v, err := p.Validate()
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrBadImport, lines[i], err)
		}
		if prev, dup := seen[v.ID]; dup {
			return nil, fmt.Errorf("%w: line %d: id %q already given on line %d", ErrBadImport, lines[i], v.ID, prev)
		}
		seen[v.ID] = lines[i]
		profiles[i] = v
	}
	return profiles, nil
}

func readCSV(data []byte) ([]recoverybot.Profile, []int, error) {
	first, _, _ := bytes.Cut(data, []byte("\n"))
	r := csv.NewReader(bytes.NewReader(data))
	if bytes.Count(first, []byte(";")) > bytes.Count(first, []byte(",")) {
		r.Comma = ';'
	}
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: line 1: %s", ErrBadImport, csvReason(err))
	}
	col := map[string]int{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		if !contains(profileFields, name) {
			return nil, nil, fmt.Errorf("%w: line 1: unknown column %q (want %s)", ErrBadImport, h, strings.Join(profileFields, ", "))
		}
		if _, dup := col[name]; dup {
			return nil, nil, fmt.Errorf("%w: line 1: column %q appears twice", ErrBadImport, name)
		}
		col[name] = i
	}
	for _, need := range requiredFields {
		if _, ok := col[need]; !ok {
			return nil, nil, fmt.Errorf("%w: line 1: missing column %q", ErrBadImport, need)
		}
	}
	var out []recoverybot.Profile
	var lines []int
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			return nil, nil, fmt.Errorf("%w: line %d: %s", ErrBadImport, line, csvReason(err))
		}
		line, _ := r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != len(header) {
			return nil, nil, fmt.Errorf("%w: line %d: %d fields, the header has %d", ErrBadImport, line, len(rec), len(header))
		}
		get := func(name string) string {
			if i, ok := col[name]; ok {
				return rec[i]
			}
			return ""
		}
		out = append(out, recoverybot.Profile{
			ID: get("id"), Email: get("email"), Phone: get("phone"), HolderKind: recoverybot.HolderKind(get("holder_kind")),
			HolderName: get("holder_name"), Representative: get("representative"), SIREN: get("siren"), RNA: get("rna"),
			Locale: get("locale"),
		})
		lines = append(lines, line)
	}
	return out, lines, nil
}

func csvReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func readJSON(data []byte) ([]recoverybot.Profile, []int, error) {
	lineAt := func(off int64) int { return 1 + bytes.Count(data[:min(int(off), len(data))], []byte("\n")) }
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('[') {
		return nil, nil, fmt.Errorf("%w: line 1: want a JSON array of profiles", ErrBadImport)
	}
	var out []recoverybot.Profile
	var lines []int
	for dec.More() {
		start := dec.InputOffset()
		// Skip the separator and white space so the line is the object's.
		for start < int64(len(data)) && strings.ContainsRune(", \t\r\n", rune(data[start])) {
			start++
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("%w: line %d: %s", ErrBadImport, lineAt(dec.InputOffset()), jsonReason(err))
		}
		line := lineAt(start)
		var fields map[string]any
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, nil, fmt.Errorf("%w: line %d: want an object", ErrBadImport, line)
		}
		p := recoverybot.Profile{}
		for k, v := range fields {
			if !contains(profileFields, k) {
				return nil, nil, fmt.Errorf("%w: line %d: unknown field %q", ErrBadImport, line, k)
			}
			s, ok := v.(string)
			if v != nil && !ok {
				if n, isNum := v.(float64); isNum && (k == "siren" || k == "phone" || k == "id") {
					s = fmt.Sprintf("%.0f", n)
				} else {
					return nil, nil, fmt.Errorf("%w: line %d: field %q must be a string", ErrBadImport, line, k)
				}
			}
			switch k {
			case "id":
				p.ID = s
			case "email":
				p.Email = s
			case "phone":
				p.Phone = s
			case "holder_kind":
				p.HolderKind = recoverybot.HolderKind(s)
			case "holder_name":
				p.HolderName = s
			case "representative":
				p.Representative = s
			case "siren":
				p.SIREN = s
			case "rna":
				p.RNA = s
			case "locale":
				p.Locale = s
			}
		}
		out = append(out, p)
		lines = append(lines, line)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("%w: line %d: %s", ErrBadImport, lineAt(dec.InputOffset()), jsonReason(err))
	}
	if rest, _ := io.ReadAll(bufio.NewReader(dec.Buffered())); len(bytes.TrimSpace(rest)) > 0 {
		return nil, nil, fmt.Errorf("%w: line %d: text after the JSON array", ErrBadImport, lineAt(dec.InputOffset()))
	}
	return out, lines, nil
}

func jsonReason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "invalid JSON: " + se.Error()
	}
	return "invalid JSON: " + err.Error()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ImportResult counts what an import did.
type ImportResult struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
}

// ImportProfiles stores validated profiles in one transaction: all of
// them, or none. by may be empty.
func (d *Desk) ImportProfiles(ctx context.Context, profiles []recoverybot.Profile, source, by string) (ImportResult, error) {
	by, err := CheckAgent(by)
	if errors.Is(err, ErrNoAgent) {
		by, err = UnnamedActor, nil
	}
	if err != nil {
		return ImportResult{}, err
	}
	var res ImportResult
	err = d.store.Update(ctx, func(tx *store.Tx) error {
		for _, p := range profiles {
			created, err := tx.PutProfile(p)
			if err != nil {
				return err
			}
			if created {
				res.Created++
			} else {
				res.Updated++
			}
		}
		return tx.Audit(0, by, "profiles_imported", map[string]string{
			"source": source, "created": fmt.Sprint(res.Created), "updated": fmt.Sprint(res.Updated)})
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("import profiles: %w", err)
	}
	d.log.Info("profiles imported", "created", res.Created, "updated", res.Updated)
	return res, nil
}
