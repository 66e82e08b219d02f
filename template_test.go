package recoverybot

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"testing"
)

// TestTemplatesListsEveryConstant: every constant of type Template
// declared in template.go is in Templates, once, and each name once:
// package outbound checks that each of Templates has its files.
func TestTemplatesListsEveryConstant(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "template.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			v := s.(*ast.ValueSpec)
			if id, ok := v.Type.(*ast.Ident); ok && id.Name == "Template" {
				for _, n := range v.Names {
					declared = append(declared, n.Name)
				}
			}
		}
	}
	if len(declared) != len(Templates) {
		t.Errorf("template.go declares %d Template constants %v, Templates lists %d", len(declared), declared, len(Templates))
	}
	seen := map[Template]bool{}
	for _, tmpl := range Templates {
		if seen[tmpl] || tmpl == "" {
			t.Errorf("Templates lists %q twice or empty", tmpl)
		}
		seen[tmpl] = true
	}
	if !slices.Contains(Templates, TemplateInstructions) || !slices.Contains(Templates, TemplateExpired) {
		t.Errorf("Templates = %v", Templates)
	}
}
