package policy

import (
	"net/url"
	"strings"
)

// remoteSchemes are the repository URL schemes that reach another machine.
// Plain http is as remote as https: the boundary that matters to tenancy is
// between other machines and gantry's own files.
var remoteSchemes = map[string]bool{"https": true, "http": true, "ssh": true, "git": true, "oci": true}

// Local says whether repoURL reads gantry's own machine: a file:// URL, a plain
// path, or any scheme gantry does not know as remote (go-git would treat most
// of them as paths).
func Local(repoURL string) bool {
	u := strings.TrimSpace(repoURL)
	if scpLike(u) {
		return false
	}
	i := strings.Index(u, "://")
	if i <= 0 {
		return true
	}
	return !remoteSchemes[strings.ToLower(u[:i])]
}

// scpLike recognises git's scp syntax, [user@]host:path, which is ssh. A
// colon before any slash and no "://" make it so; "C:" style and paths that
// start with "/" or "." are not.
func scpLike(u string) bool {
	if strings.Contains(u, "://") || strings.HasPrefix(u, "/") || strings.HasPrefix(u, ".") {
		return false
	}
	colon := strings.Index(u, ":")
	slash := strings.Index(u, "/")
	if colon <= 0 || slash >= 0 && slash < colon || strings.HasPrefix(u[colon:], "::") {
		return false // "ext::cmd" is git's transport syntax, not a host
	}
	host := u[:colon]
	if at := strings.LastIndex(host, "@"); at >= 0 {
		host = host[at+1:]
	}
	return len(host) > 1 // "c:" is a drive letter, never a host
}

// Source decides whether apps may deploy from repoURL (a Git repository or a
// Helm chart repository). Local repositories need spec.localRepositories;
// when spec.sourceRepos is set, the URL must match one of its globs and none
// of its "!" ones.
func (p *Policy) Source(repoURL string) error {
	if Local(repoURL) && !p.spec.LocalRepositories {
		return p.refuse("spec.localRepositories", "repository "+repoURL+", which is on gantry's own machine",
			"use an https or ssh URL, or ask an administrator to set spec.localRepositories: true on project %s", p.project)
	}
	if len(p.sourceRepos) == 0 {
		return nil
	}
	norm, userinfo := normalizeRepo(repoURL)
	allowed := false
	for _, r := range p.sourceRepos {
		// With a user part, only the URL without it is matched: in
		// https://github.com:x@evil.example/ the host is evil.example, and a
		// glob like https://github.com* must not see "github.com" first.
		if !r.match(norm) && (userinfo || !r.match(repoURL)) {
			continue
		}
		if r.deny {
			allowed = false
			break
		}
		allowed = true
	}
	if allowed {
		return nil
	}
	return p.refuse("spec.sourceRepos", "repository "+repoURL,
		"use a repository that matches %s, or ask an administrator to add it to spec.sourceRepos", strings.Join(p.spec.SourceRepos, ", "))
}

// normalizeRepo drops what does not name a repository differently: a
// trailing ".git" or "/", and the user part of a URL, so that a glob for
// https://git.example.com/team/* matches https://bot@git.example.com/team/app.git.
// It also says whether a user part was dropped.
func normalizeRepo(s string) (string, bool) {
	s = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(s), "/"), ".git")
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		had := u.User != nil
		u.User = nil
		return u.String(), had
	}
	return s, false
}
