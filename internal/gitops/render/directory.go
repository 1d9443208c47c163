package render

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gobwas/glob"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"gantry.dev/gantry/api/gitops/v1alpha1"
)

// skipMarker in a file keeps a directory source from rendering it (Argo CD's
// marker, for files such as ApplicationSet templates kept next to
// manifests).
const skipMarker = "+argocd:skip-file-rendering"

// renderDirectory reads the manifests of a directory source the way Argo
// CD's repo-server does: *.yaml, *.yml and *.json files of appDir (and its
// subdirectories with recurse), and the objects its *.jsonnet files evaluate
// to (evalJsonnet), filtered by the include and exclude globs matched
// against the path relative to appDir; exclude wins.
//
// Like Argo CD, a file that does not parse or holds non-Kubernetes documents
// is skipped when it does not look like a manifest at all (it lacks
// apiVersion, kind and metadata: a Helm values file, a CI config), and is an
// error otherwise, so that a typo in a manifest is not silently ignored.
// Unlike Argo CD, which errors on any non-object JSON file, JSON files get
// the same rule as YAML files, and a JSON array of objects is accepted. A
// Jsonnet file that fails to evaluate is always an error.
func renderDirectory(root, appDir string, dir *v1alpha1.ApplicationSourceDirectory, env map[string]string) ([]*unstructured.Unstructured, error) {
	var opts v1alpha1.ApplicationSourceDirectory
	if dir != nil {
		opts = *dir
	}
	include, err := compileGlob("directory.include", opts.Include)
	if err != nil {
		return nil, err
	}
	exclude, err := compileGlob("directory.exclude", opts.Exclude)
	if err != nil {
		return nil, err
	}

	var objs []*unstructured.Unstructured
	err = filepath.WalkDir(appDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != appDir && !opts.Recurse {
				return filepath.SkipDir
			}
			return nil
		}
		if !isManifestFile(d.Name()) {
			return nil
		}
		rel := filepath.ToSlash(strings.TrimPrefix(p, appDir+string(filepath.Separator)))
		if exclude != nil && exclude.Match(rel) {
			return nil
		}
		if include != nil && !include.Match(rel) {
			return nil
		}
		name := relTo(root, p)
		real, err := confine(root, p, name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // a dangling symlink, as Argo CD: skipped
		}
		if err != nil {
			return err
		}
		if fi, err := os.Stat(real); err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(real)
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		if bytes.Contains(data, []byte(skipMarker)) {
			return nil
		}
		if isJsonnet(d.Name()) {
			fileObjs, err := evalJsonnet(root, appDir, p, data, opts.Jsonnet, env)
			if err != nil {
				return err
			}
			objs = append(objs, fileObjs...)
			return nil
		}
		fileObjs, err := decodeObjects(data, name)
		if err != nil {
			if len(fileObjs) == 0 && !looksLikeManifest(data) {
				return nil
			}
			return err
		}
		objs = append(objs, fileObjs...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return objs, nil
}

func isManifestFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json", ".jsonnet":
		return true
	}
	return false
}

// isJsonnet: Argo CD evaluates *.jsonnet files; *.libsonnet are only imported.
func isJsonnet(name string) bool {
	return strings.EqualFold(filepath.Ext(name), ".jsonnet")
}

// looksLikeManifest is Argo CD's test for whether a file that failed to
// parse was meant to be a Kubernetes manifest.
func looksLikeManifest(data []byte) bool {
	for _, key := range []string{"apiVersion", "kind", "metadata"} {
		if !bytes.Contains(data, []byte(key+":")) && !bytes.Contains(data, []byte(`"`+key+`"`)) {
			return false
		}
	}
	return true
}

// compileGlob compiles an include or exclude pattern as Argo CD does (gobwas
// glob without separators, so * also matches /; {a,b} lists alternatives).
func compileGlob(field, pattern string) (glob.Glob, error) {
	if pattern == "" {
		return nil, nil
	}
	g, err := glob.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid pattern %q: %w", field, pattern, err)
	}
	return g, nil
}
