package argocd

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/identity/accesskeys"
)

// checkClusterSecret checks a cluster Secret key by key against Argo CD's
// declarative-setup.md ("Clusters") and returns the access key record its
// token verifies as.
func checkClusterSecret(t *testing.T, e *testEnv, s *corev1.Secret, proj, vc string, vcLabels map[string]string, appProject string) accesskeys.Key {
	t.Helper()
	wantLabels := maps.Clone(vcLabels)
	if wantLabels == nil {
		wantLabels = map[string]string{}
	}
	maps.Copy(wantLabels, map[string]string{
		"argocd.argoproj.io/secret-type": "cluster",
		"app.kubernetes.io/managed-by":   "gantry",
		"gantry.dev/project":             proj,
		"gantry.dev/vcluster":            vc,
	})
	if !maps.Equal(s.Labels, wantLabels) {
		t.Errorf("labels = %v, want %v", s.Labels, wantLabels)
	}
	wantKeys := []string{"config", "name", "server"}
	if appProject != "" {
		wantKeys = append(wantKeys, "project")
		slices.Sort(wantKeys)
	}
	if keys := slices.Sorted(maps.Keys(s.Data)); !slices.Equal(keys, wantKeys) {
		t.Errorf("data keys = %v, want %v", keys, wantKeys)
	}
	if got, want := string(s.Data["name"]), "p-"+proj+"/"+vc; got != want {
		t.Errorf("name = %q, want %q", got, want)
	}
	if got, want := string(s.Data["server"]), testProxy+"/kubernetes/project/"+proj+"/virtualcluster/"+vc; got != want {
		t.Errorf("server = %q, want %q", got, want)
	}
	if got := string(s.Data["project"]); got != appProject {
		t.Errorf("project = %q, want %q", got, appProject)
	}
	// config, as Argo CD reads it: bearerToken and tlsClientConfig with
	// base64 PEM caData, insecure false.
	var cfg struct {
		BearerToken     string `json:"bearerToken"`
		TLSClientConfig struct {
			CAData   string `json:"caData"`
			Insecure bool   `json:"insecure"`
		} `json:"tlsClientConfig"`
	}
	var raw map[string]json.RawMessage
	mustDo(t, json.Unmarshal(s.Data["config"], &raw))
	if keys := slices.Sorted(maps.Keys(raw)); !slices.Equal(keys, []string{"bearerToken", "tlsClientConfig"}) {
		t.Errorf("config keys = %v", keys)
	}
	mustDo(t, json.Unmarshal(s.Data["config"], &cfg))
	if cfg.TLSClientConfig.Insecure {
		t.Error("insecure is true")
	}
	var ca []byte
	mustDo(t, json.Unmarshal([]byte(`"`+cfg.TLSClientConfig.CAData+`"`), &ca))
	if string(ca) != string(proxyCA) {
		t.Errorf("caData = %q, want the proxy CA", ca)
	}
	// gantry's own reader of the format agrees.
	c, err := cluster.Parse(s)
	mustDo(t, err)
	if c.REST.BearerToken != cfg.BearerToken || string(c.REST.CAData) != string(proxyCA) {
		t.Error("cluster.Parse reads other credentials")
	}
	store := e.reconciler().Keys
	rec, err := accesskeys.Verify(cfg.BearerToken, func(id string) (accesskeys.Key, bool) { return store.Get(context.Background(), id) })
	if err != nil {
		t.Fatalf("the bearer token is not a working access key: %v", err)
	}
	if rec.ID != s.Annotations[AnnotationAccessKey] || s.Annotations[AnnotationCredential] != CredentialAccessKey {
		t.Errorf("annotations %v do not name key %s", s.Annotations, rec.ID)
	}
	if !rec.System || !rec.Passive || rec.Owner != "argocd_"+proj ||
		!slices.Equal(rec.Groups, []string{"gantry:project:" + proj + ":project-admin"}) ||
		rec.Scope != (accesskeys.Scope{Project: proj, VirtualCluster: vc}) {
		t.Errorf("key record = %+v", rec)
	}
	return rec
}

func TestClusters(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	argo := e.argoNamespace(t, nil)
	r := e.reconciler()
	p := e.newProject(t, "shop", &platformv1alpha1.ArgoCDIntegration{Enabled: true, Namespace: argo})
	devLabels := map[string]string{"env": "dev", "team": "web"}
	dev := e.newVCluster(t, "shop", "dev", func(vc *platformv1alpha1.VirtualCluster) { vc.Spec.Labels = devLabels })
	e.newVCluster(t, "shop", "quiet", func(vc *platformv1alpha1.VirtualCluster) { vc.Spec.ArgoCD = ptr(false) })

	c := e.synced(t, r, "shop")
	if c.Message == "" {
		t.Error("no summary")
	}
	name := ClusterSecretName("shop", "dev")
	s := e.secret(t, argo, name)
	if s == nil {
		t.Fatal("no cluster Secret for dev")
	}
	rec := checkClusterSecret(t, e, s, "shop", "dev", devLabels, "")
	if e.secret(t, argo, ClusterSecretName("shop", "quiet")) != nil {
		t.Error("quiet (spec.argoCD: false) was added")
	}
	mustDo(t, e.c.Get(ctx, client.ObjectKeyFromObject(p), p))
	if !slices.Contains(p.Finalizers, Finalizer) || p.Annotations[AnnotationTarget] != argo+"@in-cluster" {
		t.Errorf("project not marked: finalizers %v annotations %v", p.Finalizers, p.Annotations)
	}

	// A restart (a new reconciler) changes nothing.
	e.synced(t, e.reconciler(), "shop")
	if again := e.secret(t, argo, name); again.ResourceVersion != s.ResourceVersion {
		t.Error("a second reconcile rewrote the Secret")
	}

	// A revoked key is replaced, and its record removed.
	old, _ := r.Keys.Get(ctx, rec.ID)
	old.Revoked = true
	mustDo(t, r.Keys.Save(ctx, old))
	e.synced(t, r, "shop")
	s = e.secret(t, argo, name)
	rec2 := checkClusterSecret(t, e, s, "shop", "dev", devLabels, "")
	if rec2.ID == rec.ID {
		t.Fatal("the revoked key is still in use")
	}
	if _, ok := r.Keys.Get(ctx, rec.ID); ok {
		t.Error("the revoked key's record is still there")
	}
	// So is a deleted one.
	mustDo(t, r.Keys.Delete(ctx, rec2.ID))
	e.synced(t, r, "shop")
	rec3 := checkClusterSecret(t, e, e.secret(t, argo, name), "shop", "dev", devLabels, "")
	if rec3.ID == rec2.ID {
		t.Fatal("the deleted key is still named")
	}
	// A deleted cluster Secret is written again.
	mustDo(t, e.c.Delete(ctx, e.secret(t, argo, name)))
	e.synced(t, r, "shop")
	rec4 := checkClusterSecret(t, e, e.secret(t, argo, name), "shop", "dev", devLabels, "")
	if _, ok := r.Keys.Get(ctx, rec3.ID); ok {
		t.Error("the key of the deleted Secret was not cleaned up")
	}

	// The label turns a cluster on when the project's default is off.
	update(t, e, p, func(p *platformv1alpha1.Project) { p.Spec.ArgoCD.ImportVirtualClusters = ptr(false) })
	e.newVCluster(t, "shop", "lab", func(vc *platformv1alpha1.VirtualCluster) { vc.Labels = map[string]string{LabelImport: "true"} })
	e.synced(t, r, "shop")
	if e.secret(t, argo, name) != nil {
		t.Error("dev stayed although the project's default is now off")
	}
	if _, ok := r.Keys.Get(ctx, rec4.ID); ok {
		t.Error("dev's key stayed")
	}
	checkClusterSecret(t, e, e.secret(t, argo, ClusterSecretName("shop", "lab")), "shop", "lab", nil, "")

	// The virtual cluster's own toggle wins.
	update(t, e, dev, func(vc *platformv1alpha1.VirtualCluster) { vc.Spec.ArgoCD = ptr(true) })
	e.synced(t, r, "shop")
	checkClusterSecret(t, e, e.secret(t, argo, name), "shop", "dev", devLabels, "")
	update(t, e, dev, func(vc *platformv1alpha1.VirtualCluster) { vc.Spec.ArgoCD = ptr(false) })
	e.synced(t, r, "shop")
	if e.secret(t, argo, name) != nil {
		t.Error("dev stayed after its toggle was turned off")
	}

	// A deleted virtual cluster's Secret and key go.
	mustDo(t, e.c.DeleteAllOf(ctx, &platformv1alpha1.VirtualCluster{}, client.InNamespace("p-shop")))
	e.synced(t, r, "shop")
	if e.secret(t, argo, ClusterSecretName("shop", "lab")) != nil {
		t.Error("lab's Secret stayed after the virtual cluster was deleted")
	}
	if keys, _ := r.Keys.List(ctx, KeyOwner("shop")); len(keys) != 0 {
		t.Errorf("keys left: %v", keys)
	}

	// Disabling the integration removes everything and the marks.
	e.newVCluster(t, "shop", "again", func(vc *platformv1alpha1.VirtualCluster) { vc.Spec.ArgoCD = ptr(true) })
	e.synced(t, r, "shop")
	if e.secret(t, argo, ClusterSecretName("shop", "again")) == nil {
		t.Fatal("again not added")
	}
	update(t, e, p, func(p *platformv1alpha1.Project) { p.Spec.ArgoCD.Enabled = false })
	if c := e.reconcile(t, r, "shop"); c != nil {
		t.Errorf("condition stayed after disabling: %+v", c)
	}
	assertNothingFor(t, e, argo, "shop")
	mustDo(t, e.c.Get(ctx, client.ObjectKeyFromObject(p), p))
	if slices.Contains(p.Finalizers, Finalizer) || p.Annotations[AnnotationTarget] != "" {
		t.Errorf("marks stayed: %v %v", p.Finalizers, p.Annotations)
	}

	// Re-enabling restores; deleting the project removes everything.
	update(t, e, p, func(p *platformv1alpha1.Project) { p.Spec.ArgoCD.Enabled = true })
	e.synced(t, r, "shop")
	if e.secret(t, argo, ClusterSecretName("shop", "again")) == nil {
		t.Fatal("re-enabling did not restore the Secret")
	}
	mustDo(t, e.c.Delete(ctx, p))
	e.reconcile(t, r, "shop")
	assertNothingFor(t, e, argo, "shop")
	if err := e.c.Get(ctx, client.ObjectKeyFromObject(p), p); err == nil {
		t.Errorf("project still there: finalizers %v", p.Finalizers)
	}
}

// assertNothingFor checks that nothing of project is left in Argo CD's
// namespace or among the access keys.
func assertNothingFor(t *testing.T, e *testEnv, argo, proj string) {
	t.Helper()
	ctx := context.Background()
	var list corev1.SecretList
	mustDo(t, e.c.List(ctx, &list, client.InNamespace(argo), client.MatchingLabels{LabelProject: proj}))
	if len(list.Items) > 0 {
		t.Errorf("%d Secrets of %s left in %s", len(list.Items), proj, argo)
	}
	if keys, _ := e.reconciler().Keys.List(ctx, KeyOwner(proj)); len(keys) != 0 {
		t.Errorf("%d access keys of %s left", len(keys), proj)
	}
	for _, name := range []string{ConfigMapCM, ConfigMapRBAC} {
		cm := e.configMap(t, argo, name)
		for _, m := range cm.ManagedFields {
			if m.Manager == FieldManager(proj) {
				t.Errorf("%s still has fields of %s", name, m.Manager)
			}
		}
	}
	ap := appProjectObject(t, e, argo, proj)
	if ap != nil {
		t.Errorf("AppProject %s left", proj)
	}
}
