package vcproxy

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/jsonapi"
)

// CredentialPrefix serves POST /api/v1/virtualclusters/<project>/<name>/credential:
// a short-lived token, signed by gantry's OpenID Connect issuer for this one
// virtual cluster's audience, with which kubectl talks to the virtual
// kube-apiserver directly (gantry vcluster connect --sso writes an exec plugin
// that asks for one). The virtual cluster's RBAC then sees the same user and
// groups as through the proxy.
const CredentialPrefix = "/api/v1/virtualclusters/"

// UserPrefix is put before gantry user names inside virtual clusters, by the
// proxy (impersonation) and by the kube-apiserver (token claims) alike, so that
// a gantry user can never pass for one of the cluster's own users.
const UserPrefix = "gantry:"

// Minter signs a token for user and groups, valid for audience until the time it returns.
type Minter func(ctx context.Context, user string, groups []string, audience string, ttl time.Duration) (string, time.Time, error)

// Credentials is the http.Handler of CredentialPrefix.
type Credentials struct {
	Auth      Authenticator
	Authorize Authorize
	Backend   Backend
	Mint      Minter
	// Audience names the audience the virtual cluster's kube-apiserver expects.
	Audience func(project, name string) string
	// TTL of a token (default 10 minutes); kubectl asks again when it expires.
	TTL time.Duration
}

// Credential is the answer: the token, and where and how to reach the cluster.
type Credential struct {
	Token string `json:"token"`
	// ExpirationTimestamp is when the token stops working (ExecCredential's field).
	ExpirationTimestamp time.Time `json:"expirationTimestamp"`
	// Server is the virtual kube-apiserver's own address.
	Server string `json:"server"`
	// CertificateAuthorityData verifies Server (PEM).
	CertificateAuthorityData []byte `json:"certificateAuthorityData"`
}

func (c *Credentials) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, _ := strings.CutPrefix(r.URL.Path, CredentialPrefix)
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] != "credential" {
		jsonapi.Error(w, http.StatusNotFound, "path must be "+CredentialPrefix+"<project>/<name>/credential")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		jsonapi.Error(w, http.StatusMethodNotAllowed, "use POST: each call mints a new token")
		return
	}
	project, name := parts[0], parts[1]
	id, err := c.Auth.Authenticate(r)
	if err != nil {
		jsonapi.Error(w, http.StatusUnauthorized, err.Error())
		return
	}
	if !id.InScope(project, name) {
		jsonapi.Error(w, http.StatusForbidden, "this access key is scoped to "+id.Scope.Project+"/"+id.Scope.VirtualCluster)
		return
	}
	if err := c.Authorize(id.Subjects(), "virtualclusters", "connect", project+"/"+name); err != nil {
		jsonapi.Error(w, http.StatusForbidden, err.Error())
		return
	}
	// Waking here (not only in the proxy) means kubectl against a sleeping
	// cluster works: its exec plugin asks for a token first.
	wctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	cfg, err := c.Backend.Wake(wctx, project, name)
	cancel()
	if err != nil {
		code := http.StatusServiceUnavailable
		if _, ok := err.(NotFoundError); ok {
			code = http.StatusNotFound
		}
		jsonapi.Error(w, code, err.Error())
		return
	}
	c.Backend.Activity(project, name, r.UserAgent())
	ttl := c.TTL
	if ttl == 0 {
		ttl = 10 * time.Minute
	}
	token, exp, err := c.Mint(r.Context(), id.User, groupsFor(id, c.Authorize), c.Audience(project, name), ttl)
	if err != nil {
		jsonapi.Error(w, http.StatusInternalServerError, fmt.Sprintf("signing the token: %v", err))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	jsonapi.Write(w, http.StatusOK, Credential{Token: token, ExpirationTimestamp: exp, Server: cfg.Host, CertificateAuthorityData: cfg.CAData})
}

// groupsFor is the caller's groups inside a virtual cluster: their project roles
// and teams, plus GroupAdmins for gantry's administrators.
func groupsFor(id authn.Identity, authorize Authorize) []string {
	groups := append([]string(nil), id.Groups...)
	if authorize == nil || authorize(id.Subjects(), "projects", "delete", "*") == nil {
		groups = append(groups, GroupAdmins)
	}
	return groups
}
