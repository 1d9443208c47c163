package vcapi

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/api/apitest"
	"gantry.dev/gantry/internal/identity/accesskeys"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/project"
	"gantry.dev/gantry/internal/vcluster"
)

func TestMain(m *testing.M) { os.Exit(apitest.Main(m)) }

// fixture is two projects, A and B, with people in them, a few virtual
// clusters, and the API served over HTTP with a cached client, as in gantry.
type fixture struct {
	*apitest.Env
	t    *testing.T
	api  *API
	A, B string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	A, B := apitest.Unique("alpha"), apitest.Unique("beta")
	f := &fixture{t: t, A: A, B: B, Env: apitest.New(t, apitest.Options{
		Cache:  true,
		Policy: "g, root, role:admin\n",
		Projects: map[string][]rbac.Member{
			A: {
				{Kind: rbac.MemberUser, Name: "alice", Role: rbac.ProjectMember},
				{Kind: rbac.MemberUser, Name: "victor", Role: rbac.ProjectViewer},
				{Kind: rbac.MemberUser, Name: "paula", Role: rbac.ProjectAdmin},
			},
			B: {{Kind: rbac.MemberUser, Name: "bob", Role: rbac.ProjectMember}},
		},
	})}
	for _, u := range []string{"alice", "victor", "paula", "bob", "root"} {
		f.Tokens.Set(u, authn.Identity{User: u, Via: "session"})
	}
	f.Tokens.Set("alice-B", authn.Identity{User: "alice", Via: "accesskey", Scope: accesskeys.Scope{Project: B}})
	f.Tokens.Set("alice-1", authn.Identity{User: "alice", Via: "accesskey", Scope: accesskeys.Scope{Project: A, VirtualCluster: "one"}})
	f.api = &API{
		Client: f.Cached, Informers: f.Informers,
		ExternalURL: "https://gantry.example:8443/", ServerCA: []byte("-----BEGIN CERTIFICATE-----\nTESTCA\n-----END CERTIFICATE-----\n"),
		Heartbeat: 200 * time.Millisecond,
	}
	f.api.Register(f.Router)

	for _, p := range []string{A, B} {
		f.MustCreate(&platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: p}})
		f.MustCreate(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: project.Namespace(p)}})
	}
	f.seed(A, "one")
	f.seed(A, "two")
	f.seed(B, "other")
	// The admin kubeconfig Secret the reconciler would write: never to be served.
	f.MustCreate(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: vcluster.KubeconfigSecret("one"), Namespace: project.Namespace(A)},
		StringData: map[string]string{"config": "ADMIN-KUBECONFIG-MARKER"}})
	// Wait until the cache has what was seeded, as a running gantry would.
	f.Eventually("the cache to hold the seeded clusters", func() bool {
		var l platformv1alpha1.VirtualClusterList
		return f.Cached.List(context.Background(), &l, client.InNamespace(project.Namespace(B))) == nil && len(l.Items) == 1
	})
	return f
}

func (f *fixture) seed(p, name string) {
	f.t.Helper()
	f.MustCreate(&platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: project.Namespace(p)}})
}

func (f *fixture) vc(p, name string) (*platformv1alpha1.VirtualCluster, error) {
	vc := &platformv1alpha1.VirtualCluster{}
	err := f.Direct.Get(context.Background(), client.ObjectKey{Namespace: project.Namespace(p), Name: name}, vc)
	return vc, err
}

// do calls the API; token "" sends no credentials.
func (f *fixture) do(token, method, path, body string) (int, string) {
	f.t.Helper()
	r := f.Do(token, method, path, body)
	return r.Code, r.Body
}

// expect calls the API and checks the answer (apitest.Env.Expect).
func (f *fixture) expect(token, method, path, body string, code int, contains ...string) string {
	f.t.Helper()
	return f.Expect(token, method, path, body, code, contains...).Body
}

func (f *fixture) list(token, query string) []string {
	f.t.Helper()
	var l List
	if err := json.Unmarshal([]byte(f.expect(token, "GET", Prefix+query, "", 200)), &l); err != nil {
		f.t.Fatal(err)
	}
	var names []string
	for _, v := range l.Items {
		names = append(names, v.Project+"/"+v.Name)
	}
	return names
}

func (f *fixture) path(p, name string, sub ...string) string {
	return strings.Join(append([]string{Prefix, p, name}, sub...), "/")
}

func TestUnauthenticated(t *testing.T) {
	f := newFixture(t)
	f.expect("", "GET", Prefix, "", 401, "no credentials")
	f.expect("", "GET", f.path(f.A, "one"), "", 401)
	f.expect("", "POST", Prefix+"/"+f.A, `{"name":"x"}`, 401)
	f.expect("", "GET", f.path(f.A, "one", "kubeconfig"), "", 401)
	f.expect("nonsense", "GET", Prefix+"?watch=true", "", 401, "invalid token")
}

func TestViewerSeesOwnProjectOnly(t *testing.T) {
	f := newFixture(t)
	if got, want := strings.Join(f.list("victor", ""), ","), f.A+"/one,"+f.A+"/two"; got != want {
		t.Fatalf("victor lists %s, want %s", got, want)
	}
	if got := f.list("victor", "?project="+f.B); len(got) != 0 {
		t.Fatalf("victor lists %v in %s", got, f.B)
	}
	f.expect("victor", "GET", f.path(f.A, "one"), "", 200, `"name":"one"`, `"project":"`+f.A+`"`)
	f.expect("victor", "GET", f.path(f.B, "other"), "", 403, "permission denied: victor cannot get virtualclusters "+f.B+"/other")
	f.expect("victor", "POST", Prefix+"/"+f.A, `{"name":"new"}`, 403, "cannot create")
	f.expect("victor", "DELETE", f.path(f.A, "one"), "", 403, "cannot delete")
	f.expect("victor", "POST", f.path(f.A, "one", "sleep"), "", 403, "cannot sleep")
	f.expect("victor", "POST", f.path(f.A, "one", "wake"), "", 403, "cannot wake")
	f.expect("victor", "PATCH", f.path(f.A, "one"), `{"sleepAfter":"1h"}`, 403, "cannot update")
	// Viewers connect: inside the cluster its RBAC makes them viewers.
	f.expect("victor", "GET", f.path(f.A, "one", "kubeconfig"), "", 200)
	if _, err := f.vc(f.A, "new"); !apierrors.IsNotFound(err) {
		t.Fatalf("victor's refused create made a cluster: %v", err)
	}
	if vc, _ := f.vc(f.A, "one"); vc.DeletionTimestamp != nil || vc.Annotations[vcluster.SleepingAnnotation] != "" {
		t.Fatal("victor's refused calls changed cluster one")
	}
}

func TestMemberLifecycle(t *testing.T) {
	f := newFixture(t)
	f.allowOwnStorage(f.A)
	resp := f.expect("alice", "POST", Prefix+"/"+f.A,
		`{"name":"new","labels":{"env":"dev"},"sleepAfter":"15m","argoCD":true,"storage":{"dsn":"postgres://kine:hunter2@db:5432/kine?sslmode=disable&password=hunter3"}}`,
		201, `"name":"new"`, `"sleepAfter":"15m0s"`, `"argoCD":true`, `"env":"dev"`,
		`"endpoint":"https://gantry.example:8443/kubernetes/project/`+f.A+`/virtualcluster/new"`)
	if strings.Contains(resp, "hunter2") || strings.Contains(resp, "hunter3") {
		t.Fatalf("the DSN's password is in the answer: %s", resp)
	}
	vc, err := f.vc(f.A, "new")
	if err != nil {
		t.Fatal(err)
	}
	if vc.Spec.SleepAfter == nil || vc.Spec.SleepAfter.Duration != 15*time.Minute || vc.Spec.Labels["env"] != "dev" ||
		vc.Spec.ArgoCD == nil || !*vc.Spec.ArgoCD || !strings.Contains(vc.Spec.Storage.DSN, "hunter2") {
		t.Fatalf("created spec is %+v", vc.Spec)
	}
	// The cache catches up, then GET shows it, redacted too.
	f.Eventually("GET to find the new cluster", func() bool { code, _ := f.do("alice", "GET", f.path(f.A, "new"), ""); return code == 200 })
	if resp := f.expect("alice", "GET", f.path(f.A, "new"), "", 200, "xxxxx"); strings.Contains(resp, "hunter") {
		t.Fatalf("the DSN's password is in GET: %s", resp)
	}

	f.expect("alice", "POST", f.path(f.A, "new", "sleep"), "", 202, `"sleeping":true`)
	if vc, _ := f.vc(f.A, "new"); vc.Annotations[vcluster.SleepingAnnotation] == "" {
		t.Fatal("sleep did not set the annotation")
	}
	f.expect("alice", "POST", f.path(f.A, "new", "wake"), "", 202, `"sleeping":false`)
	if vc, _ := f.vc(f.A, "new"); vc.Annotations[vcluster.SleepingAnnotation] != "" {
		t.Fatal("wake did not remove the annotation")
	}

	f.expect("alice", "PATCH", f.path(f.A, "new"), `{"labels":{"team":"x"},"sleepAfter":"","argoCD":null}`, 200, `"team":"x"`)
	if vc, _ := f.vc(f.A, "new"); vc.Spec.SleepAfter != nil || vc.Spec.ArgoCD != nil || len(vc.Spec.Labels) != 1 || vc.Spec.Labels["team"] != "x" {
		t.Fatalf("after PATCH the spec is %+v", vc.Spec)
	}
	f.expect("alice", "PATCH", f.path(f.A, "new"), `{"sleepAfter":"2h"}`, 200, `"sleepAfter":"2h0m0s"`)
	f.expect("alice", "PATCH", f.path(f.A, "gone"), `{"sleepAfter":"2h"}`, 404, "virtual cluster gone not found in project "+f.A)

	kc := f.expect("alice", "GET", f.path(f.A, "one", "kubeconfig"), "", 200)
	if strings.Contains(kc, "ADMIN-KUBECONFIG-MARKER") {
		t.Fatal("the kubeconfig is the admin Secret's")
	}
	cfg, err := clientcmd.Load([]byte(kc))
	if err != nil {
		t.Fatalf("kubeconfig does not load: %v\n%s", err, kc)
	}
	ctxName := ContextName(f.A, "one")
	cl, user := cfg.Clusters[ctxName], cfg.AuthInfos[ctxName]
	if cfg.CurrentContext != ctxName || cl == nil || user == nil {
		t.Fatalf("kubeconfig has no context %s:\n%s", ctxName, kc)
	}
	if cl.Server != "https://gantry.example:8443/kubernetes/project/"+f.A+"/virtualcluster/one" || !strings.Contains(string(cl.CertificateAuthorityData), "TESTCA") {
		t.Fatalf("cluster is %+v", cl)
	}
	if user.Token != "" || user.TokenFile != "" || len(user.ClientKeyData) > 0 || user.Password != "" || user.Exec != nil {
		t.Fatalf("kubeconfig carries a credential: %+v", user)
	}
	f.expect("alice", "GET", f.path(f.A, "nope", "kubeconfig"), "", 404, "not found")

	// Members do not delete; project admins do.
	f.expect("alice", "DELETE", f.path(f.A, "new"), "", 403, "permission denied: alice cannot delete")
	f.expect("paula", "DELETE", f.path(f.A, "new"), "", 202, `"deleting":true`)
	if _, err := f.vc(f.A, "new"); !apierrors.IsNotFound(err) {
		t.Fatalf("after DELETE: %v", err)
	}
	f.Eventually("GET to lose the deleted cluster", func() bool { code, _ := f.do("alice", "GET", f.path(f.A, "new"), ""); return code == 404 })
	f.expect("paula", "DELETE", f.path(f.A, "new"), "", 404, "virtual cluster new not found in project "+f.A)
}

func TestOtherProjectIsForbidden(t *testing.T) {
	f := newFixture(t)
	for _, n := range f.list("alice", "") {
		if strings.HasPrefix(n, f.B+"/") {
			t.Fatalf("alice lists %s", n)
		}
	}
	other := f.path(f.B, "other")
	f.expect("alice", "GET", other, "", 403)
	f.expect("alice", "GET", f.path(f.B, "absent"), "", 403) // no telling what exists
	f.expect("alice", "POST", other+"/sleep", "", 403)
	f.expect("alice", "POST", other+"/wake", "", 403)
	f.expect("alice", "GET", other+"/kubeconfig", "", 403)
	f.expect("alice", "DELETE", other, "", 403)
	f.expect("alice", "POST", Prefix+"/"+f.B, `{"name":"mine"}`, 403)
	f.expect("alice", "GET", other+"/events", "", 403)
	if vc, _ := f.vc(f.B, "other"); vc.Annotations[vcluster.SleepingAnnotation] != "" || vc.DeletionTimestamp != nil {
		t.Fatal("refused calls changed cluster other")
	}
	// bob, member of B, sees only B.
	if got := strings.Join(f.list("bob", ""), ","); got != f.B+"/other" {
		t.Fatalf("bob lists %s", got)
	}
}

// allowOwnStorage turns on project p's virtualClusterOwnStorage, as an
// administrator does, and waits until the API's cache sees it.
func (f *fixture) allowOwnStorage(p string) {
	f.t.Helper()
	proj := &platformv1alpha1.Project{}
	if err := f.Direct.Get(context.Background(), client.ObjectKey{Name: p}, proj); err != nil {
		f.t.Fatal(err)
	}
	patch := client.MergeFrom(proj.DeepCopy())
	proj.Spec.VirtualClusterOwnStorage = true
	if err := f.Direct.Patch(context.Background(), proj, patch); err != nil {
		f.t.Fatal(err)
	}
	f.Eventually("the cache to see virtualClusterOwnStorage", func() bool {
		cached := &platformv1alpha1.Project{}
		return f.api.Client.Get(context.Background(), client.ObjectKey{Name: p}, cached) == nil && cached.Spec.VirtualClusterOwnStorage
	})
}

// A member of a project makes gantry connect wherever a cluster's own
// storage points (any host:port it reaches, another project's database on a
// shared server): only where an administrator allowed it, for members and
// administrators alike (the reconciler cannot tell who wrote a cluster).
func TestOwnStorageNeedsTheProject(t *testing.T) {
	f := newFixture(t)
	post := Prefix + "/" + f.B
	for _, body := range []string{
		`{"name":"ssrf","storage":{"dsn":"postgres://x:y@127.0.0.1:6443/x"}}`,
		`{"name":"steal","storage":{"dsn":"postgres://b:pw@pg.internal:5432/gantry_p_shop_dev_0f3c2a9e"}}`,
		`{"name":"named","storage":{"secretName":"pg"}}`,
	} {
		resp := f.expect("bob", "POST", post, body, 403,
			"project "+f.B+" does not allow virtual clusters to name storage of their own",
			"gantry project allow "+f.B+" --vcluster-own-storage")
		if strings.Contains(resp, ":y@") || strings.Contains(resp, ":pw@") {
			t.Errorf("the refusal echoes the DSN: %s", resp)
		}
	}
	f.expect("root", "POST", post, `{"name":"admin","storage":{"dsn":"postgres://x:y@db:5432/x"}}`, 403, "--vcluster-own-storage")
	var l platformv1alpha1.VirtualClusterList
	if err := f.Direct.List(context.Background(), &l, client.InNamespace(project.Namespace(f.B))); err != nil {
		t.Fatal(err)
	}
	for _, vc := range l.Items {
		if vcluster.OwnStorage(&vc) {
			t.Errorf("a refused create made %s with storage %+v", vc.Name, vc.Spec.Storage)
		}
	}
	// The project's default (no storage) needs nothing.
	f.expect("bob", "POST", post, `{"name":"plain"}`, 201)
	f.allowOwnStorage(f.B)
	f.expect("bob", "POST", post, `{"name":"named","storage":{"secretName":"pg"}}`, 201)
}

func TestBadInput(t *testing.T) {
	f := newFixture(t)
	post := Prefix + "/" + f.A
	f.expect("alice", "POST", post, `{"name":"Bad_Name"}`, 400, `invalid virtual cluster name "Bad_Name"`)
	f.expect("alice", "POST", post, `{}`, 400, "name is required")
	f.expect("alice", "POST", post, `{"name":"ok","sleepAfter":"soon"}`, 400, `sleepAfter "soon" is not a duration`)
	f.expect("alice", "POST", post, `{"name":"ok","sleepAfter":"-5m"}`, 400, "negative")
	f.expect("alice", "POST", post, `{"name":"ok","sleep_after":"5m"}`, 400, `unknown field "sleep_after"`)
	f.expect("alice", "POST", post, `{"name":"ok","labels":{"bad key!":"x"}}`, 400, `label key "bad key!"`)
	// Labels reach Argo CD's cluster Secrets: none that says what the Secret
	// is (a repository instead of a cluster) or whose it is.
	f.expect("alice", "POST", post, `{"name":"ok","labels":{"argocd.argoproj.io/secret-type":"repository"}}`, 400, "reserved prefix argoproj.io")
	f.expect("alice", "POST", post, `{"name":"ok","labels":{"gantry.dev/project":"other"}}`, 400, "reserved prefix gantry.dev")
	f.expect("alice", "PATCH", f.path(f.A, "one"), `{"labels":{"app.kubernetes.io/managed-by":"me"}}`, 400, "reserved prefix kubernetes.io")
	f.expect("alice", "POST", post, `{"name":"ok","storage":{"dsn":"redis://u:pw@x"}}`, 400, "storage.dsn must be")
	f.expect("alice", "POST", post, `{"name":"ok","storage":{"secretName":"../p-shop/pg"}}`, 400, `storage.secretName "../p-shop/pg" is not a Secret's name`)
	f.expect("alice", "POST", post, `{"name":"ok","storage":{"secretName":"p-shop/pg"}}`, 400, "storage.secretName")
	f.expect("alice", "POST", post, `{"name":"ok","kubernetesVersion":"latest"}`, 400, "kubernetesVersion")
	f.expect("alice", "POST", post, `not json`, 400, "not valid JSON")
	f.expect("alice", "POST", post, ``, 400, "empty")
	f.expect("alice", "POST", post, `{"name":"one"}`, 409, "virtual cluster one already exists in project "+f.A)
	f.expect("alice", "PATCH", f.path(f.A, "one"), `{"sleepAfter":"soon"}`, 400, "sleepAfter")
	f.expect("alice", "PATCH", f.path(f.A, "one"), `{}`, 400, "nothing to change")
	f.expect("alice", "GET", Prefix+"/Bad_Project", "", 400, `"Bad_Project" is not a valid project name`)
	// An unknown project: 404 for whoever may create there (an admin); a
	// member of other projects only learns they may not.
	f.expect("root", "POST", Prefix+"/nope"+f.A, `{"name":"ok"}`, 404, "project nope"+f.A+" does not exist")
	f.expect("alice", "POST", Prefix+"/nope"+f.A, `{"name":"ok"}`, 403)
	f.expect("alice", "GET", Prefix+"/"+f.A+"/one/nonsense", "", 404, "no such API path")
	f.expect("alice", "PUT", f.path(f.A, "one"), "{}", 405)

	var l platformv1alpha1.VirtualClusterList
	if err := f.Direct.List(context.Background(), &l, client.InNamespace(project.Namespace(f.A))); err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 2 {
		t.Fatalf("bad requests left %d clusters in %s, want the 2 seeded", len(l.Items), f.A)
	}
}

func TestQuotaRefusedEarly(t *testing.T) {
	f := newFixture(t)
	p := &platformv1alpha1.Project{}
	if err := f.Direct.Get(context.Background(), client.ObjectKey{Name: f.A}, p); err != nil {
		t.Fatal(err)
	}
	two := int32(2)
	p.Spec.Quotas.VirtualClusters = &two
	if err := f.Direct.Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	p.Status.Usage.VirtualClusters = 2
	if err := f.Direct.Status().Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	f.Eventually("the cache to see the usage", func() bool {
		cached := &platformv1alpha1.Project{}
		return f.api.Client.Get(context.Background(), client.ObjectKey{Name: f.A}, cached) == nil && cached.Status.Usage.VirtualClusters == 2
	})
	f.expect("alice", "POST", Prefix+"/"+f.A, `{"name":"third"}`, 409, "project "+f.A+" is at its quota of 2 virtualClusters")
	if _, err := f.vc(f.A, "third"); !apierrors.IsNotFound(err) {
		t.Fatalf("over quota, a cluster was made: %v", err)
	}
}

func TestScopedAccessKeys(t *testing.T) {
	f := newFixture(t)
	// alice's key for project B: alice has no rights in B, and the key none in A.
	if got := f.list("alice-B", ""); len(got) != 0 {
		t.Fatalf("a key scoped to %s lists %v", f.B, got)
	}
	f.expect("alice-B", "GET", f.path(f.A, "one"), "", 403, "this access key is scoped to project "+f.B)
	f.expect("alice-B", "POST", Prefix+"/"+f.A, `{"name":"x"}`, 403, "scoped")
	f.expect("alice-B", "POST", f.path(f.A, "one", "sleep"), "", 403, "scoped")
	// alice's key for cluster A/one: that one only, and no creating.
	if got := strings.Join(f.list("alice-1", ""), ","); got != f.A+"/one" {
		t.Fatalf("a key scoped to %s/one lists %s", f.A, got)
	}
	f.expect("alice-1", "GET", f.path(f.A, "one"), "", 200)
	f.expect("alice-1", "GET", f.path(f.A, "one", "kubeconfig"), "", 200)
	f.expect("alice-1", "GET", f.path(f.A, "two"), "", 403, "scoped to virtual cluster "+f.A+"/one")
	f.expect("alice-1", "GET", f.path(f.A, "two", "kubeconfig"), "", 403, "scoped")
	f.expect("alice-1", "POST", Prefix+"/"+f.A, `{"name":"x"}`, 403, "scoped")
	if _, err := f.vc(f.A, "x"); !apierrors.IsNotFound(err) {
		t.Fatalf("a scoped key created a cluster: %v", err)
	}
}

// sse reads a watch stream.
type sse struct{ *apitest.Stream }

func (f *fixture) stream(token, path string) sse { return sse{f.Stream(token, path)} }

func (s sse) next(t *testing.T, within time.Duration) Event {
	t.Helper()
	var ev Event
	if err := json.Unmarshal(s.Next(within).Data, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func names(vs []View) string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Project+"/"+v.Name)
	}
	return strings.Join(out, ",")
}

func (f *fixture) touch(p, name, value string) {
	f.t.Helper()
	vc, err := f.vc(p, name)
	if err != nil {
		f.t.Fatal(err)
	}
	patch := client.MergeFrom(vc.DeepCopy())
	if vc.Spec.Labels == nil {
		vc.Spec.Labels = map[string]string{}
	}
	vc.Spec.Labels["touched"] = value
	if err := f.Direct.Patch(context.Background(), vc, patch); err != nil {
		f.t.Fatal(err)
	}
}

func TestWatch(t *testing.T) {
	f := newFixture(t)
	s := f.stream("alice", Prefix+"?watch=true")
	ev := s.next(t, 5*time.Second)
	if ev.Type != EventList || names(ev.Items) != f.A+"/one,"+f.A+"/two" {
		t.Fatalf("first event is %s of %s, want LIST of %s/one,%s/two", ev.Type, names(ev.Items), f.A, f.A)
	}
	// A change alice may not see comes first: if it leaked, it would arrive first.
	f.touch(f.B, "other", "1")
	start := time.Now()
	f.touch(f.A, "one", "1")
	ev = s.next(t, time.Second)
	if ev.Type != EventModified || ev.Object == nil || ev.Object.Project != f.A || ev.Object.Name != "one" || ev.Object.Labels["touched"] != "1" {
		t.Fatalf("got %s %+v, want MODIFIED %s/one", ev.Type, ev.Object, f.A)
	}
	t.Logf("MODIFIED after %s", time.Since(start))

	// Sleep through the API shows as MODIFIED with sleeping set.
	f.expect("alice", "POST", f.path(f.A, "two", "sleep"), "", 202)
	ev = s.next(t, time.Second)
	if ev.Type != EventModified || ev.Object.Name != "two" || !ev.Object.Sleeping {
		t.Fatalf("after sleep: %s %+v", ev.Type, ev.Object)
	}

	f.seed(f.B, "hidden")
	f.seed(f.A, "three")
	ev = s.next(t, time.Second)
	if ev.Type != EventAdded || ev.Object.Name != "three" {
		t.Fatalf("got %s %s, want ADDED three", ev.Type, ev.Object.Name)
	}
	if err := f.Direct.Delete(context.Background(), &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "hidden", Namespace: project.Namespace(f.B)}}); err != nil {
		t.Fatal(err)
	}
	if err := f.Direct.Delete(context.Background(), &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "three", Namespace: project.Namespace(f.A)}}); err != nil {
		t.Fatal(err)
	}
	ev = s.next(t, time.Second)
	if ev.Type != EventDeleted || ev.Object.Name != "three" {
		t.Fatalf("got %s %s, want DELETED three", ev.Type, ev.Object.Name)
	}

	// Heartbeats keep the stream alive.
	select {
	case c := <-s.Comments():
		if c != ": heartbeat" {
			t.Fatalf("comment %q", c)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no heartbeat")
	}
	if ev, ok := s.TryNext(0); ok {
		t.Fatalf("unexpected event %s", ev.Data)
	}

	// The stream ends when the client goes.
	if n := f.api.streams.Load(); n != 1 {
		t.Fatalf("%d streams open, want 1", n)
	}
	s.Close()
	f.Eventually("the stream to end", func() bool { return f.api.streams.Load() == 0 })
}

func TestWatchProjectAndOne(t *testing.T) {
	f := newFixture(t)
	// Project filter: as the admin, who could see B.
	s := f.stream("root", Prefix+"/"+f.A+"?watch=true")
	if ev := s.next(t, 5*time.Second); ev.Type != EventList || names(ev.Items) != f.A+"/one,"+f.A+"/two" {
		t.Fatalf("project stream starts with %s %s", ev.Type, names(ev.Items))
	}
	one := f.stream("victor", f.path(f.A, "one", "events"))
	if ev := one.next(t, 5*time.Second); ev.Type != EventList || names(ev.Items) != f.A+"/one" {
		t.Fatalf("one's stream starts with %s %s", ev.Type, names(ev.Items))
	}
	f.touch(f.B, "other", "x")
	f.touch(f.A, "two", "x")
	f.touch(f.A, "one", "x")
	if ev := s.next(t, time.Second); ev.Type != EventModified || ev.Object.Name != "two" {
		t.Fatalf("project stream: %s %s, want MODIFIED two", ev.Type, ev.Object.Name)
	}
	if ev := s.next(t, time.Second); ev.Type != EventModified || ev.Object.Name != "one" {
		t.Fatalf("project stream: %s %s, want MODIFIED one", ev.Type, ev.Object.Name)
	}
	if ev := one.next(t, time.Second); ev.Type != EventModified || ev.Object.Name != "one" {
		t.Fatalf("one's stream: %s %s, want MODIFIED one", ev.Type, ev.Object.Name)
	}
	f.expect("bob", "GET", f.path(f.A, "one", "events"), "", 403)
	f.expect("alice-1", "GET", f.path(f.A, "two")+"?watch=true", "", 403, "scoped")
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:pw@db:5432/kine?sslmode=disable":         "postgres://u:xxxxx@db:5432/kine?sslmode=disable",
		"mysql://root:p@ss@tcp(127.0.0.1:3306)/kine":           "mysql://root:xxxxx@tcp(127.0.0.1:3306)/kine",
		"postgres://db/kine?user=u&password=pw&sslmode=verify": "postgres://db/kine?user=u&password=xxxxx&sslmode=verify",
		"postgres://u@db/kine":                                 "postgres://u@db/kine",
		"":                                                     "",
	} {
		if got := RedactDSN(in); got != want {
			t.Errorf("RedactDSN(%q) = %q, want %q", in, got, want)
		}
	}
	if regexp.MustCompile(`pw|p@ss`).MatchString(RedactDSN("mysql://root:p@ss@tcp(h:1)/k?password=pw")) {
		t.Error("a password survived")
	}
}
