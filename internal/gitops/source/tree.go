package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Checkout returns a directory holding the files of commit sha of repo, at
// the stable path <Dir>/trees/<sha>. The tree is written once (into a
// temporary directory renamed into place, so nobody sees half of it) and
// reused by every caller and every repository with that commit; concurrent
// callers for one sha share one fetch and one extraction. It is handed out
// only when the mirror this caller's project reads (its credentials, or none)
// has the commit, fetching if needed: naming another project's private
// commit with a public repository gives "revision not found", not its files.
//
// The directory is read-only and shared: callers must not modify it (copy
// it first, e.g. to run `helm dependency build`). Submodules are not
// checked out. A symlink that points outside the tree fails the checkout,
// as Argo CD refuses out-of-bounds symlinks, so that a manifest renderer can
// never be led to read files of the gantry host.
//
// sha must be a full commit SHA, normally from Resolve.
func (c *Cache) Checkout(ctx context.Context, repo Repo, sha string) (string, error) {
	sha = strings.ToLower(strings.TrimSpace(sha))
	if len(sha) != 40 || !isHash(sha) {
		return "", fmt.Errorf("checkout of %s: %q is not a full commit SHA: resolve the revision with Resolve first", redactURL(repo.URL), sha)
	}
	v := c.view(repo)
	if _, err := c.findCommit(ctx, v, sha); err != nil {
		return "", err
	}
	dir := filepath.Join(c.dir, "trees", sha)
	ok, err := c.useTree(dir)
	if err != nil {
		return "", err
	}
	if ok {
		return dir, nil
	}
	_, err = c.shared(ctx, &c.trees, sha, func(ctx context.Context) (any, error) {
		if _, err := os.Stat(dir); err == nil {
			return nil, nil
		}
		return nil, c.extract(v, sha, dir)
	})
	if err != nil {
		return "", err
	}
	ok, err = c.useTree(dir)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("checkout of %s at %s: the tree was pruned while it was being written: call Checkout again", redactURL(repo.URL), sha)
	}
	return dir, nil
}

// useTree reports whether dir exists and marks it used now, for Prune.
func (c *Cache) useTree(dir string) (bool, error) {
	c.treesMu.RLock()
	defer c.treesMu.RUnlock()
	if _, err := os.Stat(dir); err != nil {
		return false, nil
	}
	now := c.now()
	if err := os.Chtimes(dir, now, now); err != nil {
		return false, fmt.Errorf("mark tree %s used: %w", dir, err)
	}
	return true, nil
}

// extract writes the files of commit sha from the mirror of v into dir.
func (c *Cache) extract(v view, sha, dir string) error {
	repoURL := v.URL
	l := c.repoLock(v.key)
	l.RLock()
	defer l.RUnlock()
	repo, err := c.openMirror(v.key, repoURL, false)
	if err != nil {
		return err
	}
	if repo == nil {
		return revisionNotFound(repoURL, sha)
	}
	commit, err := repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return fmt.Errorf("read commit %s of %s: %w", sha, redactURL(repoURL), err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return fmt.Errorf("read the tree of commit %s of %s: %w", sha, redactURL(repoURL), err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-"+sha[:12]+"-")
	if err != nil {
		return fmt.Errorf("checkout %s: %w", sha, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			_ = removeTree(tmp)
		}
	}()
	if err := writeTree(tree, tmp); err != nil {
		return newError(ReasonCheckoutFailed, repoURL, err, "checkout of %s at %s failed: %v", redactURL(repoURL), sha, err)
	}
	if err := makeReadOnly(tmp); err != nil {
		return fmt.Errorf("checkout %s: %w", sha, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(dir); statErr == nil {
			return nil // another process got there first: same commit, same files
		}
		return fmt.Errorf("checkout %s: %w", sha, err)
	}
	renamed = true
	return nil
}

// writeTree writes every file of tree under dir. Writes go through an
// os.Root, so no entry name or symlink can place a file outside dir.
func writeTree(tree *object.Tree, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	var links []string
	err = tree.Files().ForEach(func(f *object.File) error {
		if parent := path.Dir(f.Name); parent != "." {
			if err := root.MkdirAll(parent, 0o755); err != nil {
				return fmt.Errorf("create directory %s: %w", parent, err)
			}
		}
		switch f.Mode {
		case filemode.Symlink:
			target, err := f.Contents()
			if err != nil {
				return fmt.Errorf("read symlink %s: %w", f.Name, err)
			}
			if !lexicallyInside(f.Name, target) {
				return fmt.Errorf("symlink %s points outside the repository (to %s): make it relative and inside the repository", f.Name, target)
			}
			links = append(links, f.Name)
			return root.Symlink(target, f.Name)
		case filemode.Regular, filemode.Deprecated, filemode.Executable:
			return writeFile(root, f)
		}
		return nil // submodule: not checked out
	})
	if err != nil {
		return err
	}
	return checkLinks(dir, links)
}

func writeFile(root *os.Root, f *object.File) error {
	perm := os.FileMode(0o444)
	if f.Mode == filemode.Executable {
		perm = 0o555
	}
	// Created read-only: the open descriptor may still be written.
	w, err := root.OpenFile(f.Name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("create %s: %w", f.Name, err)
	}
	r, err := f.Reader()
	if err != nil {
		w.Close()
		return fmt.Errorf("read %s: %w", f.Name, err)
	}
	_, err = io.Copy(w, r)
	r.Close()
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", f.Name, err)
	}
	return nil
}

// lexicallyInside reports whether symlink name -> target stays in the tree
// as written. checkLinks then catches chains that escape only when
// resolved (a link to "." followed by "..").
func lexicallyInside(name, target string) bool {
	if target == "" || path.IsAbs(target) || filepath.IsAbs(target) {
		return false
	}
	p := path.Clean(path.Join(path.Dir(name), target))
	return p != ".." && !strings.HasPrefix(p, "../")
}

// checkLinks resolves every symlink and fails on one that ends outside dir.
func checkLinks(dir string, links []string) error {
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	for _, name := range links {
		resolved, err := filepath.EvalSymlinks(filepath.Join(dir, filepath.FromSlash(name)))
		if errors.Is(err, fs.ErrNotExist) {
			continue // dangling but lexically inside: harmless
		}
		if err != nil {
			return fmt.Errorf("resolve symlink %s: %w", name, err)
		}
		rel, err := filepath.Rel(realDir, resolved)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return fmt.Errorf("symlink %s resolves outside the repository: make it point inside the repository", name)
		}
	}
	return nil
}

// makeReadOnly removes write permission from every directory of a tree, so
// a renderer cannot change what other Applications read.
func makeReadOnly(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return os.Chmod(p, 0o555)
	})
}

// removeTree deletes a tree made by extract, giving its directories write
// permission back first (needed when gantry does not run as root).
func removeTree(dir string) error {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// Prune deletes the checked-out trees for which keep returns false. keep
// gets each tree's commit SHA and when Checkout last returned it; the
// controller typically keeps the SHAs its Applications are synced to or
// rendering, and trees used within the last few minutes. keep is called with
// Checkout blocked, so it must not call the Cache. Leftovers of interrupted
// checkouts older than an hour are removed too. Mirrors are kept.
func (c *Cache) Prune(keep func(sha string, lastUsed time.Time) bool) (removed int, err error) {
	treesDir := filepath.Join(c.dir, "trees")
	entries, err := os.ReadDir(treesDir)
	if err != nil {
		return 0, fmt.Errorf("prune trees: %w", err)
	}
	var errs []error
	kept := 0
	defer func() {
		c.mu.Lock()
		c.stats.Trees = kept
		c.stats.TreesPruned += uint64(removed)
		c.mu.Unlock()
	}()
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(treesDir, name)
		if strings.HasPrefix(name, ".tmp-") {
			if info, err := e.Info(); err == nil && c.now().Sub(info.ModTime()) > time.Hour {
				errs = append(errs, removeTree(p))
			}
			continue
		}
		if len(name) != 40 || !isHash(name) {
			continue
		}
		ok, err := c.pruneOne(p, name, keep)
		if ok {
			removed++
		} else {
			kept++
		}
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("prune trees in %s: %w", treesDir, err)
	}
	return removed, nil
}

func (c *Cache) pruneOne(p, sha string, keep func(string, time.Time) bool) (bool, error) {
	c.treesMu.Lock()
	defer c.treesMu.Unlock()
	info, err := os.Stat(p)
	if err != nil || keep(sha, info.ModTime()) {
		return false, nil
	}
	if err := removeTree(p); err != nil {
		return false, err
	}
	return true, nil
}
