package webhook

import "testing"

func TestPushMatches(t *testing.T) {
	branch := &Push{
		Provider:      GitHub,
		RepoURLs:      []string{"https://github.com/acme/guestbook", "git@github.com:acme/guestbook.git"},
		Ref:           "refs/heads/main",
		Branch:        "main",
		DefaultBranch: "main",
	}
	feature := &Push{RepoURLs: branch.RepoURLs, Ref: "refs/heads/feature", Branch: "feature", DefaultBranch: "main"}
	tag := &Push{RepoURLs: branch.RepoURLs, Ref: "refs/tags/v1.4.0", Tag: "v1.4.0", DefaultBranch: "main"}
	noDefault := &Push{RepoURLs: branch.RepoURLs, Ref: "refs/heads/feature", Branch: "feature"}

	cases := []struct {
		push         *Push
		repoURL, rev string
		want         bool
	}{
		{branch, "https://github.com/acme/guestbook.git", "main", true},
		{branch, "ssh://git@github.com/acme/guestbook", "main", true},
		{branch, "https://GitHub.com/Acme/Guestbook/", "refs/heads/main", true},
		{branch, "https://github.com/acme/guestbook", "HEAD", true},
		{branch, "https://github.com/acme/guestbook", "", true},
		{branch, "https://github.com/acme/guestbook", "refs/tags/main", true}, // as in Argo CD
		{branch, "https://github.com/acme/guestbook", "dev", false},
		{branch, "https://github.com/acme/guestbook", "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", false},
		{branch, "https://github.com/acme/other", "main", false},
		{branch, "https://gitlab.com/acme/guestbook", "main", false},
		{feature, "https://github.com/acme/guestbook", "HEAD", false},
		{feature, "https://github.com/acme/guestbook", "feature", true},
		{noDefault, "https://github.com/acme/guestbook", "HEAD", true}, // unknown default: refresh
		{tag, "https://github.com/acme/guestbook", "v1.4.0", true},
		{tag, "https://github.com/acme/guestbook", "refs/tags/v1.4.0", true},
		{tag, "https://github.com/acme/guestbook", "v1.*", true},
		{tag, "https://github.com/acme/guestbook", ">=1.2.0", true},
		{tag, "https://github.com/acme/guestbook", "v1.3.0", false},
		{tag, "https://github.com/acme/guestbook", "HEAD", false},
		{branch, "https://github.com/acme/guestbook", "v1.*", false},
		{nil, "https://github.com/acme/guestbook", "main", false},
		{branch, "", "main", false},
	}
	for _, tc := range cases {
		if got := tc.push.Matches(tc.repoURL, tc.rev); got != tc.want {
			var ref string
			if tc.push != nil {
				ref = tc.push.Ref
			}
			t.Errorf("push of %s: Matches(%q, %q) = %v, want %v", ref, tc.repoURL, tc.rev, got, tc.want)
		}
	}
}
