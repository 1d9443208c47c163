package vcluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"gantry.dev/gantry/internal/identity/authn"
)

// Trust is the OpenID Connect issuer that every virtual kube-apiserver trusts:
// gantry's own provider. With it, kubectl can talk to a virtual cluster directly
// (not through gantry's proxy) with a token gantry issued, and the cluster's RBAC
// sees the same user and groups as through the proxy.
type Trust struct {
	// Issuer is gantry's issuer URL (https://…/oidc).
	Issuer string
	// CA verifies the issuer's serving certificate; empty means the system's roots
	// (a certificate given with --tls-cert-file).
	CA []byte
	// DiscoveryURL, when set, is where the API server fetches the issuer's
	// discovery document instead of Issuer/.well-known/openid-configuration:
	// for an API server in a pod, which cannot reach gantry at the issuer's
	// own address (127.0.0.1 on gantry's machine). The tokens still name
	// Issuer. CA must then verify the discovery address too.
	DiscoveryURL string
}

// Audience is the audience a token must carry for this one virtual cluster: a
// token minted for one cluster is refused by every other.
func Audience(key types.NamespacedName) string {
	return "gantry:vcluster:" + key.Namespace + "/" + key.Name
}

// authenticationConfigFile is written in each control plane's directory.
const authenticationConfigFile = "authentication-config.yaml"

// writeAuthenticationConfig writes kube-apiserver's structured authentication
// configuration (apiserver.config.k8s.io/v1) trusting t for audience, and returns
// its path. It is written at every start, so a changed issuer (another
// --external-url or port) takes effect with the next start.
func writeAuthenticationConfig(dir string, t Trust, audience string) (string, error) {
	if !strings.HasPrefix(t.Issuer, "https://") {
		return "", fmt.Errorf("virtual clusters can only trust an https issuer, not %q: serve gantry over TLS", t.Issuer)
	}
	issuer := map[string]any{"url": t.Issuer, "audiences": []string{audience}}
	if t.DiscoveryURL != "" {
		issuer["discoveryURL"] = t.DiscoveryURL
	}
	if len(t.CA) > 0 {
		issuer["certificateAuthority"] = string(t.CA)
	}
	cfg := map[string]any{
		"apiVersion": "apiserver.config.k8s.io/v1",
		"kind":       "AuthenticationConfiguration",
		"jwt": []any{map[string]any{
			"issuer": issuer,
			"claimMappings": map[string]any{
				"username": map[string]any{"claim": "sub", "prefix": authn.UserPrefix},
				"groups":   map[string]any{"claim": "groups", "prefix": ""},
			},
		}},
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, authenticationConfigFile)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", err
	}
	return path, nil
}
