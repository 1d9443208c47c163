package platform

import (
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"gantry.dev/gantry/internal/argocd"
	"gantry.dev/gantry/internal/identity/accesskeys"
	"gantry.dev/gantry/internal/identity/oidcprovider"
	"gantry.dev/gantry/internal/vcproxy"
)

// setupArgoCD runs the Argo CD integration: projects that turn it on get their
// virtual clusters registered in their Argo CD (reached through gantry's proxy
// with a passive access key), Argo CD's sign-in through gantry, and an
// AppProject.
func (p *Platform) setupArgoCD(mgr manager.Manager) error {
	return (&argocd.Reconciler{Options: argocd.Options{
		Client:    mgr.GetClient(),
		Namespace: SystemNamespace,
		ProxyURL: func(project, name string) string {
			return p.externalURL() + vcproxy.Prefix + project + "/virtualcluster/" + name
		},
		ProxyCA:     p.opts.ServerCA,
		Keys:        accesskeys.Store{Client: mgr.GetClient(), Namespace: SystemNamespace},
		OIDCClients: oidcprovider.ClientStore{Client: p.direct, Namespace: SystemNamespace},
		Issuer:      p.issuer(),
		IssuerCA:    p.opts.ServerCA,
		Logger:      p.opts.Logger.WithName("argocd"),
	}}).SetupWithManager(mgr)
}
