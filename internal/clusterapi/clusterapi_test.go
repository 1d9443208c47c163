package clusterapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/api/apitest"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/identity/accesskeys"
	"gantry.dev/gantry/internal/identity/authn"
)

func TestMain(m *testing.M) { os.Exit(apitest.Main(m)) }

// Tokens of the test's callers: admin is role:admin (built-in policy), alice
// the project admin of A, victor its viewer, bob the project admin of B,
// mallory nobody, carol may get the global cluster by its server (policy.csv).
const (
	tAdmin   = "t-admin"
	tAlice   = "t-alice"
	tVictor  = "t-victor"
	tBob     = "t-bob"
	tMallory = "t-mallory"
	tCarol   = "t-carol"
	tKeyA    = "t-key-a" // the admin's access key scoped to project A
)

// A server nobody listens on: probes fail at once.
const (
	globalServer = "https://127.0.0.1:1"
	bServer      = "https://127.0.0.2:1"
)

type fixture struct {
	*apitest.Env
	api  *API
	ns   string
	A, B string
	// server and host reach the shared kube-apiserver by two names, as two
	// clusters; token and ca are a ServiceAccount's credentials there.
	server, host string
	token        string
	ca           []byte
}

func setup(t *testing.T) *fixture {
	t.Helper()
	env := apitest.New(t, apitest.Options{GroupsFromCRDs: true, ProjectsFromCRDs: true,
		Policy: "p, carol, clusters, get, " + globalServer + ", allow\n"})
	f := &fixture{Env: env, ns: env.Kube.Namespace(t), A: apitest.Unique("ca"), B: apitest.Unique("cb")}
	ctx := context.Background()
	for _, u := range []string{"admin", "alice", "victor", "bob", "mallory", "carol"} {
		err := env.Direct.Create(ctx, &platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: u}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	member := func(name string, role platformv1alpha1.ProjectRole) platformv1alpha1.Member {
		return platformv1alpha1.Member{Kind: platformv1alpha1.MemberUser, Name: name, Role: role}
	}
	f.project(t, f.A, member("alice", platformv1alpha1.RoleProjectAdmin), member("victor", platformv1alpha1.RoleProjectViewer))
	f.project(t, f.B, member("bob", platformv1alpha1.RoleProjectAdmin))
	for tok, user := range map[string]string{tAdmin: "admin", tAlice: "alice", tVictor: "victor", tBob: "bob", tMallory: "mallory", tCarol: "carol"} {
		env.Tokens.Set(tok, authn.Identity{User: user, Via: "session"})
	}
	env.Tokens.Set(tKeyA, authn.Identity{User: "admin", Via: "accesskey", Scope: accesskeys.Scope{Project: f.A}})

	f.api = &API{Client: env.Direct, Namespace: f.ns, Host: env.Kube.Config}
	f.api.Register(env.Router)

	f.server = strings.TrimRight(env.Kube.Config.Host, "/")
	u, err := url.Parse(f.server)
	if err != nil {
		t.Fatal(err)
	}
	f.host = "https://localhost:" + u.Port()
	f.ca = env.Kube.Config.CAData
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "deployer", Namespace: f.ns}}
	env.MustCreate(sa)
	tr, err := env.Kube.Kube.CoreV1().ServiceAccounts(f.ns).CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.token = tr.Status.Token
	return f
}

func (f *fixture) project(t *testing.T, name string, members ...platformv1alpha1.Member) *platformv1alpha1.Project {
	t.Helper()
	p := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: platformv1alpha1.ProjectSpec{Members: members}}
	f.MustCreate(p)
	t.Cleanup(func() { _ = f.Direct.Delete(context.Background(), p) })
	return p
}

// add is the body of an add with the ServiceAccount's credentials.
func (f *fixture) add(name, server, project string) map[string]any {
	return map[string]any{"name": name, "server": server, "project": project,
		"config": map[string]any{"bearerToken": f.token, "tlsClientConfig": map[string]any{"caData": f.ca}}}
}

// plant writes a cluster Secret as an administrator would with kubectl.
func (f *fixture) plant(t *testing.T, secretName, name, server, project string, labels map[string]string) {
	t.Helper()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[cluster.SecretTypeLabel] = cluster.SecretTypeValue
	data := map[string]string{"name": name, "server": server, "config": `{"bearerToken": "PLANTED-TOKEN"}`}
	if project != "" {
		data["project"] = project
	}
	f.MustCreate(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: f.ns, Labels: labels}, StringData: data})
}

func (f *fixture) secrets(t *testing.T) []corev1.Secret {
	t.Helper()
	var list corev1.SecretList
	if err := f.Direct.List(context.Background(), &list, client.InNamespace(f.ns),
		client.MatchingLabels{cluster.SecretTypeLabel: cluster.SecretTypeValue}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// noCredentials fails when an answer carries a token or the CA, or a
// cluster's config.
func (f *fixture) noCredentials(t *testing.T, r apitest.Reply) {
	t.Helper()
	for _, secret := range []string{f.token, "PLANTED-TOKEN", base64.StdEncoding.EncodeToString(f.ca)[:40], "BEGIN CERTIFICATE"} {
		if strings.Contains(r.Body, secret) {
			t.Fatalf("the answer carries credentials (%.12s…): %s", secret, r.Body)
		}
	}
	items := append(r.Items(), r.JSON)
	for _, it := range items {
		if _, ok := it["config"]; ok {
			t.Fatalf("the answer carries a cluster's config: %s", r.Body)
		}
	}
}

func connection(t *testing.T, item map[string]any) (status, message, version string) {
	t.Helper()
	info, _ := item["info"].(map[string]any)
	cs, _ := info["connectionState"].(map[string]any)
	status, _ = cs["status"].(string)
	message, _ = cs["message"].(string)
	version, _ = info["serverVersion"].(string)
	return status, message, version
}

// An administrator adds a cluster as `argocd cluster add` does: gantry checks
// that it reaches the cluster with the credentials, keeps them in an Argo CD
// cluster Secret, and shows the cluster with its connection state, never the
// credentials.
func TestAddGetListRemove(t *testing.T) {
	f := setup(t)
	r := f.Do(tAdmin, http.MethodPost, Prefix, f.add("prod", f.server+"/", ""))
	r.Want(t, http.StatusCreated, "")
	f.noCredentials(t, r)
	if status, msg, version := connection(t, r.JSON); status != cluster.ConnectionSuccessful || version == "" {
		t.Fatalf("a reachable cluster: %s %q version %q", status, msg, version)
	}
	if r.JSON["server"] != f.server || r.JSON["registeredBy"] != "admin" {
		t.Errorf("answer %v", r.JSON)
	}
	secrets := f.secrets(t)
	if len(secrets) != 1 {
		t.Fatalf("%d cluster Secrets, want 1", len(secrets))
	}
	s := secrets[0]
	var cfg cluster.Config
	if err := json.Unmarshal(s.Data["config"], &cfg); err != nil || cfg.BearerToken != f.token || string(cfg.TLSClientConfig.CAData) != string(f.ca) {
		t.Errorf("Secret config %s: %v", s.Data["config"], err)
	}
	if string(s.Data["name"]) != "prod" || string(s.Data["server"]) != f.server || len(s.OwnerReferences) != 0 || s.Data["project"] != nil {
		t.Errorf("Secret %s: data %v, owners %v", s.Name, s.Data, s.OwnerReferences)
	}
	if _, err := cluster.Parse(&s); err != nil {
		t.Errorf("gantry's engine cannot read the Secret: %v", err)
	}

	r = f.Do(tAdmin, http.MethodGet, Prefix+"/prod", nil)
	r.Want(t, http.StatusOK, "")
	f.noCredentials(t, r)
	if status, _, _ := connection(t, r.JSON); status != cluster.ConnectionSuccessful {
		t.Errorf("get: %v", r.JSON)
	}
	r = f.Do(tAdmin, http.MethodGet, Prefix, nil)
	r.Want(t, http.StatusOK, "")
	f.noCredentials(t, r)
	if got := r.Names(); !slices.Equal(got, []string{cluster.HostName, "prod"}) {
		t.Errorf("list: %v", got)
	}
	if status, _, _ := connection(t, r.Items()[0]); status != cluster.ConnectionSuccessful {
		t.Errorf("the host: %v", r.Items()[0])
	}

	// Names and servers are unique: one cluster must not stand in for another.
	f.Do(tAdmin, http.MethodPost, Prefix, f.add("prod", f.host, "")).Want(t, http.StatusConflict, `a cluster named "prod" is registered already`)
	f.Do(tAdmin, http.MethodPost, Prefix, f.add("prod2", f.server, "")).Want(t, http.StatusConflict, "server "+f.server+" is registered already")

	f.Do(tAdmin, http.MethodDelete, Prefix+"/prod", nil).Want(t, http.StatusOK, "")
	if n := len(f.secrets(t)); n != 0 {
		t.Fatalf("%d cluster Secrets after the remove", n)
	}
	f.Do(tAdmin, http.MethodGet, Prefix+"/prod", nil).Want(t, http.StatusNotFound, `cluster "prod" not found`)
	f.Do(tAdmin, http.MethodDelete, Prefix+"/"+cluster.HostName, nil).Want(t, http.StatusConflict, "cannot be removed")
}

// Bad input is refused with what is wrong and how to fix it, and writes
// nothing.
func TestAddRefusesBadInput(t *testing.T) {
	f := setup(t)
	withConfig := func(name, server string, cfg map[string]any) map[string]any {
		return map[string]any{"name": name, "server": server, "config": cfg}
	}
	wrongToken := f.add("x", f.server, "")
	wrongToken["config"] = map[string]any{"bearerToken": "not-a-token", "tlsClientConfig": map[string]any{"caData": f.ca}}
	noCA := f.add("x", f.server, "")
	noCA["config"] = map[string]any{"bearerToken": f.token}
	for body, want := range map[any]string{
		`{"name": "x", "server": "` + f.server + `", "bearer": "t"}`: `unknown field "bearer"`,
		`[1]`: "not valid JSON",
		"":    "request body is empty",
	} {
		f.Do(tAdmin, http.MethodPost, Prefix, body).Want(t, http.StatusBadRequest, want)
	}
	for name, tc := range map[string]struct {
		body map[string]any
		want string
	}{
		"slash in name":   {f.add("team/prod", f.server, ""), "contains '/'"},
		"the host's name": {f.add(cluster.HostName, f.server, ""), "is the host's"},
		"no name":         {f.add("", f.server, ""), "name is empty"},
		"the host":        {f.add("x", cluster.HostServer, ""), "always registered as in-cluster"},
		"not a URL":       {f.add("x", "prod:6443", ""), "is not an API server URL"},
		"a query":         {f.add("x", f.server+"?a=b", ""), "is not an API server URL"},
		"bad project":     {f.add("x", f.server, "Bad_Project"), `project "Bad_Project"`},
		"no project":      {f.add("x", f.server, "nope"), "project nope not found"},
		"no credentials":  {withConfig("x", f.server, map[string]any{"tlsClientConfig": map[string]any{"insecure": true}}), "no credentials"},
		"exec plugin":     {withConfig("x", f.server, map[string]any{"execProviderConfig": map[string]any{"command": "aws"}}), `unknown field "execProviderConfig"`},
		"wrong token":     {wrongToken, "the credentials are not accepted"},
		"unknown CA":      {noCA, "certificate"},
		"nobody there":    {f.add("x", globalServer, ""), "gantry cannot reach " + globalServer},
	} {
		r := f.Do(tAdmin, http.MethodPost, Prefix, tc.body)
		code := http.StatusBadRequest
		if name == "no project" {
			code = http.StatusNotFound
		}
		if r.Code != code || !strings.Contains(r.Message(), tc.want) {
			t.Errorf("%s: %d %q, want %d mentioning %q", name, r.Code, r.Message(), code, tc.want)
		}
		f.noCredentials(t, r)
	}
	if n := len(f.secrets(t)); n != 0 {
		t.Fatalf("refused adds wrote %d cluster Secrets", n)
	}
}

// A project admin adds and removes clusters for their project, which only its
// people see; the Secret is the project's, so deleting the project removes it.
func TestProjectCluster(t *testing.T) {
	f := setup(t)
	r := f.Do(tAlice, http.MethodPost, Prefix, f.add("a-dev", f.host, f.A))
	r.Want(t, http.StatusCreated, "")
	f.noCredentials(t, r)
	if r.JSON["project"] != f.A || r.JSON["registeredBy"] != "alice" {
		t.Errorf("answer %v", r.JSON)
	}
	s := f.secrets(t)[0]
	if string(s.Data["project"]) != f.A || len(s.OwnerReferences) != 1 || s.OwnerReferences[0].Kind != "Project" || s.OwnerReferences[0].Name != f.A {
		t.Errorf("Secret %s: project %q, owners %v", s.Name, s.Data["project"], s.OwnerReferences)
	}
	for tok, want := range map[string][]string{
		tAlice:   {"a-dev"},
		tVictor:  {"a-dev"},
		tKeyA:    {"a-dev"},
		tBob:     nil,
		tMallory: nil,
		tAdmin:   {cluster.HostName, "a-dev"},
	} {
		r := f.Do(tok, http.MethodGet, Prefix, nil)
		r.Want(t, http.StatusOK, "")
		if got := r.Names(); !slices.Equal(got, want) {
			t.Errorf("%s lists %v, want %v", tok, got, want)
		}
	}
	f.Do(tVictor, http.MethodDelete, Prefix+"/a-dev", nil).Want(t, http.StatusForbidden, "")
	f.Do(tBob, http.MethodDelete, Prefix+"/a-dev", nil).Want(t, http.StatusNotFound, "")
	f.Do(tAlice, http.MethodDelete, Prefix+"/a-dev", nil).Want(t, http.StatusOK, "")

	// Deleting the project takes its clusters with it (the garbage collector,
	// through the owner reference).
	f.Do(tAlice, http.MethodPost, Prefix, f.add("a-dev", f.host, f.A)).Want(t, http.StatusCreated, "")
	p := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: f.A}}
	if err := f.Direct.Delete(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	apitest.Eventually(t, time.Minute, "the project's cluster Secret deleted with the project", func() bool {
		return len(f.secrets(t)) == 0
	})
}

// A virtual cluster's entry is gantry's: it is removed by deleting the
// virtual cluster, never through this API.
func TestVirtualClusterEntry(t *testing.T) {
	f := setup(t)
	f.plant(t, cluster.SecretName("p-"+f.A, "dev"), cluster.ClusterName("p-"+f.A, "dev"), "https://127.0.0.3:1", f.A,
		map[string]string{cluster.LabelVCluster: "dev", cluster.LabelVClusterNamespace: "p-" + f.A})
	name := "p-" + f.A + "/dev"
	r := f.Do(tVictor, http.MethodGet, Prefix+"/"+name, nil)
	r.Want(t, http.StatusOK, "")
	f.noCredentials(t, r)
	if r.JSON["virtualCluster"] != "dev" || r.JSON["project"] != f.A {
		t.Errorf("entry %v", r.JSON)
	}
	if status, msg, _ := connection(t, r.JSON); status != cluster.ConnectionFailed || !strings.Contains(msg, "connection refused") {
		t.Errorf("an unreachable cluster: %s %q", status, msg)
	}
	// The CLI escapes the slash; the same entry.
	f.Do(tVictor, http.MethodGet, Prefix+"/"+url.PathEscape(name), nil).Want(t, http.StatusOK, "")
	f.Do(tAlice, http.MethodDelete, Prefix+"/"+name, nil).Want(t, http.StatusConflict, "delete the virtual cluster instead (gantry vcluster delete dev --project "+f.A+")")
	f.Do(tAdmin, http.MethodDelete, Prefix+"/"+name, nil).Want(t, http.StatusConflict, "delete the virtual cluster instead")
	if n := len(f.secrets(t)); n != 1 {
		t.Fatalf("the virtual cluster's entry was removed")
	}
}

// The attacker is project A's admin: nothing of project B, nor any global
// cluster, is theirs to see, add, take over or remove.
func TestTenancy(t *testing.T) {
	f := setup(t)
	f.plant(t, "global", "global", globalServer, "", nil)
	f.plant(t, "b-prod", "b-prod", bServer, f.B, nil)

	r := f.Do(tAlice, http.MethodGet, Prefix, nil)
	r.Want(t, http.StatusOK, "")
	if got := r.Names(); len(got) != 0 {
		t.Errorf("alice lists %v, want nothing", got)
	}
	for _, name := range []string{"global", "b-prod", cluster.HostName} {
		f.Do(tAlice, http.MethodGet, Prefix+"/"+name, nil).Want(t, http.StatusNotFound, "not found")
		f.Do(tAlice, http.MethodDelete, Prefix+"/"+name, nil).Want(t, http.StatusNotFound, "not found")
	}
	f.Do(tAlice, http.MethodPost, Prefix, f.add("mine", f.server, f.B)).Want(t, http.StatusForbidden, "alice cannot create clusters "+f.B+"/"+f.server)
	f.Do(tAlice, http.MethodPost, Prefix, f.add("mine", f.server, "")).Want(t, http.StatusForbidden, "alice cannot create clusters "+f.server)
	f.Do(tKeyA, http.MethodPost, Prefix, f.add("mine", f.server, "")).Want(t, http.StatusForbidden, "scoped to project "+f.A)
	f.Do(tMallory, http.MethodPost, Prefix, f.add("mine", f.server, f.A)).Want(t, http.StatusForbidden, "")
	f.Do(tVictor, http.MethodPost, Prefix, f.add("mine", f.server, f.A)).Want(t, http.StatusForbidden, "")
	// Taking over B's destination by name or server is refused, and does
	// not say whose it is.
	r = f.Do(tAlice, http.MethodPost, Prefix, f.add("b-prod", f.server, f.A))
	r.Want(t, http.StatusConflict, `a cluster named "b-prod" is registered already`)
	if strings.Contains(r.Message(), f.B) {
		t.Errorf("the refusal names project B: %s", r.Message())
	}
	f.Do(tAlice, http.MethodPost, Prefix, f.add("b-prod-2", bServer, f.A)).Want(t, http.StatusConflict, "registered already")

	for tok, want := range map[string][]string{
		tBob:     {"b-prod"},
		tCarol:   {"global"}, // policy.csv names its server, as in Argo CD
		tMallory: nil,
		tKeyA:    nil,
		tAdmin:   {cluster.HostName, "b-prod", "global"},
	} {
		r := f.Do(tok, http.MethodGet, Prefix, nil)
		r.Want(t, http.StatusOK, "")
		f.noCredentials(t, r)
		if got := r.Names(); !slices.Equal(got, want) {
			t.Errorf("%s lists %v, want %v", tok, got, want)
		}
	}
	f.Do(tCarol, http.MethodDelete, Prefix+"/global", nil).Want(t, http.StatusForbidden, "carol cannot delete clusters "+globalServer)
	if n := len(f.secrets(t)); n != 2 {
		t.Fatalf("%d cluster Secrets, want the 2 planted", n)
	}
	f.Do("", http.MethodGet, Prefix, nil).Want(t, http.StatusUnauthorized, "")
	f.Do("", http.MethodPost, Prefix, f.add("x", f.server, "")).Want(t, http.StatusUnauthorized, "")
	f.Do("", http.MethodDelete, Prefix+"/global", nil).Want(t, http.StatusUnauthorized, "")
}
