package argocd

import (
	"maps"
	"testing"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

// Labels a project member puts on a virtual cluster (kubectl label) reach its
// cluster Secret in Argo CD, for ApplicationSets' cluster generators, and go
// when taken off, soon after. None of them can change what the Secret is to
// Argo CD (a repository instead of a cluster), which Application tracks it,
// or whose it is (another project's, so that generators selecting that
// project's clusters pick it).
func TestVirtualClusterLabels(t *testing.T) {
	e := env(t)
	argo := e.argoNamespace(t, nil)
	e.runIntegration(t, nil)
	e.newProject(t, "labelled", &platformv1alpha1.ArgoCDIntegration{Enabled: true, Namespace: argo})
	e.newProject(t, "victim", &platformv1alpha1.ArgoCDIntegration{Enabled: true, Namespace: argo})
	attack := map[string]string{
		"argocd.argoproj.io/secret-type": "repository",
		"argocd.argoproj.io/instance":    "victims-app",
		"app.kubernetes.io/instance":     "victims-app",
		"app.kubernetes.io/managed-by":   "someone",
		"app.kubernetes.io/part-of":      "argocd",
		"gantry.dev/project":             "victim",
		"gantry.dev/vcluster":            "prod",
		"platform.gantry.dev/vcluster":   "prod",
		"kubernetes.io/metadata.name":    "x",
		"node.k8s.io/x":                  "y",
	}
	vc := e.newVCluster(t, "labelled", "dev", func(vc *platformv1alpha1.VirtualCluster) {
		vc.Labels = map[string]string{"env": "dev", "team": "shop", "example.com/tier": "web"}
		maps.Copy(vc.Labels, attack)
		vc.Spec.Labels = map[string]string{"env": "prod"}
		maps.Copy(vc.Spec.Labels, attack)
	})
	name := ClusterSecretName("labelled", "dev")
	eventually(t, "the cluster Secret", func() bool { return e.secret(t, argo, name) != nil })
	// spec.labels win over the object's own; gantry's labels over both.
	checkClusterSecret(t, e, e.secret(t, argo, name), "labelled", "dev",
		map[string]string{"env": "prod", "team": "shop", "example.com/tier": "web"}, "")

	// kubectl label team=payments, example.com/tier-: the Secret follows,
	// its reconcile brought by the label change.
	update(t, e, vc, func(vc *platformv1alpha1.VirtualCluster) {
		vc.Labels["team"] = "payments"
		delete(vc.Labels, "example.com/tier")
	})
	measure(t, "labels of a virtual cluster copied", func() bool {
		l := e.secret(t, argo, name).Labels
		_, tier := l["example.com/tier"]
		return l["team"] == "payments" && !tier
	})
	checkClusterSecret(t, e, e.secret(t, argo, name), "labelled", "dev", map[string]string{"env": "prod", "team": "payments"}, "")
	if e.secret(t, argo, ClusterSecretName("victim", "prod")) != nil {
		t.Error("a Secret was written for the victim project")
	}
}
