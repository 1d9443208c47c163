package generate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/appset/template"
	"gantry.dev/gantry/internal/gitops/source"
)

// gitParams is Argo CD's git generator, directories or files.
func (g *Generator) gitParams(ctx context.Context, git *gitopsv1alpha1.GitGenerator, opts template.Options) ([]map[string]any, error) {
	if g.Sources == nil {
		return nil, errors.New("no Git source is configured")
	}
	switch {
	case len(git.Directories) > 0 && len(git.Files) > 0:
		return nil, errors.New("both directories and files are set: use one git generator for each")
	case len(git.Directories) == 0 && len(git.Files) == 0:
		return nil, errors.New("neither directories nor files is set")
	}
	if git.RepoURL == "" {
		return nil, errors.New("repoURL is empty")
	}
	fsys, _, err := g.Sources.Tree(ctx, source.Repo{URL: git.RepoURL, Project: g.project}, git.Revision)
	if err != nil {
		return nil, err
	}
	if len(git.Directories) > 0 {
		return directoryParams(fsys, git, opts)
	}
	return fileParams(fsys, git, opts)
}

// walk lists the tree's directories (but the root, and none under a
// directory whose name starts with '.') and its files, slash-separated and
// relative to the root, sorted.
func walk(fsys fs.FS) (dirs, files []string, err error) {
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			dirs = append(dirs, p)
			return nil
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading the repository tree: %w", err)
	}
	sort.Strings(dirs)
	sort.Strings(files)
	return dirs, files, nil
}

// directoryParams: each directory matched (path.Match) by an item that does
// not exclude and by no item that does.
func directoryParams(fsys fs.FS, git *gitopsv1alpha1.GitGenerator, opts template.Options) ([]map[string]any, error) {
	for i, item := range git.Directories {
		if _, err := path.Match(trimSlash(item.Path), ""); err != nil {
			return nil, fmt.Errorf("directories[%d].path %q is not a valid pattern: %w", i, item.Path, err)
		}
	}
	dirs, _, err := walk(fsys)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, dir := range dirs {
		include, exclude := false, false
		for _, item := range git.Directories {
			if ok, _ := path.Match(trimSlash(item.Path), dir); ok {
				if item.Exclude {
					exclude = true
				} else {
					include = true
				}
			}
		}
		if !include || exclude {
			continue
		}
		params := map[string]any{}
		addPathParams(params, dir, "", git.PathParamPrefix, opts)
		if err := appendValues(git.Values, params, opts); err != nil {
			return nil, fmt.Errorf("directory %s: %w", dir, err)
		}
		out = append(out, params)
	}
	return out, nil
}

// fileParams: each object of each JSON or YAML file matched by an item that
// does not exclude and by no item that does. Patterns are globs where '*'
// stays within a directory and '**' spans any number of them (Argo CD's
// "new" globbing).
func fileParams(fsys fs.FS, git *gitopsv1alpha1.GitGenerator, opts template.Options) ([]map[string]any, error) {
	for i, item := range git.Files {
		if !doublestar.ValidatePattern(trimSlash(item.Path)) {
			return nil, fmt.Errorf("files[%d].path %q is not a valid glob", i, item.Path)
		}
	}
	_, files, err := walk(fsys)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, file := range files {
		include, exclude := false, false
		for _, item := range git.Files {
			if doublestar.MatchUnvalidated(trimSlash(item.Path), file) {
				if item.Exclude {
					exclude = true
				} else {
					include = true
				}
			}
		}
		if !include || exclude {
			continue
		}
		content, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", file, err)
		}
		objs, err := parseObjects(content)
		if err != nil {
			return nil, fmt.Errorf("file %s: %w", file, err)
		}
		for _, obj := range objs {
			params := map[string]any{}
			if opts.GoTemplate {
				for k, v := range obj {
					params[k] = v
				}
			} else {
				flattenInto(params, "", obj)
			}
			addPathParams(params, path.Dir(file), path.Base(file), git.PathParamPrefix, opts)
			if err := appendValues(git.Values, params, opts); err != nil {
				return nil, fmt.Errorf("file %s: %w", file, err)
			}
			out = append(out, params)
		}
	}
	return out, nil
}

// parseObjects reads a JSON or YAML file holding one object or a list of
// objects. An empty file is one empty object, as in Argo CD.
func parseObjects(content []byte) ([]map[string]any, error) {
	single := map[string]any{}
	if err := yaml.Unmarshal(content, &single); err == nil {
		return []map[string]any{single}, nil
	}
	var list []map[string]any
	if err := yaml.Unmarshal(content, &list); err != nil {
		return nil, fmt.Errorf("not a JSON or YAML object or list of objects: %w", err)
	}
	return list, nil
}

// flattenInto is Argo CD's flatten (jeremywohl/flatten, dot style) followed by
// fmt's %v: nested keys joined with '.', list items by index.
func flattenInto(params map[string]any, prefix string, v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			flattenInto(params, joinKey(prefix, k), val)
		}
	case []any:
		for i, val := range x {
			flattenInto(params, joinKey(prefix, strconv.Itoa(i)), val)
		}
	case nil:
		params[prefix] = "<nil>"
	default:
		params[prefix] = fmt.Sprintf("%v", x)
	}
}

func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// addPathParams adds Argo CD's path parameters of a directory (and, for the
// files generator, of the file in it):
//
//	flat:       path, path.basename, path.basenameNormalized, path[n],
//	            path.filename, path.filenameNormalized
//	goTemplate: path.path, path.basename, path.basenameNormalized,
//	            path.segments, path.filename, path.filenameNormalized
//
// With a prefix, "path" becomes "<prefix>.path" (goTemplate: <prefix>.path.*).
func addPathParams(params map[string]any, dir, file, prefix string, opts template.Options) {
	if opts.GoTemplate {
		p := map[string]any{
			"path":               dir,
			"basename":           path.Base(dir),
			"basenameNormalized": template.Normalize(path.Base(dir)),
			"segments":           toAny(strings.Split(dir, "/")),
		}
		if file != "" {
			p["filename"] = file
			p["filenameNormalized"] = template.Normalize(file)
		}
		if prefix != "" {
			params[prefix] = map[string]any{"path": p}
		} else {
			params["path"] = p
		}
		return
	}
	name := "path"
	if prefix != "" {
		name = prefix + ".path"
	}
	params[name] = dir
	params[name+".basename"] = path.Base(dir)
	params[name+".basenameNormalized"] = template.Normalize(path.Base(dir))
	if file != "" {
		params[name+".filename"] = file
		params[name+".filenameNormalized"] = template.Normalize(file)
	}
	for i, seg := range strings.Split(dir, "/") {
		if seg != "" {
			params[name+"["+strconv.Itoa(i)+"]"] = seg
		}
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// trimSlash accepts patterns written from the repository root ("/apps/*"):
// Argo CD matches them against relative paths, where they never match.
func trimSlash(p string) string { return strings.TrimLeft(p, "/") }

// branchParams is gantry's gitBranches generator: for each branch matching
// branchMatch, sorted by name: branch, branchNormalized (a DNS label), sha,
// shortSha (8 characters); then values.
func (g *Generator) branchParams(ctx context.Context, b *gitopsv1alpha1.GitBranchesGenerator, opts template.Options) ([]map[string]any, error) {
	if g.Sources == nil {
		return nil, errors.New("no Git source is configured")
	}
	if b.RepoURL == "" {
		return nil, errors.New("repoURL is empty")
	}
	var match *regexp.Regexp
	if b.BranchMatch != "" {
		var err error
		if match, err = regexp.Compile(b.BranchMatch); err != nil {
			return nil, fmt.Errorf("branchMatch %q is not a regular expression: %w", b.BranchMatch, err)
		}
	}
	branches, err := g.Sources.Branches(ctx, source.Repo{URL: b.RepoURL, Project: g.project})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(branches))
	for name := range branches {
		if match == nil || match.MatchString(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	out := make([]map[string]any, 0, len(names))
	for _, name := range names {
		sha := branches[name]
		short := sha
		if len(short) > 8 {
			short = short[:8]
		}
		params := map[string]any{
			"branch":           name,
			"branchNormalized": template.NormalizeLabel(name),
			"sha":              sha,
			"shortSha":         short,
		}
		if err := appendValues(b.Values, params, opts); err != nil {
			return nil, fmt.Errorf("branch %s: %w", name, err)
		}
		out = append(out, params)
	}
	return out, nil
}
