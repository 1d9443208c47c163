package render

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"gantry.dev/gantry/api/gitops/v1alpha1"
)

// kustomizationFile is the name of the kustomization file in dir, or "".
func kustomizationFile(dir string) string {
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Mode().IsRegular() {
			return name
		}
	}
	return ""
}

// renderKustomize runs `kustomize build` in process on appDir, with Argo
// CD's overrides from the kustomize block applied to the kustomization file.
//
// Argo CD applies the overrides by running `kustomize edit` in its clone.
// gantry's checkouts are shared and read-only, so the edited kustomization
// file lives in memory (repoFS serves it in place of the file on disk): the
// result is the one Argo CD gets, with the overrides at the level of the
// app's own kustomization (an overlay that referenced the app directory
// would instead stack a second namePrefix on top of the first, and see
// renamed images and resources), and without copying the repository.
// Kustomize's default load restrictor (files only from within a
// kustomization's directory) is kept, as Argo CD keeps it unless told
// otherwise.
func (r *Renderer) renderKustomize(root, appDir string, opts *v1alpha1.ApplicationSourceKustomize, env map[string]string) ([]*unstructured.Unstructured, error) {
	dirName := displayPath(relTo(root, appDir))
	kf := kustomizationFile(appDir)
	if kf == "" {
		return nil, fmt.Errorf("%s has no kustomization.yaml, kustomization.yml or Kustomization file", dirName)
	}
	fsys := &repoFS{disk: filesys.MakeFsOnDisk(), root: root}
	if opts != nil {
		name := relTo(root, filepath.Join(appDir, kf))
		// The key must be the file's real path, which is what repoFS
		// compares against when the file is a symlink.
		path, err := confine(root, filepath.Join(appDir, kf), name)
		if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, cleanPaths(err, root))
		}
		edited, changed, err := editKustomization(data, name, opts, env)
		if err != nil {
			return nil, err
		}
		if changed {
			fsys.overrides = map[string][]byte{path: edited}
		}
	}
	if err := checkLocalKustomization(fsys, root, appDir, map[string]bool{}); err != nil {
		return nil, err
	}
	out, err := r.kustomizeBuild(fsys, appDir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dirName, cleanPaths(err, root))
	}
	objs, err := decodeObjects(out, "the output of kustomize build "+dirName)
	if err != nil {
		return nil, err
	}
	return objs, nil
}

// kustomizeBuild runs one build at a time, as Flux does: krusty keeps
// global state that concurrent builds corrupt (kustomize#3659). A panic in
// kustomize, which malformed input can cause, becomes an error rather than
// a crash of the whole process.
func (r *Renderer) kustomizeBuild(fsys filesys.FileSystem, dir string) (out []byte, err error) {
	r.kustomizeMu.Lock()
	defer r.kustomizeMu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("kustomize failed unexpectedly: %v", p)
		}
	}()
	opts := krusty.MakeDefaultOptions()
	// Unspecified is the CLI's default: legacy order unless the
	// kustomization sets sortOptions. Argo CD runs the CLI.
	opts.Reorder = krusty.ReorderOptionUnspecified
	opts.LoadRestrictions = types.LoadRestrictionsRootOnly
	// Plugins stay disabled (the default): no exec or container functions
	// and no Helm chart inflation, which would run programs and fetch
	// charts on gantry's behalf.
	m, err := krusty.MakeKustomizer(opts).Run(fsys, dir)
	if err != nil {
		return nil, err
	}
	return m.AsYaml()
}

// checkLocalKustomization fails if the kustomization in dir, or one it
// includes, refers to a remote base (kustomize would clone it with git) or
// a remote file (kustomize would download it over HTTP). Neither goes
// through the file system, so repoFS cannot stop them, and both would make
// the render depend on more than the commit it names. Resources must also
// exist inside the repository, which gives a clearer message than
// kustomize's for a missing file.
func checkLocalKustomization(fsys *repoFS, root, dir string, seen map[string]bool) error {
	if seen[dir] {
		return nil
	}
	seen[dir] = true
	kf := kustomizationFile(dir)
	if kf == "" {
		return nil // kustomize reports it
	}
	data, err := fsys.ReadFile(filepath.Join(dir, kf))
	if err != nil {
		return nil // kustomize reports it
	}
	var k map[string]any
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil // kustomize reports it, with its own context
	}
	file := relTo(root, filepath.Join(dir, kf))

	// Fields that name directories kustomize builds (resources may also be
	// files; generators and transformers may be inline configurations).
	for _, field := range []string{"resources", "bases", "components", "generators", "transformers", "validators"} {
		for _, ref := range stringsOf(k[field]) {
			if isRemoteBase(ref) {
				return fmt.Errorf("%s: %s entry %q is a remote base, which gantry does not fetch: put it in the repository", file, field, ref)
			}
			if strings.Contains(ref, "\n") {
				continue // an inline generator or transformer configuration
			}
			real, err := confine(root, filepath.Join(dir, filepath.FromSlash(ref)), fmt.Sprintf("%q", ref))
			if err != nil {
				if field != "resources" && field != "bases" && field != "components" {
					continue // may be a plugin configuration kustomize resolves itself
				}
				return fmt.Errorf("%s: %s entry %w", file, field, err)
			}
			if fi, err := os.Stat(real); err == nil && fi.IsDir() {
				if err := checkLocalKustomization(fsys, root, real, seen); err != nil {
					return err
				}
			}
		}
	}

	// Fields that name files kustomize reads.
	var files []string
	for _, field := range []string{"crds", "configurations", "patchesStrategicMerge"} {
		files = append(files, stringsOf(k[field])...)
	}
	for _, field := range []string{"patches", "patchesJson6902", "replacements"} {
		for _, item := range listOf(k[field]) {
			files = append(files, stringsOf(item["path"])...)
		}
	}
	if openapi, ok := k["openapi"].(map[string]any); ok {
		files = append(files, stringsOf(openapi["path"])...)
	}
	for _, field := range []string{"configMapGenerator", "secretGenerator"} {
		for _, item := range listOf(k[field]) {
			files = append(files, stringsOf(item["files"])...)
			files = append(files, stringsOf(item["envs"])...)
			files = append(files, stringsOf(item["env"])...)
		}
	}
	for _, ref := range files {
		// configMapGenerator files may be key=path.
		if _, p, ok := strings.Cut(ref, "="); ok && !strings.Contains(ref, "\n") {
			ref = p
		}
		if isURL(ref) {
			return fmt.Errorf("%s: %q is a URL; gantry does not download files for kustomize: put the file in the repository", file, ref)
		}
	}
	return nil
}

// isRemoteBase reports whether kustomize would treat ref as a Git
// repository to clone. Kustomize tries that before looking on disk, so the
// test is on the text alone, and errs towards "remote".
func isRemoteBase(ref string) bool {
	if strings.Contains(ref, "\n") {
		return false
	}
	switch {
	case strings.Contains(ref, "://"),
		strings.HasPrefix(ref, "git@"), strings.HasPrefix(ref, "git::"),
		strings.HasPrefix(ref, "github.com"), strings.HasPrefix(ref, "gh:"),
		strings.Contains(ref, "?ref="), strings.Contains(ref, "?version="),
		strings.Contains(ref, "_git/"), strings.Contains(ref, ".git/"), strings.HasSuffix(ref, ".git"),
		strings.Contains(strings.TrimPrefix(ref, "/"), "//"):
		return true
	}
	// scp-like user@host:path
	if at := strings.Index(ref, "@"); at > 0 && !strings.Contains(ref[:at], "/") && strings.Contains(ref[at:], ":") {
		return true
	}
	return false
}

func isURL(ref string) bool {
	l := strings.ToLower(strings.TrimSpace(ref))
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// stringsOf is v as a list of strings: a string alone, or the string
// elements of a list.
func stringsOf(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// listOf is the mapping elements of a list.
func listOf(v any) []map[string]any {
	l, _ := v.([]any)
	var out []map[string]any
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}
