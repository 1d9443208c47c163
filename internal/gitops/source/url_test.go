package source

import "testing"

func TestNormalizeURL(t *testing.T) {
	same := map[string][]string{
		"github.com/org/repo": {
			"https://github.com/org/repo",
			"https://github.com/org/repo.git",
			"https://github.com/org/repo/",
			"  HTTPS://GitHub.com/Org/Repo.git  ",
			"http://github.com/org/repo",
			"https://user:token@github.com:443/org/repo.git",
			"git@github.com:org/repo.git",
			"github.com:org/repo",
			"ssh://git@github.com/org/repo",
			"ssh://git@github.com:22/org/repo.git",
			"git://github.com/org/repo.git",
		},
		"gitlab.example.com/group/sub/repo": {
			"https://gitlab.example.com/group/sub/repo.git",
			"git@gitlab.example.com:group/sub/repo.git",
			"ssh://git@gitlab.example.com:2222/group/sub/repo.git",
		},
		"file:///srv/Git/repo.git": {
			"/srv/Git/repo.git",
			"file:///srv/Git/repo.git",
			"file:///srv/Git/./repo.git/",
		},
		"": {"", "   "},
	}
	for want, inputs := range same {
		for _, in := range inputs {
			if got := NormalizeURL(in); got != want {
				t.Errorf("NormalizeURL(%q) = %q, want %q", in, got, want)
			}
		}
	}
	different := [][2]string{
		{"https://github.com/org/repo", "https://github.com/org/repo2"},
		{"https://github.com/org/repo", "https://gitlab.com/org/repo"},
		{"/srv/git/repo", "/srv/git/Repo"},
	}
	for _, d := range different {
		if NormalizeURL(d[0]) == NormalizeURL(d[1]) {
			t.Errorf("NormalizeURL(%q) == NormalizeURL(%q), want different", d[0], d[1])
		}
	}
}

func TestSSHUserHostPort(t *testing.T) {
	cases := map[string][3]string{
		"git@github.com:org/repo.git":               {"git", "github.com", "22"},
		"github.com:org/repo.git":                   {"git", "github.com", "22"},
		"deploy@git.example.com:org/repo":           {"deploy", "git.example.com", "22"},
		"ssh://git@git.example.com:2222/org/repo":   {"git", "git.example.com", "2222"},
		"ssh://git.example.com/org/repo":            {"git", "git.example.com", "22"},
		"ssh://bot@[2001:db8::1]:2200/org/repo.git": {"bot", "2001:db8::1", "2200"},
	}
	for in, want := range cases {
		if !isSSH(in) {
			t.Errorf("isSSH(%q) = false", in)
		}
		u, h, p := sshUserHostPort(in)
		if [3]string{u, h, p} != want {
			t.Errorf("sshUserHostPort(%q) = %q %q %q, want %v", in, u, h, p, want)
		}
	}
	for _, in := range []string{"https://github.com/org/repo", "/srv/repo", "file:///srv/repo", "./repo"} {
		if isSSH(in) {
			t.Errorf("isSSH(%q) = true", in)
		}
	}
}

func TestRedactURL(t *testing.T) {
	cases := map[string]string{
		"https://user:tok@github.com/org/repo": "https://user:redacted@github.com/org/repo",
		"https://github.com/org/repo":          "https://github.com/org/repo",
		"git@github.com:org/repo.git":          "git@github.com:org/repo.git",
	}
	for in, want := range cases {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
