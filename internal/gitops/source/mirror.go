package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// mirrorRefSpecs copy every branch and tag of the remote under the same
// name, as `git clone --mirror` would, minus refs a host adds for pull
// requests and the like.
func mirrorRefSpecs() []config.RefSpec {
	return []config.RefSpec{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}
}

// objectCacheSize bounds the decoded objects go-git keeps per open mirror.
// Mirrors are opened per operation, so this is per operation in flight, not
// per repository: go-git's default (96 MiB) times 50 repositories would not
// be.
const objectCacheSize = 4 * cache.MiByte

func (c *Cache) mirrorPath(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(c.dir, "repos", hex.EncodeToString(sum[:12]))
}

// openMirror opens the bare mirror of key. With create it initialises a
// missing one (the caller then holds the mirror's write lock); without, it
// returns a nil repository when the repository was never fetched.
func (c *Cache) openMirror(key, repoURL string, create bool) (*git.Repository, error) {
	path := c.mirrorPath(key)
	if _, err := os.Stat(filepath.Join(path, "HEAD")); errors.Is(err, os.ErrNotExist) {
		if !create {
			return nil, nil
		}
		if err := c.initMirror(path, repoURL); err != nil {
			return nil, err
		}
	}
	st := filesystem.NewStorage(osfs.New(path), cache.NewObjectLRU(objectCacheSize))
	repo, err := git.Open(st, nil)
	if err != nil {
		return nil, fmt.Errorf("open mirror %s of %s: %w; delete the directory to fetch again", path, redactURL(repoURL), err)
	}
	return repo, nil
}

// initMirror creates an empty bare repository at path. It is built aside and
// renamed into place, so a crash never leaves a half-made mirror behind.
func (c *Cache) initMirror(path, repoURL string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return fmt.Errorf("create mirror of %s: %w", redactURL(repoURL), err)
	}
	defer os.RemoveAll(tmp)
	repo, err := git.PlainInit(tmp, true)
	if err != nil {
		return fmt.Errorf("create mirror of %s: %w", redactURL(repoURL), err)
	}
	// Recorded for people looking at the directory with the git CLI;
	// fetches pass the URL of each call.
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{redactURL(repoURL)}}); err != nil {
		return fmt.Errorf("create mirror of %s: %w", redactURL(repoURL), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("create mirror of %s: %w", redactURL(repoURL), err)
	}
	return nil
}

// localCommit looks rev (a full or abbreviated SHA) up in the mirror of v
// without any network access.
func (c *Cache) localCommit(v view, rev string) (string, bool) {
	rev = strings.ToLower(rev)
	if len(rev) == 40 && c.isVerified(v.key, rev) {
		return rev, true
	}
	l := c.repoLock(v.key)
	l.RLock()
	defer l.RUnlock()
	repo, err := c.openMirror(v.key, v.URL, false)
	if err != nil || repo == nil {
		return "", false
	}
	sha := rev
	if len(rev) == 40 {
		if _, err := repo.CommitObject(plumbing.NewHash(rev)); err != nil {
			return "", false
		}
	} else {
		h, err := repo.ResolveRevision(plumbing.Revision(rev))
		if err != nil || !strings.HasPrefix(h.String(), rev) {
			return "", false
		}
		sha = h.String()
	}
	c.markVerified(v.key, sha)
	return sha, true
}

// findCommit returns the full SHA of rev, fetching when the mirror of v
// lacks it. Fetches are shared per view, so however many callers want new
// commits of one repository at once, it is fetched once.
func (c *Cache) findCommit(ctx context.Context, v view, rev string) (string, error) {
	if sha, ok := c.localCommit(v, rev); ok {
		return sha, nil
	}
	// A caller may join a fetch that started before its commit was pushed;
	// the second round then starts (or joins) one that began after.
	for range 2 {
		_, err := c.shared(ctx, &c.fetches, v.key, func(ctx context.Context) (any, error) {
			if _, ok := c.localCommit(v, rev); ok {
				return nil, nil
			}
			return nil, c.fetch(ctx, v, mirrorRefSpecs())
		})
		if err != nil {
			return "", err
		}
		if sha, ok := c.localCommit(v, rev); ok {
			return sha, nil
		}
	}
	if len(rev) == 40 {
		// Not reachable from a branch or tag: hosts that allow it (GitHub,
		// GitLab) still serve a commit asked for by SHA.
		// Its failure (typically: the server does not allow it) only means
		// the answer is "not found".
		_, err := c.shared(ctx, &c.fetches, v.key+"\x00"+rev, func(ctx context.Context) (any, error) {
			spec := config.RefSpec("+" + rev + ":refs/gantry/" + rev)
			return nil, c.fetch(ctx, v, []config.RefSpec{spec})
		})
		if err != nil && ctx.Err() != nil {
			return "", fmt.Errorf("fetch %s from %s: %w", rev, redactURL(v.URL), ctx.Err())
		}
		if sha, ok := c.localCommit(v, rev); ok {
			return sha, nil
		}
	}
	return "", revisionNotFound(v.URL, rev)
}

// fetch brings the mirror of v up to date for refSpecs. Only objects the
// mirror lacks are transferred: its refs are sent as haves.
func (c *Cache) fetch(ctx context.Context, v view, refSpecs []config.RefSpec) error {
	acc, err := c.access(v)
	if err != nil {
		return err
	}
	l := c.repoLock(v.key)
	l.Lock()
	defer l.Unlock()
	repo, err := c.openMirror(v.key, v.URL, true)
	if err != nil {
		return err
	}
	remote := git.NewRemote(repo.Storer, &config.RemoteConfig{Name: "origin", URLs: []string{v.URL}})
	err = remote.FetchContext(ctx, &git.FetchOptions{
		RefSpecs:        refSpecs,
		Tags:            git.NoTags, // tags come through the refspec
		Force:           true,       // branches may be force-pushed
		Auth:            acc.auth,
		InsecureSkipTLS: acc.insecure,
		ClientCert:      acc.clientCert,
		ClientKey:       acc.clientKey,
	})
	if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	return classify(err, v.URL, acc.withCreds, v.Project)
}
