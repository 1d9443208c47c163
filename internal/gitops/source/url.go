package source

import (
	"net/url"
	"path/filepath"
	"strings"
)

// parseSCP splits the scp-style SSH form "user@host:path" (user optional),
// which has no scheme and so cannot go through url.Parse as it is.
func parseSCP(s string) (user, host, path string, ok bool) {
	if strings.Contains(s, "://") {
		return "", "", "", false
	}
	before, path, found := strings.Cut(s, ":")
	if !found || before == "" || strings.Contains(before, "/") {
		return "", "", "", false
	}
	if u, h, hasUser := strings.Cut(before, "@"); hasUser {
		user, before = u, h
	}
	if before == "" || strings.Contains(before, "@") {
		return "", "", "", false
	}
	return user, before, path, true
}

// NormalizeURL returns the comparison key of a Git repository URL, so that
// the forms a Git host or a webhook payload uses for one repository compare
// equal:
//
//	https://github.com/org/repo
//	https://user:token@GitHub.com:443/org/repo.git/
//	git@github.com:org/repo.git
//	ssh://git@github.com:22/org/repo
//
// all give "github.com/org/repo". Like Argo CD's NormalizeGitURL it lower-cases
// the URL and drops ".git"; it goes further and drops the scheme, credentials
// and port, because a push to the https form must refresh Applications that
// use the ssh form. Local repositories (file:// URLs and plain paths) keep
// their case and suffix, as file systems are case-sensitive: they give
// "file://" followed by the cleaned absolute path. An unparsable URL is
// returned trimmed and lower-cased, so that it at least equals itself.
func NormalizeURL(repoURL string) string {
	s := strings.TrimSpace(repoURL)
	if s == "" {
		return ""
	}
	if p, ok := localPath(s); ok {
		return "file://" + p
	}
	s = strings.ToLower(s)
	var host, path string
	if _, h, p, ok := parseSCP(s); ok {
		host, path = h, p
	} else {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return s
		}
		host, path = u.Hostname(), u.Path
	}
	path = strings.Trim(path, "/")
	path = strings.TrimSuffix(path, ".git")
	path = strings.TrimRight(path, "/")
	if path == "" {
		return host
	}
	return host + "/" + path
}

// localPath reports whether repoURL names a repository on this machine
// (file:// URL or a plain path) and returns its cleaned absolute path.
func localPath(repoURL string) (string, bool) {
	switch {
	case strings.HasPrefix(repoURL, "file://"):
		u, err := url.Parse(repoURL)
		if err != nil {
			return "", false
		}
		p := u.Path
		if u.Host != "" && u.Host != "localhost" {
			// file://relative/path is not a URL form git accepts either.
			return "", false
		}
		return filepath.Clean(p), true
	case filepath.IsAbs(repoURL):
		return filepath.Clean(repoURL), true
	case strings.HasPrefix(repoURL, "./"), strings.HasPrefix(repoURL, "../"):
		abs, err := filepath.Abs(repoURL)
		if err != nil {
			return "", false
		}
		return abs, true
	}
	return "", false
}

// isSSH reports whether repoURL is reached over SSH (ssh:// or scp-like).
func isSSH(repoURL string) bool {
	s := strings.ToLower(strings.TrimSpace(repoURL))
	if strings.HasPrefix(s, "ssh://") || strings.HasPrefix(s, "git+ssh://") {
		return true
	}
	if strings.Contains(s, "://") {
		return false
	}
	if _, ok := localPath(s); ok {
		return false
	}
	_, _, _, ok := parseSCP(s)
	return ok
}

// sshUserHostPort returns the user, host and port an SSH repository URL
// connects to; user defaults to "git" and port to 22, as git does.
func sshUserHostPort(repoURL string) (user, host, port string) {
	s := strings.TrimSpace(repoURL)
	user, port = "git", "22"
	if u, h, _, ok := parseSCP(s); ok {
		if u != "" {
			user = u
		}
		return user, h, port
	}
	u, err := url.Parse(s)
	if err != nil {
		return user, "", port
	}
	if u.User != nil && u.User.Username() != "" {
		user = u.User.Username()
	}
	if u.Port() != "" {
		port = u.Port()
	}
	return user, u.Hostname(), port
}

// redactURL hides a password or token embedded in a URL, so that error
// messages shown on Application conditions never carry a secret.
func redactURL(repoURL string) string {
	u, err := url.Parse(repoURL)
	if err != nil || u.User == nil {
		return repoURL
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "redacted")
	}
	return u.String()
}
