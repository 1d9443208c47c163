package projectapi

import (
	"context"
	"net/http"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/gitops/cluster"
)

const (
	admin  = platformv1alpha1.RoleProjectAdmin
	member = platformv1alpha1.RoleProjectMember
	viewer = platformv1alpha1.RoleProjectViewer
)

func TestUnauthenticated(t *testing.T) {
	f := setup(t)
	f.project(t, "unauth")
	for _, tok := range []string{"", "not-a-token"} {
		f.call(t, http.MethodGet, Prefix, tok, nil).Want(t, http.StatusUnauthorized, "Unauthorized")
		f.call(t, http.MethodGet, Prefix+"/unauth", tok, nil).Want(t, http.StatusUnauthorized, "")
		f.call(t, http.MethodDelete, Prefix+"/unauth", tok, nil).Want(t, http.StatusUnauthorized, "")
	}
	if !f.exists(t, "unauth") {
		t.Fatal("an unauthenticated DELETE deleted the project")
	}
}

func TestListFiltered(t *testing.T) {
	f := setup(t, "list-a")
	f.project(t, "list-a", user("alice", admin), user("victor", viewer))
	f.project(t, "list-b", user("victor", viewer))
	f.project(t, "list-c", platformv1alpha1.Member{Kind: platformv1alpha1.MemberTeam, Name: "web", Role: member})

	mine := func(tok string) []string {
		r := f.call(t, http.MethodGet, Prefix, tok, nil)
		r.Want(t, http.StatusOK, "")
		return slices.DeleteFunc(r.Names(), func(n string) bool { return len(n) < 5 || n[:5] != "list-" })
	}
	for tok, want := range map[string][]string{
		tAlice:               {"list-a"},
		tVictor:              {"list-a", "list-b"},
		tTina:                {"list-c"}, // through team web
		tMallory:             nil,
		tAdmin:               {"list-a", "list-b", "list-c"},
		tAdminKey + "list-a": {"list-a"}, // a scoped key sees its project only
	} {
		if got := mine(tok); !slices.Equal(got, want) {
			t.Errorf("%s lists %v, want %v", tok, got, want)
		}
	}
}

func TestGet(t *testing.T) {
	f := setup(t, "get-b")
	p := f.project(t, "get-a", user("alice", admin))
	f.project(t, "get-b")
	q := int32(3)
	p.Spec.Quotas.VirtualClusters = &q
	if err := f.c.Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	p.Status.Usage.VirtualClusters = 2
	meta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{Type: "ArgoIntegrationSynced", Status: metav1.ConditionFalse,
		Reason: "ArgoCDNamespaceMissing", Message: "namespace argocd does not exist"})
	if err := f.c.Status().Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}

	r := f.call(t, http.MethodGet, Prefix+"/get-a", tAlice, nil)
	r.Want(t, http.StatusOK, "")
	if r.JSON["name"] != "get-a" || r.JSON["namespace"] != "p-get-a" {
		t.Errorf("name/namespace: %s", r.Body)
	}
	if q := r.JSON["quotas"].(map[string]any); q["virtualClusters"] != float64(3) {
		t.Errorf("quotas: %s", r.Body)
	}
	if u := r.JSON["usage"].(map[string]any); u["virtualClusters"] != float64(2) {
		t.Errorf("usage: %s", r.Body)
	}
	conds := r.JSON["conditions"].([]any)
	if len(conds) != 1 || conds[0].(map[string]any)["type"] != "ArgoIntegrationSynced" {
		t.Errorf("conditions: %s", r.Body)
	}
	ms := r.JSON["members"].([]any)
	if len(ms) != 1 || ms[0].(map[string]any)["name"] != "alice" || ms[0].(map[string]any)["role"] != "project-admin" {
		t.Errorf("members: %s", r.Body)
	}
	f.call(t, http.MethodGet, Prefix+"/get-a/members", tAlice, nil).Want(t, http.StatusOK, "")

	f.call(t, http.MethodGet, Prefix+"/get-a", tMallory, nil).Want(t, http.StatusForbidden, "mallory cannot get projects get-a")
	// Refused the same whether it exists or not: a refusal tells nothing.
	f.call(t, http.MethodGet, Prefix+"/get-nothing", tMallory, nil).Want(t, http.StatusForbidden, "")
	f.call(t, http.MethodGet, Prefix+"/get-nothing", tAdmin, nil).Want(t, http.StatusNotFound, "project get-nothing not found")
	f.call(t, http.MethodGet, Prefix+"/get-a", tAdminKey+"get-b", nil).Want(t, http.StatusForbidden, "scoped to project get-b")
	f.call(t, http.MethodGet, Prefix+"/get-b", tAdminKey+"get-b", nil).Want(t, http.StatusOK, "")
}

func TestCreate(t *testing.T) {
	f := setup(t, "cr-other")
	t.Cleanup(func() {
		_ = f.c.Delete(context.Background(), &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "cr-shop"}})
	})

	body := map[string]any{"name": "cr-shop", "displayName": "Shop", "description": "the shop",
		"quotas":  map[string]any{"virtualClusters": 5, "applications": 20},
		"members": []any{map[string]any{"kind": "User", "name": "alice", "role": "project-admin"}}}
	f.call(t, http.MethodPost, Prefix, tAlice, body).Want(t, http.StatusForbidden, "alice cannot create projects cr-shop")
	f.call(t, http.MethodPost, Prefix, tAdminKey+"cr-other", body).Want(t, http.StatusForbidden, "scoped to project cr-other")
	if f.exists(t, "cr-shop") {
		t.Fatal("a refused create wrote the project")
	}

	r := f.call(t, http.MethodPost, Prefix, tAdmin, body)
	r.Want(t, http.StatusCreated, "")
	if r.JSON["namespace"] != "p-cr-shop" {
		t.Errorf("answer: %s", r.Body)
	}
	p := f.get(t, "cr-shop")
	if p.Spec.DisplayName != "Shop" || p.Spec.Description != "the shop" || *p.Spec.Quotas.VirtualClusters != 5 ||
		*p.Spec.Quotas.Applications != 20 || p.Spec.Quotas.RunningVirtualClusters != nil ||
		len(p.Spec.Members) != 1 || p.Spec.Members[0] != user("alice", admin) {
		t.Errorf("stored spec: %+v", p.Spec)
	}
	f.call(t, http.MethodPost, Prefix, tAdmin, body).Want(t, http.StatusConflict, "project cr-shop already exists")

	for _, c := range []struct {
		name string
		body any
		code int
		msg  string
	}{
		{"bad name", map[string]any{"name": "Bad_Name"}, http.StatusBadRequest, `project name "Bad_Name"`},
		{"too long", map[string]any{"name": "cr-abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"}, http.StatusBadRequest, "at most 61"},
		{"no name", map[string]any{"displayName": "x"}, http.StatusBadRequest, `no "name"`},
		{"unknown field", `{"name": "cr-x", "quota": {}}`, http.StatusBadRequest, `unknown field "quota"`},
		{"wrong case", `{"name": "cr-x", "DisplayName": "x"}`, http.StatusBadRequest, `unknown field "DisplayName"`},
		{"nested unknown", `{"name": "cr-x", "quotas": {"cpus": 3}}`, http.StatusBadRequest, `unknown field "cpus"`},
		{"wrong type", `{"name": "cr-x", "quotas": {"applications": "many"}}`, http.StatusBadRequest, "quotas.applications"},
		{"not json", `name=cr-x`, http.StatusBadRequest, "not a JSON object"},
		{"empty", ``, http.StatusBadRequest, "empty"},
		{"trailing", `{"name": "cr-x"} {}`, http.StatusBadRequest, "not a JSON object"},
		{"negative quota", map[string]any{"name": "cr-x", "quotas": map[string]any{"applications": -1}}, http.StatusBadRequest, "quotas.applications is -1"},
		{"unknown member", map[string]any{"name": "cr-x", "members": []any{map[string]any{"kind": "User", "name": "nobody", "role": "project-admin"}}}, http.StatusNotFound, "user nobody does not exist"},
		{"unknown role", map[string]any{"name": "cr-x", "members": []any{map[string]any{"kind": "User", "name": "alice", "role": "owner"}}}, http.StatusBadRequest, `member role "owner"`},
		{"destination", map[string]any{"name": "cr-x", "allowedDestinations": []any{map[string]any{"namespace": "x"}}}, http.StatusBadRequest, "allowedDestinations[0]"},
		{"too large", `{"name": "cr-x", "description": "` + string(make([]byte, 70<<10)) + `"}`, http.StatusRequestEntityTooLarge, "larger than"},
	} {
		f.call(t, http.MethodPost, Prefix, tAdmin, c.body).Want(t, c.code, c.msg)
		if f.exists(t, "cr-x") {
			t.Fatalf("%s: the project was written", c.name)
		}
	}
}

func TestUpdate(t *testing.T) {
	f := setup(t)
	f.project(t, "up", user("alice", admin), user("victor", viewer))
	path := Prefix + "/up"

	r := f.call(t, http.MethodPut, path, tAlice, map[string]any{"displayName": "Up", "description": "d"})
	r.Want(t, http.StatusOK, "")
	if r.JSON["displayName"] != "Up" {
		t.Errorf("answer: %s", r.Body)
	}
	if p := f.get(t, "up"); p.Spec.DisplayName != "Up" || p.Spec.Description != "d" {
		t.Errorf("stored: %+v", p.Spec)
	}
	// PATCH: what is left out stays; null clears.
	f.call(t, http.MethodPatch, path, tAlice, `{"description": null}`).Want(t, http.StatusOK, "")
	if p := f.get(t, "up"); p.Spec.DisplayName != "Up" || p.Spec.Description != "" {
		t.Errorf("after PATCH: %+v", p.Spec)
	}

	before := f.get(t, "up").ResourceVersion
	f.call(t, http.MethodPut, path, tVictor, map[string]any{"displayName": "V"}).Want(t, http.StatusForbidden, "victor cannot update projects up")
	f.call(t, http.MethodPut, path, tMallory, map[string]any{"displayName": "M"}).Want(t, http.StatusForbidden, "")
	// A project admin cannot lift their own limits.
	f.call(t, http.MethodPut, path, tAlice, map[string]any{"quotas": map[string]any{"applications": 1000}}).Want(t, http.StatusForbidden, "changing quotas")
	f.call(t, http.MethodPut, path, tAlice, map[string]any{"allowedDestinations": []any{map[string]any{"server": "*", "namespace": "*"}}}).
		Want(t, http.StatusForbidden, "allowedDestinations")
	f.call(t, http.MethodPut, path, tAlice, map[string]any{"argoCD": map[string]any{"enabled": true}}).Want(t, http.StatusForbidden, "where Argo CD runs")
	f.call(t, http.MethodPut, path, tAlice, map[string]any{"argoCD": map[string]any{"enabled": true, "cluster": "p-nope/dev"}}).
		Want(t, http.StatusForbidden, "where Argo CD runs") // not 400 listing the clusters
	f.call(t, http.MethodPut, path, tAlice, `{"displayName": "x", "members": []}`).Want(t, http.StatusBadRequest, `unknown field "members"`)
	f.call(t, http.MethodPut, path, tAdmin, map[string]any{"argoCD": map[string]any{"enabled": true, "cluster": "p-nope/dev"}}).
		Want(t, http.StatusBadRequest, `argoCD.cluster "p-nope/dev" is not a cluster registered with gantry (known: in-cluster`)
	f.call(t, http.MethodPut, path, tAdmin, map[string]any{"argoCD": map[string]any{"enabled": true, "sso": map[string]any{"enabled": true, "host": "argocd"}}}).
		Want(t, http.StatusBadRequest, "argoCD.sso.host")
	f.call(t, http.MethodPut, path, tAdmin, map[string]any{"argoCD": map[string]any{"enabled": true, "namespace": "Argo CD"}}).
		Want(t, http.StatusBadRequest, "argoCD.namespace")
	if p := f.get(t, "up"); p.ResourceVersion != before {
		t.Fatalf("a refused update wrote the project: %+v", p.Spec)
	}

	// An administrator may; then the project admin may tune and turn off the integration.
	f.call(t, http.MethodPut, path, tAdmin, map[string]any{
		"quotas":              map[string]any{"applications": 10},
		"allowedDestinations": []any{map[string]any{"server": "https://kubernetes.default.svc", "namespace": "shop-*"}},
		"argoCD":              map[string]any{"enabled": true, "cluster": "in-cluster", "namespace": "argocd"},
	}).Want(t, http.StatusOK, "")
	p := f.get(t, "up")
	if *p.Spec.Quotas.Applications != 10 || len(p.Spec.AllowedDestinations) != 1 || p.Spec.ArgoCD == nil || !p.Spec.ArgoCD.Enabled {
		t.Fatalf("stored: %+v", p.Spec)
	}
	// Argo CD roles are global in a shared Argo CD: only an administrator grants them.
	withSSO := func(host string) map[string]any {
		return map[string]any{"argoCD": map[string]any{"enabled": true, "cluster": "in-cluster", "namespace": "argocd",
			"sso": map[string]any{"enabled": true, "host": host, "assignedRoles": []any{map[string]any{"projectRole": "project-admin", "role": "role:admin"}}}}}
	}
	f.call(t, http.MethodPatch, path, tAlice, withSSO("https://argocd.example.com")).Want(t, http.StatusForbidden, "Argo CD roles")
	f.call(t, http.MethodPatch, path, tAdmin, withSSO("https://argocd.old.example.com")).Want(t, http.StatusOK, "")
	// The same grants, another host: a project admin may.
	f.call(t, http.MethodPatch, path, tAlice, withSSO("https://argocd.example.com")).Want(t, http.StatusOK, "")
	if p := f.get(t, "up"); p.Spec.ArgoCD.SSO == nil || p.Spec.ArgoCD.SSO.Host != "https://argocd.example.com" {
		t.Fatalf("sso not stored: %+v", p.Spec.ArgoCD)
	}
	// Telling gantry not to restart argocd-server holds up every project
	// signing in to that Argo CD: only an administrator may; saying it may
	// again, anyone who may change the project.
	noRestart := withSSO("https://argocd.example.com")
	noRestart["argoCD"].(map[string]any)["sso"].(map[string]any)["restartServer"] = false
	f.call(t, http.MethodPatch, path, tAlice, noRestart).Want(t, http.StatusForbidden, "sso.restartServer")
	f.call(t, http.MethodPatch, path, tAdmin, noRestart).Want(t, http.StatusOK, "")
	if p := f.get(t, "up"); p.Spec.ArgoCD.SSO.RestartServer == nil || *p.Spec.ArgoCD.SSO.RestartServer {
		t.Fatalf("restartServer not stored: %+v", p.Spec.ArgoCD.SSO)
	}
	f.call(t, http.MethodPatch, path, tAlice, withSSO("https://argocd.example.com")).Want(t, http.StatusOK, "")
	f.call(t, http.MethodPatch, path, tAlice, map[string]any{"argoCD": map[string]any{"enabled": true, "namespace": "elsewhere"}}).
		Want(t, http.StatusForbidden, "where Argo CD runs")
	f.call(t, http.MethodPatch, path, tAlice, map[string]any{"argoCD": map[string]any{"enabled": false}}).Want(t, http.StatusOK, "")
	if p := f.get(t, "up"); p.Spec.ArgoCD.Enabled || *p.Spec.Quotas.Applications != 10 {
		t.Fatalf("after turning off: %+v", p.Spec)
	}
	f.call(t, http.MethodPut, Prefix+"/up-nothing", tAdmin, map[string]any{"displayName": "x"}).Want(t, http.StatusNotFound, "project up-nothing not found")
}

func TestMembers(t *testing.T) {
	f := setup(t)
	f.project(t, "mem", user("alice", admin), user("victor", viewer))
	path := Prefix + "/mem/members"
	members := func() []platformv1alpha1.Member { return f.get(t, "mem").Spec.Members }

	f.call(t, http.MethodPost, path, tAlice, map[string]any{"kind": "User", "name": "bob", "role": "project-member"}).Want(t, http.StatusOK, "")
	f.call(t, http.MethodPost, path, tAlice, map[string]any{"kind": "Team", "name": "web", "role": "project-viewer"}).Want(t, http.StatusOK, "")
	// Again, with another role: replaced, not duplicated.
	r := f.call(t, http.MethodPost, path, tAlice, map[string]any{"kind": "User", "name": "bob", "role": "project-viewer"})
	r.Want(t, http.StatusOK, "")
	want := []platformv1alpha1.Member{user("alice", admin), user("victor", viewer),
		{Kind: platformv1alpha1.MemberTeam, Name: "web", Role: viewer}, user("bob", viewer)}
	if got := members(); !slices.Equal(got, want) {
		t.Fatalf("members %v, want %v", got, want)
	}
	if len(r.JSON["members"].([]any)) != 4 {
		t.Errorf("answer: %s", r.Body)
	}

	for _, c := range []struct {
		tok  string
		body any
		code int
		msg  string
	}{
		{tVictor, map[string]any{"kind": "User", "name": "mallory", "role": "project-admin"}, http.StatusForbidden, "victor cannot update projects mem"},
		{tMallory, map[string]any{"kind": "User", "name": "mallory", "role": "project-admin"}, http.StatusForbidden, ""},
		{tAlice, map[string]any{"kind": "User", "name": "nobody", "role": "project-member"}, http.StatusNotFound, "user nobody does not exist"},
		{tAlice, map[string]any{"kind": "Team", "name": "noteam", "role": "project-member"}, http.StatusNotFound, "team noteam does not exist"},
		{tAlice, map[string]any{"kind": "User", "name": "bob", "role": "owner"}, http.StatusBadRequest, `member role "owner"`},
		{tAlice, map[string]any{"kind": "Group", "name": "bob", "role": "project-member"}, http.StatusBadRequest, `member kind "Group"`},
		{tAlice, map[string]any{"kind": "User", "role": "project-member"}, http.StatusBadRequest, "no name"},
		{tAlice, `{"kind": "User", "name": "bob", "role": "project-member", "extra": 1}`, http.StatusBadRequest, `unknown field "extra"`},
	} {
		f.call(t, http.MethodPost, path, c.tok, c.body).Want(t, c.code, c.msg)
	}
	if got := members(); !slices.Equal(got, want) {
		t.Fatalf("refused calls changed members: %v", got)
	}
	f.call(t, http.MethodDelete, path+"/User/bob", tVictor, nil).Want(t, http.StatusForbidden, "")
	f.call(t, http.MethodDelete, path+"/user/bob", tAlice, nil).Want(t, http.StatusOK, "")
	f.call(t, http.MethodDelete, path+"/Team/web", tAlice, nil).Want(t, http.StatusOK, "")
	f.call(t, http.MethodDelete, path+"/User/bob", tAlice, nil).Want(t, http.StatusNotFound, "user bob is not a member of project mem")
	f.call(t, http.MethodDelete, path+"/Robot/bob", tAlice, nil).Want(t, http.StatusBadRequest, "User or Team")
	if got := members(); !slices.Equal(got, want[:2]) {
		t.Fatalf("members after removals %v", got)
	}
}

func TestDelete(t *testing.T) {
	f := setup(t, "del-other")
	f.project(t, "del", user("alice", admin))
	f.project(t, "del-other")
	f.call(t, http.MethodDelete, Prefix+"/del", tAlice, nil).Want(t, http.StatusForbidden, "alice cannot delete projects del")
	f.call(t, http.MethodDelete, Prefix+"/del", tAdminKey+"del-other", nil).Want(t, http.StatusForbidden, "scoped")
	if !f.exists(t, "del") {
		t.Fatal("a refused delete deleted")
	}
	f.call(t, http.MethodDelete, Prefix+"/del", tAdmin, nil).Want(t, http.StatusOK, "")
	if f.exists(t, "del") {
		t.Fatal("still there")
	}
	f.call(t, http.MethodDelete, Prefix+"/del", tAdmin, nil).Want(t, http.StatusNotFound, "project del not found")
}

func TestRoutes(t *testing.T) {
	f := setup(t)
	f.call(t, http.MethodPost, Prefix+"/x", tAdmin, "{}").Want(t, http.StatusMethodNotAllowed, "not supported")
	f.call(t, http.MethodGet, Prefix+"/x/y/z", tAdmin, nil).Want(t, http.StatusNotFound, "no such API path")
}

// A project's rules bound what its apps may touch: an administrator sets
// them, a project admin may not, and rules the engine could not compile are
// refused before they are stored.
func TestRules(t *testing.T) {
	f := setup(t)
	t.Cleanup(func() {
		_ = f.c.Delete(context.Background(), &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "ru-shop"}})
	})
	f.call(t, http.MethodPost, Prefix, tAdmin, map[string]any{"name": "ru-shop",
		"members":     []any{map[string]any{"kind": "User", "name": "alice", "role": "project-admin"}},
		"sourceRepos": []any{"https://github.com/acme/*"}, "podSecurity": "restricted",
		"clusterResourceWhitelist": []any{map[string]any{"group": "", "kind": "Namespace"}}}).Want(t, http.StatusCreated, "")
	p := f.get(t, "ru-shop")
	if len(p.Spec.SourceRepos) != 1 || p.Spec.PodSecurity != "restricted" || len(p.Spec.ClusterResourceWhitelist) != 1 {
		t.Fatalf("stored: %+v", p.Spec)
	}
	r := f.call(t, http.MethodGet, Prefix+"/ru-shop", tAlice, nil)
	r.Want(t, http.StatusOK, "")
	if r.JSON["podSecurity"] != "restricted" || r.JSON["localRepositories"] != false {
		t.Errorf("the project admin's view: %s", r.Body)
	}

	path := Prefix + "/ru-shop"
	before := f.get(t, "ru-shop").ResourceVersion
	for _, body := range []map[string]any{
		{"localRepositories": true},
		{"sourceRepos": []any{"*"}},
		{"podSecurity": "privileged"},
		{"clusterResourceWhitelist": []any{map[string]any{"group": "*", "kind": "*"}}},
		{"network": map[string]any{"openIngress": true}},
		{"namespaceResourceBlacklist": []any{map[string]any{"group": "", "kind": "Secret"}}}, // narrowing too: it can break running apps
		{"virtualClusterStorage": map[string]any{"secretName": "pg"}},                        // gantry would connect to any server named
		{"virtualClusterOwnStorage": true},                                                   // so would it to any a cluster names
	} {
		f.call(t, http.MethodPut, path, tAlice, body).Want(t, http.StatusForbidden, "its rules")
	}
	if f.get(t, "ru-shop").ResourceVersion != before {
		t.Fatal("a refused change of rules wrote the project")
	}
	f.call(t, http.MethodPut, path, tAdmin, map[string]any{"sourceRepos": []any{"https://[broken"}}).Want(t, http.StatusBadRequest, "spec.sourceRepos[0]")
	f.call(t, http.MethodPut, path, tAdmin, map[string]any{"podSecurity": "lax"}).Want(t, http.StatusBadRequest, "not a Pod Security Standard")
	f.call(t, http.MethodPut, path, tAdmin, map[string]any{"allowedDestinations": []any{map[string]any{"server": "*"}}}).Want(t, http.StatusBadRequest, "no namespace")
	f.call(t, http.MethodPut, path, tAdmin, map[string]any{"localRepositories": true}).Want(t, http.StatusOK, "")
	if p := f.get(t, "ru-shop"); !p.Spec.LocalRepositories || p.Spec.PodSecurity != "restricted" || len(p.Spec.SourceRepos) != 1 {
		t.Errorf("a PUT of one rule changed others: %+v", p.Spec)
	}
	own := f.call(t, http.MethodPut, path, tAdmin, map[string]any{"virtualClusterOwnStorage": true})
	if own.Want(t, http.StatusOK, ""); own.JSON["virtualClusterOwnStorage"] != true {
		t.Errorf("the answer does not show virtualClusterOwnStorage: %s", own.Body)
	}
	if p := f.get(t, "ru-shop"); !p.Spec.VirtualClusterOwnStorage || !p.Spec.LocalRepositories {
		t.Errorf("virtualClusterOwnStorage not stored, or others changed: %+v", p.Spec)
	}
	// A project admin may still change what is theirs.
	f.call(t, http.MethodPut, path, tAlice, map[string]any{"displayName": "Shop"}).Want(t, http.StatusOK, "")

	// Where the clusters keep their data changes only while there are none.
	f.call(t, http.MethodPut, path, tAdmin, map[string]any{"virtualClusterStorage": map[string]any{"secretName": "pg"}}).Want(t, http.StatusOK, "")
	if p := f.get(t, "ru-shop"); p.Spec.VirtualClusterStorage == nil || p.Spec.VirtualClusterStorage.SecretName != "pg" {
		t.Fatalf("virtualClusterStorage not stored: %+v", p.Spec.VirtualClusterStorage)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "p-ru-shop"}}
	if err := f.c.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	vc := &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "p-ru-shop", Name: "dev"}}
	if err := f.c.Create(context.Background(), vc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.c.Delete(context.Background(), vc) })
	f.call(t, http.MethodPut, path, tAdmin, map[string]any{"virtualClusterStorage": nil}).Want(t, http.StatusConflict, "has 1 virtual cluster(s) (dev first)")
	f.call(t, http.MethodPut, path, tAdmin, map[string]any{"displayName": "Shop 2"}).Want(t, http.StatusOK, "")
}

// A cluster registered with gantry (a cluster Secret in its namespace) may be
// where a project's Argo CD runs.
func TestArgoCDOnRegisteredCluster(t *testing.T) {
	f := setup(t)
	f.project(t, "argo-reg")
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "prod", Namespace: f.api.Namespace,
		Labels: map[string]string{cluster.SecretTypeLabel: cluster.SecretTypeValue}},
		StringData: map[string]string{"name": "prod", "server": "https://prod.example.com", "config": `{"bearerToken": "t"}`}}
	if err := f.c.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.c.Delete(context.Background(), s) })
	f.call(t, http.MethodPut, Prefix+"/argo-reg", tAdmin, map[string]any{"argoCD": map[string]any{"enabled": true, "cluster": "prod"}}).Want(t, http.StatusOK, "")
}
