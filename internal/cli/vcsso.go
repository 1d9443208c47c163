package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientauthv1 "k8s.io/client-go/pkg/apis/clientauthentication/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"gantry.dev/gantry/internal/vcproxy"
)

// credential is kubectl's exec credential plugin: it prints an ExecCredential
// with a short-lived token from gantry for the virtual cluster's own
// kube-apiserver, or with --proxy the session's access token for gantry's
// proxy. kubectl runs it whenever it needs a token (gantry vcluster connect
// --sso and --proxy write the kubeconfig entries that do).
func (o *vcOptions) credential() *cobra.Command {
	var viaProxy bool
	cmd := &cobra.Command{
		Use:    "credential NAME",
		Short:  "Print an ExecCredential for the virtual cluster (kubectl's exec plugin; see connect --sso)",
		Args:   cobra.ExactArgs(1),
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := o.apiClient()
			if err != nil {
				return err
			}
			var token string
			var exp *metav1.Time
			if viaProxy {
				// Reading the cluster checks the session (refreshed if it must be)
				// and that the caller may see the cluster at all.
				if _, err := o.view(api, args[0]); err != nil {
					return err
				}
				token = api.token
				if api.session {
					e := api.expires
					if e.IsZero() {
						e = time.Now().Add(time.Minute) // unknown: ask again soon
					}
					exp = &metav1.Time{Time: e}
				}
			} else {
				var cred vcproxy.Credential
				if err := api.do("POST", o.path(args[0], "credential"), nil, &cred); err != nil {
					return err
				}
				token, exp = cred.Token, &metav1.Time{Time: cred.ExpirationTimestamp}
			}
			out := clientauthv1.ExecCredential{
				TypeMeta: metav1.TypeMeta{APIVersion: clientauthv1.SchemeGroupVersion.String(), Kind: "ExecCredential"},
				Status:   &clientauthv1.ExecCredentialStatus{Token: token, ExpirationTimestamp: exp},
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(out)
		},
	}
	cmd.Flags().BoolVar(&viaProxy, "proxy", false, "a token for gantry's proxy: the session's access token")
	return cmd
}

// ssoKubeconfig is a kubeconfig that reaches the virtual cluster's kube-apiserver
// directly, as the logged-in gantry user: its token comes from gantry through
// the exec plugin, so nothing long-lived is written. Asking for one credential
// first checks that the user may connect and learns the address and CA.
// It also returns what gantry says of where that address answers.
func (o *vcOptions) ssoKubeconfig(name, ctxName string) ([]byte, string, error) {
	api, err := o.apiClient()
	if err != nil {
		return nil, "", err
	}
	var cred vcproxy.Credential
	if err := api.do("POST", o.path(name, "credential"), nil, &cred); err != nil {
		return nil, "", o.notFound(err, name)
	}
	auth, err := o.execAuth(api, name)
	if err != nil {
		return nil, "", err
	}
	raw, err := kubeconfigOf(ctxName, &clientcmdapi.Cluster{Server: cred.Server, CertificateAuthorityData: cred.CertificateAuthorityData}, auth)
	if err != nil {
		return nil, "", err
	}
	reach := ""
	if cred.Reach != "" {
		reach = cred.Server + " is " + cred.Reach
	}
	return raw, reach, nil
}

// proxyKubeconfig is a kubeconfig that reaches the virtual cluster through
// gantry's proxy as the CLI's caller. gantry serves it (the proxy's address
// and CA, after checking that the caller may connect) with no credential;
// this adds the caller's: with a login, an exec plugin that hands kubectl the
// session's access token (refreshed as needed, never written); with the
// local admin token, that token.
func (o *vcOptions) proxyKubeconfig(name string) ([]byte, error) {
	api, err := o.apiClient()
	if err != nil {
		return nil, err
	}
	var raw []byte
	if err := api.do("GET", o.path(name, "kubeconfig"), nil, &raw); err != nil {
		return nil, o.notFound(err, name)
	}
	cfg, err := clientcmd.Load(raw)
	if err != nil {
		return nil, fmt.Errorf("gantry answered no usable kubeconfig for %s: %w", name, err)
	}
	cur := cfg.Contexts[cfg.CurrentContext]
	if cur == nil || cfg.Clusters[cur.Cluster] == nil {
		return nil, fmt.Errorf("gantry answered a kubeconfig for %s without a current context and cluster", name)
	}
	auth := &clientcmdapi.AuthInfo{Token: api.token}
	if api.session {
		if auth, err = o.execAuth(api, name, "--proxy"); err != nil {
			return nil, err
		}
	}
	cfg.AuthInfos[cur.AuthInfo] = auth
	return clientcmd.Write(*cfg)
}

// execAuth runs `gantry vcluster credential NAME` against the same gantry as
// this command: the local data directory's, or the remote one by URL with
// the same config file.
func (o *vcOptions) execAuth(api *apiClient, name string, extra ...string) (*clientcmdapi.AuthInfo, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding gantry's own path for the exec plugin: %w", err)
	}
	args := append([]string{"vcluster", "credential", name, "--project", o.project}, extra...)
	var env []clientcmdapi.ExecEnvVar
	if api.remote() {
		args = append(args, "--server", api.server)
		env = append(env, clientcmdapi.ExecEnvVar{Name: EnvConfig, Value: api.store.file})
	} else {
		args = append(args, "--data-dir", api.dataDir)
	}
	return &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
		APIVersion:      clientauthv1.SchemeGroupVersion.String(),
		Command:         self,
		Args:            args,
		Env:             env,
		InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
	}}, nil
}

// kubeconfigOf is a kubeconfig of one cluster, user and context, all named
// ctxName, current.
func kubeconfigOf(ctxName string, cluster *clientcmdapi.Cluster, auth *clientcmdapi.AuthInfo) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[ctxName] = cluster
	cfg.AuthInfos[ctxName] = auth
	cfg.Contexts[ctxName] = &clientcmdapi.Context{Cluster: ctxName, AuthInfo: ctxName}
	cfg.CurrentContext = ctxName
	return clientcmd.Write(*cfg)
}
