package webhook

import (
	"strings"

	"gantry.dev/gantry/internal/gitops/source"
)

// Provider is the Git host that sent a webhook.
type Provider string

// Providers whose push webhooks are understood.
const (
	GitHub Provider = "github"
	GitLab Provider = "gitlab"
	Gitea  Provider = "gitea" // also Gogs and Forgejo, which send the same payload
)

// Push is one push event: a ref of a repository moved.
type Push struct {
	Provider Provider
	// RepoURLs are all the URL forms of the repository the payload names
	// (web, https clone, ssh clone, ...), without duplicates. Compare them
	// with source.NormalizeURL, or use Matches.
	RepoURLs []string
	// Ref is the full ref that moved, e.g. refs/heads/main or refs/tags/v1.
	Ref string
	// Branch is set when Ref is a branch, Tag when it is a tag.
	Branch string
	Tag    string
	// Before and After are the commit SHAs the ref pointed at; After is all
	// zeros when the ref was deleted (then Deleted is set).
	Before  string
	After   string
	Deleted bool
	// DefaultBranch is the repository's default branch when the payload
	// says, which is what targetRevision HEAD follows.
	DefaultBranch string
}

// Matches reports whether an Application with this repoURL and
// targetRevision may be affected by the push, following Argo CD: the
// repository must be the same in any URL form; targetRevision must name the
// pushed branch or tag (with or without refs/heads/ or refs/tags/, which,
// as in Argo CD, are not told apart), or be HEAD or empty while the default
// branch was pushed. A tag push also matches a targetRevision that looks
// like a version constraint ("v1.*", ">=1.2"), since working out whether the
// new tag satisfies it is the resolver's job. When in doubt it answers true:
// a needless refresh costs one ls-remote, a missed one leaves the
// Application stale until the next poll.
func (p *Push) Matches(repoURL, targetRevision string) bool {
	if p == nil || !p.sameRepo(repoURL) {
		return false
	}
	rev := strings.TrimSpace(targetRevision)
	switch {
	case rev == "" || rev == "HEAD":
		return p.DefaultBranch == "" || p.Branch == p.DefaultBranch
	case rev == p.Ref:
		return true
	}
	name := strings.TrimPrefix(strings.TrimPrefix(rev, "refs/heads/"), "refs/tags/")
	if name == p.Branch && p.Branch != "" || name == p.Tag && p.Tag != "" {
		return true
	}
	return p.Tag != "" && strings.ContainsAny(rev, "*^~<>=|, ")
}

func (p *Push) sameRepo(repoURL string) bool {
	want := source.NormalizeURL(repoURL)
	if want == "" {
		return false
	}
	for _, u := range p.RepoURLs {
		if source.NormalizeURL(u) == want {
			return true
		}
	}
	return false
}
