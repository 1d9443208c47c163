package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// The attacker's test suite (docs/security.md): mallory is a project-member
// of project a, with a login and an access key scoped to a. Project b, with a
// virtual cluster of its own, is the victim, and so are the host and gantry
// itself. Every attempt must be refused with a message that says why, and
// leave nothing on the host.

// The attacker's repository: one directory per attempt.
var attackFiles = map[string]*string{
	// gantry's RBAC policy rewritten, and a ClusterRoleBinding to cluster-admin.
	"rbac/cm.yaml": str(`apiVersion: v1
kind: ConfigMap
metadata: {name: gantry-rbac-cm, namespace: gantry-system}
data: {policy.csv: "g, mallory, role:admin"}
`),
	"rbac/crb.yaml": str(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: mallory-is-cluster-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: User, name: mallory, apiGroup: rbac.authorization.k8s.io}]
`),
	// Harmless on its own.
	"cm/cm.yaml": str(`apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1"}
`),
	// A PreSync Job hook that runs in gantry's namespace.
	"hook/cm.yaml": str(`apiVersion: v1
kind: ConfigMap
metadata: {name: hooked}
`),
	"hook/job.yaml": str(`apiVersion: batch/v1
kind: Job
metadata:
  name: steal
  namespace: gantry-system
  annotations: {argocd.argoproj.io/hook: PreSync}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox, command: [cat, /var/run/secrets/kubernetes.io/serviceaccount/token]}]
`),
	// A Deployment whose pods mount the node's root: not a Pod, so the
	// virtual cluster's admission is not where it would be caught.
	"hostpath/deploy.yaml": str(`apiVersion: apps/v1
kind: Deployment
metadata: {name: root}
spec:
  selector: {matchLabels: {app: root}}
  template:
    metadata: {labels: {app: root}}
    spec:
      containers: [{name: c, image: busybox, volumeMounts: [{name: root, mountPath: /host}]}]
      volumes: [{name: root, hostPath: {path: /}}]
`),
	// A VirtualCluster written as a manifest, skipping the API's checks.
	"vcluster/vc.yaml": str(`apiVersion: platform.gantry.dev/v1alpha1
kind: VirtualCluster
metadata: {name: loose}
spec: {podSecurity: privileged}
`),
	// A chart whose values come from outside the repository.
	"chart/Chart.yaml": str("apiVersion: v2\nname: escape\nversion: 0.1.0\n"),
	"chart/templates/cm.yaml": str(`apiVersion: v1
kind: ConfigMap
metadata: {name: values}
data: {v: {{ .Values.v | quote }}}
`),
	// A kustomization whose base is outside the repository.
	"kustomize/kustomization.yaml": str("resources: [../../../../../../../../etc/gantry-attack]\n"),
}

func TestTenancyAttacks(t *testing.T) {
	parallel(t)
	dataDir := t.TempDir()
	g := startGantry(t, dataDir, "--nodes", "1")
	g.waitReady(2 * time.Minute)
	ctx := context.Background()
	host := g.client()
	dyn := dynamic.NewForConfigOrDie(g.restConfig(t))
	admin := adminTokenOf(t, g)

	must := func(method, path, token, body string) map[string]any {
		t.Helper()
		code, resp := g.apiCall(t, method, path, token, body)
		if code/100 != 2 {
			t.Fatalf("%s %s: %d %v", method, path, code, resp)
		}
		return resp
	}
	// refused asserts a refusal with code and a message naming why.
	refused := func(what string, code int, resp map[string]any, wantCode int, why string) {
		t.Helper()
		if msg := fmt.Sprint(resp["message"]); code != wantCode || !strings.Contains(msg, why) {
			t.Errorf("%s: %d %q, want %d naming %q", what, code, msg, wantCode, why)
		}
	}

	// eve is project a's admin: the strongest tenant, for what members may
	// not do at all (ApplicationSets, the project's settings).
	must("POST", "/api/v1/users", admin, `{"name":"mallory","password":"mallory-secret-pw"}`)
	must("POST", "/api/v1/users", admin, `{"name":"eve","password":"eve-secret-pw"}`)
	must("POST", "/api/v1/projects", admin, `{"name":"a","members":[{"kind":"User","name":"mallory","role":"project-member"},{"kind":"User","name":"eve","role":"project-admin"}]}`)
	must("POST", "/api/v1/projects", admin, `{"name":"b"}`)
	mallory := g.login(t, "mallory", "mallory-secret-pw")
	eve := g.login(t, "eve", "eve-secret-pw")
	key := fmt.Sprint(must("POST", "/api/v1/accesskeys", mallory, `{"name":"ci","project":"a"}`)["key"])
	for _, p := range []string{"a", "b"} {
		eventually(t, 60*time.Second, "virtual cluster v1 of "+p, func() error {
			code, resp := g.apiCall(t, "POST", "/api/v1/virtualclusters/"+p, admin, `{"name":"v1"}`)
			if code/100 != 2 && code != http.StatusConflict {
				return fmt.Errorf("%d %v", code, resp)
			}
			code, resp = g.apiCall(t, "GET", "/api/v1/virtualclusters/"+p+"/v1", admin, "")
			if phase, _ := resp["phase"].(string); code != 200 || phase != "Running" {
				return fmt.Errorf("%d %v", code, resp)
			}
			return nil
		})
	}

	srv := newGitServer(t)
	repo := srv.newRepo("attack")
	repo.commit("attempts", attackFiles)
	appJSON := func(name, path, destination string, extra ...string) string {
		spec := fmt.Sprintf(`"source":{"repoURL":%q,"path":%q},"destination":%s,"syncPolicy":{"automated":{"prune":true},"syncOptions":["CreateNamespace=true"]}`,
			repo.URL, path, destination)
		for _, e := range extra {
			spec += "," + e
		}
		return fmt.Sprintf(`{"metadata":{"name":%q},"spec":{"project":"a",%s}}`, name, spec)
	}
	onHost := func(ns string) string {
		return fmt.Sprintf(`{"server":"https://kubernetes.default.svc","namespace":%q}`, ns)
	}
	// app creates an app as mallory (allowed: it is her project's) and waits
	// until the engine refuses it with a condition naming why.
	app := func(name, body, condType, why string) {
		t.Helper()
		must("POST", "/api/v1/applications", mallory, body)
		waitCondition(t, dyn, "p-a", name, condType, why)
	}

	t.Run("gantry's RBAC policy and cluster-admin", func(t *testing.T) {
		app("rbac", appJSON("rbac", "rbac", onHost("gantry-system")), "InvalidSpecError", "namespace gantry-system")
		// In her own namespace, with the manifests naming gantry-system themselves.
		app("rbac-own", appJSON("rbac-own", "rbac", onHost("p-a")), "InvalidSpecError", "spec.clusterResourceWhitelist")
		cm, err := host.CoreV1().ConfigMaps("gantry-system").Get(ctx, "gantry-rbac-cm", metav1.GetOptions{})
		if err == nil && strings.Contains(cm.Data["policy.csv"], "mallory") {
			t.Errorf("gantry-rbac-cm was rewritten: %v", cm.Data)
		}
		if _, err := host.RbacV1().ClusterRoleBindings().Get(ctx, "mallory-is-cluster-admin", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the ClusterRoleBinding exists: %v", err)
		}
	})

	t.Run("another project's virtual cluster", func(t *testing.T) {
		app("into-b", appJSON("into-b", "cm", `{"name":"p-b/v1","namespace":"default"}`), "InvalidSpecError", "belongs to project b")
	})

	t.Run("a repository on gantry's machine", func(t *testing.T) {
		local := strings.Replace(appJSON("peek", "cm", onHost("p-a")), repo.URL, "file://"+repo.bare, 1)
		app("peek", local, "InvalidSpecError", "gantry's own machine")
		code, resp := g.apiCall(t, "GET", "/api/v1/applications/peek/manifests?appNamespace=p-a", mallory, "")
		refused("the manifests of a local repository", code, resp, http.StatusForbidden, "spec.localRepositories")
	})

	t.Run("a Job hook in gantry-system", func(t *testing.T) {
		app("hook", appJSON("hook", "hook", onHost("p-a")), "InvalidSpecError", "Job.batch gantry-system/steal")
		if _, err := host.CoreV1().ConfigMaps("p-a").Get(ctx, "hooked", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the rest of a refused set was applied: %v", err)
		}
		if jobs, _ := host.BatchV1().Jobs("gantry-system").List(ctx, metav1.ListOptions{}); len(jobs.Items) != 0 {
			t.Errorf("a Job ran in gantry-system: %v", jobs.Items[0].Name)
		}
	})

	t.Run("hostPath through a Deployment", func(t *testing.T) {
		app("hostpath", appJSON("hostpath", "hostpath", onHost("p-a")), "InvalidSpecError", `hostPath volumes (volume "root")`)
		if _, err := host.AppsV1().Deployments("p-a").Get(ctx, "root", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the Deployment was applied: %v", err)
		}
	})

	t.Run("a VirtualCluster written by an app", func(t *testing.T) {
		app("vc", appJSON("vc", "vcluster", onHost("p-a")), "InvalidSpecError", "gantry vcluster create")
		if _, err := dyn.Resource(vcGVR).Namespace("p-a").Get(ctx, "loose", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the VirtualCluster exists: %v", err)
		}
	})

	t.Run("Helm values and Kustomize bases outside the repository", func(t *testing.T) {
		values := strings.Replace(appJSON("values", "chart", onHost("p-a")),
			`"path":"chart"}`, `"path":"chart","helm":{"valueFiles":["../../../../../../../../etc/passwd"]}}`, 1)
		app("values", values, "ComparisonError", "outside the repository")
		app("kust", appJSON("kust", "kustomize", onHost("p-a")), "ComparisonError", "outside")
	})

	t.Run("the API's namespaces and projects", func(t *testing.T) {
		body := strings.Replace(appJSON("sys", "cm", onHost("p-a")), `{"name":"sys"}`, `{"name":"sys","namespace":"gantry-system"}`, 1)
		code, resp := g.apiCall(t, "POST", "/api/v1/applications", mallory, body)
		refused("an app in gantry-system", code, resp, http.StatusBadRequest, "p-a")
		code, resp = g.apiCall(t, "POST", "/api/v1/applications?appNamespace=p-a", mallory, strings.Replace(appJSON("claim", "cm", onHost("p-a")), `"project":"a"`, `"project":"b"`, 1))
		if code/100 == 2 {
			t.Errorf("an app of project b made by mallory: %d %v", code, resp)
		}
		// b's app, replaced through upsert.
		must("POST", "/api/v1/applications", admin, strings.Replace(appJSON("victim", "cm", onHost("p-b")), `"project":"a"`, `"project":"b"`, 1))
		code, resp = g.apiCall(t, "POST", "/api/v1/applications?upsert=true", mallory, strings.Replace(appJSON("victim", "rbac", onHost("gantry-system")), `"project":"a"`, `"project":"b"`, 1))
		if code != http.StatusForbidden {
			t.Errorf("upsert of project b's app by mallory: %d %v", code, resp)
		}
		if src, _, _ := unstructuredPath(t, dyn, "p-b", "victim"); src != "cm" {
			t.Errorf("project b's app now deploys %q", src)
		}
		// An ApplicationSet that generates a host destination.
		set := fmt.Sprintf(`{"metadata":{"name":"fan"},"spec":{"generators":[{"list":{"elements":[{"ns":"p-a"},{"ns":"gantry-system"}]}}],
			"template":{"metadata":{"name":"fan-{{ns}}"},"spec":{"project":"a","source":{"repoURL":%q,"path":"cm"},
			"destination":{"server":"https://kubernetes.default.svc","namespace":"{{ns}}"}}}}}`, repo.URL)
		must("POST", "/api/v1/applicationsets", eve, set)
		eventually(t, 30*time.Second, "the ApplicationSet refused", func() error {
			u, err := dyn.Resource(appSetGVR).Namespace("p-a").Get(ctx, "fan", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if !strings.Contains(fmt.Sprint(u.Object["status"]), "namespace gantry-system") {
				return fmt.Errorf("status %v", u.Object["status"])
			}
			return nil
		})
		if apps, _ := dyn.Resource(appGVR).Namespace("p-a").List(ctx, metav1.ListOptions{LabelSelector: "gantry.dev/applicationset=fan"}); len(apps.Items) != 0 {
			t.Errorf("the refused set generated %d apps", len(apps.Items))
		}
		// The project's own rules, even by its admin, and "renaming" it.
		code, resp = g.apiCall(t, "PUT", "/api/v1/projects/a", eve, `{"localRepositories":true}`)
		refused("eve widening project a", code, resp, http.StatusForbidden, "ask an administrator")
		code, resp = g.apiCall(t, "PUT", "/api/v1/projects/a", eve, `{"allowedDestinations":[{"server":"*","namespace":"*"}]}`)
		refused("eve granting project a the host", code, resp, http.StatusForbidden, "ask an administrator")
		code, resp = g.apiCall(t, "PUT", "/api/v1/projects/a", eve, `{"name":"b"}`)
		refused("renaming project a", code, resp, http.StatusBadRequest, `unknown field "name"`)
		code, resp = g.apiCall(t, "POST", "/api/v1/projects/b/members", mallory, `{"kind":"User","name":"mallory","role":"project-admin"}`)
		refused("mallory joining project b", code, resp, http.StatusForbidden, "")
	})

	t.Run("an access key scoped to project a", func(t *testing.T) {
		for _, path := range []string{"/api/v1/applications/victim?appNamespace=p-b", "/api/v1/projects/b", "/api/v1/virtualclusters/b/v1"} {
			if code, resp := g.apiCall(t, "GET", path, key, ""); code/100 == 2 {
				t.Errorf("GET %s with a key scoped to a: %d %v", path, code, resp)
			}
		}
		code, resp := g.apiCall(t, "GET", "/api/v1/applications", key, "")
		if code != 200 || strings.Contains(fmt.Sprint(resp["items"]), "victim") {
			t.Errorf("the scoped key's list: %d %v", code, resp)
		}
		code, resp = g.apiCall(t, "POST", "/api/v1/accesskeys", key, `{"name":"wider"}`)
		if code/100 == 2 {
			t.Errorf("an access key made another key: %d %v", code, resp)
		}
	})

	t.Run("reserved groups", func(t *testing.T) {
		code, resp := g.apiCall(t, "PUT", "/api/v1/users/mallory", admin, `{"groups":["system:masters"]}`)
		refused("system:masters on a user", code, resp, http.StatusBadRequest, "system:masters")
		code, resp = g.apiCall(t, "POST", "/api/v1/teams", admin, `{"name":"root","groups":["system:masters"],"users":["mallory"]}`)
		refused("system:masters on a team", code, resp, http.StatusBadRequest, "system:masters")
	})

	t.Run("the proxy", func(t *testing.T) {
		base := "https://" + g.httpAddr + "/kubernetes/project/"
		client := g.httpsClient(t)
		noRedirect := *client
		noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		do := func(c *http.Client, method, url string, header ...string) (int, string) {
			t.Helper()
			var body io.Reader
			if method == "POST" {
				body = strings.NewReader(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`)
			}
			req, _ := http.NewRequest(method, url, body)
			for i := 0; i+1 < len(header); i += 2 {
				req.Header.Add(header[i], header[i+1])
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		// The browser's cookie is not a credential here.
		if code, _ := do(client, "GET", base+"a/virtualcluster/v1/api", "Cookie", "gantry.token="+mallory); code != http.StatusUnauthorized {
			t.Errorf("the proxy with the session cookie only: %d, want 401", code)
		}
		// Project b's cluster, straight and by path tricks.
		for _, path := range []string{
			"b/virtualcluster/v1/api/v1/secrets",
			"a/virtualcluster/v1/../../../b/virtualcluster/v1/api/v1/secrets",
			"a/virtualcluster/v1/..%2F..%2F..%2Fb/virtualcluster/v1/api/v1/secrets",
			"a%2Fvirtualcluster%2Fv1%2F..%2F..%2F..%2Fb/virtualcluster/v1/api/v1/secrets",
			"b%2Fvirtualcluster%2Fv1/api/v1/secrets",
			"a/virtualcluster/v1%252F..%252F..%252Fb/api/v1/secrets",
		} {
			code, body := do(client, "GET", base+path, "Authorization", "Bearer "+mallory)
			if code/100 == 2 || strings.Contains(body, `"kind":"SecretList"`) {
				t.Errorf("%s as mallory: %d %.200s", path, code, body)
			}
		}
		// Impersonation headers she sends are dropped: she stays herself.
		code, body := do(client, "POST", base+"a/virtualcluster/v1/apis/authentication.k8s.io/v1/selfsubjectreviews",
			"Authorization", "Bearer "+mallory, "Content-Type", "application/json",
			"Impersonate-User", "system:admin", "Impersonate-Group", "system:masters")
		if code != http.StatusCreated || !strings.Contains(body, `"username":"gantry:mallory"`) || strings.Contains(body, "system:masters") {
			t.Errorf("who mallory is inside her cluster, asking to be system:admin: %d %s", code, body)
		}
	})

	t.Run("the syncer", func(t *testing.T) {
		cfgOut, err := run(t, "vcluster", "connect", "v1", "--project", "a", "--print", "--data-dir", dataDir)
		if err != nil {
			t.Fatalf("connect: %v\n%s", err, cfgOut)
		}
		v := vclusterFromKubeconfig(t, cfgOut)
		// A Service with external IPs, and a selector-less one pointing at the
		// host's API server: neither reaches the host as written.
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "mitm"}, Spec: corev1.ServiceSpec{
			Ports: []corev1.ServicePort{{Port: 443}}, ExternalIPs: []string{"10.0.0.1"}}}
		if _, err := v.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "mitm"}, Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: apiServerIP(t, g)}}, Ports: []corev1.EndpointPort{{Port: 443}}}}}
		if _, err := v.CoreV1().Endpoints("default").Create(ctx, ep, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "the Service on the host", func() error {
			list, err := host.CoreV1().Services("vc-p-a-v1").List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			for _, s := range list.Items {
				if strings.HasPrefix(s.Name, "mitm-") {
					if len(s.Spec.ExternalIPs) != 0 {
						t.Errorf("external IPs reached the host: %v", s.Spec.ExternalIPs)
					}
					return nil
				}
			}
			return fmt.Errorf("not yet")
		})
		// The tenant is told what was left out, on the Endpoints.
		eventually(t, 30*time.Second, "a HostPolicy event on Endpoints mitm", func() error {
			evs, err := v.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "reason=HostPolicy"})
			if err != nil {
				return err
			}
			for _, e := range evs.Items {
				if e.InvolvedObject.Kind == "Endpoints" && strings.Contains(e.Message, "CVE-2021-25740") {
					return nil
				}
			}
			return fmt.Errorf("%d HostPolicy events", len(evs.Items))
		})
		eps, _ := host.CoreV1().Endpoints("vc-p-a-v1").List(ctx, metav1.ListOptions{})
		for _, e := range eps.Items {
			for _, s := range e.Subsets {
				for _, a := range s.Addresses {
					if a.IP == apiServerIP(t, g) {
						t.Errorf("host Endpoints %s point at the host's API server", e.Name)
					}
				}
			}
		}
	})

	t.Run("the webhook and logins fail closed", func(t *testing.T) {
		code, _ := g.apiCall(t, "POST", "/api/webhook", "", `{"ref":"refs/heads/main","repository":{"clone_url":"`+repo.URL+`"}}`)
		if code/100 == 2 {
			t.Errorf("an unsigned push was accepted: %d", code)
		}
		// Someone on another address guesses admin's password: they are
		// throttled, admin is not.
		attacker := fromAddr("127.0.0.66", g.httpsClient(t))
		var last int
		for range 8 {
			resp, err := attacker.Post("https://"+g.httpAddr+"/api/v1/session", "application/json", strings.NewReader(`{"username":"admin","password":"guess"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			last = resp.StatusCode
		}
		if last != http.StatusTooManyRequests {
			t.Errorf("the guesser's 8th try: %d, want 429", last)
		}
		// admin, from this address, still signs in.
		m := regexp.MustCompile(`admin password: (\S+)`).FindStringSubmatch(g.output())
		if m == nil {
			t.Fatal("the first start showed no admin password")
		}
		if code, resp := g.apiCall(t, "POST", "/api/v1/session", "", fmt.Sprintf(`{"username":"admin","password":%q}`, m[1])); code != 200 {
			t.Errorf("admin locked out by another address's guesses: %d %v", code, resp)
		}
		if code, resp := g.apiCall(t, "POST", "/api/v1/session", "", `{"username":"mallory","password":"mallory-secret-pw"}`); code != 200 {
			t.Errorf("mallory's login from another address after admin's were guessed: %d %v", code, resp)
		}
	})

	// Nothing of mallory's reached the host beyond her project's namespaces.
	nss, _ := host.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	for _, ns := range nss.Items {
		if !strings.HasPrefix(ns.Name, "p-") && !strings.HasPrefix(ns.Name, "vc-") && !strings.HasPrefix(ns.Name, "kube-") &&
			ns.Name != "default" && ns.Name != "gantry-system" {
			t.Errorf("namespace %s appeared on the host", ns.Name)
		}
	}
	logs, _ := filepath.Glob(filepath.Join(dataDir, "logs", "*.log"))
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		if strings.Contains(string(data), "mallory-secret-pw") || strings.Contains(string(data), key) {
			t.Errorf("%s holds a secret value", l)
		}
	}
}

// unstructuredPath returns an app's source path (and name, namespace).
func unstructuredPath(t *testing.T, dyn dynamic.Interface, ns, name string) (string, string, string) {
	t.Helper()
	u, err := dyn.Resource(appGVR).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := u.Object["spec"].(map[string]any)
	src, _ := spec["source"].(map[string]any)
	path, _ := src["path"].(string)
	return path, name, ns
}

// apiServerIP is the host API server's service IP (the default kubernetes Service).
func apiServerIP(t *testing.T, g *gantry) string {
	t.Helper()
	s, err := g.client().CoreV1().Services("default").Get(context.Background(), "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s.Spec.ClusterIP
}

func vclusterFromKubeconfig(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(kubeconfig))
	if err != nil {
		t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(cfg)
}

// fromAddr is c with its connections made from the loopback address ip.
func fromAddr(ip string, c *http.Client) *http.Client {
	tr := c.Transport.(*http.Transport).Clone()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr.DialContext = d.DialContext
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}
