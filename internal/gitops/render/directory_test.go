package render

import (
	"os"
	"path/filepath"
	"testing"

	"gantry.dev/gantry/api/gitops/v1alpha1"
)

func dirRequest(root, path string, dir *v1alpha1.ApplicationSourceDirectory) Request {
	return Request{
		Source:   v1alpha1.ApplicationSource{RepoURL: "https://git.example.com/app.git", Path: path, Directory: dir},
		Dir:      root,
		Revision: "0123456789abcdef0123456789abcdef01234567",
	}
}

func TestDirectorySelection(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"app/a.yaml":         configMap("a"),
		"app/b.yml":          configMap("b"),
		"app/c.json":         `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}`,
		"app/notes.txt":      configMap("not-a-manifest-file"),
		"app/sub/d.yaml":     configMap("d"),
		"app/sub/deep/e.yml": configMap("e"),
	})
	tests := []struct {
		name string
		dir  *v1alpha1.ApplicationSourceDirectory
		want []string
	}{
		{"top level only by default", nil, []string{"ConfigMap/a", "ConfigMap/b", "ConfigMap/c"}},
		{"recurse", &v1alpha1.ApplicationSourceDirectory{Recurse: true},
			[]string{"ConfigMap/a", "ConfigMap/b", "ConfigMap/c", "ConfigMap/d", "ConfigMap/e"}},
		{"include list", &v1alpha1.ApplicationSourceDirectory{Recurse: true, Include: "{a.yaml,sub/d.yaml}"},
			[]string{"ConfigMap/a", "ConfigMap/d"}},
		{"include glob crosses directories", &v1alpha1.ApplicationSourceDirectory{Recurse: true, Include: "*.yml"},
			[]string{"ConfigMap/b", "ConfigMap/e"}},
		{"exclude wins over include", &v1alpha1.ApplicationSourceDirectory{Recurse: true, Include: "*.yaml", Exclude: "sub/*"},
			[]string{"ConfigMap/a"}},
		{"exclude list", &v1alpha1.ApplicationSourceDirectory{Exclude: "{b.yml,c.json}"}, []string{"ConfigMap/a"}},
	}
	r := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := mustRender(t, r, dirRequest(root, "app", tt.dir))
			if res.SourceType != SourceTypeDirectory {
				t.Errorf("SourceType = %s", res.SourceType)
			}
			if got := sortedIDs(res.Objects); !equalStrings(got, tt.want) {
				t.Errorf("objects = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDirectoryDocuments(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"multi.yaml": "# leading comment\n" + configMap("one") + "---\n---\n# only a comment\n---\n" + configMap("two") +
			"--- # a separator with a comment\n" + configMap("three"),
		"list.json": `{"apiVersion": "v1", "kind": "List", "items": [
			{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "l1"}},
			{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "l2"}}]}`,
		"array.json": `[{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a1"}},
			{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a2"}}]`,
		"cmlist.yaml":   "apiVersion: v1\nkind: ConfigMapList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: y1\n",
		"nulllist.yaml": "apiVersion: v1\nkind: ConfigMapList\nitems: null\n",
		// Not Kubernetes manifests: skipped, as Argo CD skips them.
		"values.yaml":  "replicas: 3\nimage: nginx\n",
		"broken.yml":   "this: is: not: yaml\n",
		"package.json": `{"name": "tooling", "version": "1.0.0"}`,
		// Marked to be left alone.
		"template.yaml": "# +argocd:skip-file-rendering\n" + configMap("skipped"),
	})
	res := mustRender(t, New(Options{}), dirRequest(root, "", nil))
	want := []string{"ConfigMap/a1", "ConfigMap/a2", "ConfigMap/l1", "ConfigMap/one", "ConfigMap/three", "ConfigMap/two", "ConfigMap/y1", "Secret/l2"}
	if got := sortedIDs(res.Objects); !equalStrings(got, want) {
		t.Errorf("objects = %v, want %v", got, want)
	}
	// Files are read in lexical order, documents in file order.
	if got := ids(res.Objects)[:2]; !equalStrings(got, []string{"ConfigMap/a1", "ConfigMap/a2"}) {
		t.Errorf("first objects = %v", got)
	}
	if got := nested(t, find(t, res.Objects, "ConfigMap", "one"), "data", "key"); got != "value" {
		t.Errorf("data.key = %v", got)
	}
}

func TestDirectoryMalformedManifest(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"apps/web/ok.yaml": configMap("ok"),
		// The second document has a bad indentation on line 9 of the file.
		"apps/web/bad.yaml": configMap("first") + "---\n" +
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: second\n labels: {}\n",
	})
	err := renderErr(t, New(Options{}), dirRequest(root, "apps/web", nil), "apps/web/bad.yaml", "line 11")
	t.Log(err)

	// A document without kind in a file that is otherwise a manifest.
	root2 := t.TempDir()
	writeFiles(t, root2, map[string]string{
		"x.yaml": configMap("first") + "---\napiVersion: v1\nmetadata:\n  name: nokind\n",
	})
	err = renderErr(t, New(Options{}), dirRequest(root2, "", nil), "x.yaml", "line 8", "not a Kubernetes object")
	t.Log(err)

	// A list item without kind.
	root3 := t.TempDir()
	writeFiles(t, root3, map[string]string{
		"l.json": `{"apiVersion": "v1", "kind": "List", "metadata": {}, "items": [{"apiVersion": "v1", "metadata": {"name": "x"}}]}`,
	})
	renderErr(t, New(Options{}), dirRequest(root3, "", nil), "item 0 of the List", "l.json")
}

func TestDirectoryStaysInRepository(t *testing.T) {
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"secret.yaml": configMap("stolen")})
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"app/a.yaml": configMap("a")})
	r := New(Options{})

	renderErr(t, r, dirRequest(root, "../"+filepath.Base(outside), nil), "outside the repository")
	renderErr(t, r, dirRequest(root, "app/../..", nil), "outside the repository")
	renderErr(t, r, dirRequest(root, "missing", nil), "missing does not exist")

	// A symlinked file leading out of the repository.
	if err := os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(root, "app", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	renderErr(t, r, dirRequest(root, "app", nil), "app/link.yaml", "outside the repository")

	// A path that is a symlink to a directory out of the repository.
	root2 := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root2, "app")); err != nil {
		t.Fatal(err)
	}
	renderErr(t, r, dirRequest(root2, "app", nil), "outside the repository")

	// Symlinks inside the repository are fine; dangling ones are skipped.
	root3 := t.TempDir()
	writeFiles(t, root3, map[string]string{"shared/cm.yaml": configMap("shared")})
	if err := os.MkdirAll(filepath.Join(root3, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../shared/cm.yaml", filepath.Join(root3, "app", "cm.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../shared/gone.yaml", filepath.Join(root3, "app", "gone.yaml")); err != nil {
		t.Fatal(err)
	}
	res := mustRender(t, r, dirRequest(root3, "app", nil))
	if got := ids(res.Objects); !equalStrings(got, []string{"ConfigMap/shared"}) {
		t.Errorf("objects = %v", got)
	}
}

func TestSourceTypeDetection(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"both/Chart.yaml":         "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"both/kustomization.yaml": "resources:\n- cm.yaml\n",
		"both/cm.yaml":            configMap("k"),
		"plain/cm.yaml":           configMap("p"),
	})
	r := New(Options{})
	// Argo CD's discovery lets a kustomization win over a Chart.yaml.
	if res := mustRender(t, r, dirRequest(root, "both", nil)); res.SourceType != SourceTypeKustomize {
		t.Errorf("both: SourceType = %s", res.SourceType)
	}
	// An explicit block wins over the files.
	if res := mustRender(t, r, dirRequest(root, "both", &v1alpha1.ApplicationSourceDirectory{})); res.SourceType != SourceTypeDirectory {
		t.Errorf("explicit directory: SourceType = %s", res.SourceType)
	}
	req := dirRequest(root, "plain", &v1alpha1.ApplicationSourceDirectory{})
	req.Source.Kustomize = &v1alpha1.ApplicationSourceKustomize{}
	renderErr(t, r, req, "multiple source types")

	req = dirRequest(root, "plain", &v1alpha1.ApplicationSourceDirectory{})
	req.Source.Chart = "nginx"
	renderErr(t, r, req, "chart is set")
}
