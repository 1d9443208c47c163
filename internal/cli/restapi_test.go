package cli

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/appapi"
	"gantry.dev/gantry/internal/appsetapi"
	"gantry.dev/gantry/internal/clusterapi"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/kubetest"
	"gantry.dev/gantry/internal/project"
	"gantry.dev/gantry/internal/projectapi"
	"gantry.dev/gantry/internal/runstate"
	"gantry.dev/gantry/internal/server"
	"gantry.dev/gantry/internal/vcapi"
)

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard()) // the cache's informers log through it
	os.Exit(kubetest.Main(m))
}

// tokens maps bearer tokens to identities: the test's authenticator.
type tokens map[string]authn.Identity

func (t tokens) Authenticate(r *http.Request) (authn.Identity, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return authn.Identity{}, authn.ErrNoCredentials
	}
	id, ok := t[tok]
	if !ok {
		return authn.Identity{}, errors.New("invalid token")
	}
	return id, nil
}

// adminToken is the local admin token of the fixture's data directory.
const adminToken = "local-admin-token"

// restFixture is gantry's REST API as the CLI meets it (applications,
// virtual clusters, projects) over HTTPS, on a real kube-apiserver, with
// gantry's RBAC: project A has alice as a project-member, project B has bob.
// No controller runs; a test plays its part where it needs one. The CLI
// reaches it as a logged-in user (a config file per user) or, through a data
// directory, with the local admin token.
type restFixture struct {
	t       *testing.T
	direct  client.Client // the host without cache: the truth
	srv     *httptest.Server
	dataDir string
	A, B    string
	// clusterNS holds the fixture's cluster Secrets (gantry-system's part).
	clusterNS string
	configs   map[string]string // user → CLI config file with their login
}

var restFixtures atomic.Int32

func newRESTFixture(t *testing.T) *restFixture {
	t.Helper()
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	n := strconv.Itoa(int(restFixtures.Add(1)))
	f := &restFixture{t: t, direct: env.Client, A: "alpha" + n, B: "beta" + n, configs: map[string]string{}}
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
	if err := enf.SetPolicy("g, admin, role:admin\n", "", ""); err != nil {
		t.Fatal(err)
	}
	if err := enf.SetProjectPolicies(map[string]string{
		f.A: rbac.ProjectPolicy(f.A, []rbac.Member{{Kind: rbac.MemberUser, Name: "alice", Role: rbac.ProjectMember}}),
		f.B: rbac.ProjectPolicy(f.B, []rbac.Member{{Kind: rbac.MemberUser, Name: "bob", Role: rbac.ProjectMember}}),
	}); err != nil {
		t.Fatal(err)
	}
	auth := tokens{"alice": {User: "alice", Via: "session"}, "bob": {User: "bob", Via: "session"},
		adminToken: {User: authn.AdminUser, Via: "admin-token"}}

	router := api.NewRouter(auth, enf.Authorize)
	f.srv = httptest.NewUnstartedServer(router)
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	(&appapi.API{Client: cached, Informers: informers,
		DefaultNamespace: project.Namespace("default"), RefreshTimeout: 5 * time.Second}).Register(router)
	(&appsetapi.API{Client: cached, DefaultNamespace: project.Namespace("default")}).Register(router)
	(&vcapi.API{Client: cached, ExternalURL: f.srv.URL, ServerCA: ca}).Register(router)
	(&projectapi.API{Client: env.Client, Namespace: "gantry-system"}).Register(router)
	f.clusterNS = env.Namespace(t)
	(&clusterapi.API{Client: env.Client, Namespace: f.clusterNS, Host: env.Config}).Register(router)

	for _, p := range []string{f.A, f.B} {
		f.create(&platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: p}})
		f.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: project.Namespace(p)}})
	}
	// Logins: one CLI config file per user, as gantry login writes it.
	for _, user := range []string{"alice", "bob"} {
		path := filepath.Join(t.TempDir(), "config.json")
		s := cliSession{Username: user, Token: user, RefreshToken: "unused", CA: string(ca), ExpiresAt: time.Now().Add(time.Hour)}
		if err := (sessionStore{file: path, server: f.srv.URL}).save(s, true); err != nil {
			t.Fatal(err)
		}
		f.configs[user] = path
	}
	// The gantry machine: a data directory whose gantry runs at srv.
	f.dataDir = t.TempDir()
	if err := runstate.Write(f.dataDir, runstate.State{Pid: os.Getpid(), DataDir: f.dataDir, ExternalURL: f.srv.URL}); err != nil {
		t.Fatal(err)
	}
	must(t, os.MkdirAll(filepath.Dir(server.CAPath(f.dataDir)), 0o700))
	must(t, os.WriteFile(server.CAPath(f.dataDir), ca, 0o600))
	must(t, os.WriteFile(authn.AdminTokenPath(f.dataDir), []byte(adminToken+"\n"), 0o600))
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (f *restFixture) create(o client.Object) {
	f.t.Helper()
	must(f.t, f.direct.Create(context.Background(), o))
}

// gantry runs a command in-process as user ("admin": on the gantry machine,
// without a login) and returns what it printed and its error.
func (f *restFixture) gantry(user string, args ...string) (string, error) {
	f.t.Helper()
	if user == authn.AdminUser {
		f.t.Setenv(EnvConfig, filepath.Join(f.t.TempDir(), "none.json"))
		args = append(args, "--data-dir", f.dataDir)
	} else {
		f.t.Setenv(EnvConfig, f.configs[user])
		args = append(args, "--server", f.srv.URL)
	}
	root, _ := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader("")) // a question is answered with nothing
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

// must runs a command that must succeed.
func (f *restFixture) must(user string, args ...string) string {
	f.t.Helper()
	out, err := f.gantry(user, args...)
	if err != nil {
		f.t.Fatalf("gantry %s as %s: %v\n%s", strings.Join(args, " "), user, err, out)
	}
	return out
}

// app reads an application past any cache.
func (f *restFixture) app(p, name string) *gitopsv1alpha1.Application {
	f.t.Helper()
	app := &gitopsv1alpha1.Application{}
	must(f.t, f.direct.Get(context.Background(), client.ObjectKey{Namespace: project.Namespace(p), Name: name}, app))
	return app
}

// controller plays the GitOps controller's part in one operation on app
// p/name, in its order: it takes app.operation (clears it) first and writes
// the result a moment later, so that a client that cannot tell its own
// result from an earlier one stops too soon. The result is a Succeeded
// state and a history entry with the operation's initiator.
func (f *restFixture) controller(p, name string) <-chan *gitopsv1alpha1.Operation {
	taken := make(chan *gitopsv1alpha1.Operation, 1)
	go func() {
		defer close(taken)
		ctx := context.Background()
		key := client.ObjectKey{Namespace: project.Namespace(p), Name: name}
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			app := &gitopsv1alpha1.Application{}
			if f.direct.Get(ctx, key, app) != nil || app.Operation == nil {
				continue
			}
			op := app.Operation.DeepCopy()
			if f.direct.Patch(ctx, app, client.RawPatch("application/merge-patch+json", []byte(`{"operation":null}`))) != nil {
				return
			}
			time.Sleep(500 * time.Millisecond)
			started := metav1.Now()
			app.Status.OperationState = &gitopsv1alpha1.OperationState{Operation: *op, Phase: gitopsv1alpha1.OperationSucceeded,
				Message: "successfully synced by the test", StartedAt: started, FinishedAt: &started}
			app.Status.History = append(app.Status.History, gitopsv1alpha1.RevisionHistory{ID: int64(len(app.Status.History) + 1),
				Revision: "c0ffee" + strconv.Itoa(len(app.Status.History)), DeployedAt: started, InitiatedBy: op.InitiatedBy,
				Source: app.Spec.Source.DeepCopy()})
			if f.direct.Status().Update(ctx, app) != nil {
				return
			}
			taken <- op
			return
		}
	}()
	return taken
}
