package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// remoteCLI runs gantry as a user on another machine: their own config file,
// a home without a gantry, nothing of the server's data directory.
type remoteCLI struct {
	t      *testing.T
	config string
	env    []string
}

func newRemoteCLI(t *testing.T) *remoteCLI {
	home := t.TempDir()
	r := &remoteCLI{t: t, config: filepath.Join(home, ".config", "gantry-alice", "config.json")}
	r.env = append(os.Environ(), "GANTRY_CONFIG="+r.config, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"GANTRY_DATA_DIR="+filepath.Join(home, "no-gantry-here"))
	return r
}

// run runs a gantry command with stdin; it returns the combined output and
// the exit status.
func (r *remoteCLI) run(stdin string, args ...string) (string, int) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gantryBin, args...)
	cmd.Env = r.env
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	case err != nil:
		r.t.Fatalf("gantry %v: %v", args, err)
	}
	return string(out), 0
}

// must runs a command that must succeed.
func (r *remoteCLI) must(args ...string) string {
	r.t.Helper()
	out, code := r.run("", args...)
	if code != 0 {
		r.t.Fatalf("gantry %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// session is the config file's one context.
func (r *remoteCLI) session() map[string]any {
	r.t.Helper()
	data, err := os.ReadFile(r.config)
	if err != nil {
		r.t.Fatal(err)
	}
	var cfg struct {
		Current  string
		Contexts []map[string]any
	}
	if err := json.Unmarshal(data, &cfg); err != nil || len(cfg.Contexts) != 1 {
		r.t.Fatalf("config file: %v\n%s", err, data)
	}
	return cfg.Contexts[0]
}

// kubeClient is a client from a kubeconfig that `gantry vcluster connect`
// printed, as kubectl would use it (exec plugin included).
func kubeClient(t *testing.T, kubeconfig string) (*kubernetes.Clientset, string) {
	t.Helper()
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(kubeconfig))
	if err != nil {
		t.Fatalf("no usable kubeconfig: %v\n%s", err, kubeconfig)
	}
	if cfg.ExecProvider == nil || cfg.BearerToken != "" {
		t.Fatalf("a remote user's kubeconfig must get tokens from the exec plugin, not hold one:\n%s", kubeconfig)
	}
	return kubernetes.NewForConfigOrDie(cfg), cfg.Host
}

// TestRemoteCLI: a platform user on another machine logs in to gantry by URL
// (its CA given, no insecure option) and uses the CLI within gantry's RBAC:
// virtual clusters and applications in her project, refusals elsewhere,
// kubectl and syncs as herself, sessions refreshed and revoked.
func TestRemoteCLI(t *testing.T) {
	parallel(t)
	dataDir := t.TempDir()
	g := startGantry(t, dataDir, "--nodes", "1")
	g.waitReady(2 * time.Minute)
	ctx := context.Background()

	// The administrator, on the gantry machine: alice, a member of shop, and a
	// project she is not in, with a virtual cluster she must not see.
	if out, err := runStdin(t, "alice-secret-pw\n", "user", "create", "alice", "--password-stdin", "--data-dir", dataDir); err != nil {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"project", "create", "shop"},
		{"project", "add-member", "shop", "--user", "alice", "--role", "project-member"},
		{"project", "create", "other"},
	} {
		if out, err := run(t, append(args, "--data-dir", dataDir)...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	createVCluster(t, dataDir, "hidden", "--project", "other")

	alice := newRemoteCLI(t)
	server := "https://" + g.httpAddr
	ca := filepath.Join(dataDir, "pki", "ca.crt")
	if out, code := alice.run("", "vcluster", "list"); code != 1 || !strings.Contains(out, "gantry login https://") {
		t.Errorf("before any login: exit %d, want 1 and how to log in:\n%s", code, out)
	}
	// gantry's certificate is verified: without its CA the login fails and says why.
	if out, code := alice.run("alice-secret-pw\n", "login", server, "--username", "alice", "--password-stdin"); code == 0 || !strings.Contains(out, "--ca-file") {
		t.Errorf("a login without gantry's CA: exit %d\n%s", code, out)
	}
	if out, code := alice.run("wrong-password\n", "login", server, "--ca-file", ca, "--username", "alice", "--password-stdin"); code == 0 {
		t.Errorf("a login with a wrong password succeeded:\n%s", out)
	}
	out, code := alice.run("alice-secret-pw\n", "login", server, "--ca-file", ca, "--username", "alice", "--password-stdin")
	if code != 0 || !strings.Contains(out, "logged in as alice") {
		t.Fatalf("gantry login %s: exit %d\n%s", server, code, out)
	}
	if fi, err := os.Stat(alice.config); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the config file must be private (0600): %v %v", fi.Mode(), err)
	}
	data, _ := os.ReadFile(alice.config)
	if strings.Contains(string(data), "alice-secret-pw") {
		t.Errorf("the config file holds the password")
	}
	if s := alice.session(); s["server"] != server || s["username"] != "alice" || !strings.Contains(fmt.Sprint(s["ca"]), "BEGIN CERTIFICATE") ||
		s["token"] == "" || s["refreshToken"] == "" {
		t.Errorf("the context: %v", s)
	}

	// Her project: a virtual cluster, created and waited for, and listed; the
	// other project's stays out of sight.
	if out := alice.must("vcluster", "create", "dev", "--project", "shop"); !strings.Contains(out, "Running") {
		t.Errorf("vcluster create did not wait for Running:\n%s", out)
	}
	out = alice.must("vcluster", "list", "-A")
	if !strings.Contains(out, "dev") || strings.Contains(out, "hidden") {
		t.Errorf("alice's list -A must show dev and not hidden:\n%s", out)
	}
	if out := alice.must("project", "list"); !strings.Contains(out, "shop") || strings.Contains(out, "other") {
		t.Errorf("alice's project list:\n%s", out)
	}

	// Refused, with a clear message and exit status 1: another project, and
	// what only administrators may do.
	for _, c := range []struct {
		stdin string
		args  []string
	}{
		{"", []string{"vcluster", "create", "mine", "--project", "other"}},
		{"", []string{"vcluster", "delete", "hidden", "--project", "other"}},
		{"mallory-secret-pw\n", []string{"user", "create", "mallory", "--password-stdin"}},
		{"", []string{"project", "add-member", "shop", "--user", "alice", "--role", "project-admin"}},
	} {
		out, code := alice.run(c.stdin, c.args...)
		if code != 1 || !strings.Contains(out, "permission denied: alice cannot") || strings.Count(strings.TrimSpace(out), "\n") > 0 {
			t.Errorf("gantry %s as alice: exit %d, want 1 and one line saying permission denied:\n%s", strings.Join(c.args, " "), code, out)
		}
	}
	// No admin kubeconfig for anyone: connect acts as the caller.
	if out, code := alice.run("", "vcluster", "connect", "dev", "--project", "shop", "--admin", "--print"); code != 1 || !strings.Contains(out, "--admin is gone") {
		t.Errorf("connect --admin: exit %d\n%s", code, out)
	}

	// kubectl as herself, straight to the virtual cluster (--sso): a project
	// member edits inside it.
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	alice.must("vcluster", "connect", "dev", "--project", "shop", "--sso", "--kubeconfig", kc)
	raw, err := os.ReadFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	direct, directHost := kubeClient(t, string(raw))
	if strings.Contains(directHost, "/kubernetes/") {
		t.Errorf("connect --sso must reach the virtual kube-apiserver directly, not %s", directHost)
	}
	info, err := whoami(ctx, direct)
	if err != nil {
		t.Fatalf("whoami through the exec plugin: %v", err)
	}
	if info.Username != "gantry:alice" || !slices.Contains(info.Groups, "gantry:project:shop:project-member") {
		t.Errorf("inside the virtual cluster alice is %s %v", info.Username, info.Groups)
	}
	eventually(t, 20*time.Second, "alice creates a ConfigMap (edit role)", func() error {
		_, err := direct.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "by-alice"}}, metav1.CreateOptions{})
		return err
	})
	// Without a flag (or with --proxy): through gantry's proxy, with her
	// session's token from the exec plugin.
	for _, flags := range [][]string{{}, {"--proxy"}} {
		proxied, host := kubeClient(t, alice.must(append([]string{"vcluster", "connect", "dev", "--project", "shop", "--print"}, flags...)...))
		if host != server+"/kubernetes/project/shop/virtualcluster/dev" {
			t.Errorf("connect %v reaches %s", flags, host)
		}
		if _, err := proxied.CoreV1().ConfigMaps("default").Get(ctx, "by-alice", metav1.GetOptions{}); err != nil {
			t.Errorf("alice through the proxy: %v", err)
		}
		if info, err := whoami(ctx, proxied); err != nil || info.Username != "gantry:alice" {
			t.Errorf("through the proxy alice is %+v (%v)", info, err)
		}
	}

	testRemoteAppSync(t, g, alice, direct)

	// An access token gantry refuses is refreshed with the refresh token, and
	// the new pair saved.
	data, _ = os.ReadFile(alice.config)
	spoiled := strings.Replace(string(data), fmt.Sprint(alice.session()["token"]), "spoiled", 1)
	if err := os.WriteFile(alice.config, []byte(spoiled), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := alice.must("vcluster", "list", "--project", "shop"); !strings.Contains(out, "dev") {
		t.Errorf("list after refresh:\n%s", out)
	}
	if s := alice.session(); s["token"] == "spoiled" || s["token"] == "" {
		t.Errorf("the refreshed token was not saved: %v", s["token"])
	}

	// logout ends the session at gantry and forgets it here.
	refreshToken := fmt.Sprint(alice.session()["refreshToken"])
	if out := alice.must("logout"); !strings.Contains(out, "logged out alice") {
		t.Errorf("logout:\n%s", out)
	}
	if code, _ := g.apiCall(t, "POST", "/api/v1/session/refresh", "", fmt.Sprintf(`{"refreshToken":%q}`, refreshToken)); code != 401 {
		t.Errorf("the refresh token after logout: %d, want 401", code)
	}
	if data, _ := os.ReadFile(alice.config); strings.Contains(string(data), refreshToken) {
		t.Errorf("logout left the session in the config file:\n%s", data)
	}
	if out, code := alice.run("", "vcluster", "list", "--server", server); code != 1 || !strings.Contains(out, "not logged in") {
		t.Errorf("after logout: exit %d\n%s", code, out)
	}
}

// testRemoteAppSync: alice (project-member of shop, logged in from afar)
// creates and syncs an application into her virtual cluster; the sync is
// recorded as hers. An application of a project she is not in is refused
// to her, with the reason, and nothing of it changes.
func testRemoteAppSync(t *testing.T, g *gantry, alice *remoteCLI, vc *kubernetes.Clientset) {
	ctx := context.Background()
	repo := newGitServer(t).newRepo("cfg")
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-git\ndata:\n  by: git\n"
	repo.commit("a ConfigMap", map[string]*string{"cfg/cm.yaml": &cm})
	alice.must("app", "create", "cfg", "-p", "shop", "--repo", repo.URL, "--path", "cfg", "--dest-name", "p-shop/dev", "--dest-namespace", "default")
	if out := alice.must("app", "sync", "cfg", "-p", "shop"); !strings.Contains(out, "Succeeded") {
		t.Errorf("alice's sync:\n%s", out)
	}
	if _, err := vc.CoreV1().ConfigMaps("default").Get(ctx, "from-git", metav1.GetOptions{}); err != nil {
		t.Errorf("the synced ConfigMap inside alice's virtual cluster: %v", err)
	}
	dyn := dynamic.NewForConfigOrDie(g.restConfig(t))
	app, err := dyn.Resource(appGVR).Namespace("p-shop").Get(ctx, "cfg", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	by, _, _ := unstructured.NestedString(app.Object, "status", "operationState", "operation", "initiatedBy", "username")
	history, _, _ := unstructured.NestedSlice(app.Object, "status", "history")
	var last any
	if len(history) > 0 {
		last, _, _ = unstructured.NestedString(history[len(history)-1].(map[string]any), "initiatedBy", "username")
	}
	if by != "alice" || last != "alice" {
		t.Errorf("alice's sync is recorded as %q (operationState) and %v (history), want alice", by, last)
	}

	// Another project's application: refused, with the reason, untouched.
	if out, err := run(t, "app", "create", "ledger", "-p", "other", "--repo", repo.URL, "--path", "cfg",
		"--dest-name", "p-other/hidden", "--dest-namespace", "default", "--data-dir", g.dataDir); err != nil {
		t.Fatalf("the admin's app create in other: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"app", "sync", "ledger", "-p", "other"}, {"app", "get", "ledger", "-p", "other"}, {"app", "delete", "ledger", "-p", "other"}} {
		out, code := alice.run("", args...)
		if code != 1 || !strings.Contains(out, "permission denied: alice cannot") || strings.Count(strings.TrimSpace(out), "\n") > 0 {
			t.Errorf("gantry %s as alice: exit %d, want 1 and one line saying permission denied:\n%s", strings.Join(args, " "), code, out)
		}
	}
	if out := alice.must("app", "list", "-o", "name"); strings.TrimSpace(out) != "cfg" {
		t.Errorf("alice's app list:\n%s", out)
	}
	ledger, err := dyn.Resource(appGVR).Namespace("p-other").Get(ctx, "ledger", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("ledger after alice's attempts: %v", err)
	}
	if op, ok := ledger.Object["operation"]; ok || ledger.GetDeletionTimestamp() != nil {
		t.Errorf("alice's refused commands changed ledger: operation %v, deleting %v", op, ledger.GetDeletionTimestamp())
	}
}
