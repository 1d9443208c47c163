package appapi

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/api/apitest"
	"gantry.dev/gantry/internal/identity/accesskeys"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/project"
)

func TestMain(m *testing.M) { os.Exit(apitest.Main(m)) }

// fixture is two projects, A and B, each with apps, and the API served over
// HTTP with a cached client and the cache's informers, as in gantry.
type fixture struct {
	*apitest.Env
	t    *testing.T
	api  *API
	A, B string
}

func newFixture(t *testing.T) *fixture { return newFixtureWith(t, apitest.Options{}) }

func newFixtureWith(t *testing.T, opts apitest.Options) *fixture {
	t.Helper()
	A, B := apitest.Unique("alpha"), apitest.Unique("beta")
	opts.Cache = true
	opts.Policy = "g, root, role:admin\n"
	opts.Projects = map[string][]rbac.Member{
		A: {{Kind: rbac.MemberUser, Name: "alice", Role: rbac.ProjectMember}, {Kind: rbac.MemberUser, Name: "victor", Role: rbac.ProjectViewer}},
		B: {{Kind: rbac.MemberUser, Name: "bob", Role: rbac.ProjectMember}},
	}
	f := &fixture{Env: apitest.New(t, opts), t: t, A: A, B: B}
	for _, u := range []string{"alice", "victor", "bob", "root"} {
		f.Tokens.Set(u, authn.Identity{User: u, Via: "session"})
	}
	f.Tokens.Set("alice-B", authn.Identity{User: "alice", Via: "accesskey", Scope: accesskeys.Scope{Project: B}})
	f.api = &API{Client: f.Cached, APIReader: f.Direct, Informers: f.Informers, DefaultNamespace: project.Namespace(A),
		Heartbeat: 200 * time.Millisecond, RefreshTimeout: 5 * time.Second}
	f.api.Register(f.Router)

	for _, p := range []string{A, B} {
		f.MustCreate(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: project.Namespace(p)}})
	}
	f.seed(A, "one")
	f.seed(A, "two")
	f.seed(B, "other")
	f.Eventually("the cache to hold the seeded apps", func() bool {
		var l gitopsv1alpha1.ApplicationList
		return f.Cached.List(context.Background(), &l, client.InNamespace(project.Namespace(B))) == nil && len(l.Items) == 1
	})
	return f
}

func newApp(p, name string) *gitopsv1alpha1.Application {
	return &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: project.Namespace(p)},
		Spec: gitopsv1alpha1.ApplicationSpec{
			Project:     p,
			Source:      &gitopsv1alpha1.ApplicationSource{RepoURL: "https://git.example.com/x.git", Path: "app"},
			Destination: gitopsv1alpha1.ApplicationDestination{Server: "https://kubernetes.default.svc", Namespace: name},
		},
	}
}

func (f *fixture) seed(p, name string) { f.t.Helper(); f.MustCreate(newApp(p, name)) }

func (f *fixture) app(p, name string) *gitopsv1alpha1.Application {
	f.t.Helper()
	app := &gitopsv1alpha1.Application{}
	if err := f.Direct.Get(context.Background(), types.NamespacedName{Namespace: project.Namespace(p), Name: name}, app); err != nil {
		f.t.Fatal(err)
	}
	return app
}

func (f *fixture) label(p, name, value string) {
	f.t.Helper()
	app := f.app(p, name)
	patch := client.MergeFrom(app.DeepCopy())
	if app.Labels == nil {
		app.Labels = map[string]string{}
	}
	app.Labels["touched"] = value
	if err := f.Direct.Patch(context.Background(), app, patch); err != nil {
		f.t.Fatal(err)
	}
}

// expect calls the API without a body and checks the answer (apitest.Env.Expect).
func (f *fixture) expect(token, method, path string, code int, contains ...string) string {
	f.t.Helper()
	return f.Expect(token, method, path, nil, code, contains...).Body
}

// controller stands in for the GitOps controller's part in a refresh: it
// removes the annotation after a while, recording the mode it saw.
func (f *fixture) controller(p, name string, after time.Duration) <-chan string {
	seen := make(chan string, 1)
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			app := &gitopsv1alpha1.Application{}
			if err := f.Direct.Get(context.Background(), types.NamespacedName{Namespace: project.Namespace(p), Name: name}, app); err == nil {
				if mode, ok := app.Annotations[RefreshAnnotation]; ok {
					time.Sleep(after)
					patch := []byte(`{"metadata":{"annotations":{"` + RefreshAnnotation + `":null,"compared":"yes"}}}`)
					_ = f.Direct.Patch(context.Background(), app, client.RawPatch(types.MergePatchType, patch))
					seen <- mode
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		close(seen)
	}()
	return seen
}

func TestRefresh(t *testing.T) {
	f := newFixture(t)
	path := Prefix + "/one?appNamespace=" + project.Namespace(f.A)

	// Answered once the controller has compared again (it removed the annotation).
	seen := f.controller(f.A, "one", 300*time.Millisecond)
	start := time.Now()
	body := f.expect("victor", "GET", path+"&refresh=hard", 200, `"compared":"yes"`)
	if strings.Contains(body, RefreshAnnotation) {
		t.Fatalf("answered before the refresh was taken: %s", body)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("answered after %s, before the controller compared", took)
	}
	if mode := <-seen; mode != "hard" {
		t.Fatalf("the annotation said %q, want hard", mode)
	}

	// normal, and the default namespace.
	seen = f.controller(f.A, "one", 0)
	f.expect("alice", "GET", Prefix+"/one?refresh=normal", 200, `"name":"one"`)
	if mode := <-seen; mode != "normal" {
		t.Fatalf("the annotation said %q, want normal", mode)
	}

	f.expect("alice", "GET", path+"&refresh=soft", 400, "use normal")
	f.expect("bob", "GET", path+"&refresh=normal", 403, "permission denied")
	f.expect("alice-B", "GET", path+"&refresh=normal", 403, "scoped")
	f.expect("alice", "GET", Prefix+"/nope?refresh=normal", 404)
	if _, ok := f.app(f.A, "one").Annotations[RefreshAnnotation]; ok {
		t.Fatal("a refused refresh set the annotation")
	}

	// No controller: the wait ends, saying the refresh is still asked for.
	f.api.RefreshTimeout = 400 * time.Millisecond
	f.expect("alice", "GET", Prefix+"/two?refresh=normal", 504, "was not refreshed within 400ms")
	if mode := f.app(f.A, "two").Annotations[RefreshAnnotation]; mode != "normal" {
		t.Fatalf("annotation is %q after the timeout, want normal (left for the controller)", mode)
	}
}

// sse reads Argo CD's application stream.
type sse struct{ *apitest.Stream }

func (f *fixture) stream(token, path string) sse { return sse{f.Stream(token, path)} }

// next is the next message of the stream (named events are skipped).
func (s sse) next(t *testing.T, within time.Duration) StreamEvent {
	t.Helper()
	for {
		ev := s.Next(within)
		if ev.Name != "" {
			continue
		}
		var out StreamEvent
		if err := json.Unmarshal(ev.Data, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// initial reads the ADDED events up to the synced marker: "ns/name,…".
func (s sse) initial(t *testing.T) string {
	t.Helper()
	var got []string
	for {
		ev := s.Next(5 * time.Second)
		if ev.Name == SyncedEvent {
			return strings.Join(got, ",")
		}
		var out StreamEvent
		if err := json.Unmarshal(ev.Data, &out); err != nil || out.Result == nil || out.Result.Type != EventAdded {
			t.Fatalf("initial event %q %s, want ADDED", ev.Name, ev.Data)
		}
		got = append(got, out.Result.Application.Namespace+"/"+out.Result.Application.Name)
	}
}

func (s sse) expect(t *testing.T, typ, name string) *gitopsv1alpha1.Application {
	t.Helper()
	ev := s.next(t, time.Second)
	if ev.Result == nil || ev.Result.Type != typ || ev.Result.Application == nil || ev.Result.Application.Name != name {
		data, _ := json.Marshal(ev)
		t.Fatalf("got %s, want %s %s", data, typ, name)
	}
	return ev.Result.Application
}

func TestStream(t *testing.T) {
	f := newFixture(t)
	nsA, nsB := project.Namespace(f.A), project.Namespace(f.B)
	s := f.stream("alice", StreamPath)
	if got, want := s.initial(t), nsA+"/one,"+nsA+"/two"; got != want {
		t.Fatalf("initial ADDED: %s, want %s", got, want)
	}
	// A change alice may not see comes first: if it leaked, it would arrive first.
	f.label(f.B, "other", "1")
	start := time.Now()
	f.label(f.A, "one", "1")
	app := s.expect(t, EventModified, "one")
	if app.Labels["touched"] != "1" || app.Kind != "Application" || app.ManagedFields != nil {
		t.Fatalf("MODIFIED carries %+v", app.ObjectMeta)
	}
	t.Logf("MODIFIED after %s", time.Since(start))

	f.seed(f.B, "hidden")
	f.seed(f.A, "three")
	s.expect(t, EventAdded, "three")
	for _, key := range []types.NamespacedName{{Namespace: nsB, Name: "hidden"}, {Namespace: nsA, Name: "three"}} {
		if err := f.Direct.Delete(context.Background(), &gitopsv1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}); err != nil {
			t.Fatal(err)
		}
	}
	s.expect(t, EventDeleted, "three")

	// The admin sees both projects (and other tests' too: ?projects= narrows
	// it, comma-separated or repeated), and ?name=.
	all := f.stream("root", StreamPath+"?projects="+f.A+","+f.B)
	if got, want := all.initial(t), nsA+"/one,"+nsA+"/two,"+nsB+"/other"; got != want {
		t.Fatalf("root's initial: %s, want %s", got, want)
	}
	onlyB := f.stream("root", StreamPath+"?projects="+f.B)
	if got := onlyB.initial(t); got != nsB+"/other" {
		t.Fatalf("?projects=%s: %s", f.B, got)
	}
	both := f.stream("root", StreamPath+"?projects="+f.A+"&projects="+f.B+"&name=two")
	if got := both.initial(t); got != nsA+"/two" {
		t.Fatalf("?projects=A&projects=B&name=two: %s", got)
	}
	f.label(f.A, "one", "2")
	f.label(f.B, "other", "2")
	f.label(f.A, "two", "2")
	onlyB.expect(t, EventModified, "other")
	both.expect(t, EventModified, "two")
	all.expect(t, EventModified, "one")
	all.expect(t, EventModified, "other")
	all.expect(t, EventModified, "two")
	s.expect(t, EventModified, "one")
	s.expect(t, EventModified, "two")

	// An app the caller may no longer see goes as DELETED at its next change.
	if err := f.Enforcer.SetProjectPolicies(map[string]string{
		f.A: rbac.ProjectPolicy(f.A, []rbac.Member{{Kind: rbac.MemberUser, Name: "victor", Role: rbac.ProjectViewer}}),
	}); err != nil {
		t.Fatal(err)
	}
	f.label(f.A, "two", "3")
	s.expect(t, EventDeleted, "two")
	both.expect(t, EventModified, "two")

	// Heartbeats re-check credentials: a revoked session ends the stream.
	if n := f.api.streams.Load(); n != 4 {
		t.Fatalf("%d streams open, want 4", n)
	}
	f.Tokens.Revoke("alice")
	for {
		ev := s.next(t, 2*time.Second)
		if ev.Error != nil {
			if ev.Error.HTTPCode != 401 || !strings.Contains(ev.Error.Message, "invalid token") {
				t.Fatalf("error %+v", ev.Error)
			}
			break
		}
	}
	for _, x := range []sse{all, onlyB, both} {
		x.Close()
	}
	f.Eventually("the streams to end", func() bool { return f.api.streams.Load() == 0 })
}

func TestStreamRefusals(t *testing.T) {
	f := newFixture(t)
	f.expect("", "GET", StreamPath, 401)
	f.expect("alice", "POST", StreamPath, 405)
	f.expect("alice", "GET", StreamPath+"?selector=a%20in%20(", 400, "selector")
	// A key scoped to project B sees only B, even when asking for A.
	s := f.stream("alice-B", StreamPath+"?projects="+f.A+","+f.B)
	if got := s.initial(t); got != "" {
		t.Fatalf("alice's key for %s (where alice is no member) sees %s", f.B, got)
	}
	v := f.stream("victor", StreamPath+"?selector=touched%3Dyes")
	if got := v.initial(t); got != "" {
		t.Fatalf("selector touched=yes: %s", got)
	}
	f.label(f.A, "two", "yes")
	v.expect(t, EventAdded, "two") // new to this stream: it now matches
	f.label(f.A, "two", "no")
	v.expect(t, EventDeleted, "two")

	f.api.Informers = nil
	f.expect("alice", "GET", StreamPath, 501, "poll GET")
}
