package vcapi

import (
	"fmt"
	"net/http"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ContextName is the name of the cluster, user and context in a kubeconfig
// from this API, the same as `gantry vcluster connect` uses.
func ContextName(p, name string) string { return "gantry_" + p + "_" + name }

// kubeconfig answers a kubeconfig that reaches the cluster through gantry's
// proxy. It holds no credential: the user entry is empty, for the caller's own
// token (a session or an access key). It is built from the request alone,
// never from the admin kubeconfig Secret vc-<name>, which is for gantry.
func (c *call) kubeconfig(p, name string) {
	if !c.may(actionConnect, p, name) {
		return
	}
	if _, ok := c.fetch(p, name); !ok {
		return
	}
	if c.api.ExternalURL == "" {
		c.error(http.StatusServiceUnavailable, "gantry's external URL is not configured, so no kubeconfig can point at its proxy: start gantry with --external-url")
		return
	}
	raw, err := c.api.proxyKubeconfig(p, name)
	if err != nil {
		c.error(http.StatusInternalServerError, "writing the kubeconfig: "+err.Error())
		return
	}
	ctx := ContextName(p, name)
	// YAML comments: what to do with a kubeconfig that has no credential.
	hint := fmt.Sprintf("# Virtual cluster %s/%s through gantry's proxy. It holds no credential: add yours, e.g.\n"+
		"#   kubectl config set-credentials %s --token=<gantry access key or session token> --kubeconfig <this file>\n", p, name, ctx)
	h := c.w.Header()
	h.Set("Content-Type", "application/yaml")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.kubeconfig"`, ctx))
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(append([]byte(hint), raw...))
}

// proxyKubeconfig builds the kubeconfig: one cluster (the proxy address and
// gantry's CA), one empty user, one context, current.
func (a *API) proxyKubeconfig(p, name string) ([]byte, error) {
	ctx := ContextName(p, name)
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[ctx] = &clientcmdapi.Cluster{Server: a.proxyURL(p, name), CertificateAuthorityData: a.ServerCA}
	cfg.AuthInfos[ctx] = &clientcmdapi.AuthInfo{}
	cfg.Contexts[ctx] = &clientcmdapi.Context{Cluster: ctx, AuthInfo: ctx}
	cfg.CurrentContext = ctx
	return clientcmd.Write(*cfg)
}
