package argocd

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/gitops/cluster"
)

// Direct mode: Argo CD reaches the virtual cluster's own API server with the
// token of ServiceAccount argocd-manager. The test's API server stands in for
// the virtual cluster (its admin kubeconfig in Secret vc-<name>).
func TestDirect(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	argo := e.argoNamespace(t, nil)
	r := e.reconciler()
	p := e.newProject(t, "straight", &platformv1alpha1.ArgoCDIntegration{Enabled: true, Namespace: argo, Direct: true})
	admin := e.cp.Admin()
	kc, err := admin.Bytes()
	mustDo(t, err)
	mustDo(t, e.c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vc-dev", Namespace: "p-straight"},
		Data: map[string][]byte{"config": kc, "certificate-authority": admin.CA}}))
	vc := e.newVCluster(t, "straight", "dev", nil)
	vc.Status.Endpoint = e.cp.Endpoint()
	mustDo(t, e.c.Status().Update(ctx, vc))

	name := ClusterSecretName("straight", "dev")
	var s *corev1.Secret
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		e.synced(t, r, "straight")
		s = e.secret(t, argo, name)
		return s != nil, nil
	})
	if err != nil {
		t.Fatal("no cluster Secret: the token was never issued")
	}
	c, err := cluster.Parse(s)
	mustDo(t, err)
	if c.Server != e.cp.Endpoint() || string(c.REST.CAData) != string(admin.CA) || c.Name != "p-straight/dev" {
		t.Errorf("cluster = %s %s, CA %v", c.Name, c.Server, string(c.REST.CAData) == string(admin.CA))
	}
	if s.Annotations[AnnotationCredential] != CredentialServiceAccount || s.Annotations[AnnotationAccessKey] != "" {
		t.Errorf("annotations = %v", s.Annotations)
	}
	var raw map[string]any
	mustDo(t, json.Unmarshal(s.Data["config"], &raw))
	// The token works against the API server itself, as cluster-admin.
	kube := kubernetes.NewForConfigOrDie(&rest.Config{Host: c.Server, BearerToken: c.REST.BearerToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.REST.CAData}})
	if _, err := kube.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("the token does not work as cluster-admin: %v", err)
	}
	if keys, _ := r.Keys.List(ctx, KeyOwner("straight")); len(keys) != 0 {
		t.Errorf("access keys issued in direct mode: %d", len(keys))
	}

	// Back to the proxy: an access key, and argocd-manager is removed.
	update(t, e, p, func(p *platformv1alpha1.Project) { p.Spec.ArgoCD.Direct = false })
	if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(p)}); err != nil {
		t.Fatal(err)
	}
	checkClusterSecret(t, e, e.secret(t, argo, name), "straight", "dev", nil, "")
	sa := &corev1.ServiceAccount{}
	if err := e.c.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "argocd-manager"}, sa); err == nil {
		t.Error("ServiceAccount argocd-manager stayed")
	}
}
