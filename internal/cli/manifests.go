package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"gantry.dev/gantry/internal/gitops/argoapps"
)

// appManifest is one Application or ApplicationSet read for `gantry app
// create -f`, and where it came from (for messages).
type appManifest struct {
	obj   *unstructured.Unstructured
	where string // "apps/web.yaml", "apps/all.yaml (document 2)"
}

// readAppManifests reads the Applications and ApplicationSets of path: a
// file (several YAML documents, or JSON), every .yaml, .yml and .json file
// of a directory (not below it, as kubectl apply -f), or stdin ("-"). Any
// document that is not one of them is an error naming it: nothing is
// created from a set that holds something else.
func readAppManifests(path string) ([]appManifest, error) {
	files := []string{path}
	if path != "-" {
		st, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		if st.IsDir() {
			entries, err := os.ReadDir(path)
			if err != nil {
				return nil, err
			}
			files = nil
			for _, e := range entries {
				switch strings.ToLower(filepath.Ext(e.Name())) {
				case ".yaml", ".yml", ".json":
					if !e.IsDir() {
						files = append(files, filepath.Join(path, e.Name()))
					}
				}
			}
			sort.Strings(files)
			if len(files) == 0 {
				return nil, fmt.Errorf("directory %s holds no .yaml, .yml or .json file", path)
			}
		}
	}
	var out []appManifest
	for _, f := range files {
		data, err := readFileOrStdin(f)
		if err != nil {
			return nil, err
		}
		docs, err := appDocuments(f, data)
		if err != nil {
			return nil, err
		}
		out = append(out, docs...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no Application or ApplicationSet", path)
	}
	return out, nil
}

// appDocuments splits one file into its documents and checks each.
func appDocuments(file string, data []byte) ([]appManifest, error) {
	name := file
	if file == "-" {
		name = "stdin"
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []appManifest
	for n := 1; ; n++ {
		obj := map[string]any{}
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			hint := ""
			if bytes.Contains(data, []byte("{{")) {
				hint = " (a Helm or other template? gantry renders those from Git: gantry app create NAME --repo URL --path DIR)"
			}
			return nil, fmt.Errorf("%s is not YAML or JSON%s: %w", name, hint, err)
		}
		if len(obj) == 0 {
			continue // an empty document (a leading or trailing ---)
		}
		u := &unstructured.Unstructured{Object: obj}
		where := name
		if n > 1 {
			where = fmt.Sprintf("%s (document %d)", name, n)
		}
		if !argoapps.Is(u.GroupVersionKind()) {
			kind := u.GetKind()
			if kind == "" {
				kind = "document without a kind"
			}
			return nil, fmt.Errorf("%s is a %s (%s), not an Application or ApplicationSet: gantry app create -f takes Argo CD's (argoproj.io/v1alpha1) or gantry's Application and ApplicationSet manifests",
				where, kind, u.GetAPIVersion())
		}
		out = append(out, appManifest{obj: u, where: where})
	}
}

// manifestProject is the project an Argo CD manifest names: spec.project, or
// an ApplicationSet's template's (unless templated); "default" when none.
func manifestProject(u *unstructured.Unstructured) string {
	path := []string{"spec", "project"}
	if u.GetKind() == argoapps.KindApplicationSet {
		path = []string{"spec", "template", "spec", "project"}
	}
	if p, _, _ := unstructured.NestedString(u.Object, path...); p != "" && !strings.Contains(p, "{{") {
		return p
	}
	return "default"
}
