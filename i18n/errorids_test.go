package i18n_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/puente-org/puente/frontend"
)

// errorIDPattern is the shape of a domain error's message id.
var errorIDPattern = regexp.MustCompile(`^err\.[a-z0-9_]+(\.[a-z0-9_]+)*$`)

// constructors take a message id as argument idArg and name/value template arguments after it.
var constructors = map[string]int{
	"New":      1, // domain.New(code, id, args...)
	"Invalid":  1, // domain.Invalid(field, id, args...)
	"rruleErr": 0, // programme's rruleErr(id, args...)
}

// TestEveryErrorIDIsTranslated walks the Go source and checks that every domain error
// message id exists in every catalogue, that every constructor call names its id with a
// literal (so this walk sees them all), that the arguments given cover the template's
// {{.Names}}, and that every error code has its generic message.
func TestEveryErrorIDIsTranslated(t *testing.T) {
	catalogues := map[string]map[string]string{}
	err := fs.WalkDir(frontend.Locales(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".toml") {
			return err
		}
		buf, err := fs.ReadFile(frontend.Locales(), path)
		if err != nil {
			return err
		}
		raw := map[string]any{}
		if err := toml.Unmarshal(buf, &raw); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		// A message is a string, or a table of plural forms: every form's text counts.
		m := map[string]string{}
		for id, v := range raw {
			switch v := v.(type) {
			case string:
				m[id] = v
			case map[string]any:
				var forms []string
				for _, f := range v {
					if s, ok := f.(string); ok {
						forms = append(forms, s)
					}
				}
				m[id] = strings.Join(forms, "\n")
			}
		}
		catalogues[strings.TrimSuffix(path, ".toml")] = m
		return nil
	})
	if err != nil || len(catalogues) < 2 {
		t.Fatalf("catalogues: %v (%d)", err, len(catalogues))
	}
	check := func(pos token.Position, id string, argNames map[string]bool) {
		for lang, m := range catalogues {
			text, ok := m[id]
			if !ok {
				t.Errorf("%s: message id %q is missing from %s.toml", pos, id, lang)
				continue
			}
			if argNames == nil {
				continue
			}
			for _, sub := range regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`).FindAllStringSubmatch(text, -1) {
				if !argNames[sub[1]] {
					t.Errorf("%s: %s.toml's %q uses {{.%s}}, which the call does not give", pos, lang, id, sub[1])
				}
			}
		}
	}

	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	seen := 0
	var codes []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		inDomain := f.Name.Name == "domain"
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit: // any literal shaped like an error id must be translated
				if n.Kind == token.STRING {
					if s, err := strconv.Unquote(n.Value); err == nil && errorIDPattern.MatchString(s) {
						check(fset.Position(n.Pos()), s, nil)
						seen++
					}
				}
			case *ast.CallExpr:
				name := ""
				switch fn := n.Fun.(type) {
				case *ast.SelectorExpr:
					if x, ok := fn.X.(*ast.Ident); ok && x.Name == "domain" {
						name = fn.Sel.Name
					}
				case *ast.Ident:
					if inDomain || fn.Name == "rruleErr" {
						name = fn.Name
					}
				}
				idx, ok := constructors[name]
				if !ok || len(n.Args) <= idx {
					return true
				}
				pos := fset.Position(n.Pos())
				if id, ok := n.Args[idx].(*ast.Ident); ok && id.Name == "id" {
					return true // a helper passing its own id on; its callers are checked
				}
				lit, ok := n.Args[idx].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Errorf("%s: %s's message id must be a string literal", pos, name)
					return true
				}
				id, _ := strconv.Unquote(lit.Value)
				if !errorIDPattern.MatchString(id) && !strings.HasPrefix(id, "error.message.") {
					t.Errorf("%s: %q is not a message id (err.…)", pos, id)
					return true
				}
				names := map[string]bool{}
				for i := idx + 1; i < len(n.Args); i += 2 {
					if l, ok := n.Args[i].(*ast.BasicLit); ok {
						s, _ := strconv.Unquote(l.Value)
						names[s] = true
					}
				}
				check(pos, id, names)
			case *ast.ValueSpec: // the error codes, each with a generic message
				if id, ok := n.Type.(*ast.Ident); ok && inDomain && id.Name == "Code" {
					for _, v := range n.Values {
						if l, ok := v.(*ast.BasicLit); ok {
							s, _ := strconv.Unquote(l.Value)
							codes = append(codes, s)
						}
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 150 || len(codes) < 10 {
		t.Fatalf("found only %d error ids and %d codes: is the walk looking at the right tree?", seen, len(codes))
	}
	for _, c := range codes {
		check(token.Position{Filename: "domain/errors.go"}, "error.message."+c, nil)
	}
}
