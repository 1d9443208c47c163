package appapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/identity/sessions"
	"gantry.dev/gantry/internal/kubetest"
	"gantry.dev/gantry/internal/project"
)

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard()) // the cache's informers log through it
	os.Exit(kubetest.Main(m))
}

// tokens maps bearer tokens to identities: the test's Authenticator. A token
// can be revoked (deleted) while a stream runs.
type tokens struct {
	m atomic.Pointer[map[string]authn.Identity]
}

func (t *tokens) Authenticate(r *http.Request) (authn.Identity, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return authn.Identity{}, authn.ErrNoCredentials
	}
	id, ok := (*t.m.Load())[tok]
	if !ok {
		return authn.Identity{}, errors.New("invalid token")
	}
	return id, nil
}

func (t *tokens) revoke(tok string) {
	m := map[string]authn.Identity{}
	for k, v := range *t.m.Load() {
		if k != tok {
			m[k] = v
		}
	}
	t.m.Store(&m)
}

// fixture is two projects, A and B, each with apps, and the API served over
// HTTP with a cached client and the cache's informers, as in gantry.
type fixture struct {
	t      *testing.T
	direct client.Client // the host without cache: the truth
	api    *API
	enf    *rbac.Enforcer
	auth   *tokens
	srv    *httptest.Server
	client *http.Client // for srv; nil is http.DefaultClient
	A, B   string
}

var fixtures atomic.Int32

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	n := fixtures.Add(1)
	f := &fixture{t: t, direct: env.Client}
	f.A, f.B = "alpha"+strconv.Itoa(int(n)), "beta"+strconv.Itoa(int(n))

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	informers, err := cache.New(env.Config, cache.Options{Scheme: kubetest.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = informers.Start(ctx) }()
	cached, err := client.New(env.Config, client.Options{Scheme: kubetest.Scheme(), Cache: &client.CacheOptions{Reader: informers}})
	if err != nil {
		t.Fatal(err)
	}
	enf, err := rbac.New(rbac.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := enf.SetPolicy("g, root, role:admin\n", "", ""); err != nil {
		t.Fatal(err)
	}
	if err := enf.SetProjectPolicies(map[string]string{
		f.A: rbac.ProjectPolicy(f.A, []rbac.Member{
			{Kind: rbac.MemberUser, Name: "alice", Role: rbac.ProjectMember},
			{Kind: rbac.MemberUser, Name: "victor", Role: rbac.ProjectViewer},
		}),
		f.B: rbac.ProjectPolicy(f.B, []rbac.Member{{Kind: rbac.MemberUser, Name: "bob", Role: rbac.ProjectMember}}),
	}); err != nil {
		t.Fatal(err)
	}
	f.enf = enf
	f.auth = &tokens{}
	f.auth.m.Store(&map[string]authn.Identity{
		"alice":   {User: "alice", Via: "session"},
		"victor":  {User: "victor", Via: "session"},
		"bob":     {User: "bob", Via: "session"},
		"root":    {User: "root", Via: "session"},
		"alice-B": {User: "alice", Via: "accesskey", Scope: sessions.Scope{Project: f.B}},
	})
	f.api = &API{Client: cached, Auth: f.auth, Authorize: enf.Authorize, Informers: informers,
		DefaultNamespace: project.Namespace(f.A), Heartbeat: 200 * time.Millisecond, RefreshTimeout: 5 * time.Second}
	mux := http.NewServeMux()
	f.api.Register(mux)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)

	for _, p := range []string{f.A, f.B} {
		f.mustCreate(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: project.Namespace(p)}})
	}
	f.seed(f.A, "one")
	f.seed(f.A, "two")
	f.seed(f.B, "other")
	f.eventually("the cache to hold the seeded apps", func() bool {
		var l gitopsv1alpha1.ApplicationList
		return cached.List(ctx, &l, client.InNamespace(project.Namespace(f.B))) == nil && len(l.Items) == 1
	})
	return f
}

func (f *fixture) mustCreate(o client.Object) {
	f.t.Helper()
	if err := f.direct.Create(context.Background(), o); err != nil {
		f.t.Fatal(err)
	}
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

func (f *fixture) seed(p, name string) { f.t.Helper(); f.mustCreate(newApp(p, name)) }

func (f *fixture) app(p, name string) *gitopsv1alpha1.Application {
	f.t.Helper()
	app := &gitopsv1alpha1.Application{}
	if err := f.direct.Get(context.Background(), types.NamespacedName{Namespace: project.Namespace(p), Name: name}, app); err != nil {
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
	if err := f.direct.Patch(context.Background(), app, patch); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) eventually(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fixture) do(token, method, path string) (int, string) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func (f *fixture) expect(token, method, path string, code int, contains ...string) string {
	f.t.Helper()
	got, body := f.do(token, method, path)
	if got != code {
		f.t.Fatalf("%s %s as %q: got %d, want %d: %s", method, path, token, got, code, body)
	}
	for _, s := range contains {
		if !strings.Contains(body, s) {
			f.t.Fatalf("%s %s as %q: answer lacks %q: %s", method, path, token, s, body)
		}
	}
	return body
}

// controller stands in for the GitOps controller's part in a refresh: it
// removes the annotation after a while, recording the mode it saw.
func (f *fixture) controller(p, name string, after time.Duration) <-chan string {
	seen := make(chan string, 1)
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			app := &gitopsv1alpha1.Application{}
			if err := f.direct.Get(context.Background(), types.NamespacedName{Namespace: project.Namespace(p), Name: name}, app); err == nil {
				if mode, ok := app.Annotations[RefreshAnnotation]; ok {
					time.Sleep(after)
					patch := []byte(`{"metadata":{"annotations":{"` + RefreshAnnotation + `":null,"compared":"yes"}}}`)
					_ = f.direct.Patch(context.Background(), app, client.RawPatch(types.MergePatchType, patch))
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

type sse struct {
	events chan StreamEvent
	named  chan string
	cancel func()
}

func (f *fixture) stream(token, path string) *sse {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	hc := f.client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		cancel()
		f.t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		data, _ := io.ReadAll(resp.Body)
		cancel()
		f.t.Fatalf("stream %s: %d %s", path, resp.StatusCode, data)
	}
	s := &sse{events: make(chan StreamEvent, 100), named: make(chan string, 10), cancel: cancel}
	f.t.Cleanup(cancel)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = line[7:]
			case strings.HasPrefix(line, "data: ") && event != "":
				s.named <- event
			case strings.HasPrefix(line, "data: "):
				var ev StreamEvent
				if err := json.Unmarshal([]byte(line[6:]), &ev); err != nil {
					panic(err)
				}
				s.events <- ev
			case line == "":
				event = ""
			}
		}
		close(s.events)
	}()
	return s
}

func (s *sse) next(t *testing.T, within time.Duration) StreamEvent {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(within):
		t.Fatalf("no event within %s", within)
	}
	return StreamEvent{}
}

// initial reads the ADDED events up to the synced marker: "ns/name,…".
func (s *sse) initial(t *testing.T) string {
	t.Helper()
	var got []string
	for {
		select {
		case ev := <-s.events:
			if ev.Result == nil || ev.Result.Type != EventAdded {
				t.Fatalf("initial event %+v, want ADDED", ev)
			}
			got = append(got, ev.Result.Application.Namespace+"/"+ev.Result.Application.Name)
		case name := <-s.named:
			if name != SyncedEvent {
				t.Fatalf("named event %q", name)
			}
			// Events sent before the marker may still be in the channel.
			for {
				select {
				case ev := <-s.events:
					got = append(got, ev.Result.Application.Namespace+"/"+ev.Result.Application.Name)
				default:
					return strings.Join(got, ",")
				}
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no synced event; so far %v", got)
		}
	}
}

func (s *sse) expect(t *testing.T, typ, name string) *gitopsv1alpha1.Application {
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
		if err := f.direct.Delete(context.Background(), &gitopsv1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}); err != nil {
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
	if err := f.enf.SetProjectPolicies(map[string]string{
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
	f.auth.revoke("alice")
	for {
		ev := s.next(t, 2*time.Second)
		if ev.Error != nil {
			if ev.Error.HTTPCode != 401 || !strings.Contains(ev.Error.Message, "invalid token") {
				t.Fatalf("error %+v", ev.Error)
			}
			break
		}
	}
	for _, x := range []*sse{all, onlyB, both} {
		x.cancel()
	}
	f.eventually("the streams to end", func() bool { return f.api.streams.Load() == 0 })
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

	noCache := &API{Client: f.api.Client, Auth: f.auth, Authorize: f.api.Authorize}
	req := httptest.NewRequest("GET", StreamPath, nil)
	req.Header.Set("Authorization", "Bearer alice")
	rec := httptest.NewRecorder()
	noCache.ServeHTTP(rec, req)
	if rec.Code != 501 || !strings.Contains(rec.Body.String(), "poll GET") {
		t.Fatalf("without informers: %d %s", rec.Code, rec.Body)
	}
}
