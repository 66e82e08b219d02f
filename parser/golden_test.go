package parser

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/parser")

const (
	fixtureDir = "../testdata/parser"
	corpusDir  = "../testdata/corpus"
)

// corpusFiles lists the messages of the shared corpus copied into
// testdata/corpus, as paths relative to it.
func corpusFiles(t testing.TB) []string {
	var files []string
	err := filepath.WalkDir(corpusDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(corpusDir, p)
		switch {
		case d.IsDir() && rel == "LICENSES":
			return filepath.SkipDir
		case d.IsDir(), rel == "MANIFEST.tsv", rel == "README.md":
			return nil
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 140 {
		t.Fatalf("only %d corpus files", len(files))
	}
	return files
}

// golden is what a golden file holds: the Message as `recoverybot
// inspect --json` prints it, and the error Parse returned.
type golden struct {
	ParseError string   `json:"parse_error,omitempty"`
	Message    *Message `json:"message"`
}

func render(t *testing.T, raw []byte) []byte {
	t.Helper()
	m, err := Parse(raw, Options{})
	g := golden{Message: m}
	if err != nil {
		g.ParseError = err.Error()
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(g); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func checkGolden(t *testing.T, src, goldenPath string) {
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	got := render(t, raw)
	if *update {
		if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run go test ./parser -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test ./parser -update and review the diff):\n%s", goldenPath, firstDiff(string(want), string(got)))
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, w, g)
		}
	}
	return ""
}

func TestGoldenFixtures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(fixtureDir, "*.eml"))
	if len(files) < 10 {
		t.Fatalf("only %d fixtures", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			checkGolden(t, f, strings.TrimSuffix(f, ".eml")+".json")
		})
	}
}

func TestGoldenCorpus(t *testing.T) {
	for _, rel := range corpusFiles(t) {
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			checkGolden(t, filepath.Join(corpusDir, rel), filepath.Join(fixtureDir, "corpus", rel+".json"))
		})
	}
}
