package platform

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/api/apitest"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/kubetest"
	"gantry.dev/gantry/internal/server"
	"gantry.dev/gantry/internal/vcluster"
	"gantry.dev/gantry/internal/webui"
)

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	os.Exit(kubetest.Main(m))
}

// The project the walk attacks, the project its callers belong to, and the
// name of every object it aims at (apps, sets, virtual clusters, users,
// teams, OIDC clients): a 2xx answer that names one reveals it.
const (
	victim   = "alpha"
	home     = "beta"
	target   = "quarry"
	password = "walk-password-1"
)

// TestEveryRouteIsGuarded walks every route of a running platform, as the
// router lists them: without credentials each answers 401 unless it was
// registered public; as a viewer of another project, and with an
// administrator's access key scoped to another project, no route changes or
// reveals the victim project's objects (nor users, teams and OIDC clients,
// which belong to no project).
func TestEveryRouteIsGuarded(t *testing.T) {
	w := startWalk(t)
	routes := w.p.router.Routes()
	if len(routes) < 40 {
		t.Fatalf("the router lists %d routes: too few to be all of gantry's", len(routes))
	}
	public := 0
	for _, rt := range routes {
		if rt.Auth == api.Public {
			public++
			if rt.Reason == "" {
				t.Errorf("public route %s has no reason", rt.Pattern)
			}
			continue
		}
		for _, method := range methods(rt) {
			if r := w.Do("", method, w.path(rt), w.body(rt, method)); r.Code != http.StatusUnauthorized {
				t.Errorf("%s %s without credentials: %d %s", method, rt.Path(), r.Code, r.Body)
			}
		}
	}
	t.Logf("%d routes, %d public", len(routes), public)

	before := w.snapshot()
	for _, caller := range []struct{ name, token string }{{"a viewer of " + home, w.viewer}, {"an admin's key for " + home, w.scopedKey}} {
		// Public routes too: one registered public by mistake must not reveal either.
		for _, rt := range routes {
			for _, method := range methods(rt) {
				r := w.Do(caller.token, method, w.path(rt), w.body(rt, method))
				if r.Code >= 200 && r.Code < 300 && (strings.Contains(r.Body, target) || strings.Contains(r.Body, victim)) {
					t.Errorf("%s %s as %s reveals %s's objects: %d %s", method, rt.Path(), caller.name, victim, r.Code, r.Body)
				}
				if r.Code >= 500 {
					t.Errorf("%s %s as %s: %d %s", method, rt.Path(), caller.name, r.Code, r.Body)
				}
			}
		}
	}
	if after := w.snapshot(); after != before {
		t.Errorf("the walk changed the victim's objects:\nbefore %s\nafter  %s", before, after)
	}

	// The browser's session cookie works on the API, never on the proxy,
	// whose answers may be a tenant's pages: 401 there, not 403.
	withCookie := func(path string) int {
		req, _ := http.NewRequest("GET", w.URL+path, nil)
		req.AddCookie(&http.Cookie{Name: authn.CookieName, Value: w.viewer})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := withCookie("/api/v1/projects"); code != http.StatusOK {
		t.Errorf("the session cookie on the API: %d", code)
	}
	if code := withCookie("/kubernetes/project/" + victim + "/virtualcluster/" + target + "/api"); code != http.StatusUnauthorized {
		t.Errorf("the session cookie on the proxy: %d, want 401", code)
	}
}

// methods are the methods to try on a route: its own, or a few for a route
// that takes every method (the proxy).
func methods(rt api.Route) []string {
	if m := rt.Method(); m != "" {
		return []string{m}
	}
	return []string{http.MethodGet, http.MethodPost, http.MethodDelete}
}

// walk is a running platform with the victim's objects in place.
type walk struct {
	*apitest.Client
	t      *testing.T
	p      *Platform
	direct client.Client
	admin  string
	// viewer is a session of a viewer of home; scopedKey an admin's access
	// key scoped to home.
	viewer, scopedKey string
	// keyID is an access key of the admin's, for /api/v1/accesskeys/{id}.
	keyID string
}

func startWalk(t *testing.T) *walk {
	t.Helper()
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	srv, err := server.Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	p, err := New(Options{Host: env.Config, Server: srv, UI: webui.Handler(), Logger: logr.Discard(), DataDir: dataDir, GitPollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
	})
	go func() { _ = p.Run(ctx); done <- struct{}{} }()
	go func() { _ = srv.Serve(ctx); done <- struct{}{} }()
	select {
	case <-p.Started():
	case <-time.After(60 * time.Second):
		t.Fatal("the platform did not start within a minute")
	}
	token, err := os.ReadFile(authn.AdminTokenPath(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	w := &walk{Client: &apitest.Client{T: t, URL: srv.URL()}, t: t, p: p, direct: env.Client, admin: string(token)}
	w.seed()
	return w
}

// seed makes, as the admin through the API, the victim project and its
// objects, a user and a team and an OIDC client named target, and the
// attackers' credentials.
func (w *walk) seed() {
	w.must("POST", "/api/v1/users", map[string]any{"name": "victor", "password": password}, http.StatusCreated)
	w.must("POST", "/api/v1/users", map[string]any{"name": target, "password": password}, http.StatusCreated)
	w.must("POST", "/api/v1/teams", map[string]any{"name": target, "users": []string{target}}, http.StatusCreated)
	w.must("POST", "/api/v1/projects", map[string]any{"name": victim,
		"members": []any{map[string]any{"kind": "User", "name": target, "role": "project-admin"}}}, http.StatusCreated)
	w.must("POST", "/api/v1/projects", map[string]any{"name": home,
		"members": []any{map[string]any{"kind": "User", "name": "victor", "role": "project-viewer"}}}, http.StatusCreated)
	apitest.Eventually(w.t, 30*time.Second, "the projects' namespaces", func() bool {
		for _, p := range []string{victim, home} {
			if w.direct.Get(context.Background(), client.ObjectKey{Name: "p-" + p}, &corev1.Namespace{}) != nil {
				return false
			}
		}
		return true
	})
	w.must("POST", "/api/v1/applications", appBody(target), http.StatusOK)
	w.must("POST", "/api/v1/applicationsets", appSetBody(target), http.StatusOK)
	// Asleep, so that no control plane starts; the proxy would wake it for
	// a caller allowed to connect.
	vc := &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: target, Namespace: "p-" + victim,
		Annotations: map[string]string{vcluster.SleepingAnnotation: "walk"}}}
	if err := w.direct.Create(context.Background(), vc); err != nil {
		w.t.Fatal(err)
	}
	// A cluster of the victim project's, as its admin would add it (the
	// API would first reach the server, which does not exist).
	if err := w.direct.Create(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cluster-" + target, Namespace: SystemNamespace,
		Labels: map[string]string{cluster.SecretTypeLabel: cluster.SecretTypeValue}},
		StringData: map[string]string{"name": target, "server": "https://127.0.0.9:1", "project": victim, "config": `{"bearerToken": "walk"}`}}); err != nil {
		w.t.Fatal(err)
	}
	w.must("POST", "/api/v1/oidc-clients", map[string]any{"id": target, "redirectURIs": []string{"https://app.example.com/cb"}}, http.StatusOK)
	var key struct{ ID, Key string }
	w.must("POST", "/api/v1/accesskeys", map[string]any{"name": target}, http.StatusOK).Decode(w.t, &key)
	w.keyID = key.ID
	w.must("POST", "/api/v1/accesskeys", map[string]any{"name": "scoped", "project": home}, http.StatusOK).Decode(w.t, &key)
	w.scopedKey = key.Key
	var session struct{ Token string }
	w.Expect("", "POST", "/api/v1/session", map[string]any{"username": "victor", "password": password}, http.StatusOK).Decode(w.t, &session)
	w.viewer = session.Token
}

func appBody(name string) map[string]any {
	return map[string]any{"metadata": map[string]any{"name": name}, "spec": map[string]any{"project": victim,
		"source":      map[string]any{"repoURL": "https://git.invalid/walk.git", "path": "."},
		"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "p-" + victim}}}
}

func appSetBody(name string) map[string]any {
	return map[string]any{"metadata": map[string]any{"name": name}, "spec": map[string]any{
		"generators": []any{map[string]any{"list": map[string]any{"elements": []any{map[string]any{"env": "x"}}}}},
		"template":   map[string]any{"metadata": map[string]any{"name": name + "-{{env}}"}, "spec": appBody(name)["spec"]}}}
}

// path fills a route's wildcards with the victim's objects.
func (w *walk) path(rt api.Route) string {
	p := rt.Path()
	id := target
	if strings.HasPrefix(p, "/api/v1/accesskeys/") {
		id = w.keyID
	}
	for wildcard, value := range map[string]string{"{project}": victim, "{name}": target, "{id}": id,
		"{kind}": "User", "{member}": target, "{path...}": "api/v1/namespaces/default/secrets", "{name...}": target} {
		p = strings.ReplaceAll(p, wildcard, value)
	}
	return p + "?appNamespace=p-" + victim + "&appsetNamespace=p-" + victim + "&project=" + victim
}

// body is what a call sends: what would change the victim's objects, or
// make new ones in the victim project, were the call allowed.
func (w *walk) body(rt api.Route, method string) any {
	if method == http.MethodGet || method == http.MethodDelete {
		return nil
	}
	p := rt.Path()
	switch {
	case p == "/api/v1/applications":
		return appBody("walk")
	case p == "/api/v1/applicationsets":
		return appSetBody("walk")
	case strings.HasSuffix(p, "/resource/actions"):
		return `"restart"`
	case strings.HasSuffix(p, "/rollback"):
		return map[string]any{"id": 1}
	case p == "/api/v1/virtualclusters/{project}":
		return map[string]any{"name": "walk"}
	case strings.HasPrefix(p, "/api/v1/virtualclusters/"):
		return map[string]any{"sleepAfter": "1m"}
	case p == "/api/v1/projects":
		return map[string]any{"name": "walk"}
	case strings.HasSuffix(p, "/members"):
		return map[string]any{"kind": "User", "name": "victor", "role": "project-admin"}
	case strings.HasPrefix(p, "/api/v1/projects/"):
		return map[string]any{"description": "walked"}
	case p == "/api/v1/users" || p == "/api/v1/teams":
		return map[string]any{"name": "walk"}
	case strings.HasSuffix(p, "/password"):
		return map[string]any{"password": "walked-password-2"}
	case strings.HasPrefix(p, "/api/v1/users/"):
		return map[string]any{"groups": []string{"walked"}}
	case strings.HasPrefix(p, "/api/v1/teams/"):
		return map[string]any{"users": []string{"victor"}}
	case p == "/api/v1/oidc-clients":
		return map[string]any{"id": "walk", "redirectURIs": []string{"https://app.example.com/cb"}}
	case p == "/api/v1/accesskeys":
		return map[string]any{"name": "walk", "project": home}
	case p == "/api/v1/clusters":
		return map[string]any{"name": "walk", "server": "https://127.0.0.8:1", "project": victim, "config": map[string]any{"bearerToken": "walk"}}
	}
	return map[string]any{}
}

// snapshot is what the walk must not change: the victim's objects' specs
// and operations, its members, and what was made in its name.
func (w *walk) snapshot() string {
	ctx := context.Background()
	var out []string
	add := func(what string, obj client.Object, extra ...any) {
		err := w.direct.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if err != nil {
			out = append(out, what+": "+err.Error())
			return
		}
		b, _ := json.Marshal(extra)
		out = append(out, what+": generation "+itoa(obj.GetGeneration())+" deleting "+itoa(boolInt(obj.GetDeletionTimestamp() != nil))+" "+string(b))
	}
	ns := "p-" + victim
	app := &gitopsv1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: target, Namespace: ns}}
	add("app", app)
	out = append(out, "operation "+itoa(boolInt(app.Operation != nil))+" annotations "+mapString(app.Annotations))
	add("appset", &gitopsv1alpha1.ApplicationSet{ObjectMeta: metav1.ObjectMeta{Name: target, Namespace: ns}})
	vc := &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: target, Namespace: ns}}
	add("vcluster", vc)
	out = append(out, "vcluster annotations "+mapString(vc.Annotations))
	proj := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: victim}}
	add("project", proj)
	members, _ := json.Marshal(proj.Spec.Members)
	out = append(out, "members "+string(members)+" description "+proj.Spec.Description)
	user := &platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: target}}
	add("user", user)
	out = append(out, "user groups "+strings.Join(user.Spec.Groups, ","))
	pw := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "gantry-user-" + target, Namespace: SystemNamespace}}
	add("password", pw)
	out = append(out, "password "+pw.ResourceVersion)
	team := &platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: target}}
	add("team", team)
	out = append(out, "team users "+strings.Join(team.Spec.Users, ","))
	var secrets corev1.SecretList
	_ = w.direct.List(ctx, &secrets, client.InNamespace(SystemNamespace))
	for _, s := range secrets.Items {
		// OIDC clients and access keys: changed only by rotation or revocation.
		if strings.HasPrefix(s.Name, "gantry-oidc-client") || s.Name == "gantry-accesskey-"+w.keyID || s.Labels[cluster.SecretTypeLabel] == cluster.SecretTypeValue {
			out = append(out, s.Name+" "+s.ResourceVersion)
		}
	}
	// Nothing new in the victim's name.
	for what, obj := range map[string]client.Object{
		"app walk":    &gitopsv1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "walk", Namespace: ns}},
		"appset walk": &gitopsv1alpha1.ApplicationSet{ObjectMeta: metav1.ObjectMeta{Name: "walk", Namespace: ns}},
		"vc walk":     &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "walk", Namespace: ns}},
		"project":     &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "walk"}},
		"user walk":   &platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "walk"}},
		"team walk":   &platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: "walk"}},
	} {
		if err := w.direct.Get(ctx, client.ObjectKeyFromObject(obj), obj); !apierrors.IsNotFound(err) {
			out = append(out, what+" exists")
		}
	}
	return strings.Join(out, "; ")
}

func itoa[T ~int | ~int64](n T) string { b, _ := json.Marshal(n); return string(b) }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func mapString(m map[string]string) string { b, _ := json.Marshal(m); return string(b) }

// must calls as the admin and wants code.
func (w *walk) must(method, path string, body any, code int) apitest.Reply {
	w.t.Helper()
	return w.Expect(w.admin, method, path, body, code)
}
