package oidcprovider

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// Mirror paths, under the base a mirror is served at (ServeMirror).
const (
	MirrorDiscoveryPath = "/.well-known/openid-configuration"
	MirrorKeysPath      = "/keys"
)

// ServeMirror serves the provider's discovery document and its keys at
// another address than the issuer's, base (an absolute URL, e.g.
// https://10.96.0.9:10250/oidc; r's path is under base's): for a relying
// party that cannot reach the issuer, a virtual kube-apiserver in a pod
// whose AuthenticationConfiguration names base+MirrorDiscoveryPath as its
// discoveryURL. The document is the issuer's own, issuer included (it must
// match the tokens' iss), but for jwks_uri, base+MirrorKeysPath, where the
// same keys are served; rotation shows there at once, as at the issuer.
// Nothing else is served: sign-ins and tokens stay at the issuer.
func (p *Provider) ServeMirror(w http.ResponseWriter, r *http.Request, base string) {
	u, err := url.Parse(strings.TrimSuffix(base, "/"))
	if err != nil || u.Host == "" {
		http.Error(w, "the OpenID Connect mirror has no base URL", http.StatusInternalServerError)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, u.Path)
	if !ok {
		rest = ""
	}
	switch rest {
	case MirrorDiscoveryPath:
		cfg := op.CreateDiscoveryConfig(op.ContextWithIssuer(r.Context(), p.issuer), p.op, p.store)
		cfg.JwksURI = u.String() + MirrorKeysPath
		op.Discover(w, cfg)
	case MirrorKeysPath:
		op.Keys(w, r, p.store)
	default:
		http.Error(w, "not served here: the discovery document and keys of "+p.issuer+" only", http.StatusNotFound)
	}
}
