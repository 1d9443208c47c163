package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"gantry.dev/gantry/internal/argocdtest"
)

// gantryImage loads bin/gantry-image.tar (make image) into the real node and
// returns its reference.
func gantryImage(t *testing.T, dataDir string) string {
	t.Helper()
	archive := os.Getenv("GANTRY_IMAGE")
	if archive == "" {
		archive = filepath.Join(filepath.Dir(gantryBin), "gantry-image.tar")
	}
	manifest, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(archive) })
	if err != nil || len(manifest) != 1 || len(manifest[0].RepoTags) != 1 {
		t.Fatalf("no image archive at %s (%v): make image builds it (GANTRY_IMAGE names another)", archive, err)
	}
	ref := manifest[0].RepoTags[0]
	if out, err := run(t, "image", "load", archive, "--data-dir", dataDir); err != nil || !strings.Contains(out, "loaded "+ref) {
		t.Fatalf("gantry image load: %v\n%s", err, out)
	}
	return ref
}

// testControlPlanePods (TestRealNodes/ControlPlanePods): with --control-planes pods a virtual cluster's
// control plane is a StatefulSet's pod on the real node; kubectl through
// gantry's proxy works, its pods reach the host, a user's SSO token reaches
// it directly (and another cluster's refuses it), sleep scales it to zero,
// a request wakes it with its data, and deletion leaves nothing behind.
func testControlPlanePods(t *testing.T) {
	realNodeMachine(t)
	if out, err := run(t, "up", "--control-planes", "pods", "--real-nodes", "0", "--data-dir", t.TempDir()); err == nil ||
		!strings.Contains(out, "--control-planes pods needs a host that runs containers") {
		t.Errorf("pods without a host that runs containers: %v\n%s", err, out)
	}
	ctx := context.Background()
	dataDir := t.TempDir()
	// The image is loaded after the start; its reference is known before.
	archive := filepath.Join(filepath.Dir(gantryBin), "gantry-image.tar")
	if a := os.Getenv("GANTRY_IMAGE"); a != "" {
		archive = a
	}
	manifest, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(archive) })
	if err != nil || len(manifest) != 1 {
		t.Fatalf("no image archive at %s (%v): make image builds it", archive, err)
	}
	g := startGantry(t, dataDir, "--real-nodes", "1", "--nodes", "1", "--control-planes", "pods",
		"--control-plane-image", manifest[0].RepoTags[0])
	g.waitReady(2 * time.Minute)
	host := g.client()
	nodes, err := host.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "gantry.dev/real=true"})
	if err != nil || len(nodes.Items) == 0 {
		t.Skipf("gantry started no real node here (%v)", err)
	}
	gantryImage(t, dataDir)
	ref := helloRef(t, dataDir)

	const hostNS = "vc-p-default-pods"
	t.Cleanup(func() {
		if t.Failed() {
			dumpNamespace(t, host, hostNS)
		}
	})
	start := time.Now()
	createVCluster(t, dataDir, "pods", "--sleep-after", "10s", "--timeout", "3m")
	t.Logf("figure: create → Running as a pod: %.2fs", time.Since(start).Seconds())
	pod, err := host.CoreV1().Pods(hostNS).Get(ctx, "gantry-controlplane-0", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("no control-plane pod: %v", err)
	}
	if pod.Status.Phase != corev1.PodRunning || pod.Spec.NodeName != nodes.Items[0].Name {
		t.Errorf("control-plane pod %s on %q, want Running on %s", pod.Status.Phase, pod.Spec.NodeName, nodes.Items[0].Name)
	}
	if pids := vclusterPids(t, dataDir, "p-default/pods"); len(pids) != 0 {
		t.Errorf("a control plane in a pod has processes of gantry's: %v", pids)
	}

	c := proxyClient(t, dataDir, "pods")
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kept"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating a namespace through the proxy: %v", err)
	}
	vpod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "kept"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "hello", Image: ref, ImagePullPolicy: corev1.PullIfNotPresent}}}}
	eventually(t, 30*time.Second, "a pod created in the virtual cluster", func() error {
		_, err := c.CoreV1().Pods("kept").Create(ctx, vpod, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err // the namespace's default ServiceAccount comes a moment later
	})
	eventually(t, 60*time.Second, "the virtual pod synced to the host", func() error {
		if n := hostPods(t, host, hostNS, "pods"); n != 1 {
			return fmt.Errorf("%d host pods", n)
		}
		return nil
	})
	// Its log, through gantry's proxy: the API server in the pod calls
	// gantry's kubelet API at the node's address (not gantry's loopback).
	eventually(t, 60*time.Second, "the virtual pod's log through the proxy", func() error {
		logs, err := c.CoreV1().Pods("kept").GetLogs("hello", &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil {
			return err
		}
		if !strings.Contains(string(logs), "hello: listening on :8080") {
			return fmt.Errorf("log %q", logs)
		}
		return nil
	})

	// mallory, a member of another project, reaches neither the cluster
	// through gantry nor its control plane's Secret through gantry's APIs.
	admin := adminTokenOf(t, g)
	for _, call := range [][2]string{
		{"/api/v1/users", `{"name":"mallory","password":"mallory-secret-pw"}`},
		{"/api/v1/projects", `{"name":"b","members":[{"kind":"User","name":"mallory","role":"project-admin"}]}`},
		{"/api/v1/users", `{"name":"alice","password":"alice-secret-pw"}`},
	} {
		if code, resp := g.apiCall(t, "POST", call[0], admin, call[1]); code/100 != 2 {
			t.Fatalf("POST %s: %d %v", call[0], code, resp)
		}
	}
	if out, err := run(t, "project", "add-member", "default", "--user", "alice", "--role", "project-member", "--data-dir", dataDir); err != nil {
		t.Fatalf("project add-member alice: %v\n%s", err, out)
	}

	// alice, a member, straight to the API server in the pod (connect
	// --sso): it fetched gantry's keys from the kubelet API's Service, and
	// its RBAC sees her name and groups. Its address is the Service's
	// ClusterIP, which this machine (the real node's) reaches.
	start = time.Now()
	cliLogin(t, dataDir, "alice", "alice-secret-pw")
	aliceC, aliceCfg := ssoClient(t, dataDir, "pods")
	cpSvc, err := host.CoreV1().Services(hostNS).Get(ctx, "gantry-controlplane", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://" + net.JoinHostPort(cpSvc.Spec.ClusterIP, "6443"); aliceCfg.Host != want {
		t.Errorf("connect --sso wrote server %s, want the control plane's Service %s", aliceCfg.Host, want)
	}
	eventually(t, 20*time.Second, "alice herself inside the pods cluster", func() error {
		info, err := whoami(ctx, aliceC)
		if err != nil {
			return err
		}
		if info.Username != "gantry:alice" || !slices.Contains(info.Groups, "gantry:project:default:project-member") {
			t.Fatalf("inside the pods cluster alice is %s %v", info.Username, info.Groups)
		}
		return nil
	})
	if _, err := aliceC.CoreV1().ConfigMaps("kept").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "by-alice"}}, metav1.CreateOptions{}); err != nil {
		t.Errorf("a member creating a ConfigMap directly (edit role): %v", err)
	}
	if _, err := aliceC.CoreV1().Namespaces().Create(ctx, nsObj("not-for-members"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "gantry:alice") {
		t.Errorf("a member creating a namespace directly: %v, want Forbidden for gantry:alice", err)
	}
	// Kept for the next cluster, which must refuse it.
	podsToken := credential(t, dataDir, "pods")
	if out, err := run(t, "logout", "--data-dir", dataDir); err != nil {
		t.Fatalf("logout: %v\n%s", err, out)
	}
	t.Logf("figure: connect --sso → whoami and RBAC checked in the pod: %.2fs", time.Since(start).Seconds())
	mallory := g.login(t, "mallory", "mallory-secret-pw")
	for _, path := range []string{
		"/kubernetes/project/default/virtualcluster/pods/api/v1/namespaces",
		"/api/v1/virtualclusters/default/pods/kubeconfig",
		"/kubernetes/project/b/virtualcluster/pods/api/v1/namespaces",
	} {
		if code, resp := g.apiCall(t, "GET", path, mallory, ""); code != 403 && code != 404 {
			t.Errorf("mallory GET %s: %d %v, want 403 or 404", path, code, resp)
		}
	}

	// Argo CD against the control plane in a pod, in a subtest of its own:
	// Argo CD stops as it ends, before the sleep below. Argo CD's traffic at
	// the pod's own endpoint (--direct) does not pass gantry, which would
	// put the cluster to sleep under it: sleepAfter is off meanwhile.
	sleepAfter := func(d string) {
		t.Helper()
		if code, resp := g.apiCall(t, "PATCH", "/api/v1/virtualclusters/default/pods", admin, `{"sleepAfter":"`+d+`"}`); code != 200 {
			t.Fatalf("PATCH sleepAfter %s: %d %v", d, code, resp)
		}
	}
	sleepAfter("0")
	t.Run("ArgoCD", func(t *testing.T) {
		argoCDOnPods(t, g, dataDir, ref, nodes.Items[0].Name, "https://"+net.JoinHostPort(cpSvc.Spec.ClusterIP, "6443"), host, c)
	})
	sleepAfter("10s")

	eventually(t, 90*time.Second, "asleep: the StatefulSet at zero replicas", func() error {
		if p := phase(t, dataDir, "pods"); p != "Sleeping" {
			return fmt.Errorf("phase %s", p)
		}
		sts, err := host.AppsV1().StatefulSets(hostNS).Get(ctx, "gantry-controlplane", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if *sts.Spec.Replicas != 0 {
			return fmt.Errorf("replicas %d", *sts.Spec.Replicas)
		}
		return nil
	})
	eventually(t, 30*time.Second, "the control-plane pod gone", func() error {
		if _, err := host.CoreV1().Pods(hostNS).Get(ctx, "gantry-controlplane-0", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%v)", err)
		}
		return nil
	})
	start = time.Now()
	if _, err := c.CoreV1().Namespaces().Get(ctx, "kept", metav1.GetOptions{}); err != nil {
		t.Fatalf("a request did not wake the cluster, or its data is gone: %v", err)
	}
	t.Logf("figure: wake from zero replicas → answered: %.2fs", time.Since(start).Seconds())

	if out, err := run(t, "vcluster", "delete", "pods", "--data-dir", dataDir); err != nil {
		t.Fatalf("vcluster delete: %v\n%s", err, out)
	}
	eventually(t, 90*time.Second, "nothing left of the cluster on the host", func() error {
		if _, err := host.CoreV1().Namespaces().Get(ctx, hostNS, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("host namespace still there (%v)", err)
		}
		pvs, err := host.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
		if err != nil || len(pvs.Items) != 0 {
			return fmt.Errorf("volumes left: %v %v", pvs, err)
		}
		if left, _ := filepath.Glob(filepath.Join(dataDir, "controlplane-volumes", "*")); len(left) != 0 {
			return fmt.Errorf("volume directories left: %v", left)
		}
		return nil
	})

	// An external store: PostgreSQL on the node's address, its DSN in a
	// Secret the cluster names. The pod keeps nothing (an emptyDir), so
	// what survives a sleep is in PostgreSQL.
	nodeIP := ""
	for _, a := range nodes.Items[0].Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			nodeIP = a.Address
		}
	}
	l, err := net.Listen("tcp", net.JoinHostPort(nodeIP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	pgAddr := l.Addr().String()
	l.Close()
	dsn := startPostgres(t, pgAddr)
	if _, err := host.CoreV1().Secrets("p-default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "kine-db"},
		StringData: map[string]string{"dsn": dsn}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const pgNS = "vc-p-default-pg"
	if out, err := run(t, "project", "allow", "default", "--vcluster-own-storage", "--data-dir", dataDir); err != nil {
		t.Fatalf("project allow --vcluster-own-storage: %v\n%s", err, out)
	}
	createVCluster(t, dataDir, "pg", "--storage-secret", "kine-db", "--timeout", "3m")
	sts, err := host.AppsV1().StatefulSets(pgNS).Get(ctx, "gantry-controlplane", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			t.Errorf("a claim for a cluster whose state is in PostgreSQL: %+v", v)
		}
	}
	pc := proxyClient(t, dataDir, "pg")
	if _, err := pc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "in-postgres"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating a namespace in the PostgreSQL-backed cluster: %v", err)
	}
	// SSO tokens are bound to their cluster: pg takes alice's own token
	// and refuses the one gantry minted for the pods cluster.
	start = time.Now()
	cliLogin(t, dataDir, "alice", "alice-secret-pw")
	_, pgCfg := ssoClient(t, dataDir, "pg")
	eventually(t, 20*time.Second, "alice's own token taken by pg", func() error {
		_, err := whoami(ctx, bearer(pgCfg, credential(t, dataDir, "pg")))
		return err
	})
	if _, err := whoami(ctx, bearer(pgCfg, podsToken)); !apierrors.IsUnauthorized(err) {
		t.Errorf("a token for the pods cluster presented to pg: %v, want Unauthorized", err)
	}
	if out, err := run(t, "logout", "--data-dir", dataDir); err != nil {
		t.Fatalf("logout: %v\n%s", err, out)
	}
	t.Logf("figure: pg takes its own token, refuses the pods cluster's: %.2fs", time.Since(start).Seconds())
	if out, err := run(t, "vcluster", "sleep", "pg", "--data-dir", dataDir); err != nil {
		t.Fatalf("vcluster sleep pg: %v\n%s", err, out)
	}
	eventually(t, 60*time.Second, "pg's control-plane pod gone", func() error {
		if _, err := host.CoreV1().Pods(pgNS).Get(ctx, "gantry-controlplane-0", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%v)", err)
		}
		return nil
	})
	if _, err := pc.CoreV1().Namespaces().Get(ctx, "in-postgres", metav1.GetOptions{}); err != nil {
		t.Fatalf("after a sleep the PostgreSQL-backed cluster lost its namespace or did not wake: %v", err)
	}
	if out, err := run(t, "vcluster", "delete", "pg", "--data-dir", dataDir); err != nil {
		t.Fatalf("vcluster delete pg: %v\n%s", err, out)
	}
	g.stop()
}

// helloManifests is what Argo CD deploys into the pods cluster: a
// ConfigMap and a Deployment of the hello image loaded on the real node.
const helloManifests = `apiVersion: v1
kind: ConfigMap
metadata:
  name: hello
data:
  greeting: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
spec:
  replicas: 1
  selector:
    matchLabels: {app: hello}
  template:
    metadata:
      labels: {app: hello}
    spec:
      containers:
      - name: hello
        image: %s
        imagePullPolicy: IfNotPresent
        ports:
        - containerPort: 8080
`

// argoCDOnPods (TestRealNodes/ControlPlanePods/ArgoCD): the Argo CD
// integration against virtual cluster pods, whose control plane is a pod. A
// real Argo CD (internal/argocdtest, processes on the embedded host, as in
// TestArgoCDReal) lists the cluster at gantry's proxy once the project's
// toggle is on, and an Application deploys into it there; with --direct, at
// the control plane's Service (direct, https://ClusterIP:6443) with a
// ServiceAccount gantry made inside; the Deployments' pods run on the real
// node. Turned off, the cluster leaves Argo CD and the ServiceAccount the
// virtual cluster; Argo CD stops with the subtest.
func argoCDOnPods(t *testing.T, g *gantry, dataDir, ref, node, direct string, host, vc kubernetes.Interface) {
	ctx := context.Background()
	const (
		clusterName = "p-default/pods"
		hostNS      = "vc-p-default-pods"
	)
	proxyServer := "https://" + g.httpAddr + "/kubernetes/project/default/virtualcluster/pods"
	var argoURL string
	// Registered before argocdtest's own clean-up, so it runs after it.
	t.Cleanup(func() {
		if argoURL == "" {
			return
		}
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(argoURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			t.Errorf("Argo CD still answers at %s after its test", argoURL)
		}
	})
	start := time.Now()
	argo := argocdtest.Start(t, argocdtest.Options{Kubeconfig: filepath.Join(dataDir, "kubeconfig")})
	argoURL = argo.URL
	admin := argo.Client(argo.AdminToken(t))
	t.Logf("figure: Argo CD started on the embedded host: %.2fs", time.Since(start).Seconds())
	repo := newGitServer(t).newRepo("hello")
	repo.commit("hello", map[string]*string{"hello/hello.yaml": str(fmt.Sprintf(helloManifests, ref))})

	// deployed checks what Argo CD deployed into namespace ns: the
	// Deployment in the virtual cluster, its pod synced to the host and
	// running on the real node.
	deployed := func(ns string) {
		t.Helper()
		if d, err := vc.AppsV1().Deployments(ns).Get(ctx, "hello", metav1.GetOptions{}); err != nil {
			t.Errorf("Argo CD's Deployment %s/hello is not in the virtual cluster: %v", ns, err)
		} else if d.Status.ReadyReplicas != 1 {
			t.Errorf("Argo CD's Deployment %s/hello in the virtual cluster: %d ready replicas, want 1", ns, d.Status.ReadyReplicas)
		}
		if _, err := vc.CoreV1().ConfigMaps(ns).Get(ctx, "hello", metav1.GetOptions{}); err != nil {
			t.Errorf("Argo CD's ConfigMap %s/hello in the virtual cluster: %v", ns, err)
		}
		pods, err := host.CoreV1().Pods(hostNS).List(ctx, metav1.ListOptions{LabelSelector: "gantry.dev/vcluster=pods,gantry.dev/namespace=" + ns})
		if err != nil || len(pods.Items) != 1 {
			t.Fatalf("host pods of virtual namespace %s: %v %v, want 1", ns, err, pods)
		}
		if p := pods.Items[0]; p.Status.Phase != corev1.PodRunning || p.Spec.NodeName != node {
			t.Errorf("host pod %s: %s on %q, want Running on %s", p.Name, p.Status.Phase, p.Spec.NodeName, node)
		}
	}

	// The toggle: the virtual cluster appears in Argo CD's API at gantry's proxy.
	start = time.Now()
	if out, err := run(t, "project", "argocd", "enable", "default", "--data-dir", dataDir); err != nil {
		t.Fatalf("project argocd enable: %v\n%s", err, out)
	}
	waitArgoCluster(t, admin, clusterName, "the pods cluster listed by Argo CD at gantry's proxy", func(c *argocdtest.Cluster) error {
		if c == nil || c.Server != proxyServer {
			return fmt.Errorf("want %s at %s, got %+v", clusterName, proxyServer, c)
		}
		return nil
	})
	t.Logf("figure: toggle → pods cluster listed by Argo CD's API: %.2fs", time.Since(start).Seconds())
	took := deployArgoApp(t, admin, argoApp{name: "hello", project: "default", cluster: clusterName, repoURL: repo.URL, path: "hello", namespace: "argo-proxy"})
	t.Logf("figure: Argo CD Application → Synced/Healthy in the pods cluster through gantry's proxy: %.2fs", took.Seconds())
	deployed("argo-proxy")

	// --direct: Argo CD at the control plane's Service, as argocd-manager.
	start = time.Now()
	if out, err := run(t, "project", "argocd", "enable", "default", "--direct", "--data-dir", dataDir); err != nil {
		t.Fatalf("project argocd enable --direct: %v\n%s", err, out)
	}
	waitArgoCluster(t, admin, clusterName, "the pods cluster at its control plane's Service", func(c *argocdtest.Cluster) error {
		if c == nil || c.Server != direct {
			return fmt.Errorf("want %s at %s, got %+v", clusterName, direct, c)
		}
		return nil
	})
	t.Logf("figure: --direct → Argo CD's cluster at the pod's Service: %.2fs", time.Since(start).Seconds())
	took = deployArgoApp(t, admin, argoApp{name: "hello-direct", project: "default", cluster: clusterName, repoURL: repo.URL, path: "hello", namespace: "argo-direct"})
	t.Logf("figure: Argo CD Application → Synced/Healthy in the pods cluster with --direct: %.2fs", took.Seconds())
	deployed("argo-direct")
	if _, err := vc.CoreV1().ServiceAccounts("kube-system").Get(ctx, "argocd-manager", metav1.GetOptions{}); err != nil {
		t.Errorf("Argo CD's ServiceAccount in the pods cluster with --direct: %v", err)
	}

	// Off: the cluster leaves Argo CD, the ServiceAccount the virtual cluster.
	start = time.Now()
	if out, err := run(t, "project", "argocd", "disable", "default", "--data-dir", dataDir); err != nil {
		t.Fatalf("project argocd disable: %v\n%s", err, out)
	}
	waitArgoCluster(t, admin, clusterName, "the pods cluster gone from Argo CD", func(c *argocdtest.Cluster) error {
		if c != nil {
			return fmt.Errorf("still listed: %+v", c)
		}
		return nil
	})
	t.Logf("figure: disable → pods cluster gone from Argo CD's API: %.2fs", time.Since(start).Seconds())
	eventually(t, 30*time.Second, "argocd-manager gone from the pods cluster", func() error {
		if _, err := vc.CoreV1().ServiceAccounts("kube-system").Get(ctx, "argocd-manager", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%v)", err)
		}
		return nil
	})
}

// helloRef loads the tiny hello image into the real node.
func helloRef(t *testing.T, dataDir string) string {
	const ref = "example.local/hello:e2e"
	if out, err := runStdin(t, string(helloArchive(t, ref)), "image", "load", "-", "--data-dir", dataDir); err != nil {
		t.Fatalf("gantry image load -: %v\n%s", err, out)
	}
	return ref
}

// dumpNamespace logs what a failed test left in a host namespace: pods,
// their state, events and the control plane's log.
func dumpNamespace(t *testing.T, host kubernetes.Interface, ns string) {
	ctx := context.Background()
	if pods, err := host.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, p := range pods.Items {
			t.Logf("pod %s: %s on %q %+v", p.Name, p.Status.Phase, p.Spec.NodeName, p.Status.ContainerStatuses)
			if logs, err := host.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(ctx); err == nil {
				t.Logf("log of %s:\n%s", p.Name, logs)
			}
		}
	}
	if evs, err := host.CoreV1().Events(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, e := range evs.Items {
			t.Logf("event %s %s: %s", e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
}
