package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// cliLogin logs the CLI of dataDir in as user.
func cliLogin(t *testing.T, dataDir, user, password string) {
	t.Helper()
	cmd := exec.Command(gantryBin, "login", "--username", user, "--password-stdin", "--data-dir", dataDir)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gantry login %s: %v\n%s", user, err, out)
	}
}

// ssoClient runs `gantry vcluster connect NAME --sso` into its own kubeconfig and
// returns a client from it: client-go runs gantry's exec plugin as kubectl does.
func ssoClient(t *testing.T, dataDir, name string) (*kubernetes.Clientset, *rest.Config) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if out, err := run(t, "vcluster", "connect", name, "--sso", "--kubeconfig", path, "--data-dir", dataDir); err != nil {
		t.Fatalf("vcluster connect --sso: %v\n%s", err, out)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cfg.Host, "/kubernetes/") || cfg.ExecProvider == nil {
		t.Fatalf("connect --sso must reach the virtual kube-apiserver directly with an exec plugin: host %s, exec %v", cfg.Host, cfg.ExecProvider)
	}
	// client-go keeps exec credentials per exec configuration for the life of
	// the process (kubectl is a new process each time); one marker per client
	// keeps alice's token from serving bob's client in this one test process.
	cfg.ExecProvider.Env = append(cfg.ExecProvider.Env, clientcmdapi.ExecEnvVar{Name: "GANTRY_TEST_CLIENT", Value: path})
	return kubernetes.NewForConfigOrDie(cfg), cfg
}

func whoami(ctx context.Context, c kubernetes.Interface) (authenticationv1.UserInfo, error) {
	r, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	return r.Status.UserInfo, nil
}

// bearer is a client of the virtual kube-apiserver behind cfg with only a token.
func bearer(cfg *rest.Config, token string) kubernetes.Interface {
	return kubernetes.NewForConfigOrDie(&rest.Config{Host: cfg.Host, TLSClientConfig: rest.TLSClientConfig{CAData: cfg.CAData}, BearerToken: token})
}

// credential asks gantry for a token for a virtual cluster, as the exec plugin does.
func credential(t *testing.T, dataDir, name string) string {
	t.Helper()
	out, err := run(t, "vcluster", "credential", name, "--data-dir", dataDir)
	if err != nil {
		t.Fatalf("vcluster credential %s: %v\n%s", name, err, out)
	}
	var ec struct{ Status struct{ Token string } }
	if err := json.Unmarshal([]byte(out), &ec); err != nil || ec.Status.Token == "" {
		t.Fatalf("vcluster credential printed no ExecCredential: %v\n%s", err, out)
	}
	return ec.Status.Token
}

// resign signs the claims of token again with key, changed by edit.
func resign(t *testing.T, token string, key *ecdsa.PrivateKey, kid string, edit func(jwt.MapClaims)) string {
	t.Helper()
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		t.Fatal(err)
	}
	edit(claims)
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// gantrySigningKey reads gantry's current token signing key from the host, as
// only an administrator of the host could: to forge tokens that differ from a
// real one in exactly one way.
func gantrySigningKey(t *testing.T, host kubernetes.Interface) (*ecdsa.PrivateKey, string) {
	t.Helper()
	s, err := host.CoreV1().Secrets("gantry-system").Get(context.Background(), "gantry-session-keys", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []struct {
		ID         string `json:"kid"`
		PrivateKey string `json:"privateKey"`
	}
	if err := json.Unmarshal(s.Data["keys.json"], &keys); err != nil || len(keys) == 0 {
		t.Fatalf("reading gantry-session-keys: %v", err)
	}
	last := keys[len(keys)-1]
	block, _ := pem.Decode([]byte(last.PrivateKey))
	k, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		pk, err2 := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err2 != nil {
			t.Fatalf("parsing the signing key: %v / %v", err, err2)
		}
		k = pk.(*ecdsa.PrivateKey)
	}
	return k, last.ID
}

func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(data, &m)
	return m
}

// TestVirtualClusterSSO: kubectl talks to a virtual cluster's own kube-apiserver
// as the gantry user (connect --sso): the virtual cluster trusts gantry's issuer,
// its RBAC sees the user's project role, and it refuses a token signed by another
// key, expired, or minted for another virtual cluster.
func TestVirtualClusterSSO(t *testing.T) {
	parallel(t)
	dataDir := t.TempDir()
	g := startGantry(t, dataDir, "--nodes", "1")
	g.waitReady(2 * time.Minute)
	ctx := context.Background()
	host := g.client()
	m := regexp.MustCompile(`admin password: (\S+)`).FindStringSubmatch(g.output())
	if m == nil {
		t.Fatalf("no admin password shown:\n%s", g.output())
	}
	adminPassword := m[1]
	// Users are made first: once the CLI is logged in as one of them, it acts
	// as them, and they may not create users.
	for _, u := range []string{"alice", "bob", "carol"} {
		cmd := exec.Command(gantryBin, "user", "create", u, "--password-stdin", "--data-dir", dataDir)
		cmd.Stdin = strings.NewReader(u + "-secret-pw\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("user create %s: %v\n%s", u, err, out)
		}
	}
	for _, args := range [][]string{
		{"project", "add-member", "default", "--user", "alice", "--role", "project-member"},
		{"project", "add-member", "default", "--user", "bob", "--role", "project-viewer"},
	} {
		if out, err := run(t, append(args, "--data-dir", dataDir)...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	createVCluster(t, dataDir, "dev")
	createVCluster(t, dataDir, "qa")

	// alice, a project member: herself inside the cluster, with edit rights.
	cliLogin(t, dataDir, "alice", "alice-secret-pw")
	alice, aliceCfg := ssoClient(t, dataDir, "dev")
	info, err := whoami(ctx, alice)
	if err != nil {
		t.Fatalf("whoami through the exec plugin: %v", err)
	}
	if info.Username != "gantry:alice" || !slices.Contains(info.Groups, "gantry:project:default:project-member") {
		t.Errorf("inside the virtual cluster alice is %s %v", info.Username, info.Groups)
	}
	eventually(t, 20*time.Second, "a member creates a ConfigMap (edit role)", func() error {
		_, err := alice.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "by-alice"}}, metav1.CreateOptions{})
		return err
	})
	if _, err := alice.CoreV1().Namespaces().Create(ctx, nsObj("not-for-members"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("a member creating a namespace (edit does not allow it): %v, want Forbidden", err)
	}

	// Tokens the virtual cluster must refuse, each differing from a good one in one way.
	good := credential(t, dataDir, "dev")
	if claimsOf(t, good)["aud"] == nil || !strings.Contains(fmt.Sprint(claimsOf(t, good)["aud"]), "p-default/dev") {
		t.Errorf("the token's audience names no virtual cluster: %v", claimsOf(t, good)["aud"])
	}
	key, kid := gantrySigningKey(t, host)
	if _, err := whoami(ctx, bearer(aliceCfg, resign(t, good, key, kid, func(jwt.MapClaims) {}))); err != nil {
		t.Fatalf("the same claims signed again with gantry's key must pass (else the refusals below prove nothing): %v", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	refused := map[string]string{
		"signed by another key": resign(t, good, other, kid, func(jwt.MapClaims) {}),
		"expired": resign(t, good, key, kid, func(c jwt.MapClaims) {
			c["iat"], c["exp"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-time.Minute).Unix()
		}),
		"for another virtual cluster": credential(t, dataDir, "qa"),
		"gantry's API session token":  g.login(t, "alice", "alice-secret-pw"),
	}
	for what, token := range refused {
		if _, err := whoami(ctx, bearer(aliceCfg, token)); !apierrors.IsUnauthorized(err) {
			t.Errorf("a token %s: %v, want Unauthorized", what, err)
		}
	}

	// The REST API (what the web UI uses): alice, a member, makes a cluster and
	// watches it start; bob, a viewer, may not.
	aliceToken := g.login(t, "alice", "alice-secret-pw")
	if code, resp := g.apiCall(t, "POST", "/api/v1/virtualclusters/default", aliceToken, `{"name":"api-made","sleepAfter":"30m"}`); code != 201 {
		t.Fatalf("a member creating a virtual cluster through the API: %d %v", code, resp)
	}
	eventually(t, time.Minute, "the API-made cluster Running", func() error {
		code, v := g.apiCall(t, "GET", "/api/v1/virtualclusters/default/api-made", aliceToken, "")
		if code != 200 || v["phase"] != "Running" {
			return fmt.Errorf("%d phase %v", code, v["phase"])
		}
		return nil
	})
	bobToken := g.login(t, "bob", "bob-secret-pw")
	if code, _ := g.apiCall(t, "DELETE", "/api/v1/virtualclusters/default/api-made", bobToken, ""); code != 403 {
		t.Errorf("a viewer deleting a virtual cluster through the API: %d, want 403", code)
	}
	if code, list := g.apiCall(t, "GET", "/api/v1/virtualclusters", bobToken, ""); code != 200 || len(list["items"].([]any)) != 3 {
		t.Errorf("a viewer listing the project's virtual clusters: %d %v", code, list)
	}

	// bob, a viewer: reads, and the virtual cluster's RBAC refuses his delete.
	cliLogin(t, dataDir, "bob", "bob-secret-pw")
	bob, _ := ssoClient(t, dataDir, "dev")
	eventually(t, 20*time.Second, "a viewer reads ConfigMaps", func() error {
		_, err := bob.CoreV1().ConfigMaps("default").Get(ctx, "by-alice", metav1.GetOptions{})
		return err
	})
	if err := bob.CoreV1().ConfigMaps("default").Delete(ctx, "by-alice", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "gantry:bob") {
		t.Errorf("a viewer's delete must be refused by the virtual cluster's RBAC as gantry:bob: %v", err)
	}
	// Nor may he exec into pods (the view role has no pods/exec): refused before
	// the pod is even looked up.
	err = bob.CoreV1().RESTClient().Post().Namespace("default").Resource("pods").Name("any").SubResource("exec").
		Param("command", "sh").Param("stdout", "true").Do(ctx).Error()
	if !apierrors.IsForbidden(err) {
		t.Errorf("a viewer's exec must be refused: %v", err)
	}

	// Someone outside the project gets no token at all.
	cliLogin(t, dataDir, "carol", "carol-secret-pw")
	if out, err := run(t, "vcluster", "credential", "dev", "--data-dir", dataDir); err == nil {
		t.Errorf("a user outside the project got a credential:\n%s", out)
	}

	// No token in any log.
	logs, _ := filepath.Glob(filepath.Join(dataDir, "logs", "*.log"))
	for _, f := range logs {
		data, _ := os.ReadFile(f)
		for _, secret := range []string{good, adminPassword, "alice-secret-pw"} {
			if strings.Contains(string(data), secret) {
				t.Errorf("%s contains a password or token", filepath.Base(f))
			}
		}
	}
}
