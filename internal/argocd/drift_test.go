package argocd

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/kubetest"
)

// repairWait is the upper bound the drift tests wait for a repair: generous
// (a loaded machine), while the figure the issue asks for (5 s) is what they
// log, measured.
const repairWait = 30 * time.Second

// measure polls until done holds and returns how long that took.
func measure(t *testing.T, what string, done func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, repairWait, true,
		func(context.Context) (bool, error) { return done(), nil })
	if err != nil {
		t.Fatalf("%s: not within %s", what, repairWait)
	}
	d := time.Since(start)
	t.Logf("drift repaired: %s in %s", what, d.Round(time.Millisecond))
	return d
}

// runIntegration runs the integration in a manager, as the platform does,
// with Argo CD reached as the reconciler from r (nil: e's host).
func (e *testEnv) runIntegration(t *testing.T, edit func(*Reconciler)) {
	t.Helper()
	kubetest.Shared(t, kubetest.Options{CRDs: true}).Manager(t, func(mgr ctrl.Manager) error {
		r := e.reconciler()
		r.Client = mgr.GetClient()
		if edit != nil {
			edit(r)
		}
		return r.SetupWithManager(mgr)
	})
}

func (e *testEnv) syncedCondition(t *testing.T, proj string) *metav1.Condition {
	t.Helper()
	p := &platformv1alpha1.Project{}
	mustDo(t, e.c.Get(context.Background(), client.ObjectKey{Name: proj}, p))
	return meta.FindStatusCondition(p.Status.Conditions, ConditionSynced)
}

func (e *testEnv) isSynced(t *testing.T, proj string) bool {
	c := e.syncedCondition(t, proj)
	return c != nil && c.Status == metav1.ConditionTrue
}

// Drift in Argo CD's cluster is repaired as it happens, not at the next
// resync (set to an hour here): each piece gantry wrote, deleted or changed,
// comes back; while it cannot (Argo CD's argocd-cm gone), the Project is not
// Synced.
func TestDriftRepaired(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	argo := e.argoNamespace(t, operatorKeys)
	e.runIntegration(t, func(r *Reconciler) { r.Resync = time.Hour })
	a := ssoSpec(argo, platformv1alpha1.ArgoCDRoleAssignment{Role: "role:readonly"})
	a.Project = &platformv1alpha1.ArgoCDProject{Enabled: true}
	e.newProject(t, "drift", a)
	e.newVCluster(t, "drift", "dev", nil)
	secretName := ClusterSecretName("drift", "dev")
	eventually(t, "the integration synced", func() bool {
		return e.isSynced(t, "drift") && e.secret(t, argo, secretName) != nil && appProjectObject(t, e, argo, "drift") != nil
	})
	var times []time.Duration

	// A cluster Secret deleted.
	old := e.secret(t, argo, secretName)
	mustDo(t, e.c.Delete(ctx, old))
	times = append(times, measure(t, "deleted cluster Secret", func() bool {
		s := e.secret(t, argo, secretName)
		return s != nil && s.UID != old.UID
	}))
	// Its server changed.
	update(t, e, e.secret(t, argo, secretName), func(s *corev1.Secret) { s.Data["server"] = []byte("https://attacker.example.com") })
	times = append(times, measure(t, "changed cluster Secret", func() bool {
		return strings.HasPrefix(string(e.secret(t, argo, secretName).Data["server"]), testProxy)
	}))
	// argocd-cm's oidc.config and argocd-rbac-cm's policy key taken out (kubectl edit).
	for _, c := range []struct{ cm, key string }{{ConfigMapCM, "oidc.config"}, {ConfigMapRBAC, PolicyKey("drift")}} {
		update(t, e, e.configMap(t, argo, c.cm), func(cm *corev1.ConfigMap) { delete(cm.Data, c.key) })
		times = append(times, measure(t, c.cm+" "+c.key+" removed", func() bool {
			_, ok := e.configMap(t, argo, c.cm).Data[c.key]
			return ok
		}))
	}
	// The OIDC Secret deleted.
	oidc := e.secret(t, argo, OIDCSecretName)
	mustDo(t, e.c.Delete(ctx, oidc))
	times = append(times, measure(t, "deleted "+OIDCSecretName, func() bool {
		s := e.secret(t, argo, OIDCSecretName)
		return s != nil && s.UID != oidc.UID && len(s.Data[OIDCSecretKey]) > 0
	}))
	// The AppProject deleted.
	ap := appProjectObject(t, e, argo, "drift")
	mustDo(t, e.c.Delete(ctx, ap))
	times = append(times, measure(t, "deleted AppProject", func() bool {
		got := appProjectObject(t, e, argo, "drift")
		return got != nil && got.GetUID() != ap.GetUID()
	}))
	checkOperatorKeys(t, e, argo)

	// Argo CD's argocd-cm gone (Argo CD re-installed): gantry never makes
	// Argo CD's configuration, so the Project says it is not Synced until
	// argocd-cm is back, and then gets its keys back.
	mustDo(t, e.c.Delete(ctx, e.configMap(t, argo, ConfigMapCM)))
	measure(t, "status after argocd-cm deleted", func() bool {
		c := e.syncedCondition(t, "drift")
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == ReasonArgoCDNotInstalled
	})
	stock := &corev1.ConfigMap{}
	mustDo(t, readYAML("argocd-cm.yaml", stock))
	stock.Namespace = argo
	mustDo(t, e.c.Create(ctx, stock))
	times = append(times, measure(t, "argocd-cm re-created", func() bool {
		_, ok := e.configMap(t, argo, ConfigMapCM).Data["oidc.config"]
		return ok && e.isSynced(t, "drift")
	}))
	slices.Sort(times)
	t.Logf("drift repaired: %d repairs, median %s, max %s", len(times), times[len(times)/2].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
}

// Argo CD in a cluster gantry reaches through a cluster Secret of its own
// (here the same API server, as a ServiceAccount with a Role in Argo CD's
// namespace only): bad credentials are reported, new ones are used at once,
// and what gantry wrote there is watched through them.
func TestArgoCDClusterCredentials(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	k := kubetest.Shared(t, kubetest.Options{CRDs: true})
	argo := e.argoNamespace(t, nil)
	for _, o := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "gantry", Namespace: argo}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "gantry", Namespace: argo}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets", "configmaps"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
			{APIGroups: []string{"argoproj.io"}, Resources: []string{"appprojects"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "patch"}},
		}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "gantry", Namespace: argo},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "gantry"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "gantry", Namespace: argo}}},
	} {
		mustDo(t, e.c.Create(ctx, o))
	}
	token := func() string {
		tr, err := k.Kube.CoreV1().ServiceAccounts(argo).CreateToken(ctx, "gantry", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		mustDo(t, err)
		return tr.Status.Token
	}
	// The cluster, registered with gantry as Argo CD does it.
	clusterName := "argocd-remote"
	writeCluster := func(bearer string) {
		cfg, _ := json.Marshal(cluster.Config{BearerToken: bearer, TLSClientConfig: cluster.TLSClientConfig{CAData: e.cfg.CAData}})
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cluster-argocd-remote", Namespace: gantryNS,
			Labels: map[string]string{cluster.SecretTypeLabel: cluster.SecretTypeValue}},
			Data: map[string][]byte{"name": []byte(clusterName), "server": []byte(e.cfg.Host), "config": cfg}}
		got := &corev1.Secret{}
		if err := e.c.Get(ctx, client.ObjectKeyFromObject(s), got); apierrors.IsNotFound(err) {
			mustDo(t, e.c.Create(ctx, s))
			t.Cleanup(func() { e.c.Delete(ctx, s) })
			return
		}
		update(t, e, got, func(got *corev1.Secret) { got.Data = s.Data })
	}
	writeCluster("not-a-token")
	e.runIntegration(t, func(r *Reconciler) { r.ArgoCDCluster, r.Resync = nil, time.Hour })

	a := &platformv1alpha1.ArgoCDIntegration{Enabled: true, Cluster: clusterName, Namespace: argo}
	e.newProject(t, "remote", a)
	e.newVCluster(t, "remote", "dev", nil)
	eventually(t, "ClusterUnreachable with bad credentials", func() bool {
		c := e.syncedCondition(t, "remote")
		return c != nil && c.Reason == ReasonClusterUnreachable && strings.Contains(c.Message, clusterName)
	})

	// Real credentials: used at once, not at the next resync (an hour).
	writeCluster(token())
	measure(t, "new credentials of Argo CD's cluster acted on", func() bool {
		return e.isSynced(t, "remote") && e.secret(t, argo, ClusterSecretName("remote", "dev")) != nil
	})
	// What gantry wrote is watched through them.
	old := e.secret(t, argo, ClusterSecretName("remote", "dev"))
	mustDo(t, e.c.Delete(ctx, old))
	measure(t, "deleted cluster Secret in a remote Argo CD", func() bool {
		s := e.secret(t, argo, ClusterSecretName("remote", "dev"))
		return s != nil && s.UID != old.UID
	})
	// Rotated credentials: repairs go on.
	writeCluster(token())
	old = e.secret(t, argo, ClusterSecretName("remote", "dev"))
	mustDo(t, e.c.Delete(ctx, old))
	measure(t, "deleted cluster Secret after the credentials rotated", func() bool {
		s := e.secret(t, argo, ClusterSecretName("remote", "dev"))
		return s != nil && s.UID != old.UID
	})
	// Credentials taken away: reported as such.
	writeCluster("revoked")
	measure(t, "revoked credentials reported", func() bool {
		c := e.syncedCondition(t, "remote")
		return c != nil && c.Reason == ReasonClusterUnreachable
	})
}
