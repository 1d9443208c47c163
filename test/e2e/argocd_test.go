package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"gantry.dev/gantry/internal/identity/rbac"
)

// installStockArgoCD makes namespace argocd with Argo CD's stock argocd-cm and
// argocd-rbac-cm (v3.2.0, internal/argocd/testdata) and the AppProject CRD: what
// gantry reads and writes of an Argo CD installation. The operator's own keys
// are added, to check that gantry leaves them alone.
func installStockArgoCD(t *testing.T, g *gantry) {
	t.Helper()
	ctx := context.Background()
	host := g.client()
	if _, err := host.CoreV1().Namespaces().Create(ctx, nsObj("argocd"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"argocd-cm.yaml", "argocd-rbac-cm.yaml"} {
		data, err := os.ReadFile("../../internal/argocd/testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		cm := &corev1.ConfigMap{}
		if err := yaml.Unmarshal(data, cm); err != nil {
			t.Fatal(err)
		}
		cm.Namespace = "argocd"
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		if cm.Name == "argocd-cm" {
			cm.Data["admin.enabled"] = "true"
		} else {
			cm.Data["policy.csv"] = "p, role:deployer, applications, sync, */*, allow\n"
		}
		if _, err := host.CoreV1().ConfigMaps("argocd").Create(ctx, cm, metav1.CreateOptions{FieldManager: "operator"}); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile("../../internal/argocd/testdata/appproject-crd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	crd := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &crd.Object); err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(g.restConfig(t))
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	if _, err := dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

var appProjectGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "appprojects"}

// clusterConfig is the config of an Argo CD cluster Secret, as Argo CD reads it.
type clusterConfig struct {
	BearerToken     string `json:"bearerToken"`
	TLSClientConfig struct {
		Insecure bool   `json:"insecure"`
		CAData   string `json:"caData"`
	} `json:"tlsClientConfig"`
}

// argoClient connects to a cluster the way Argo CD does with a cluster Secret.
func argoClient(t *testing.T, s *corev1.Secret) kubernetes.Interface {
	t.Helper()
	var cfg clusterConfig
	if err := json.Unmarshal(s.Data["config"], &cfg); err != nil {
		t.Fatalf("cluster Secret %s: config is not Argo CD's JSON: %v", s.Name, err)
	}
	ca, err := base64.StdEncoding.DecodeString(cfg.TLSClientConfig.CAData)
	if err != nil {
		t.Fatalf("caData is not base64: %v", err)
	}
	return kubernetes.NewForConfigOrDie(&rest.Config{Host: string(s.Data["server"]), BearerToken: cfg.BearerToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: ca}})
}

// TestArgoCDIntegration: a project's toggle registers its virtual clusters in an
// Argo CD installation (stock ConfigMaps, real API server) in Argo CD's formats,
// signs Argo CD's users in through gantry with the project's roles, keeps an
// AppProject, and undoes exactly what it wrote when turned off.
func TestArgoCDIntegration(t *testing.T) {
	parallel(t)
	dataDir := t.TempDir()
	g := startGantry(t, dataDir, "--nodes", "1")
	g.waitReady(2 * time.Minute)
	ctx := context.Background()
	host := g.client()
	installStockArgoCD(t, g)
	for _, u := range []string{"alice", "bob"} {
		if out, err := runStdin(t, u+"-secret-pw\n", "user", "create", u, "--password-stdin", "--data-dir", dataDir); err != nil {
			t.Fatalf("user create %s: %v\n%s", u, err, out)
		}
	}
	for _, args := range [][]string{
		{"project", "create", "shop"},
		{"project", "add-member", "shop", "--user", "alice", "--role", "project-admin"},
		{"project", "add-member", "shop", "--user", "bob", "--role", "project-viewer"},
	} {
		if out, err := run(t, append(args, "--data-dir", dataDir)...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	createVCluster(t, dataDir, "dev", "--project", "shop", "--label", "env=dev")

	// A custom role that Argo CD does not know is refused, and nothing is written.
	out, err := run(t, "project", "argocd", "enable", "shop", "--sso", "--sso-host", "https://argocd.example.com",
		"--role", "project-admin=role:nonexistent", "--data-dir", dataDir)
	if err == nil || !strings.Contains(out, "role:nonexistent") {
		t.Errorf("enabling SSO with an unknown Argo CD role: %v\n%s", err, out)
	}
	if cm, _ := host.CoreV1().ConfigMaps("argocd").Get(ctx, "argocd-cm", metav1.GetOptions{}); cm.Data["oidc.config"] != "" {
		t.Errorf("oidc.config was written although the role check failed")
	}

	out, err = run(t, "project", "argocd", "enable", "shop", "--sso", "--sso-host", "https://argocd.example.com",
		"--role", "project-admin=role:admin", "--role", "project-viewer=role:readonly", "--app-project", "--data-dir", dataDir)
	if err != nil {
		t.Fatalf("project argocd enable: %v\n%s", err, out)
	}

	// The cluster Secret, key by key as Argo CD documents it, and it works.
	var secret *corev1.Secret
	eventually(t, 30*time.Second, "the cluster Secret", func() (err error) {
		secret, err = host.CoreV1().Secrets("argocd").Get(ctx, "gantry-shop-vcluster-dev", metav1.GetOptions{})
		return err
	})
	if secret.Labels["argocd.argoproj.io/secret-type"] != "cluster" || secret.Labels["env"] != "dev" {
		t.Errorf("cluster Secret labels: %v", secret.Labels)
	}
	wantServer := "https://" + g.httpAddr + "/kubernetes/project/shop/virtualcluster/dev"
	if string(secret.Data["server"]) != wantServer || string(secret.Data["name"]) == "" || string(secret.Data["project"]) != "shop" {
		t.Errorf("cluster Secret: name %q server %q project %q (want server %s, project shop)",
			secret.Data["name"], secret.Data["server"], secret.Data["project"], wantServer)
	}
	argo := argoClient(t, secret)
	eventually(t, 20*time.Second, "Argo CD's credential lists namespaces in the virtual cluster", func() error {
		_, err := argo.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		return err
	})

	// Rotation: an admin revokes the key; the Secret follows with a new one.
	keyID := secret.Annotations["gantry.dev/access-key-id"]
	if out, err := run(t, "accesskey", "revoke", keyID, "--data-dir", dataDir); err != nil {
		t.Fatalf("accesskey revoke: %v\n%s", err, out)
	}
	eventually(t, 6*time.Minute, "a new key in the cluster Secret after revocation", func() error {
		s, err := host.CoreV1().Secrets("argocd").Get(ctx, "gantry-shop-vcluster-dev", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if s.Annotations["gantry.dev/access-key-id"] == keyID {
			return fmt.Errorf("still the revoked key")
		}
		secret = s
		return nil
	})
	if _, err := argo.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
		t.Errorf("the revoked key still works: %v", err)
	}
	if _, err := argoClient(t, secret).CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("the new key: %v", err)
	}

	// SSO: Argo CD's settings, and Argo CD's sign-in flow run against them.
	cm, _ := host.CoreV1().ConfigMaps("argocd").Get(ctx, "argocd-cm", metav1.GetOptions{})
	if cm.Data["url"] != "https://argocd.example.com" || cm.Data["admin.enabled"] != "true" {
		t.Errorf("argocd-cm: url %q, the operator's admin.enabled %q", cm.Data["url"], cm.Data["admin.enabled"])
	}
	var oidcConfig struct {
		Name, Issuer, ClientID, ClientSecret, RootCA string
		RequestedScopes                              []string
	}
	if err := yaml.Unmarshal([]byte(cm.Data["oidc.config"]), &oidcConfig); err != nil {
		t.Fatalf("oidc.config: %v\n%s", err, cm.Data["oidc.config"])
	}
	if oidcConfig.Issuer != "https://"+g.httpAddr+"/oidc" || !slices.Contains(oidcConfig.RequestedScopes, "groups") || oidcConfig.RootCA == "" {
		t.Errorf("oidc.config: %+v", oidcConfig)
	}
	ref := regexp.MustCompile(`^\$([^:]+):(.+)$`).FindStringSubmatch(oidcConfig.ClientSecret)
	if ref == nil {
		t.Fatalf("clientSecret is not a $secret:key reference: %q", oidcConfig.ClientSecret)
	}
	clientSecret, err := host.CoreV1().Secrets("argocd").Get(ctx, ref[1], metav1.GetOptions{})
	if err != nil || clientSecret.Labels["app.kubernetes.io/part-of"] != "argocd" {
		t.Fatalf("the client secret's Secret %s: %v %v", ref[1], err, clientSecret.Labels)
	}
	const callback = "https://argocd.example.com/auth/callback"
	app := newRP(t, g, oidcConfig.ClientID, string(clientSecret.Data[ref[2]]), callback)
	app.cfg.Scopes = oidcConfig.RequestedScopes
	rbacCM, _ := host.CoreV1().ConfigMaps("argocd").Get(ctx, "argocd-rbac-cm", metav1.GetOptions{})
	enforcer := argoPolicy(t, rbacCM)
	for _, who := range []struct {
		user       string
		sync, read bool
	}{{"alice", true, true}, {"bob", false, true}} {
		b := newBrowser(t, g, callback, "")
		done := b.signIn(g, b.get(app.authURL()), who.user, who.user+"-secret-pw")
		if done.back == nil {
			t.Fatalf("%s signing in to Argo CD did not come back (%d):\n%s", who.user, done.status, done.body)
		}
		_, claims := app.finish(done.back)
		subjects := append([]string{claims.Subject}, claims.Groups...)
		if got := enforcer.Authorize(subjects, "applications", "sync", "shop/guestbook") == nil; got != who.sync {
			t.Errorf("Argo CD's policy lets %s (groups %v) sync: %v, want %v", who.user, claims.Groups, got, who.sync)
		}
		if got := enforcer.Authorize(subjects, "applications", "get", "shop/guestbook") == nil; got != who.read {
			t.Errorf("Argo CD's policy lets %s read: %v, want %v", who.user, got, who.read)
		}
	}
	if !strings.Contains(rbacCM.Data["policy.csv"], "role:deployer") {
		t.Errorf("the operator's policy.csv changed: %q", rbacCM.Data["policy.csv"])
	}

	// The AppProject.
	dyn := dynamic.NewForConfigOrDie(g.restConfig(t))
	proj, err := dyn.Resource(appProjectGVR).Namespace("argocd").Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("AppProject shop: %v", err)
	}
	dests, _, _ := unstructured.NestedSlice(proj.Object, "spec", "destinations")
	if !strings.Contains(fmt.Sprint(dests), wantServer) {
		t.Errorf("AppProject destinations %v lack the virtual cluster", dests)
	}

	// Turning SSO off removes exactly what it wrote.
	if out, err := run(t, "project", "argocd", "disable", "shop", "--sso", "--data-dir", dataDir); err != nil {
		t.Fatalf("disable --sso: %v\n%s", err, out)
	}
	eventually(t, 30*time.Second, "SSO settings removed", func() error {
		cm, _ := host.CoreV1().ConfigMaps("argocd").Get(ctx, "argocd-cm", metav1.GetOptions{})
		rb, _ := host.CoreV1().ConfigMaps("argocd").Get(ctx, "argocd-rbac-cm", metav1.GetOptions{})
		if _, ok := cm.Data["oidc.config"]; ok {
			return fmt.Errorf("oidc.config still there")
		}
		if _, ok := rb.Data["policy.gantry-shop.csv"]; ok {
			return fmt.Errorf("policy.gantry-shop.csv still there")
		}
		if cm.Data["admin.enabled"] != "true" || !strings.Contains(rb.Data["policy.csv"], "role:deployer") {
			return fmt.Errorf("the operator's keys changed: %v / %v", cm.Data, rb.Data)
		}
		return nil
	})
	if code, list := g.apiCall(t, "GET", "/api/v1/oidc-clients", adminTokenOf(t, g), ""); code != http.StatusOK || strings.Contains(fmt.Sprint(list), "argocd") {
		t.Errorf("the Argo CD OIDC client outlived SSO: %d %v", code, list)
	}

	// Deleting the virtual cluster removes its cluster Secret; disabling the
	// integration removes the AppProject and leaves nothing of gantry's.
	if out, err := run(t, "vcluster", "delete", "dev", "--project", "shop", "--data-dir", dataDir); err != nil {
		t.Fatalf("vcluster delete: %v\n%s", err, out)
	}
	eventually(t, 30*time.Second, "the cluster Secret removed", func() error {
		if _, err := host.CoreV1().Secrets("argocd").Get(ctx, "gantry-shop-vcluster-dev", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
	if out, err := run(t, "project", "argocd", "disable", "shop", "--data-dir", dataDir); err != nil {
		t.Fatalf("disable: %v\n%s", err, out)
	}
	eventually(t, 30*time.Second, "nothing of gantry's left in argocd", func() error {
		if _, err := dyn.Resource(appProjectGVR).Namespace("argocd").Get(ctx, "shop", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("AppProject still there: %v", err)
		}
		secrets, _ := host.CoreV1().Secrets("argocd").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=gantry"})
		if len(secrets.Items) > 0 {
			return fmt.Errorf("%d Secrets of gantry's left", len(secrets.Items))
		}
		return nil
	})
}

// argoPolicy loads argocd-rbac-cm the way Argo CD composes it (policy.csv, then
// every policy.*.csv in key order) into an enforcer on Argo CD's model.
func argoPolicy(t *testing.T, cm *corev1.ConfigMap) *rbac.Enforcer {
	t.Helper()
	var keys []string
	for k := range cm.Data {
		if strings.HasPrefix(k, "policy.") && strings.HasSuffix(k, ".csv") && k != "policy.csv" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	csv := cm.Data["policy.csv"]
	for _, k := range keys {
		csv += "\n" + cm.Data[k]
	}
	e, err := rbac.New(rbac.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetPolicy(csv, cm.Data["policy.default"], cm.Data["policy.matchMode"]); err != nil {
		t.Fatalf("Argo CD would refuse this policy: %v\n%s", err, csv)
	}
	return e
}

// adminTokenOf is the local admin token of a running gantry.
func adminTokenOf(t *testing.T, g *gantry) string {
	t.Helper()
	data, err := os.ReadFile(g.dataDir + "/admin-token")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}
