package source

import (
	"context"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
)

// remoteRefs is one ls-remote answer: every ref name with the commit it
// points at (annotated tags peeled to their commit), and HEAD's commit.
type remoteRefs struct {
	commits map[string]string // full ref name -> commit SHA
	head    string
	at      time.Time
}

// listRemote runs ls-remote against v. It needs no local repository: the
// remote is bound to an in-memory storer that never receives objects.
func (c *Cache) listRemote(ctx context.Context, v view) (*remoteRefs, error) {
	acc, err := c.access(v)
	if err != nil {
		return nil, err
	}
	remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{v.URL}})
	list, err := remote.ListContext(ctx, &git.ListOptions{
		Auth:            acc.auth,
		InsecureSkipTLS: acc.insecure,
		ClientCert:      acc.clientCert,
		ClientKey:       acc.clientKey,
		PeelingOption:   git.AppendPeeled,
	})
	if err != nil {
		return nil, classify(err, v.URL, acc.withCreds, v.Project)
	}
	return newRemoteRefs(list, c.now()), nil
}

func newRemoteRefs(list []*plumbing.Reference, at time.Time) *remoteRefs {
	r := &remoteRefs{commits: make(map[string]string, len(list)), at: at}
	peeled := map[string]string{}
	var headTarget string
	for _, ref := range list {
		name := ref.Name().String()
		switch {
		case ref.Type() == plumbing.SymbolicReference:
			if name == "HEAD" {
				headTarget = ref.Target().String()
			}
		case strings.HasSuffix(name, "^{}"):
			peeled[strings.TrimSuffix(name, "^{}")] = ref.Hash().String()
		default:
			r.commits[name] = ref.Hash().String()
		}
	}
	// An annotated tag's ref points at the tag object; what a user means
	// by the tag is the commit it was peeled to.
	for name, sha := range peeled {
		r.commits[name] = sha
	}
	if headTarget != "" {
		r.head = r.commits[headTarget]
	} else {
		r.head = r.commits["HEAD"]
	}
	return r
}

// resolve finds revision among the advertised refs: HEAD, a full ref name,
// then a branch, then a tag.
func (r *remoteRefs) resolve(revision string) (string, bool) {
	if revision == "HEAD" {
		return r.head, r.head != ""
	}
	for _, name := range []string{revision, "refs/heads/" + revision, "refs/tags/" + revision} {
		if sha, ok := r.commits[name]; ok {
			return sha, true
		}
	}
	return "", false
}

// commitWithPrefix finds a commit SHA that some advertised ref points at
// and that starts with prefix, when exactly one such commit exists.
func (r *remoteRefs) commitWithPrefix(prefix string) (string, bool) {
	prefix = strings.ToLower(prefix)
	var found string
	for _, sha := range r.commits {
		if !strings.HasPrefix(sha, prefix) {
			continue
		}
		if found != "" && found != sha {
			return "", false
		}
		found = sha
	}
	return found, found != ""
}
