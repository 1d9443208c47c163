package render

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Everything a render reads must come from the checkout of the revision it
// names: a path that leaves the repository could read another tenant's
// checkout or the host's files, so every path from the Application or the
// repository goes through confine.

// resolveRoot returns the checkout root as an absolute path with symlinks
// resolved, the form every containment check compares against.
func resolveRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("checkout directory: %w", err)
	}
	root, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("checkout directory: %w", err)
	}
	return root, nil
}

// within reports whether p is root or below it; both must be clean and
// absolute.
func within(root, p string) bool {
	if p == root {
		return true
	}
	prefix := root
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	return strings.HasPrefix(p, prefix)
}

// confine returns p (absolute) with symlinks resolved, or an error if p or
// what its symlinks lead to is outside root. display is the path as the user
// wrote it, for messages; a missing path is an error wrapping
// fs.ErrNotExist.
func confine(root, p, display string) (string, error) {
	p = filepath.Clean(p)
	if !within(root, p) {
		return "", fmt.Errorf("%s is outside the repository", display)
	}
	real, err := filepath.EvalSymlinks(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", &notExistError{what: display + " does not exist in the repository"}
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", display, err)
	}
	if !within(root, real) {
		return "", fmt.Errorf("%s is a symlink that leads outside the repository", display)
	}
	return real, nil
}

// notExistError says what is missing in the user's terms and matches
// fs.ErrNotExist, so that callers can skip missing optional files.
type notExistError struct{ what string }

func (e *notExistError) Error() string { return e.what }
func (e *notExistError) Unwrap() error { return fs.ErrNotExist }

// relTo is p relative to root in slash form, for messages.
func relTo(root, p string) string {
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(rel)
}

// checkSymlinks fails if a symlink under dir points outside root. Helm's
// chart loader follows symlinks, so a chart could otherwise read any file of
// the host through .Files.Get. Dangling links inside the repository are
// left to the tools to report.
func checkSymlinks(root, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		if real, err := filepath.EvalSymlinks(target); err == nil {
			target = real
		}
		if !within(root, filepath.Clean(target)) {
			return fmt.Errorf("symlink %s leads outside the repository", relTo(root, p))
		}
		return nil
	})
}
