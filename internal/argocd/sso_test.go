package argocd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/identity/oidcprovider"
)

const argoHost = "https://argocd.example.com"

// operatorKeys are what an operator wrote into Argo CD's ConfigMaps besides
// the stock ones; the integration must never touch them.
func operatorKeys(cm, rbac *corev1.ConfigMap) {
	cm.Data["operator.note"] = "mine"
	cm.Data["timeout.reconciliation"] = "300s"
	rbac.Data = map[string]string{
		"policy.csv":          "p, role:deployer, applications, sync, */*, allow\ng, ops-team, role:admin\n",
		"policy.default":      "role:readonly",
		"policy.operator.csv": "p, role:auditor, logs, get, */*, allow\n",
	}
}

// checkOperatorKeys compares every key not gantry's with what the operator wrote.
func checkOperatorKeys(t *testing.T, e *testEnv, argo string) {
	t.Helper()
	wantCM, wantRBAC := &corev1.ConfigMap{}, &corev1.ConfigMap{}
	mustDo(t, readYAML("argocd-cm.yaml", wantCM))
	mustDo(t, readYAML("argocd-rbac-cm.yaml", wantRBAC))
	operatorKeys(wantCM, wantRBAC)
	for _, c := range []struct {
		name string
		want map[string]string
	}{{ConfigMapCM, wantCM.Data}, {ConfigMapRBAC, wantRBAC.Data}} {
		got := maps.Clone(e.configMap(t, argo, c.name).Data)
		maps.DeleteFunc(got, func(k, _ string) bool {
			return k == "url" || k == "oidc.config" || strings.HasPrefix(k, "policy.gantry-")
		})
		if !maps.Equal(got, c.want) {
			t.Errorf("%s: operator keys changed:\ngot  %v\nwant %v", c.name, got, c.want)
		}
	}
}

func ssoSpec(argo string, roles ...platformv1alpha1.ArgoCDRoleAssignment) *platformv1alpha1.ArgoCDIntegration {
	return &platformv1alpha1.ArgoCDIntegration{Enabled: true, Namespace: argo,
		SSO: &platformv1alpha1.ArgoCDSSO{Enabled: true, Host: argoHost, AssignedRoles: roles}}
}

// checkSSO checks argocd-cm, the OIDC clients and the secret Argo CD reads.
func checkSSO(t *testing.T, e *testEnv, argo string) {
	t.Helper()
	ctx := context.Background()
	cm := e.configMap(t, argo, ConfigMapCM)
	if cm.Data["url"] != argoHost {
		t.Errorf("url = %q", cm.Data["url"])
	}
	id := OIDCClientID(InCluster, argo)
	var oc struct {
		Name            string   `json:"name"`
		Issuer          string   `json:"issuer"`
		ClientID        string   `json:"clientID"`
		CLIClientID     string   `json:"cliClientID"`
		ClientSecret    string   `json:"clientSecret"`
		RequestedScopes []string `json:"requestedScopes"`
		RootCA          string   `json:"rootCA"`
	}
	if err := yaml.UnmarshalStrict([]byte(cm.Data["oidc.config"]), &oc); err != nil {
		t.Fatalf("oidc.config does not parse: %v\n%s", err, cm.Data["oidc.config"])
	}
	if oc.Name != "gantry" || oc.Issuer != issuer || oc.ClientID != id || oc.CLIClientID != id+"-cli" ||
		oc.ClientSecret != "$gantry-argocd-oidc:clientSecret" || oc.RootCA != string(issuerCA) ||
		!slices.Equal(oc.RequestedScopes, []string{"openid", "profile", "email", "groups"}) {
		t.Errorf("oidc.config = %+v", oc)
	}
	sec := e.secret(t, argo, OIDCSecretName)
	if sec == nil {
		t.Fatal("no Secret gantry-argocd-oidc")
	}
	if sec.Labels["app.kubernetes.io/part-of"] != "argocd" {
		t.Errorf("Secret labels = %v: Argo CD resolves $<secret>:<key> only with part-of: argocd", sec.Labels)
	}
	store := e.reconciler().OIDCClients
	c, err := store.Get(ctx, id)
	mustDo(t, err)
	if c.Public || !sameSet(c.RedirectURIs, []string{argoHost + "/auth/callback", "http://localhost:8085/auth/callback"}) {
		t.Errorf("client = %+v", c.ClientSpec)
	}
	// The secret is the client's: the store keeps its SHA-256.
	stored := e.secret(t, gantryNS, oidcprovider.ClientSecretName(id))
	sum := sha256.Sum256(sec.Data["clientSecret"])
	if len(sec.Data["clientSecret"]) == 0 || hex.EncodeToString(sum[:]) != string(stored.Data["secretSHA256"]) {
		t.Error("the secret in gantry-argocd-oidc is not the client's")
	}
	cli, err := store.Get(ctx, id+"-cli")
	mustDo(t, err)
	if !cli.Public || !slices.Equal(cli.RedirectURIs, []string{"http://localhost:8085/auth/callback"}) {
		t.Errorf("CLI client = %+v", cli.ClientSpec)
	}
}

func assertNoSSO(t *testing.T, e *testEnv, argo string) {
	t.Helper()
	cm := e.configMap(t, argo, ConfigMapCM)
	if _, ok := cm.Data["url"]; ok {
		t.Error("url left in argocd-cm")
	}
	if _, ok := cm.Data["oidc.config"]; ok {
		t.Error("oidc.config left in argocd-cm")
	}
	if e.secret(t, argo, OIDCSecretName) != nil {
		t.Error("Secret gantry-argocd-oidc left")
	}
	id := OIDCClientID(InCluster, argo)
	for _, c := range []string{id, id + "-cli"} {
		if _, err := e.reconciler().OIDCClients.Get(context.Background(), c); err == nil {
			t.Errorf("OIDC client %s left", c)
		}
	}
}

func policyLines(t *testing.T, e *testEnv, argo, proj string) []string {
	t.Helper()
	var out []string
	for l := range strings.SplitSeq(e.configMap(t, argo, ConfigMapRBAC).Data["policy.gantry-"+proj+".csv"], "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func TestSSO(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	argo := e.argoNamespace(t, operatorKeys)
	r := e.reconciler()
	alpha := e.newProject(t, "alpha", ssoSpec(argo,
		platformv1alpha1.ArgoCDRoleAssignment{ProjectRole: platformv1alpha1.RoleProjectAdmin, Role: "role:admin"},
		platformv1alpha1.ArgoCDRoleAssignment{Role: "role:deployer"}))
	e.synced(t, r, "alpha")
	checkSSO(t, e, argo)
	checkOperatorKeys(t, e, argo)
	want := []string{
		"g, gantry:project:alpha:project-admin, role:admin",
		"g, gantry:project:alpha:project-admin, role:deployer",
		"g, gantry:project:alpha:project-member, role:deployer",
		"g, gantry:project:alpha:project-viewer, role:deployer",
	}
	if got := policyLines(t, e, argo, "alpha"); !slices.Equal(got, want) {
		t.Errorf("alpha's policy = %q, want %q", got, want)
	}
	firstSecret := string(e.secret(t, argo, OIDCSecretName).Data["clientSecret"])

	// A second project against the same Argo CD shares url and oidc.config.
	e.newProject(t, "beta", ssoSpec(argo,
		platformv1alpha1.ArgoCDRoleAssignment{ProjectRole: platformv1alpha1.RoleProjectViewer, Role: "role:auditor"}))
	e.synced(t, r, "beta")
	checkSSO(t, e, argo)
	checkOperatorKeys(t, e, argo)
	if got := policyLines(t, e, argo, "beta"); !slices.Equal(got, []string{"g, gantry:project:beta:project-viewer, role:auditor"}) {
		t.Errorf("beta's policy = %q", got)
	}
	if got := string(e.secret(t, argo, OIDCSecretName).Data["clientSecret"]); got != firstSecret {
		t.Error("the second project changed the client secret")
	}
	owners := urlOwners(e.configMap(t, argo, ConfigMapCM))
	if !slices.Equal(owners, []string{FieldManager("alpha"), FieldManager("beta")}) {
		t.Errorf("url owned by %v, want both projects", owners)
	}

	// gantry's own configuration changing (its CA) moves every project to the
	// new oidc.config, although the others still hold the old one.
	r2 := e.reconciler()
	r2.IssuerCA = []byte("-----BEGIN CERTIFICATE-----\nMIIBnewca\n-----END CERTIFICATE-----\n")
	e.synced(t, r2, "alpha")
	if !strings.Contains(e.configMap(t, argo, ConfigMapCM).Data["oidc.config"], "MIIBnewca") {
		t.Error("the new CA is not in oidc.config")
	}
	e.synced(t, r2, "beta")
	e.synced(t, r, "beta")
	e.synced(t, r, "alpha")
	checkSSO(t, e, argo)
	if owners := oidcConfigOwners(e.configMap(t, argo, ConfigMapCM)); !slices.Equal(owners, []string{FieldManager("alpha"), FieldManager("beta")}) {
		t.Errorf("oidc.config owned by %v, want both projects again", owners)
	}

	// Turning alpha's SSO off removes only its key.
	update(t, e, alpha, func(p *platformv1alpha1.Project) { p.Spec.ArgoCD.SSO.Enabled = false })
	e.synced(t, r, "alpha")
	if _, ok := e.configMap(t, argo, ConfigMapRBAC).Data[PolicyKey("alpha")]; ok {
		t.Error("alpha's policy key stayed")
	}
	checkSSO(t, e, argo) // beta's
	checkOperatorKeys(t, e, argo)
	if len(policyLines(t, e, argo, "beta")) != 1 {
		t.Error("beta's policy changed")
	}

	// A lost client secret is replaced by a new one the client accepts.
	mustDo(t, e.c.Delete(ctx, e.secret(t, argo, OIDCSecretName)))
	e.synced(t, r, "beta")
	checkSSO(t, e, argo)
	if string(e.secret(t, argo, OIDCSecretName).Data["clientSecret"]) == firstSecret {
		t.Error("the lost secret came back: it should have been rotated")
	}

	// The last project turning SSO off removes it all, but for the operator's keys.
	beta := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "beta"}}
	update(t, e, beta, func(p *platformv1alpha1.Project) { p.Spec.ArgoCD.SSO.Enabled = false })
	e.synced(t, r, "beta")
	assertNoSSO(t, e, argo)
	checkOperatorKeys(t, e, argo)
	if _, ok := e.configMap(t, argo, ConfigMapRBAC).Data[PolicyKey("beta")]; ok {
		t.Error("beta's policy key stayed")
	}

	// Re-enabling restores; deleting the project removes it again.
	update(t, e, alpha, func(p *platformv1alpha1.Project) { p.Spec.ArgoCD.SSO.Enabled = true })
	e.synced(t, r, "alpha")
	checkSSO(t, e, argo)
	if len(policyLines(t, e, argo, "alpha")) != 4 {
		t.Error("alpha's policy not restored")
	}
	mustDo(t, e.c.Delete(ctx, alpha))
	e.reconcile(t, r, "alpha")
	assertNoSSO(t, e, argo)
	assertNothingFor(t, e, argo, "alpha")
	checkOperatorKeys(t, e, argo)
}

// urlOwners are the managers owning argocd-cm's data.url.
func urlOwners(cm *corev1.ConfigMap) []string { return owners(cm, "url") }

func oidcConfigOwners(cm *corev1.ConfigMap) []string { return owners(cm, "oidc.config") }

func owners(cm *corev1.ConfigMap, key string) []string {
	var out []string
	for _, m := range cm.ManagedFields {
		if m.FieldsV1 != nil && strings.Contains(string(m.FieldsV1.Raw), `"f:`+key+`"`) {
			out = append(out, m.Manager)
		}
	}
	slices.Sort(out)
	return out
}

// An operator's own oidc.config is a conflict: reported, theirs untouched,
// nothing of the integration written.
func TestSSOConflict(t *testing.T) {
	e := env(t)
	mine := "name: Okta\nissuer: https://okta.example.com\nclientID: abc\n"
	argo := e.argoNamespace(t, func(cm, rbac *corev1.ConfigMap) { cm.Data["oidc.config"] = mine })
	r := e.reconciler()
	e.newProject(t, "gamma", ssoSpec(argo))
	e.newVCluster(t, "gamma", "dev", nil)
	c := e.failing(t, r, "gamma", ReasonConflict)
	if !strings.Contains(c.Message, "oidc.config") {
		t.Errorf("message does not name the key: %s", c.Message)
	}
	cm := e.configMap(t, argo, ConfigMapCM)
	if cm.Data["oidc.config"] != mine {
		t.Error("the operator's oidc.config changed")
	}
	if _, ok := cm.Data["url"]; ok {
		t.Error("url was written")
	}
	assertNothingWritten(t, e, argo, "gamma")
}

// A role that Argo CD does not define: RoleNotFound, nothing written.
func TestSSORoleNotFound(t *testing.T) {
	e := env(t)
	argo := e.argoNamespace(t, nil)
	r := e.reconciler()
	e.newProject(t, "delta", ssoSpec(argo, platformv1alpha1.ArgoCDRoleAssignment{Role: "role:ghost"}))
	e.newVCluster(t, "delta", "dev", nil)
	c := e.failing(t, r, "delta", ReasonRoleNotFound)
	if !strings.Contains(c.Message, "role:ghost") {
		t.Errorf("message does not name the role: %s", c.Message)
	}
	assertNothingWritten(t, e, argo, "delta")
}

// Argo CD's namespace missing: the condition says so, nothing is written.
func TestNamespaceMissing(t *testing.T) {
	e := env(t)
	r := e.reconciler()
	a := ssoSpec("nowhere")
	a.Project = &platformv1alpha1.ArgoCDProject{Enabled: true}
	e.newProject(t, "eps", a)
	e.newVCluster(t, "eps", "dev", nil)
	c := e.failing(t, r, "eps", ReasonArgoCDNamespaceMissing)
	if !strings.Contains(c.Message, "nowhere") {
		t.Errorf("message does not name the namespace: %s", c.Message)
	}
	assertNothingWritten(t, e, "", "eps")
}

// Argo CD said to run in a cluster gantry cannot reach: a condition naming it
// and the fix, and nothing written anywhere.
func TestClusterUnreachable(t *testing.T) {
	e := env(t)
	r := e.reconciler()
	argo := e.argoNamespace(t, nil)
	a := ssoSpec(argo)
	a.Cluster = "p-elsewhere/gone"
	e.newProject(t, "zeta", a)
	e.newVCluster(t, "zeta", "dev", nil)
	c := e.failing(t, r, "zeta", ReasonClusterUnreachable)
	if !strings.Contains(c.Message, "p-elsewhere/gone") {
		t.Errorf("message does not name the cluster: %s", c.Message)
	}
	assertNothingWritten(t, e, argo, "zeta")
}

// assertNothingWritten: no Secret of the project anywhere, no key, no OIDC
// client, no manager of it in Argo CD's ConfigMaps, no marks on the Project.
func assertNothingWritten(t *testing.T, e *testEnv, argo, proj string) {
	t.Helper()
	ctx := context.Background()
	var list corev1.SecretList
	mustDo(t, e.c.List(ctx, &list, client.MatchingLabels{LabelProject: proj}))
	if len(list.Items) > 0 {
		t.Errorf("%d Secrets written", len(list.Items))
	}
	if keys, _ := e.reconciler().Keys.List(ctx, KeyOwner(proj)); len(keys) != 0 {
		t.Errorf("%d access keys issued", len(keys))
	}
	if argo != "" {
		if _, err := e.reconciler().OIDCClients.Get(ctx, OIDCClientID(InCluster, argo)); err == nil {
			t.Error("OIDC client registered")
		}
		for _, name := range []string{ConfigMapCM, ConfigMapRBAC} {
			for _, m := range e.configMap(t, argo, name).ManagedFields {
				if strings.HasPrefix(m.Manager, "gantry") {
					t.Errorf("%s written by %s", name, m.Manager)
				}
			}
		}
		if appProjectObject(t, e, argo, proj) != nil {
			t.Error("AppProject written")
		}
	}
	p := &platformv1alpha1.Project{}
	mustDo(t, e.c.Get(ctx, client.ObjectKey{Name: proj}, p))
	if len(p.Finalizers) > 0 || p.Annotations[AnnotationTarget] != "" {
		t.Errorf("project marked: %v %v", p.Finalizers, p.Annotations)
	}
}

// argocd-cm deleted between a reconcile's reading it and its writing: the
// write is refused (its uid), rather than creating an argocd-cm of gantry's
// keys alone; the next reconcile says Argo CD is not installed.
func TestSSONeverCreatesArgoCDConfig(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	argo := e.argoNamespace(t, nil)
	r := e.reconciler()
	p := e.newProject(t, "racy", ssoSpec(argo))
	in, err := r.connect(ctx, targetOf(p.Spec.ArgoCD))
	mustDo(t, err)
	pl, err := r.plan(ctx, p, in)
	mustDo(t, err)
	mustDo(t, e.c.Delete(ctx, e.configMap(t, argo, ConfigMapCM)))
	if _, err := pl.apply(ctx, r); err == nil {
		t.Fatal("the write went through")
	}
	if err := e.c.Get(ctx, client.ObjectKey{Namespace: argo, Name: ConfigMapCM}, &corev1.ConfigMap{}); err == nil {
		t.Fatal("gantry created argocd-cm")
	}
	e.failing(t, r, "racy", ReasonArgoCDNotInstalled)
}
