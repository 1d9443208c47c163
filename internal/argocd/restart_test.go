package argocd

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

func TestNeedsRestart(t *testing.T) {
	const ca, ca2 = "-----BEGIN CERTIFICATE-----\nA\n", "-----BEGIN CERTIFICATE-----\nB\n"
	cfg := func(issuer, rootCA string) string {
		s := "name: gantry\nissuer: " + issuer + "\nclientID: argocd\n"
		if rootCA != "" {
			s += "rootCA: |\n  " + strings.ReplaceAll(strings.TrimSpace(rootCA), "\n", "\n  ") + "\n"
		}
		return s
	}
	for _, c := range []struct {
		name           string
		old            string
		issuer, rootCA string
		want           bool
	}{
		{"first write, own CA", "", issuer, ca, true},
		{"first write, publicly trusted", "", issuer, "", false},
		{"unchanged", cfg(issuer, ca), issuer, ca, false},
		{"unchanged, publicly trusted", cfg(issuer, ""), issuer, "", false},
		{"new CA", cfg(issuer, ca), issuer, ca2, true},
		{"CA dropped (now publicly trusted)", cfg(issuer, ca), issuer, "", true},
		{"new issuer (its provider is kept from the first sign-in)", cfg("https://old.example.com/oidc", ""), issuer, "", true},
		{"someone else's config", "not: [yaml", issuer, "", true},
	} {
		if got := needsRestart(c.old, c.issuer, c.rootCA); got != c.want {
			t.Errorf("%s: needsRestart = %v, want %v", c.name, got, c.want)
		}
	}
}

// serverDeployment is a Deployment as Argo CD's install manifests make it.
func serverDeployment(t *testing.T, e *testEnv, ns, name string) *appsv1.Deployment {
	t.Helper()
	labels := map[string]string{LabelName: name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "quay.io/argoproj/argocd:v3.3.10"}}},
			},
		},
	}
	mustDo(t, e.c.Create(context.Background(), d))
	return d
}

func (e *testEnv) template(t *testing.T, d *appsv1.Deployment) map[string]string {
	t.Helper()
	got := &appsv1.Deployment{}
	mustDo(t, e.c.Get(context.Background(), client.ObjectKeyFromObject(d), got))
	return got.Spec.Template.Annotations
}

func (e *testEnv) serverCondition(t *testing.T, proj string) *metav1.Condition {
	t.Helper()
	p := &platformv1alpha1.Project{}
	mustDo(t, e.c.Get(context.Background(), client.ObjectKey{Name: proj}, p))
	return meta.FindStatusCondition(p.Status.Conditions, ConditionServerUpToDate)
}

// Sign-in works the first time: writing oidc.config with gantry's own CA
// restarts argocd-server as `kubectl rollout restart` does, once, and only
// Argo CD's own Deployment of it; every project signing in there says so.
func TestServerRestart(t *testing.T) {
	e := env(t)
	argo := e.argoNamespace(t, nil)
	other := e.argoNamespaceNamed(t, "-other", nil)
	server := serverDeployment(t, e, argo, ServerName)
	repoServer := serverDeployment(t, e, argo, "argocd-repo-server")
	elsewhere := serverDeployment(t, e, other, ServerName)
	r := e.reconciler()

	e.newProject(t, "rs-one", ssoSpec(argo))
	e.synced(t, r, "rs-one")
	ann := e.template(t, server)
	restartedAt := ann[AnnotationRestartedAt]
	if _, err := time.Parse(time.RFC3339, restartedAt); err != nil || ann[AnnotationOIDCSettings] == "" {
		t.Fatalf("argocd-server not restarted: template annotations %v", ann)
	}
	for _, d := range []*appsv1.Deployment{repoServer, elsewhere} {
		if ann := e.template(t, d); len(ann) != 0 {
			t.Errorf("%s/%s restarted too: %v", d.Namespace, d.Name, ann)
		}
	}
	c := e.serverCondition(t, "rs-one")
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != ReasonServerRestarted ||
		!strings.Contains(c.Message, argo+"/"+ServerName) || !strings.Contains(c.Message, restartedAt) {
		t.Fatalf("condition %s = %+v", ConditionServerUpToDate, c)
	}

	// Later reconciles, and a second project signing in to the same Argo
	// CD, restart nothing: the settings did not change.
	time.Sleep(time.Second) // restartedAt has whole seconds: a second restart would show
	e.synced(t, r, "rs-one")
	e.newProject(t, "rs-two", ssoSpec(argo))
	e.synced(t, r, "rs-two")
	if got := e.template(t, server)[AnnotationRestartedAt]; got != restartedAt {
		t.Errorf("restarted again at %s", got)
	}
	if c := e.serverCondition(t, "rs-two"); c == nil || c.Reason != ReasonServerRestarted {
		t.Errorf("second project's condition = %+v", c)
	}

	// Turning sign-in off and on again (all of it: the shared keys go and
	// come back) restarts nothing: argocd-server started with these settings.
	for _, p := range []string{"rs-one", "rs-two"} {
		update(t, e, &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: p}}, func(p *platformv1alpha1.Project) { p.Spec.ArgoCD.SSO.Enabled = false })
		e.synced(t, r, p)
		if c := e.serverCondition(t, p); c != nil {
			t.Errorf("SSO off, yet condition %+v", c)
		}
	}
	assertNoSSO(t, e, argo)
	update(t, e, &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "rs-one"}}, func(p *platformv1alpha1.Project) { p.Spec.ArgoCD.SSO.Enabled = true })
	e.synced(t, r, "rs-one")
	if got := e.template(t, server)[AnnotationRestartedAt]; got != restartedAt {
		t.Errorf("restarted again at %s after sign-in was turned off and on", got)
	}

	// gantry's CA changes: one restart more.
	r2 := e.reconciler()
	r2.IssuerCA = []byte("-----BEGIN CERTIFICATE-----\nMIIBrotated\n-----END CERTIFICATE-----\n")
	e.synced(t, r2, "rs-one")
	if got := e.template(t, server); got[AnnotationRestartedAt] == restartedAt || got[AnnotationOIDCSettings] == ann[AnnotationOIDCSettings] {
		t.Errorf("not restarted for the new CA: %v", got)
	}
}

// When gantry's certificate is publicly trusted, oidc.config has no rootCA
// and argocd-server needs no restart.
func TestServerPubliclyTrusted(t *testing.T) {
	e := env(t)
	argo := e.argoNamespace(t, nil)
	server := serverDeployment(t, e, argo, ServerName)
	r := e.reconciler()
	r.IssuerCA = nil
	e.newProject(t, "public", ssoSpec(argo))
	e.synced(t, r, "public")
	if cfg := e.configMap(t, argo, ConfigMapCM).Data["oidc.config"]; strings.Contains(cfg, "rootCA") {
		t.Errorf("oidc.config has a rootCA:\n%s", cfg)
	}
	if ann := e.template(t, server); len(ann) != 0 {
		t.Errorf("argocd-server restarted: %v", ann)
	}
	if c := e.serverCondition(t, "public"); c != nil {
		t.Errorf("condition %+v", c)
	}
}

// Told not to, or where argocd-server is no Deployment gantry can find, the
// Project says it must be restarted, why, and how; a `kubectl rollout
// restart` afterwards is seen.
func TestServerRestartLeftToTheUser(t *testing.T) {
	e := env(t)
	r := e.reconciler()

	// No Deployment: Argo CD runs as processes (as in gantry's e2e tests).
	procs := e.argoNamespaceNamed(t, "-procs", nil)
	e.newProject(t, "rs-procs", ssoSpec(procs))
	e.synced(t, r, "rs-procs")
	c := e.serverCondition(t, "rs-procs")
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != ReasonServerDeploymentNotFound ||
		!strings.Contains(c.Message, "401") || !strings.Contains(c.Message, "app.kubernetes.io/name=argocd-server") ||
		!strings.Contains(c.Message, "Restart the argocd-server process") {
		t.Errorf("condition = %+v", c)
	}

	// Opted out: one project says no, another sharing the Argo CD does not.
	argo := e.argoNamespace(t, nil)
	server := serverDeployment(t, e, argo, ServerName)
	a := ssoSpec(argo)
	a.SSO.RestartServer = ptr(false)
	e.newProject(t, "rs-off", a)
	e.newProject(t, "rs-on", ssoSpec(argo))
	e.synced(t, r, "rs-off")
	e.synced(t, r, "rs-on")
	if ann := e.template(t, server); len(ann) != 0 {
		t.Fatalf("restarted although told not to: %v", ann)
	}
	command := "kubectl -n " + argo + " rollout restart deployment argocd-server"
	for proj, who := range map[string]string{"rs-off": "this project", "rs-on": "another project"} {
		c := e.serverCondition(t, proj)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != ReasonRestartDisabled ||
			!strings.Contains(c.Message, command) || !strings.Contains(c.Message, who) || strings.Contains(c.Message, "rs-off") {
			t.Errorf("%s: condition = %+v", proj, c)
		}
	}

	// The operator runs the command.
	update(t, e, server, func(d *appsv1.Deployment) {
		d.Spec.Template.Annotations = map[string]string{AnnotationRestartedAt: time.Now().UTC().Format(time.RFC3339)}
	})
	e.synced(t, r, "rs-off")
	if c := e.serverCondition(t, "rs-off"); c == nil || c.Status != metav1.ConditionTrue || c.Reason != ReasonRolloutRestarted {
		t.Errorf("after kubectl rollout restart: condition = %+v", c)
	}
}

// In Argo CD's cluster gantry needs only a Role in Argo CD's namespace (what
// docs/architecture.md lists); without patch on Deployments it says so.
func TestServerRestartRBAC(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	argo := e.argoNamespace(t, nil)
	server := serverDeployment(t, e, argo, ServerName)
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "gantry", Namespace: argo},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets", "configmaps"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
			{APIGroups: []string{"argoproj.io"}, Resources: []string{"appprojects"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list"}},
		},
	}
	mustDo(t, e.c.Create(ctx, role))
	mustDo(t, e.c.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "gantry", Namespace: argo},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "gantry"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "gantry-in-argocd"}},
	}))
	r := e.reconciler()
	as := rest.CopyConfig(e.cfg)
	as.Impersonate = rest.ImpersonationConfig{UserName: "gantry-in-argocd"}
	r.ArgoCDCluster = func(context.Context, string) (*rest.Config, error) { return as, nil }

	a := ssoSpec(argo)
	a.Project = &platformv1alpha1.ArgoCDProject{Enabled: true}
	e.newProject(t, "rs-rbac", a)
	e.newVCluster(t, "rs-rbac", "dev", nil)
	e.synced(t, r, "rs-rbac")
	if e.secret(t, argo, ClusterSecretName("rs-rbac", "dev")) == nil || appProjectObject(t, e, argo, "rs-rbac") == nil {
		t.Fatal("the Role is not enough for clusters and AppProject")
	}
	c := e.serverCondition(t, "rs-rbac")
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != ReasonForbidden || !strings.Contains(c.Message, "patch on deployments") {
		t.Errorf("condition = %+v", c)
	}
	update(t, e, role, func(r *rbacv1.Role) { r.Rules[2].Verbs = append(r.Rules[2].Verbs, "patch") })
	eventuallyReconciled(t, e, r, "rs-rbac", func(c *metav1.Condition) bool { return c != nil && c.Reason == ReasonServerRestarted })
	if ann := e.template(t, server); ann[AnnotationRestartedAt] == "" {
		t.Errorf("not restarted: %v", ann)
	}
}

// eventuallyReconciled reconciles proj until its server condition satisfies ok
// (RBAC changes take a moment to reach the authorizer).
func eventuallyReconciled(t *testing.T, e *testEnv, r *Reconciler, proj string, ok func(*metav1.Condition) bool) {
	t.Helper()
	eventually(t, "the condition "+ConditionServerUpToDate, func() bool {
		e.synced(t, r, proj)
		return ok(e.serverCondition(t, proj))
	})
}
