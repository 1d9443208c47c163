package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// apiCall sends a request to gantry's HTTPS API with an optional bearer token.
func (g *gantry) apiCall(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, "https://"+g.httpAddr+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.httpsClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(data, &m)
	return resp.StatusCode, m
}

func (g *gantry) login(t *testing.T, user, password string) string {
	t.Helper()
	code, resp := g.apiCall(t, "POST", "/api/v1/session", "", fmt.Sprintf(`{"username":%q,"password":%q}`, user, password))
	if code != 200 {
		t.Fatalf("login %s: %d %v", user, code, resp)
	}
	return resp["token"].(string)
}

// TestIdentity: the bootstrap admin, local users, project roles enforced on the
// REST API and inside a virtual cluster (by its own RBAC, through impersonation),
// rate-limited logins, and no password in any log.
func TestIdentity(t *testing.T) {
	parallel(t)
	dataDir := t.TempDir()
	g := startGantry(t, dataDir, "--nodes", "1")
	g.waitReady(2 * time.Minute)
	ctx := context.Background()

	m := regexp.MustCompile(`admin password: (\S+)`).FindStringSubmatch(g.output())
	if m == nil {
		t.Fatalf("first start did not show the admin password:\n%s", g.output())
	}
	adminPassword := m[1]
	host := g.client()
	s, err := host.CoreV1().Secrets("gantry-system").Get(ctx, "gantry-user-admin", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(s.Data["passwordHash"]), "$2") || strings.Contains(string(s.Data["passwordHash"]), adminPassword) {
		t.Errorf("the admin password must be kept as a bcrypt hash only")
	}

	// Every endpoint refuses anonymous callers.
	for _, call := range [][2]string{
		{"GET", "/api/v1/applications"}, {"GET", "/kubernetes/project/default/virtualcluster/dev/api"},
		{"GET", "/api/v1/accesskeys"}, {"GET", "/api/v1/oidc-clients"}, {"POST", "/api/v1/oidc-clients"},
		{"POST", "/api/v1/virtualclusters/default/dev/credential"}, {"GET", "/metrics"},
	} {
		if code, _ := g.apiCall(t, call[0], call[1], "", ""); code != 401 {
			t.Errorf("%s %s without credentials: %d, want 401", call[0], call[1], code)
		}
	}
	if code, _ := g.apiCall(t, "GET", "/api/v1/applications", "not-a-token", ""); code != 401 {
		t.Errorf("a bogus token: %d, want 401", code)
	}

	// The CLI logs in with the bootstrap password; a wrong one is refused.
	cmd := exec.Command(gantryBin, "login", "--password-stdin", "--data-dir", dataDir)
	cmd.Stdin = strings.NewReader("wrong-password\n")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("login with a wrong password succeeded:\n%s", out)
	}
	cmd = exec.Command(gantryBin, "login", "--password-stdin", "--data-dir", dataDir)
	cmd.Stdin = strings.NewReader(adminPassword + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gantry login: %v\n%s", err, out)
	}
	adminToken := g.login(t, "admin", adminPassword)
	code, info := g.apiCall(t, "GET", "/api/v1/session/userinfo", adminToken, "")
	if code != 200 || info["username"] != "admin" || info["loggedIn"] != true {
		t.Errorf("userinfo: %d %v", code, info)
	}

	// alice: viewer of project default; a project "other" she is not in.
	cmd = exec.Command(gantryBin, "user", "create", "alice", "--password-stdin", "--data-dir", dataDir)
	cmd.Stdin = strings.NewReader("alice-secret-pw\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"project", "add-member", "default", "--user", "alice", "--role", "project-viewer"},
		{"project", "create", "other"},
	} {
		if out, err := run(t, append(args, "--data-dir", dataDir)...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	for _, p := range []string{"default", "other"} {
		app := fmt.Sprintf(`{"metadata":{"name":"app-%s","namespace":"p-%s"},"spec":{"project":%q,"source":{"repoURL":"file:///nowhere","path":"."},"destination":{"server":"https://kubernetes.default.svc","namespace":"x"}}}`, p, p, p)
		eventually(t, 20*time.Second, "admin creates an app in "+p, func() error {
			if code, resp := g.apiCall(t, "POST", "/api/v1/applications", adminToken, app); code != 200 {
				return fmt.Errorf("%d %v", code, resp)
			}
			return nil
		})
	}
	alice := g.login(t, "alice", "alice-secret-pw")
	eventually(t, 20*time.Second, "alice sees only her project's app", func() error {
		code, list := g.apiCall(t, "GET", "/api/v1/applications", alice, "")
		if code != 200 {
			return fmt.Errorf("list: %d %v", code, list)
		}
		var names []string
		for _, it := range list["items"].([]any) {
			names = append(names, it.(map[string]any)["metadata"].(map[string]any)["name"].(string))
		}
		if strings.Join(names, ",") != "app-default" {
			return fmt.Errorf("alice sees %v", names)
		}
		return nil
	})
	if code, _ := g.apiCall(t, "GET", "/api/v1/applications/app-other?appNamespace=p-other", alice, ""); code != 403 {
		t.Errorf("alice reading another project's app: %d, want 403", code)
	}
	if code, _ := g.apiCall(t, "POST", "/api/v1/applications/app-default/sync", alice, "{}"); code != 403 {
		t.Errorf("a viewer syncing: %d, want 403", code)
	}
	if code, _ := g.apiCall(t, "DELETE", "/api/v1/applications/app-default", alice, ""); code != 403 {
		t.Errorf("a viewer deleting: %d, want 403", code)
	}
	// Registering applications with gantry's OpenID Connect provider is for admins.
	if code, _ := g.apiCall(t, "GET", "/api/v1/oidc-clients", alice, ""); code != 403 {
		t.Errorf("a non-admin listing OIDC clients: %d, want 403", code)
	}
	if code, _ := g.apiCall(t, "POST", "/api/v1/oidc-clients", alice, `{"id":"mine","redirectURIs":["https://x.example.com/cb"]}`); code != 403 {
		t.Errorf("a non-admin registering an OIDC client: %d, want 403", code)
	}
	// The REST API for projects and users (what the web UI uses) shows her
	// only her project and herself.
	eventually(t, 20*time.Second, "alice lists only her project", func() error {
		code, list := g.apiCall(t, "GET", "/api/v1/projects", alice, "")
		if code != 200 || len(list["items"].([]any)) != 1 || list["items"].([]any)[0].(map[string]any)["name"] != "default" {
			return fmt.Errorf("%d %v", code, list)
		}
		return nil
	})
	if code, me := g.apiCall(t, "GET", "/api/v1/users/alice", alice, ""); code != 200 || me["passwordSet"] != true || fmt.Sprint(me) == "" ||
		strings.Contains(fmt.Sprint(me), "alice-secret-pw") {
		t.Errorf("alice reading herself: %d %v", code, me)
	}
	if code, _ := g.apiCall(t, "POST", "/api/v1/users", alice, `{"name":"mallory","password":"mallory-secret-pw"}`); code != 403 {
		t.Errorf("a non-admin creating a user: %d, want 403", code)
	}
	if code, _ := g.apiCall(t, "POST", "/api/v1/projects/default/members", alice, `{"kind":"User","name":"alice","role":"project-admin"}`); code != 403 {
		t.Errorf("a viewer making herself project-admin: %d, want 403", code)
	}
	// No token for a virtual cluster of a project she is not in.
	if code, _ := g.apiCall(t, "POST", "/api/v1/virtualclusters/other/any/credential", alice, ""); code != 403 {
		t.Errorf("a credential for another project's virtual cluster: %d, want 403", code)
	}

	// Inside a virtual cluster alice is herself: she can read, and the virtual
	// cluster's own RBAC refuses her delete.
	createVCluster(t, dataDir, "dev")
	out, err := run(t, "vcluster", "connect", "dev", "--proxy", "--print", "--data-dir", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	cfg.BearerToken = alice
	vc := kubernetes.NewForConfigOrDie(cfg)
	// Eventually: the view role is filled in by the cluster's role aggregation
	// controller a moment after a new virtual cluster starts.
	eventually(t, 20*time.Second, "a viewer reads inside the virtual cluster", func() error {
		_, err := vc.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	admin := rest.CopyConfig(cfg)
	admin.BearerToken = adminToken
	if _, err := kubernetes.NewForConfigOrDie(admin).CoreV1().Namespaces().Create(ctx, nsObj("made-by-admin"), metav1.CreateOptions{}); err != nil {
		t.Errorf("the admin creating a namespace inside the virtual cluster: %v", err)
	}
	err = vc.CoreV1().Namespaces().Delete(ctx, "made-by-admin", metav1.DeleteOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "gantry:alice") {
		t.Errorf("a viewer's delete inside the virtual cluster must be refused by its RBAC as gantry:alice: %v", err)
	}

	// Access keys: scoped, revocable, expiring, stored hashed.
	code, key := g.apiCall(t, "POST", "/api/v1/accesskeys", adminToken, `{"name":"ci","project":"default"}`)
	if code != 200 || !strings.HasPrefix(fmt.Sprint(key["key"]), "gak_") {
		t.Fatalf("create access key: %d %v", code, key)
	}
	ci := key["key"].(string)
	if code, _ := g.apiCall(t, "GET", "/api/v1/applications/app-default", ci, ""); code != 200 {
		t.Errorf("a key scoped to default reading an app of default: %d", code)
	}
	if code, _ := g.apiCall(t, "GET", "/api/v1/applications/app-other?appNamespace=p-other", ci, ""); code != 403 {
		t.Errorf("a key scoped to default reading another project's app: %d, want 403", code)
	}
	if code, _ := g.apiCall(t, "POST", "/api/v1/accesskeys", ci, `{"name":"more"}`); code != 403 {
		t.Errorf("an access key minting keys: %d, want 403", code)
	}
	keySecrets, _ := host.CoreV1().Secrets("gantry-system").List(ctx, metav1.ListOptions{LabelSelector: "platform.gantry.dev/accesskey=true"})
	for _, ks := range keySecrets.Items {
		for _, v := range ks.Data {
			if strings.Contains(ci, string(v)) && len(v) > 20 {
				t.Errorf("Secret %s holds the key's secret", ks.Name)
			}
		}
	}
	if code, _ := g.apiCall(t, "DELETE", "/api/v1/accesskeys/"+key["id"].(string), adminToken, ""); code != 200 {
		t.Errorf("revoke: %d", code)
	}
	if code, _ := g.apiCall(t, "GET", "/api/v1/applications/app-default", ci, ""); code != 401 {
		t.Errorf("a revoked key: %d, want 401", code)
	}
	_, short := g.apiCall(t, "POST", "/api/v1/accesskeys", adminToken, `{"name":"short","expiresIn":"1s"}`)
	time.Sleep(2 * time.Second)
	if code, _ := g.apiCall(t, "GET", "/api/v1/applications", short["key"].(string), ""); code != 401 {
		t.Errorf("an expired key: %d, want 401", code)
	}

	// Guessing is slowed down: after 5 failures, 429 with Retry-After.
	var last int
	for i := 0; i < 7; i++ {
		last, _ = g.apiCall(t, "POST", "/api/v1/session", "", `{"username":"alice","password":"nope-nope"}`)
	}
	if last != 429 {
		t.Errorf("repeated failed logins: last answer %d, want 429", last)
	}

	// No password or token in any log.
	logs, _ := filepath.Glob(filepath.Join(dataDir, "logs", "*.log"))
	for _, f := range logs {
		data, _ := os.ReadFile(f)
		for _, secret := range []string{adminPassword, "alice-secret-pw", alice, adminToken, ci} {
			if strings.Contains(string(data), secret) {
				t.Errorf("%s contains a password or token", filepath.Base(f))
			}
		}
	}
}

func nsObj(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}
