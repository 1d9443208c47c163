package argocd

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

// instance is one Argo CD: where it runs and a client for that cluster.
type instance struct {
	Cluster   string // never "": the host is InCluster
	Namespace string
	c         client.Client
	cfg       *rest.Config
}

// target is where an integration writes, as kept in AnnotationTarget.
type target struct{ Cluster, Namespace string }

func (t target) String() string { return t.Namespace + "@" + t.Cluster }

func parseTarget(s string) (target, bool) {
	ns, cl, ok := strings.Cut(s, "@")
	if !ok || ns == "" || cl == "" {
		return target{}, false
	}
	return target{Cluster: cl, Namespace: ns}, true
}

// targetOf is the Argo CD a project's spec names.
func targetOf(a *platformv1alpha1.ArgoCDIntegration) target {
	t := target{Cluster: normalCluster(a.Cluster), Namespace: a.Namespace}
	if t.Namespace == "" {
		t.Namespace = DefaultNamespace
	}
	return t
}

// connect returns a client for t's cluster.
func (r *Reconciler) connect(ctx context.Context, t target) (*instance, error) {
	in := &instance{Cluster: t.Cluster, Namespace: t.Namespace}
	if r.ArgoCDCluster == nil {
		return nil, problemf(ReasonClusterUnreachable, "gantry was started without access to Argo CD clusters: this is a bug in how gantry is set up")
	}
	cfg, err := r.ArgoCDCluster(ctx, t.Cluster)
	if err == nil {
		in.c, err = r.clientFor(t.Cluster, cfg)
	}
	if err != nil {
		return nil, problemf(ReasonClusterUnreachable, "cannot reach cluster %s where Argo CD runs: %v: set spec.argoCD.cluster to a cluster registered with gantry, or leave it empty for the host", t.Cluster, err)
	}
	in.cfg = cfg
	return in, nil
}

// checkNamespace makes sure Argo CD's namespace exists.
func (in *instance) checkNamespace(ctx context.Context) error {
	err := in.c.Get(ctx, client.ObjectKey{Name: in.Namespace}, &corev1.Namespace{})
	switch {
	case apierrors.IsNotFound(err):
		return problemf(ReasonArgoCDNamespaceMissing, "namespace %s does not exist in cluster %s: install Argo CD there, or set spec.argoCD.namespace (and cluster) to where Argo CD runs",
			in.Namespace, in.Cluster)
	case apierrors.IsForbidden(err):
		// Reading namespaces is not needed to write into one: the dry runs
		// that follow tell whether gantry may.
		return nil
	}
	return classify(err, "namespace "+in.Namespace, in)
}

func isNetwork(err error) bool {
	var ne net.Error
	var ue *url.Error
	return errors.As(err, &ne) || errors.As(err, &ue)
}

// validURL checks an http(s) URL of a spec field.
func validURL(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return problemf(ReasonInvalidSpec, "%s %q is not Argo CD's external URL: write it as https://argocd.example.com", field, raw)
	}
	return nil
}
