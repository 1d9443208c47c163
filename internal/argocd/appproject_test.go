package argocd

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

func appProjectObject(t *testing.T, e *testEnv, argo, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(AppProjectGVK)
	err := e.c.Get(context.Background(), client.ObjectKey{Namespace: argo, Name: name}, u)
	if apierrors.IsNotFound(err) {
		return nil
	}
	mustDo(t, err)
	return u
}

// appProjectSpec is the AppProject spec fields the integration writes.
type appProjectSpec struct {
	Description  string   `json:"description"`
	SourceRepos  []string `json:"sourceRepos"`
	Destinations []struct {
		Server    string `json:"server"`
		Namespace string `json:"namespace"`
	} `json:"destinations"`
	ClusterResourceWhitelist []struct{ Group, Kind string } `json:"clusterResourceWhitelist"`
	Roles                    []struct {
		Name        string   `json:"name"`
		Description string   `json:"description"`
		Policies    []string `json:"policies"`
		Groups      []string `json:"groups"`
	} `json:"roles"`
}

func readAppProject(t *testing.T, u *unstructured.Unstructured) appProjectSpec {
	t.Helper()
	raw, err := json.Marshal(u.Object["spec"])
	mustDo(t, err)
	var s appProjectSpec
	mustDo(t, json.Unmarshal(raw, &s))
	return s
}

func TestAppProject(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	argo := e.argoNamespace(t, nil)
	r := e.reconciler()
	p := e.newProject(t, "shipit", &platformv1alpha1.ArgoCDIntegration{Enabled: true, Namespace: argo,
		Project: &platformv1alpha1.ArgoCDProject{Enabled: true, Roles: []platformv1alpha1.ArgoCDProjectRole{{
			Name: "deployers", Description: "may sync",
			Policies:     []string{"p, proj:shipit:deployers, applications, sync, shipit/*, allow"},
			ProjectRoles: []platformv1alpha1.ProjectRole{platformv1alpha1.RoleProjectMember},
			Groups:       []string{"team:ops"},
		}}}})
	e.newVCluster(t, "shipit", "dev", nil)
	e.newVCluster(t, "shipit", "prod", nil)
	e.synced(t, r, "shipit")

	u := appProjectObject(t, e, argo, "shipit")
	if u == nil {
		t.Fatal("no AppProject")
	}
	if !ownedBy(u, "shipit") {
		t.Errorf("labels = %v", u.GetLabels())
	}
	s := readAppProject(t, u)
	if !slices.Equal(s.SourceRepos, []string{"*"}) {
		t.Errorf("sourceRepos = %v", s.SourceRepos)
	}
	var servers []string
	for _, d := range s.Destinations {
		if d.Namespace != "*" {
			t.Errorf("destination namespace %q", d.Namespace)
		}
		servers = append(servers, d.Server)
	}
	base := testProxy + "/kubernetes/project/shipit/virtualcluster/"
	if !slices.Equal(servers, []string{base + "dev", base + "prod"}) {
		t.Errorf("destinations = %v", servers)
	}
	if len(s.Roles) != 1 || s.Roles[0].Name != "deployers" || s.Roles[0].Description != "may sync" ||
		!slices.Equal(s.Roles[0].Policies, []string{"p, proj:shipit:deployers, applications, sync, shipit/*, allow"}) ||
		!slices.Equal(s.Roles[0].Groups, []string{"gantry:project:shipit:project-member", "team:ops"}) {
		t.Errorf("roles = %+v", s.Roles)
	}
	for _, vc := range []string{"dev", "prod"} {
		checkClusterSecret(t, e, e.secret(t, argo, ClusterSecretName("shipit", vc)), "shipit", vc, nil, "shipit")
	}

	// Repositories and a removed cluster follow.
	update(t, e, p, func(p *platformv1alpha1.Project) {
		p.Spec.ArgoCD.Project.SourceRepos = []string{"https://git.example.com/shipit/*"}
	})
	mustDo(t, e.c.Delete(ctx, &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "prod", Namespace: "p-shipit"}}))
	e.synced(t, r, "shipit")
	s = readAppProject(t, appProjectObject(t, e, argo, "shipit"))
	if !slices.Equal(s.SourceRepos, []string{"https://git.example.com/shipit/*"}) {
		t.Errorf("sourceRepos = %v", s.SourceRepos)
	}
	if len(s.Destinations) != 1 || s.Destinations[0].Server != base+"dev" {
		t.Errorf("destinations = %+v, want dev only", s.Destinations)
	}

	// Turning the part off removes the AppProject and the clusters' project key.
	update(t, e, p, func(p *platformv1alpha1.Project) { p.Spec.ArgoCD.Project.Enabled = false })
	e.synced(t, r, "shipit")
	if appProjectObject(t, e, argo, "shipit") != nil {
		t.Error("AppProject stayed")
	}
	checkClusterSecret(t, e, e.secret(t, argo, ClusterSecretName("shipit", "dev")), "shipit", "dev", nil, "")

	// Someone else's AppProject of that name is a conflict.
	other := appProject(p, argo, nil)
	other.SetLabels(nil)
	mustDo(t, e.c.Create(ctx, other))
	update(t, e, p, func(p *platformv1alpha1.Project) { p.Spec.ArgoCD.Project.Enabled = true })
	e.failing(t, r, "shipit", ReasonConflict)
	if got := appProjectObject(t, e, argo, "shipit"); len(got.GetLabels()) != 0 {
		t.Error("someone else's AppProject was taken over")
	}
}

// Argo CD's CRDs missing where it runs: a condition, nothing written. The
// client's REST mapper knows only core kinds, as discovery of such a cluster would.
func TestAppProjectCRDMissing(t *testing.T) {
	e := env(t)
	argo := e.argoNamespace(t, nil)
	mapper := meta.NewDefaultRESTMapper(nil)
	for _, k := range []string{"Secret", "ConfigMap"} {
		mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: k}, meta.RESTScopeNamespace)
	}
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, meta.RESTScopeRoot)
	noCRDs, err := client.New(e.cp.RESTConfig(), client.Options{Scheme: e.c.Scheme(), Mapper: mapper})
	mustDo(t, err)
	r := e.reconciler()
	cfg, _ := r.ArgoCDCluster(context.Background(), InCluster)
	r.clients = map[string]cachedClient{InCluster: {cfg: cfg, c: noCRDs}}
	e.newProject(t, "nocrd", &platformv1alpha1.ArgoCDIntegration{Enabled: true, Namespace: argo,
		Project: &platformv1alpha1.ArgoCDProject{Enabled: true}})
	e.newVCluster(t, "nocrd", "dev", nil)
	c := e.failing(t, r, "nocrd", ReasonAppProjectCRDMissing)
	if !strings.Contains(c.Message, "AppProject") {
		t.Errorf("message: %s", c.Message)
	}
	assertNothingWritten(t, e, argo, "nocrd")
}
