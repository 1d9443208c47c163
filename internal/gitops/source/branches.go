package source

import (
	"context"
	"strings"
)

// Branches returns every branch of repo (the short name, e.g.
// "feature/login") with the commit it points at, from the same ls-remote
// answer Resolve uses: reused for MaxAge, renewed early by Invalidate.
func (c *Cache) Branches(ctx context.Context, repo Repo) (map[string]string, error) {
	refs, err := c.lsRemote(ctx, c.view(repo))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for name, sha := range refs.commits {
		if branch, ok := strings.CutPrefix(name, "refs/heads/"); ok && branch != "" {
			out[branch] = sha
		}
	}
	return out, nil
}
