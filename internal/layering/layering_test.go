// Package layering checks that ofac's top-level packages depend on each other
// in one direction only, as the architecture in README.md draws it.
package layering

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/ofac-dev/ofac"

// allowed lists, for each top-level layer, the other layers its non-test code
// may import. A layer may always import its own sub-packages, and any layer
// may import internal/, whose leaf utilities import nothing of ours.
var allowed = map[string][]string{
	"ir":       {"internal"},
	"supernet": {"internal"},
	"passes":   {"ir", "internal"},
	"backends": {"ir", "passes", "internal"},
	"frontend": {"ir", "supernet", "internal"},
	// search drives the whole compiler for cost estimates (passes, backends)
	// and measures subnets for its accuracy data (supernet).
	"search":   {"ir", "passes", "backends", "frontend", "supernet", "internal"},
	"cmd":      {"ir", "passes", "backends", "frontend", "supernet", "search", "internal"},
	"internal": {},
}

func TestImportDirection(t *testing.T) {
	root := filepath.Join("..", "..")
	violations, err := check(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range violations {
		t.Error(v)
	}
}

// TestCheckCatchesViolation proves the checker is not vacuous: a package in ir
// that imports passes must be reported.
func TestCheckCatchesViolation(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "ir")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src := "package ir\n\nimport _ \"" + module + "/passes\"\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	violations, err := check(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(violations) != 1 || !strings.Contains(violations[0], "ir/bad.go imports "+module+"/passes") {
		t.Fatalf("want one violation for ir -> passes, got %q", violations)
	}
}

// check walks every non-test Go file below root and returns one message per
// import that points against the allowed direction.
func check(root string) ([]string, error) {
	var violations []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" || strings.HasPrefix(name, "bazel-") || name == "third_party") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		layer := strings.SplitN(rel, "/", 2)[0]
		ok, known := allowed[layer]
		if !known {
			return nil // tools and generators outside the layers
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(p, module+"/") {
				continue
			}
			target := strings.SplitN(strings.TrimPrefix(p, module+"/"), "/", 2)[0]
			if target == layer || contains(ok, target) {
				continue
			}
			violations = append(violations, rel+" imports "+p+": "+layer+" may import only "+describe(ok))
		}
		return nil
	})
	sort.Strings(violations)
	return violations, err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func describe(list []string) string {
	if len(list) == 0 {
		return "its own sub-packages"
	}
	return strings.Join(list, ", ")
}
