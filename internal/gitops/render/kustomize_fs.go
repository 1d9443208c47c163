package render

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// repoFS is the file system kustomize builds on. It reads the checkout on
// disk, except for the kustomization files it holds edited copies of (Argo
// CD's overrides, which Argo CD writes into its own clone and gantry must
// not write into a shared checkout), and it refuses every path outside the
// repository, whatever the kustomization says: kustomize's own load
// restrictor lets a base be any directory of the host.
type repoFS struct {
	disk filesys.FileSystem
	root string
	// overrides maps the absolute, symlink-free path of a file to the
	// content kustomize reads instead of the file's.
	overrides map[string][]byte
}

var _ filesys.FileSystem = (*repoFS)(nil)

var (
	errOutsideRepo = errors.New("outside the repository")
	errReadOnly    = errors.New("the repository is read-only during a render")
)

// confined returns p made absolute with symlinks resolved, or an error if it
// is outside the repository. A path that does not exist is checked as
// written; reading it fails later anyway.
func (f *repoFS) confined(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		real = abs
	}
	if !within(f.root, real) {
		return "", &fs.PathError{Op: "open", Path: p, Err: errOutsideRepo}
	}
	return real, nil
}

func (f *repoFS) ReadFile(p string) ([]byte, error) {
	real, err := f.confined(p)
	if err != nil {
		return nil, err
	}
	if data, ok := f.overrides[real]; ok {
		return append([]byte(nil), data...), nil
	}
	return f.disk.ReadFile(real)
}

func (f *repoFS) Open(p string) (filesys.File, error) {
	real, err := f.confined(p)
	if err != nil {
		return nil, err
	}
	if _, ok := f.overrides[real]; ok {
		// kustomize reads kustomization files with ReadFile; serving the
		// file on disk here would silently drop the overrides.
		return nil, &fs.PathError{Op: "open", Path: p, Err: errors.ErrUnsupported}
	}
	return f.disk.Open(real)
}

func (f *repoFS) Exists(p string) bool {
	real, err := f.confined(p)
	return err == nil && f.disk.Exists(real)
}

func (f *repoFS) IsDir(p string) bool {
	real, err := f.confined(p)
	return err == nil && f.disk.IsDir(real)
}

func (f *repoFS) ReadDir(p string) ([]string, error) {
	real, err := f.confined(p)
	if err != nil {
		return nil, err
	}
	return f.disk.ReadDir(real)
}

func (f *repoFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	if _, err := f.confined(p); err != nil {
		return "", "", err
	}
	d, name, err := f.disk.CleanedAbs(p)
	if err != nil {
		return "", "", err
	}
	if !within(f.root, d.String()) {
		return "", "", &fs.PathError{Op: "open", Path: p, Err: errOutsideRepo}
	}
	return d, name, nil
}

func (f *repoFS) Glob(pattern string) ([]string, error) {
	matches, err := f.disk.Glob(pattern)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range matches {
		if _, err := f.confined(m); err == nil {
			out = append(out, m)
		}
	}
	return out, nil
}

func (f *repoFS) Walk(p string, walkFn filepath.WalkFunc) error {
	real, err := f.confined(p)
	if err != nil {
		return err
	}
	return f.disk.Walk(real, walkFn)
}

func (f *repoFS) Create(p string) (filesys.File, error) {
	return nil, &fs.PathError{Op: "create", Path: p, Err: errReadOnly}
}

func (f *repoFS) Mkdir(p string) error {
	return &fs.PathError{Op: "mkdir", Path: p, Err: errReadOnly}
}

func (f *repoFS) MkdirAll(p string) error {
	return &fs.PathError{Op: "mkdir", Path: p, Err: errReadOnly}
}

func (f *repoFS) RemoveAll(p string) error {
	return &fs.PathError{Op: "remove", Path: p, Err: errReadOnly}
}

func (f *repoFS) WriteFile(p string, _ []byte) error {
	return &fs.PathError{Op: "write", Path: p, Err: errReadOnly}
}

// pathsCleaned is an error whose message has the checkout's location
// removed, so that a condition shows repository paths ("apps/web/x.yaml")
// rather than where gantry keeps its checkouts; it unwraps to the original.
type pathsCleaned struct {
	msg string
	err error
}

func (e *pathsCleaned) Error() string { return e.msg }
func (e *pathsCleaned) Unwrap() error { return e.err }

func cleanPaths(err error, root string) error {
	if err == nil {
		return nil
	}
	msg := strings.ReplaceAll(err.Error(), root+string(filepath.Separator), "")
	msg = strings.ReplaceAll(msg, root, ".")
	return &pathsCleaned{msg: msg, err: err}
}
