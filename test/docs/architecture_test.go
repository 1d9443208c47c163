// Package docs checks that docs/architecture.md describes the code as it is:
// it is the page a newcomer reads first, and it drifts unless a test holds it.
package docs

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every package of gantry (but tests and tools) has a row in the package
// table, and every row names a package that exists.
func TestArchitectureListsEveryPackage(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		rel := strings.TrimPrefix(p, "gantry.dev/gantry/")
		if strings.HasPrefix(rel, "test/") {
			continue // the suites, described in their own section
		}
		pkgs[rel] = true
	}
	rows := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z0-9/-]+)` \\|").FindAllStringSubmatch(string(doc), -1) {
		rows[m[1]] = true
	}
	for p := range pkgs {
		if !rows[p] {
			t.Errorf("package %s has no row in docs/architecture.md's package table", p)
		}
	}
	for r := range rows {
		if pkgs[r] || strings.HasPrefix(r, "tools/") || r == "ui/" || r == "ui" || strings.HasPrefix(r, "test/") {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, r)); err != nil {
			t.Errorf("docs/architecture.md has a row for %s, which does not exist", r)
		}
	}
}
