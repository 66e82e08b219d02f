package desk

import (
	"context"
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot/store"
)

func TestReadProfilesCSVAndJSON(t *testing.T) {
	csvFile := "\xef\xbb\xbfid,email,holder_kind,holder_name,representative,siren,rna,locale,phone\n" +
		"p-1,Jean@Example.org,individual,Jean Dupont,,,,,+33 1\n" +
		"p-2,gerant@acme.example,company,ACME,Marie Curie,732 829 320,,en,\n" +
		"\n" +
		"p-3,bureau@club.example,association,Club,Paul Martin,,w751234567,fr,\n"
	ps, err := ReadProfiles([]byte(csvFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 || ps[0].Email != "jean@example.org" || ps[0].Locale != "fr" || ps[1].SIREN != "732829320" || ps[2].RNA != "W751234567" {
		t.Errorf("csv = %+v", ps)
	}
	semi := "id;email;holder_kind;holder_name\np-1;a@b.example;particulier;Jean\n"
	if ps, err := ReadProfiles([]byte(semi)); err != nil || ps[0].HolderKind != "individual" {
		t.Errorf("semicolon csv = %+v, %v", ps, err)
	}
	jsonFile := `[
  {"id": "p-1", "email": "jean@example.org", "holder_kind": "individual", "holder_name": "Jean"},
  {"id": "p-2", "email": "g@acme.example", "holder_kind": "company", "holder_name": "ACME",
   "representative": "Marie", "siren": 732829320}
]`
	ps, err = ReadProfiles([]byte(jsonFile))
	if err != nil || len(ps) != 2 || ps[1].SIREN != "732829320" {
		t.Errorf("json = %+v, %v", ps, err)
	}
}

func TestReadProfilesNamesTheBadLine(t *testing.T) {
	header := "id,email,phone,holder_kind,holder_name,representative,siren,rna,locale\n"
	good := "p-1,jean@example.org,,individual,Jean,,,,fr\n"
	tests := []struct{ name, file, want string }{
		{"bad email", header + good + "p-2,not-an-email,,individual,X,,,,\n", "line 3: invalid email"},
		{"bad holder kind", header + good + good[:0] + "p-2,a@b.example,,trust,X,,,,\n", "line 3: holder_kind \"trust\""},
		{"company without representative", header + good + "p-2,a@b.example,,company,ACME,,,,\n", "line 3: representative is required"},
		{"bad siren", header + "p-2,a@b.example,,company,ACME,Marie,123456789,,\n", "line 2: siren"},
		{"bad rna", header + "p-2,a@b.example,,association,Club,Paul,,W12,\n", "line 2: rna"},
		{"duplicate id", header + good + good, "line 3: id \"p-1\" already given on line 2"},
		{"unknown column", "id,email,holder_kind,holder_name,colour\n", "line 1: unknown column \"colour\""},
		{"missing column", "id,email,holder_name\n", "line 1: missing column \"holder_kind\""},
		{"ragged row", header + "p-1,a@b.example\n", "line 2: 2 fields"},
		{"bad quoting", header + "p-1,\"a@b.example,,individual,X,,,,\n", "line 2"},
		{"empty", "  \n", "empty"},
		{"header only", header, "no profiles"},
		{"json unknown field", `[{"id":"p","email":"a@b.example","holder_kind":"individual","holder_name":"X","colour":"red"}]`, "line 1: unknown field \"colour\""},
		{"json bad row", "[\n{\"id\":\"p\",\"email\":\"a@b.example\",\"holder_kind\":\"individual\",\"holder_name\":\"X\"},\n{\"id\":\"q\",\"email\":\"a@\",\"holder_kind\":\"individual\",\"holder_name\":\"X\"}\n]", "line 3: invalid email"},
		{"json syntax", "[\n{\"id\": }\n]", "line 2: invalid JSON"},
		{"json not array", `{"id":"p"}`, "want a JSON array"},
		{"json wrong type", `[{"id":"p","email":true}]`, "field \"email\" must be a string"},
	}
	for _, tt := range tests {
		_, err := ReadProfiles([]byte(tt.file))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestImportIsAllOrNothingAndUpdates(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ps, err := ReadProfiles([]byte("id,email,holder_kind,holder_name\np-ind,changed@example.org,individual,Jean\np-new,n@example.org,individual,New\n"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.desk.ImportProfiles(ctx, ps, "file.csv", "")
	if err != nil || res.Created != 1 || res.Updated != 1 {
		t.Fatalf("import = %+v, %v", res, err)
	}
	err = f.st.View(ctx, func(tx *store.Tx) error {
		p, err := tx.Profile("p-ind")
		if err != nil {
			return err
		}
		if p.Email != "changed@example.org" {
			t.Errorf("re-import did not update: %+v", p)
		}
		events, err := tx.AuditEvents(store.AuditFilter{})
		if err != nil {
			return err
		}
		last := events[len(events)-1]
		if last.Action != "profiles_imported" || last.Actor != UnnamedActor || last.Details["created"] != "1" {
			t.Errorf("import audit = %+v", last)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
