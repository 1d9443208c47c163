package vcproxy

import (
	"net/http"
	"slices"
	"testing"

	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/vcluster"
)

var _ Backend = (*vcluster.Sleeper)(nil)

// A client must not choose whom the virtual cluster sees: whatever Impersonate-*
// headers it sends are replaced by the authenticated caller's, and gantry's
// credentials (the bearer token, the session cookie) go no further.
func TestImpersonateReplacesClientHeaders(t *testing.T) {
	r, _ := http.NewRequest("GET", "https://gantry/kubernetes/project/p/virtualcluster/v/api", nil)
	r.Header.Set("Authorization", "Bearer gantry-token")
	r.Header.Set("Impersonate-User", "system:admin")
	r.Header.Add("Impersonate-Group", "system:masters")
	r.Header.Set("Impersonate-Extra-Scopes", "x")
	r.Header.Set("impersonate-uid", "0")
	r.AddCookie(&http.Cookie{Name: authn.CookieName, Value: "session-token"})
	r.AddCookie(&http.Cookie{Name: "app", Value: "tenant-own"})
	impersonate(r, authn.Identity{User: "alice", Groups: []string{"gantry:project:p:project-viewer"}}, false)
	if got := r.Header.Get("Impersonate-User"); got != "gantry:alice" {
		t.Errorf("Impersonate-User %q", got)
	}
	if got := r.Header.Values("Impersonate-Group"); !slices.Equal(got, []string{"gantry:project:p:project-viewer"}) {
		t.Errorf("Impersonate-Group %v", got)
	}
	for _, h := range []string{"Impersonate-Extra-Scopes", "Impersonate-Uid", "Authorization"} {
		if r.Header.Get(h) != "" {
			t.Errorf("%s survived: %q", h, r.Header.Get(h))
		}
	}
	if _, err := r.Cookie(authn.CookieName); err == nil {
		t.Errorf("gantry's session cookie survived: %q", r.Header.Get("Cookie"))
	}
	if c, err := r.Cookie("app"); err != nil || c.Value != "tenant-own" {
		t.Errorf("the tenant's own cookie was lost: %q", r.Header.Get("Cookie"))
	}
	// An administrator also acts as gantry:admins.
	impersonate(r, authn.Identity{User: "admin"}, true)
	if got := r.Header.Values("Impersonate-Group"); !slices.Contains(got, authn.GroupAdmins) {
		t.Errorf("admin groups %v lack %s", got, authn.GroupAdmins)
	}
}
