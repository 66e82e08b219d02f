package desk

import (
	"strings"
	"testing"
)

// FuzzReadProfiles: a profiles file is read without panicking, and what
// it accepts is valid.
func FuzzReadProfiles(f *testing.F) {
	f.Add([]byte("id,email,holder_kind,holder_name\np-1,a@b.example,individual,A\n"))
	f.Add([]byte("id;email;holder_kind;holder_name;representative\np-1;a@b.example;company;A;B\n"))
	f.Add([]byte(`[{"id":"p","email":"a@b.example","holder_kind":"association","holder_name":"X","representative":"Y","rna":"W123456789"}]`))
	f.Add([]byte("\xef\xbb\xbfid,email\n\"unterminated"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := ReadProfiles(data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !strings.Contains(err.Error(), "line ") {
				t.Errorf("multi-line error without a line number: %q", err)
			}
			return
		}
		for _, p := range ps {
			if _, err := p.Validate(); err != nil {
				t.Errorf("accepted an invalid profile %+v: %v", p, err)
			}
		}
	})
}
