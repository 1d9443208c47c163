package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gantry.dev/gantry/api/gitops/v1alpha1"
)

// A directory app's *.jsonnet files are evaluated as Argo CD does: external
// variables and top-level arguments (build variables substituted), imports
// next to the file and from library paths at the repository root.
func TestDirectoryJsonnet(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"lib/k.libsonnet":      `{ configMap(name, data):: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: name }, data: data } }`,
		"app/params.libsonnet": `{ replicas: 2 }`,
		"app/one.jsonnet": `local k = import "k.libsonnet";
local p = import "params.libsonnet";
function(tier="back") k.configMap("one-" + tier, { env: std.extVar("env"), replicas: std.toString(p.replicas), rev: std.extVar("rev") })`,
		"app/many.jsonnet":      `[{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "many-" + i } } for i in std.range(1, 2)]`,
		"app/helpers.libsonnet": `{}`, // only imported, never rendered
		"app/plain.yaml":        configMap("plain"),
	})
	req := dirRequest(root, "app", &v1alpha1.ApplicationSourceDirectory{Jsonnet: &v1alpha1.ApplicationSourceJsonnet{
		ExtVars: []v1alpha1.JsonnetVar{{Name: "env", Value: "prod"}, {Name: "rev", Value: "$ARGOCD_APP_REVISION_SHORT"}},
		TLAs:    []v1alpha1.JsonnetVar{{Name: "tier", Value: `"front"`, Code: true}},
		Libs:    []string{"lib"},
	}})
	res := mustRender(t, New(Options{}), req)
	want := []string{"ConfigMap/many-1", "ConfigMap/many-2", "ConfigMap/one-front", "ConfigMap/plain"}
	if got := sortedIDs(res.Objects); !equalStrings(got, want) {
		t.Fatalf("objects = %v, want %v", got, want)
	}
	data := find(t, res.Objects, "ConfigMap", "one-front").Object["data"].(map[string]any)
	if data["env"] != "prod" || data["replicas"] != "2" || data["rev"] != "0123456" {
		t.Errorf("data = %v", data)
	}
}

func TestDirectoryJsonnetErrors(t *testing.T) {
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"secret.libsonnet": `{ password: "s3cr3t" }`})
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"broken/a.jsonnet": `{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: std.extVar("missing") } }`,
		"abs/a.jsonnet":    `(import "` + filepath.Join(outside, "secret.libsonnet") + `")`,
		"up/a.jsonnet":     `(import "../../` + filepath.Base(outside) + `/secret.libsonnet")`,
		"notk8s/a.jsonnet": `"just a string"`,
		"nokind/a.jsonnet": `{ metadata: { name: "x" } }`,
		"symlink/.keep":    "",
		"badlib/a.jsonnet": `{}`,
	})
	if err := os.Symlink(filepath.Join(outside, "secret.libsonnet"), filepath.Join(root, "symlink", "s.libsonnet")); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, root, map[string]string{"symlink/a.jsonnet": `(import "s.libsonnet")`})
	r := New(Options{})
	for _, tc := range []struct {
		path  string
		dir   *v1alpha1.ApplicationSourceDirectory
		wants []string
	}{
		{"broken", nil, []string{"evaluating broken/a.jsonnet", "missing"}},
		{"abs", nil, []string{"outside the repository"}},
		{"up", nil, []string{"outside the repository"}},
		{"symlink", nil, []string{"leads outside the repository"}},
		{"notk8s", nil, []string{"notk8s/a.jsonnet", "neither an object nor an array"}},
		{"nokind", nil, []string{"nokind/a.jsonnet", "no apiVersion or kind"}},
		{"badlib", &v1alpha1.ApplicationSourceDirectory{Jsonnet: &v1alpha1.ApplicationSourceJsonnet{Libs: []string{"../x"}}},
			[]string{"directory.jsonnet.libs", "outside the repository"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			err := renderErr(t, r, dirRequest(root, tc.path, tc.dir), tc.wants...)
			if err != nil && strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the error shows a file outside the repository: %v", err)
			}
		})
	}
}
