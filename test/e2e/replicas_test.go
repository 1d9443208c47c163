package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"gantry.dev/gantry/internal/pki"
	"gantry.dev/gantry/internal/runstate"
)

// replicaHost is an embedded host with its real node, as a cluster gantry's
// replicas share: the host-only gantry that runs it, its kubeconfig and the
// reference of gantry's image loaded into its node. Its one node takes any
// pod (no simulated nodes, the real node's taint removed) and a default
// StorageClass hands out volumes made beforehand, as a cluster's provisioner
// would: what control planes as pods need of a host. Its node's address is
// this machine's, where the replicas' kubelet API is reached from pods.
type replicaHost struct {
	g          *gantry
	client     *kubernetes.Clientset
	kubeconfig string
	image      string
	nodeIP     string
}

func startReplicaHost(t *testing.T, volumes int) *replicaHost {
	t.Helper()
	realNodeMachine(t)
	archive := filepath.Join(filepath.Dir(gantryBin), "gantry-image.tar")
	if a := os.Getenv("GANTRY_IMAGE"); a != "" {
		archive = a
	}
	manifest, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(archive) })
	if err != nil || len(manifest) != 1 || len(manifest[0].RepoTags) != 1 {
		t.Fatalf("no image archive at %s (%v): make image builds it", archive, err)
	}
	dir := t.TempDir()
	g := startGantry(t, dir, "--host-only", "--real-nodes", "1", "--nodes", "0")
	g.waitReady(2 * time.Minute)
	host := g.client()
	ctx := context.Background()
	nodes, err := host.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "gantry.dev/real=true"})
	if err != nil || len(nodes.Items) == 0 {
		t.Skipf("gantry started no real node here (%v)", err)
	}
	ref := gantryImage(t, dir)
	eventually(t, 30*time.Second, "the real node's taint removed", func() error {
		node, err := host.CoreV1().Nodes().Get(ctx, nodes.Items[0].Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		var taints []corev1.Taint
		for _, tn := range node.Spec.Taints {
			if tn.Key != "gantry.dev/real" {
				taints = append(taints, tn)
			}
		}
		node.Spec.Taints = taints
		_, err = host.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		return err // a conflict with the kubelet's own update: again
	})
	if _, err := host.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{
		ObjectMeta:  metav1.ObjectMeta{Name: "prepared", Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner: "kubernetes.io/no-provisioner",
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range volumes {
		path := t.TempDir()
		if err := os.Chown(path, 65532, 65532); err != nil { // the pod's user: a hostPath volume gets no fsGroup
			t.Fatal(err)
		}
		if _, err := host.CoreV1().PersistentVolumes().Create(ctx, &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("prepared-%d", i)},
			Spec: corev1.PersistentVolumeSpec{
				StorageClassName:              "prepared",
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				PersistentVolumeSource: corev1.PersistentVolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: path, Type: ptr.To(corev1.HostPathDirectory)}},
			},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var nodeIP string
	for _, a := range nodes.Items[0].Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			nodeIP = a.Address
		}
	}
	if nodeIP == "" {
		t.Fatalf("the real node has no InternalIP: %+v", nodes.Items[0].Status.Addresses)
	}
	return &replicaHost{g: g, client: host, kubeconfig: filepath.Join(dir, "kubeconfig"), image: ref, nodeIP: nodeIP}
}

// replicas are gantry's replicas against the host behind one address, as a
// Service or load balancer puts them: a TCP relay that hands each
// connection to the next replica that answers. They serve one certificate
// (as the Helm chart's tlsSecret), of a CA the test makes, which the CLI
// trusts through SSL_CERT_FILE.
type replicas struct {
	h           *replicaHost
	externalURL string
	ca          []byte
	caFile      string
	cert, key   string
	mu          sync.Mutex
	backends    []string
	next        int
}

func (h *replicaHost) replicas(t *testing.T) *replicas {
	t.Helper()
	ca, err := pki.NewCA("replicas test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(pki.CertSpec{CommonName: "gantry", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := leaf.Write(dir, "tls"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	// The replicas trust the relay's certificate at the external URL (their
	// own issuer's discovery goes there).
	r := &replicas{h: h, externalURL: "https://" + l.Addr().String(), ca: ca.CertPEM(), caFile: filepath.Join(dir, "ca.crt"),
		cert: filepath.Join(dir, "tls.crt"), key: filepath.Join(dir, "tls.key")}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go r.relay(c)
		}
	}()
	return r
}

// relay hands one connection to the next replica that takes it.
func (r *replicas) relay(c net.Conn) {
	defer c.Close()
	r.mu.Lock()
	backends, start := slices.Clone(r.backends), r.next
	r.next++
	r.mu.Unlock()
	for i := range backends {
		up, err := net.DialTimeout("tcp", backends[(start+i)%len(backends)], time.Second)
		if err != nil {
			continue // a replica that is gone
		}
		defer up.Close()
		done := make(chan struct{})
		go func() { io.Copy(up, c); up.(*net.TCPConn).CloseWrite(); close(done) }()
		io.Copy(c, up)
		<-done
		return
	}
}

// front is the replicas as users reach them, at the external URL.
func (r *replicas) front(t *testing.T) *gantry {
	return &gantry{t: t, httpAddr: strings.TrimPrefix(r.externalURL, "https://"), serverCA: r.ca}
}

// start runs one more replica behind the relay.
func (r *replicas) start(t *testing.T, extra ...string) *gantry {
	t.Helper()
	args := append([]string{"--kubeconfig", r.h.kubeconfig, "--control-planes", "pods", "--control-plane-image", r.h.image,
		"--leader-elect", "--external-url", r.externalURL, "--tls-cert-file", r.cert, "--tls-key-file", r.key,
		"--kubelet-address", r.h.nodeIP}, extra...)
	g := startGantryEnv(t, t.TempDir(), []string{"SSL_CERT_FILE=" + r.caFile}, args...)
	g.serverCA = r.ca
	g.waitReady(2 * time.Minute)
	r.mu.Lock()
	r.backends = append(r.backends, g.httpAddr)
	r.mu.Unlock()
	return g
}

// controllers is what a replica says of its controllers (run.json, as
// gantry status shows it): leading or standby.
func controllers(t *testing.T, g *gantry) string {
	t.Helper()
	st, err := runstate.Read(g.dataDir)
	if err != nil {
		return ""
	}
	return st.Controllers
}

// replicaProxy is a client of a virtual cluster through one replica's proxy,
// with a session token.
func replicaProxy(t *testing.T, g *gantry, token, vc string) *kubernetes.Clientset {
	t.Helper()
	ca := g.serverCA
	return kubernetes.NewForConfigOrDie(&rest.Config{
		Host:        "https://" + g.httpAddr + "/kubernetes/project/default/virtualcluster/" + vc,
		BearerToken: token, UserAgent: "e2e-user/1.0",
		TLSClientConfig: rest.TLSClientConfig{CAData: ca},
	})
}

// createThrough creates a virtual cluster through one replica's API.
func createThrough(t *testing.T, g *gantry, token, name string) {
	t.Helper()
	if code, resp := g.apiCall(t, "POST", "/api/v1/virtualclusters/default", token, fmt.Sprintf(`{"name":%q}`, name)); code/100 != 2 {
		t.Fatalf("creating virtual cluster %s: %d %v", name, code, resp)
	}
}

func waitVCRunning(t *testing.T, dyn dynamic.Interface, name string) {
	t.Helper()
	eventually(t, 3*time.Minute, "virtual cluster "+name+" Running", func() error {
		u, err := dyn.Resource(vcGVR).Namespace("p-default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p, _, _ := unstructured.NestedString(u.Object, "status", "phase"); p != "Running" {
			return fmt.Errorf("phase %q", p)
		}
		return nil
	})
}

// appThrough creates an automated app of repo's cfg/ through one replica's
// API, into a host namespace.
func appThrough(t *testing.T, g *gantry, token, name, repo, namespace string) {
	t.Helper()
	body := fmt.Sprintf(`{"metadata":{"name":%q},"spec":{"project":"default","source":{"repoURL":%q,"path":"cfg","targetRevision":"HEAD"},`+
		`"destination":{"server":"https://kubernetes.default.svc","namespace":%q},"syncPolicy":{"automated":{},"syncOptions":["CreateNamespace=true"]}}}`,
		name, repo, namespace)
	if code, resp := g.apiCall(t, "POST", "/api/v1/applications", token, body); code/100 != 2 {
		t.Fatalf("creating app %s: %d %v", name, code, resp)
	}
}

// testReplicas (TestRealNodes/Replicas): two replicas of gantry against one host (leader election).
// Both serve the API and the proxy, and a token one issued works on the
// other; the standby's webhook and proxy work through the host; the leader
// killed with SIGKILL, the other takes over: a new virtual cluster and a
// new app made through it are reconciled, and everything made before
// (users, projects, sessions, apps and their history, a virtual cluster's
// contents) is still there. A virtual pod's log reads through the leader
// and, after the failover, through the survivor (the replicas' one kubelet
// API), and the control plane it goes through was not restarted.
func testReplicas(t *testing.T) {
	if out, err := run(t, "up", "--leader-elect", "--kubeconfig", "/nonexistent", "--data-dir", t.TempDir()); err == nil ||
		!strings.Contains(out, "--leader-elect (several replicas) needs --control-planes pods") {
		t.Errorf("leader election with process control planes: %v\n%s", err, out)
	}
	h := startReplicaHost(t, 3)
	ctx := context.Background()
	// Users (and the CLI) reach the replicas at one URL, the issuer of
	// every token whichever replica signed it.
	rs := h.replicas(t)
	slow := []string{"--git-poll-interval", "10m"} // only a webhook explains a new revision
	a := rs.start(t, slow...)
	b := rs.start(t, slow...)
	m := regexp.MustCompile(`admin password: (\S+)`).FindStringSubmatch(a.output())
	if m == nil {
		t.Fatalf("the first replica did not show the admin password:\n%s", a.output())
	}
	password := m[1]
	var leader, standby *gantry
	eventually(t, 30*time.Second, "one replica leads, the other stands by", func() error {
		ca, cb := controllers(t, a), controllers(t, b)
		switch {
		case ca == "leading" && cb == "standby":
			leader, standby = a, b
		case cb == "leading" && ca == "standby":
			leader, standby = b, a
		default:
			return fmt.Errorf("first replica %q, second %q", ca, cb)
		}
		return nil
	})
	lease, err := h.client.CoordinationV1().Leases("gantry-system").Get(ctx, "gantry-leader", metav1.GetOptions{})
	if err != nil || ptr.Deref(lease.Spec.HolderIdentity, "") == "" {
		t.Fatalf("Lease gantry-system/gantry-leader: %v %+v", err, lease)
	}

	for range 2 { // the relay hands one login to each replica
		rs.front(t).login(t, "admin", password)
	}
	// Both serve the API; a session one started works on the other.
	tokLeader, tokStandby := leader.login(t, "admin", password), standby.login(t, "admin", password)
	for _, c := range []struct {
		g     *gantry
		token string
	}{{leader, tokStandby}, {standby, tokLeader}} {
		if code, resp := c.g.apiCall(t, "GET", "/api/v1/projects", c.token, ""); code != 200 {
			t.Fatalf("a session of one replica on the other: %d %v", code, resp)
		}
	}
	dyn := dynamic.NewForConfigOrDie(h.g.restConfig(t))
	// Written through the standby, reconciled by the leader.
	for _, call := range [][2]string{
		{"/api/v1/users", `{"name":"dev","password":"dev-secret-pw-1"}`},
		{"/api/v1/projects", `{"name":"team","members":[{"kind":"User","name":"dev","role":"project-admin"}]}`},
	} {
		if code, resp := standby.apiCall(t, "POST", call[0], tokStandby, call[1]); code/100 != 2 {
			t.Fatalf("POST %s through the standby: %d %v", call[0], code, resp)
		}
	}
	devToken := leader.login(t, "dev", "dev-secret-pw-1")
	eventually(t, 30*time.Second, "dev's project role known to the standby", func() error {
		if code, resp := standby.apiCall(t, "GET", "/api/v1/projects/team", devToken, ""); code != 200 {
			return fmt.Errorf("%d %v", code, resp)
		}
		return nil
	})
	createThrough(t, standby, tokStandby, "before")
	waitVCRunning(t, dyn, "before")
	eventually(t, 30*time.Second, "a namespace made through the standby's proxy", func() error {
		_, err := replicaProxy(t, standby, tokStandby, "before").CoreV1().Namespaces().Create(ctx,
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kept"}}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
	if _, err := replicaProxy(t, leader, tokLeader, "before").CoreV1().Namespaces().Get(ctx, "kept", metav1.GetOptions{}); err != nil {
		t.Fatalf("the namespace through the leader's proxy: %v", err)
	}
	// A pod in it, whose log the virtual API server reads from the
	// kubelet API at the Service gantry-system/gantry-kubelet.
	hello := helloRef(t, h.g.dataDir)
	vpod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "kept"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "hello", Image: hello, ImagePullPolicy: corev1.PullIfNotPresent}}}}
	eventually(t, 30*time.Second, "a pod created in the virtual cluster", func() error {
		_, err := replicaProxy(t, standby, tokStandby, "before").CoreV1().Pods("kept").Create(ctx, vpod, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err // the namespace's default ServiceAccount comes a moment later
	})
	readLog := func(g *gantry, token string) func() error {
		return func() error {
			logs, err := replicaProxy(t, g, token, "before").CoreV1().Pods("kept").GetLogs("hello", &corev1.PodLogOptions{}).DoRaw(ctx)
			if err != nil {
				return err
			}
			if !strings.Contains(string(logs), "hello: listening on :8080") {
				return fmt.Errorf("log %q", logs)
			}
			return nil
		}
	}
	eventually(t, 90*time.Second, "the virtual pod's log through the leader", readLog(leader, tokLeader))
	const beforeNS = "vc-p-default-before"
	cpPod, err := h.client.CoreV1().Pods(beforeNS).Get(ctx, "gantry-controlplane-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// An app made through the standby; a push's webhook to the standby
	// reaches the leader's engine (the poll is ten minutes away).
	h.g.grantProject(t, "default", hostGrant)
	repo := newGitServer(t).newRepo("cfg")
	first := repo.commit("v1", map[string]*string{"cfg/configmap.yaml": str(webConfig)})
	appThrough(t, standby, tokStandby, "before", repo.URL, "demo")
	waitApp(t, dyn, "p-default", "before", "Synced", "Healthy", 90*time.Second)
	second := repo.commit("v2", map[string]*string{"cfg/configmap.yaml": str(strings.Replace(webConfig, "hello", "hello again", 1))})
	standby.postWebhook(t, h.client, repo.URL, second)
	eventually(t, 60*time.Second, "the push to the standby's webhook synced", func() error {
		if _, _, rev, _ := appStatus(t, dyn, "p-default", "before"); rev != second {
			return fmt.Errorf("revision %s, want %s (first %s)", rev, second, first)
		}
		return nil
	})

	// The leader killed: the standby takes over.
	pid := leader.cmd.Process.Pid
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-leader.exited
	survivor := standby
	eventually(t, 60*time.Second, "the survivor leads", func() error {
		if c := controllers(t, survivor); c != "leading" {
			return fmt.Errorf("controllers %q", c)
		}
		return nil
	})
	t.Logf("figure: failover: leader killed → survivor leading: %.2fs", time.Since(killed).Seconds())
	// The survivor now serves the kubelet API's Service.
	eventually(t, 60*time.Second, "the virtual pod's log through the survivor", readLog(survivor, tokStandby))
	t.Logf("figure: failover: leader killed → a virtual pod's log read through the survivor: %.2fs", time.Since(killed).Seconds())
	createThrough(t, survivor, tokStandby, "after")
	waitVCRunning(t, dyn, "after")
	t.Logf("figure: failover: leader killed → new VirtualCluster Running: %.2fs", time.Since(killed).Seconds())
	appThrough(t, survivor, tokStandby, "after", repo.URL, "demo2")
	waitApp(t, dyn, "p-default", "after", "Synced", "Healthy", 90*time.Second)
	t.Logf("figure: failover: leader killed → new app Synced and Healthy: %.2fs", time.Since(killed).Seconds())

	// The external URL answers as before (the relay skips the dead replica).
	rs.front(t).login(t, "dev", "dev-secret-pw-1")

	// Nothing lost: sessions (one the dead leader started), users,
	// projects, the app and its history, the virtual cluster's contents.
	if code, resp := survivor.apiCall(t, "GET", "/api/v1/projects/team", tokLeader, ""); code != 200 {
		t.Errorf("the dead leader's session on the survivor: %d %v", code, resp)
	}
	if code, resp := survivor.apiCall(t, "GET", "/api/v1/projects/team", devToken, ""); code != 200 {
		t.Errorf("dev's session on the survivor: %d %v", code, resp)
	}
	survivor.login(t, "dev", "dev-secret-pw-1")
	u, err := dyn.Resource(appGVR).Namespace("p-default").Get(ctx, "before", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if history, _, _ := unstructured.NestedSlice(u.Object, "status", "history"); len(history) < 2 {
		t.Errorf("app history after failover: %d entries, want the two syncs", len(history))
	}
	if _, err := replicaProxy(t, survivor, tokStandby, "before").CoreV1().Namespaces().Get(ctx, "kept", metav1.GetOptions{}); err != nil {
		t.Errorf("the virtual cluster made before, through the survivor's proxy: %v", err)
	}
	if _, err := replicaProxy(t, survivor, tokStandby, "after").CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("the virtual cluster made after, through the survivor's proxy: %v", err)
	}

	// The control plane kept its pod: nothing in its configuration named
	// the dead leader.
	if now, err := h.client.CoreV1().Pods(beforeNS).Get(ctx, "gantry-controlplane-0", metav1.GetOptions{}); err != nil || now.UID != cpPod.UID {
		t.Errorf("the control plane's pod was replaced by the failover (%v)", err)
	}
}
