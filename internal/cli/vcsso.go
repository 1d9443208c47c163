package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientauthv1 "k8s.io/client-go/pkg/apis/clientauthentication/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"gantry.dev/gantry/internal/vcproxy"
)

// credentialPath is the REST path that mints a token for one virtual cluster.
func credentialPath(project, name string) string {
	return vcproxy.CredentialPrefix + url.PathEscape(project) + "/" + url.PathEscape(name) + "/credential"
}

// credential is kubectl's exec credential plugin: it prints an ExecCredential
// with a short-lived token from gantry for the virtual cluster's own
// kube-apiserver. kubectl runs it whenever it needs a token (gantry vcluster
// connect --sso writes the kubeconfig entry that does).
func (o *vcOptions) credential() *cobra.Command {
	return &cobra.Command{
		Use:    "credential NAME",
		Short:  "Print an ExecCredential for the virtual cluster (kubectl's exec plugin; see connect --sso)",
		Args:   cobra.ExactArgs(1),
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := o.apiClient()
			if err != nil {
				return err
			}
			var cred vcproxy.Credential
			if err := api.do("POST", credentialPath(o.project, args[0]), nil, &cred); err != nil {
				return err
			}
			exp := metav1.NewTime(cred.ExpirationTimestamp)
			out := clientauthv1.ExecCredential{
				TypeMeta: metav1.TypeMeta{APIVersion: clientauthv1.SchemeGroupVersion.String(), Kind: "ExecCredential"},
				Status:   &clientauthv1.ExecCredentialStatus{Token: cred.Token, ExpirationTimestamp: &exp},
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(out)
		},
	}
}

// ssoKubeconfig is a kubeconfig that reaches the virtual cluster's kube-apiserver
// directly, as the logged-in gantry user: its token comes from gantry through
// the exec plugin, so nothing long-lived is written. Asking for one credential
// first checks that the user may connect and learns the address and CA.
func (o *vcOptions) ssoKubeconfig(name, ctxName string) ([]byte, error) {
	api, err := o.apiClient()
	if err != nil {
		return nil, err
	}
	var cred vcproxy.Credential
	if err := api.do("POST", credentialPath(o.project, name), nil, &cred); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding gantry's own path for the exec plugin: %w", err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[ctxName] = &clientcmdapi.Cluster{Server: cred.Server, CertificateAuthorityData: cred.CertificateAuthorityData}
	cfg.AuthInfos[ctxName] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
		APIVersion:      clientauthv1.SchemeGroupVersion.String(),
		Command:         self,
		Args:            []string{"vcluster", "credential", name, "--project", o.project, "--data-dir", o.absDataDir()},
		InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
	}}
	cfg.Contexts[ctxName] = &clientcmdapi.Context{Cluster: ctxName, AuthInfo: ctxName}
	cfg.CurrentContext = ctxName
	return clientcmd.Write(*cfg)
}
