package vcproxy

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/jsonapi"
)

// CredentialPath serves POST /api/v1/virtualclusters/<project>/<name>/credential:
// a short-lived token, signed by gantry's OpenID Connect issuer for this one
// virtual cluster's audience, with which kubectl talks to the virtual
// kube-apiserver directly (gantry vcluster connect --sso writes an exec plugin
// that asks for one). The virtual cluster's RBAC then sees the same user and
// groups as through the proxy.
const CredentialPath = "/api/v1/virtualclusters/{project}/{name}/credential"

// Minter signs a token for user and groups, valid for audience until the time it returns.
type Minter func(ctx context.Context, user string, groups []string, audience string, ttl time.Duration) (string, time.Time, error)

// Credentials serves CredentialPath on an api.Router (Register).
type Credentials struct {
	Backend Backend
	Mint    Minter
	// Audience names the audience the virtual cluster's kube-apiserver expects.
	Audience func(project, name string) string
	// TTL of a token (default 10 minutes); kubectl asks again when it expires.
	TTL time.Duration
	// Direct, when set, says from where the virtual kube-apiservers' own
	// addresses answer (Credential.Reach, for the user), or why their
	// authenticators would refuse any token: then no token is minted.
	Direct func() (reach string, err error)
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
	// Reach says from where Server answers (connect --sso shows it): not
	// every address of a virtual kube-apiserver is reachable from
	// everywhere gantry's API is.
	Reach string `json:"reach,omitempty"`
}

// Register mounts the credential endpoint.
func (c *Credentials) Register(r *api.Router) { r.Handle("POST "+CredentialPath, c.serve) }

func (c *Credentials) serve(w http.ResponseWriter, r *http.Request, caller *api.Caller) error {
	project, name := r.PathValue("project"), r.PathValue("name")
	if err := caller.Can(rbac.ResourceVirtualClusters, rbac.ActionConnect, api.VirtualCluster(project, name)); err != nil {
		return err
	}
	var reach string
	if c.Direct != nil {
		var err error
		if reach, err = c.Direct(); err != nil {
			return jsonapi.Errorf(http.StatusNotImplemented, "%v", err)
		}
	}
	// Waking here (not only in the proxy) means kubectl against a sleeping
	// cluster works: its exec plugin asks for a token first.
	wctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	cfg, err := c.Backend.Wake(wctx, project, name)
	cancel()
	if err != nil {
		return wakeError(err)
	}
	c.Backend.Activity(project, name, r.UserAgent())
	ttl := c.TTL
	if ttl == 0 {
		ttl = 10 * time.Minute
	}
	groups := authn.ForwardedGroups(caller.Groups, caller.IsAdmin())
	token, exp, err := c.Mint(r.Context(), caller.User, groups, c.Audience(project, name), ttl)
	if err != nil {
		return fmt.Errorf("signing the token: %w", err)
	}
	jsonapi.Write(w, http.StatusOK, Credential{Token: token, ExpirationTimestamp: exp, Server: cfg.Host, CertificateAuthorityData: cfg.CAData, Reach: reach})
	return nil
}
