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

// location is where a repository URL leads: scheme, host and port exactly,
// and the path, as credential templates are matched. scp-like URLs
// (user@host:path) are ssh on port 22, like ssh://user@host/path.
type location struct {
	scheme string // http, https, ssh (git+ssh and scp-like too) or git
	user   string // as written; not part of where the URL leads
	host   string // lower case
	port   string // explicit, or the scheme's default
	path   string // lower case, "/a/b": no trailing "/" nor ".git"; "" for the root
}

var defaultPorts = map[string]string{"http": "80", "https": "443", "ssh": "22", "git": "9418"}

// parseLocation parses a remote repository URL with net/url (or as the
// scp-like form), so that userinfo, port and host are told apart exactly as
// Git's own URL parsing does: in https://github.com:x@other.example/ the host
// is other.example, in https://a@github.com@evil.org/ it is evil.org. It
// refuses (ok false) what a template must never match by accident: local
// paths, other schemes, and paths with dot segments, empty segments or
// percent-escapes, which a server may resolve to another repository than
// the prefix suggests.
func parseLocation(raw string) (location, bool) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return location{}, false
	}
	if _, local := localPath(s); local {
		return location{}, false
	}
	var loc location
	var p string
	if user, host, path, ok := parseSCP(s); ok {
		loc = location{scheme: "ssh", user: user, host: host, port: "22"}
		p = "/" + path
		if strings.Contains(path, "%") {
			return location{}, false
		}
	} else {
		u, err := url.Parse(s)
		if err != nil || u.Opaque != "" || u.Hostname() == "" {
			return location{}, false
		}
		loc.scheme = strings.ToLower(u.Scheme)
		if loc.scheme == "git+ssh" {
			loc.scheme = "ssh"
		}
		def, known := defaultPorts[loc.scheme]
		if !known {
			return location{}, false
		}
		if u.User != nil {
			loc.user = u.User.String()
		}
		loc.host, loc.port = u.Hostname(), u.Port()
		if loc.port == "" {
			loc.port = def
		}
		if u.RawPath != "" || strings.Contains(u.Path, "%") {
			return location{}, false // escapes: what the server decodes them to is its business
		}
		p = u.Path
	}
	loc.host = strings.ToLower(loc.host)
	p = strings.ToLower(strings.TrimRight(p, "/"))
	p = strings.TrimRight(strings.TrimSuffix(p, ".git"), "/")
	if p != "" {
		for _, seg := range strings.Split(p[1:], "/") {
			if seg == "" || seg == "." || seg == ".." {
				return location{}, false
			}
		}
	}
	loc.path = p
	return loc, true
}

// covers reports whether template location t covers repository location r:
// the same scheme, host and port, and r's path equal to t's or below it at a
// "/" boundary (https://github.com/org covers .../org/app, not .../org-x).
// The user part is ignored: it says who logs in, not where.
func (t location) covers(r location) bool {
	if t.scheme != r.scheme || t.host != r.host || t.port != r.port {
		return false
	}
	return t.path == "" || r.path == t.path || strings.HasPrefix(r.path, t.path+"/")
}

// exactKey names a repository exactly, for what is cached of it: a local one
// by its path, a remote one by the scheme, user, host, port and path
// parseLocation reads (so the forms of one URL share it, and two servers on
// one host do not), anything else by its own text.
func exactKey(repoURL string) string {
	s := strings.TrimSpace(repoURL)
	if p, ok := localPath(s); ok {
		return "file://" + p
	}
	if loc, ok := parseLocation(s); ok {
		return loc.scheme + "://" + loc.user + "@" + loc.host + ":" + loc.port + loc.path
	}
	return s
}
