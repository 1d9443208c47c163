package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-jsonnet"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"gantry.dev/gantry/api/gitops/v1alpha1"
)

// evalJsonnet evaluates one *.jsonnet file of a directory source as Argo
// CD's repo-server does (go-jsonnet, the same library): external variables
// and top-level arguments from directory.jsonnet, with build variables
// substituted in their values; imports next to the importing file, then in
// the library paths (relative to the repository root), then the app's
// directory. The result is one object or an array of them.
func evalJsonnet(root, appDir, file string, data []byte, opts *v1alpha1.ApplicationSourceJsonnet, env map[string]string) ([]*unstructured.Unstructured, error) {
	name := relTo(root, file)
	vm := jsonnet.MakeVM()
	jpaths := []string{appDir}
	if opts != nil {
		for _, v := range opts.ExtVars {
			if v.Code {
				vm.ExtCode(v.Name, envsubst(env, v.Value))
			} else {
				vm.ExtVar(v.Name, envsubst(env, v.Value))
			}
		}
		for _, v := range opts.TLAs {
			if v.Code {
				vm.TLACode(v.Name, envsubst(env, v.Value))
			} else {
				vm.TLAVar(v.Name, envsubst(env, v.Value))
			}
		}
		for _, lib := range opts.Libs {
			p := filepath.Join(root, filepath.FromSlash(lib))
			if !within(root, filepath.Clean(p)) {
				return nil, fmt.Errorf("directory.jsonnet.libs: %s is outside the repository", lib)
			}
			jpaths = append(jpaths, p)
		}
	}
	vm.Importer(&jsonnetImporter{root: root, file: file, jpaths: jpaths, cache: map[string]jsonnet.Contents{}})
	out, err := vm.EvaluateAnonymousSnippet(file, string(data))
	if err != nil {
		return nil, fmt.Errorf("evaluating %s: %w", name, cleanPaths(err, root))
	}
	var items []map[string]any
	if err := json.Unmarshal([]byte(out), &items); err != nil {
		var one map[string]any
		if err := json.Unmarshal([]byte(out), &one); err != nil {
			return nil, fmt.Errorf("%s: evaluates to neither an object nor an array of objects", name)
		}
		items = []map[string]any{one}
	}
	objs := make([]*unstructured.Unstructured, 0, len(items))
	for i, item := range items {
		if item == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: item}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("%s: item %d has no apiVersion or kind", name, i)
		}
		objs = append(objs, u)
	}
	return objs, nil
}

// jsonnetImporter finds imports as go-jsonnet's FileImporter does (next to
// the importing file, then the library paths, the last first), but only
// inside the repository: FileImporter reads any absolute or ../ path, and a
// Jsonnet file comes from whoever can push to the repository.
type jsonnetImporter struct {
	root   string
	file   string // the file evaluated
	jpaths []string
	cache  map[string]jsonnet.Contents
}

func (im *jsonnetImporter) Import(importedFrom, importedPath string) (jsonnet.Contents, string, error) {
	// go-jsonnet passes "" for imports of the evaluated file itself.
	from := importedFrom
	if from == "" {
		from = im.file
	}
	dirs := []string{filepath.Dir(from)}
	for i := len(im.jpaths) - 1; i >= 0; i-- {
		dirs = append(dirs, im.jpaths[i])
	}
	for _, dir := range dirs {
		p := importedPath
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		p = filepath.Clean(p)
		if c, ok := im.cache[p]; ok {
			return c, p, nil
		}
		real, err := confine(im.root, p, importedPath)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return jsonnet.Contents{}, "", err
		}
		data, err := os.ReadFile(real)
		if err != nil {
			return jsonnet.Contents{}, "", fmt.Errorf("import %q: %w", importedPath, cleanPaths(err, im.root))
		}
		c := jsonnet.MakeContentsRaw(data)
		im.cache[p] = c
		return c, p, nil
	}
	return jsonnet.Contents{}, "", fmt.Errorf("import %q: not found next to the importing file nor in directory.jsonnet.libs", importedPath)
}
