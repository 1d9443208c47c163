package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/kube"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"gantry.dev/gantry/internal/pki"
)

// replicaHost is an embedded host with its real node, as a cluster gantry's
// replicas share: the host-only gantry that runs it, its kubeconfig and the
// reference of gantry's image loaded into its node. Its one node takes any
// pod (no simulated nodes, the real node's taint removed) and a default
// StorageClass hands out volumes made beforehand, as a cluster's provisioner
// would: what gantry's chart with control planes as pods needs of a host.
// Its node's address is this machine's, which pods reach (a Git server of
// the test's there).
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

// chartReplicas is gantry's Helm chart installed on a replicaHost with
// replicas: 2, as a platform team runs it: controlPlanes: pods, and a TLS
// Secret made beforehand (of a CA the test makes) that every replica
// serves. Users reach gantry at its external URL, a TCP relay on this
// machine in front of the chart's Service (as an Ingress or a load
// balancer would be); each replica is reached on its own through a
// kubectl port-forward to its pod.
type chartReplicas struct {
	h           *replicaHost
	externalURL string
	ca          []byte
	pods        map[string]*gantry // by pod name
}

func (h *replicaHost) installReplicas(t *testing.T, values map[string]any) *chartReplicas {
	t.Helper()
	ctx := context.Background()
	ca, err := pki.NewCA("replicas test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(pki.CertSpec{CommonName: "gantry", IPs: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames: []string{"localhost", "gantry.gantry-system.svc"}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	key, err := leaf.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	// kubectl create namespace gantry-system; kubectl create secret tls gantry-tls …
	if _, err := h.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gantry-system"}},
		metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := h.client.CoreV1().Secrets("gantry-system").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "gantry-tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: leaf.CertPEM(), corev1.TLSPrivateKeyKey: key},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The external URL: a relay to the Service's address, which kube-proxy
	// on this machine (the node's) hands to a ready replica.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var service atomic.Value // the Service's ClusterIP:port, once installed
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				addr, _ := service.Load().(string)
				if addr == "" {
					return
				}
				up, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					return
				}
				defer up.Close()
				done := make(chan struct{})
				go func() { io.Copy(up, c); up.(*net.TCPConn).CloseWrite(); close(done) }()
				io.Copy(c, up)
				<-done
			}()
		}
	}()
	r := &chartReplicas{h: h, externalURL: "https://" + l.Addr().String(), ca: ca.CertPEM(), pods: map[string]*gantry{}}

	// helm install gantry ./deploy/helm/gantry -n gantry-system --wait
	// --set replicas=2,controlPlanes=pods,tlsSecret=gantry-tls,…
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = ptr.To(h.kubeconfig)
	flags.Namespace = ptr.To("gantry-system")
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(slog.DiscardHandler))
	if err := cfg.Init(flags, "gantry-system", "secret"); err != nil {
		t.Fatal(err)
	}
	ch, err := loader.Load(filepath.Join("..", "..", "deploy", "helm", "gantry"))
	if err != nil {
		t.Fatal(err)
	}
	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace = "gantry", "gantry-system"
	install.WaitStrategy, install.Timeout = kube.StatusWatcherStrategy, 3*time.Minute
	repo, tag := h.image[:strings.LastIndex(h.image, ":")], h.image[strings.LastIndex(h.image, ":")+1:]
	values = merge(map[string]any{
		"replicas":      2,
		"controlPlanes": "pods",
		"tlsSecret":     "gantry-tls",
		"externalURL":   r.externalURL,
		"image":         map[string]any{"repository": repo, "tag": tag, "pullPolicy": "Never"},
		"resources":     map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "256Mi"}},
	}, values)
	start := time.Now()
	if _, err := install.RunWithContext(ctx, ch, values); err != nil {
		pods, _ := h.client.CoreV1().Pods("gantry-system").List(ctx, metav1.ListOptions{})
		for _, p := range pods.Items {
			logs, _ := h.client.CoreV1().Pods("gantry-system").GetLogs(p.Name, &corev1.PodLogOptions{TailLines: ptr.To(int64(40))}).DoRaw(ctx)
			t.Logf("pod %s: %s %+v\n%s", p.Name, p.Status.Phase, p.Status.ContainerStatuses, logs)
		}
		t.Fatalf("helm install: %v", err)
	}
	t.Logf("figure: helm install (replicas: 2) → both replicas ready: %.2fs", time.Since(start).Seconds())
	t.Cleanup(func() {
		if t.Failed() {
			r.dump(t)
		}
	})

	svc, err := h.client.CoreV1().Services("gantry-system").Get(ctx, "gantry", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	service.Store(net.JoinHostPort(svc.Spec.ClusterIP, fmt.Sprint(svc.Spec.Ports[0].Port)))
	pods := r.podList(t)
	if len(pods) != 2 {
		t.Fatalf("%d pods of gantry, want 2", len(pods))
	}
	for _, p := range pods {
		local := freeAddr(t)
		portForward(t, h.kubeconfig, "gantry-system", "pod/"+p.Name, local, "8443")
		r.pods[p.Name] = &gantry{t: t, httpAddr: local, serverCA: r.ca}
	}
	return r
}

// podList is gantry's pods, by name.
func (r *chartReplicas) podList(t *testing.T) []corev1.Pod {
	t.Helper()
	pods, err := r.h.client.CoreV1().Pods("gantry-system").List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=gantry"})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(pods.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return pods.Items
}

// front is the replicas as users reach them, at the external URL.
func (r *chartReplicas) front(t *testing.T) *gantry {
	return &gantry{t: t, httpAddr: strings.TrimPrefix(r.externalURL, "https://"), serverCA: r.ca}
}

// leader is the pod that holds the Lease gantry-system/gantry-leader
// (controller-runtime's identity: the pod's host name, then a UUID).
func (r *chartReplicas) leader() (string, error) {
	lease, err := r.h.client.CoordinationV1().Leases("gantry-system").Get(context.Background(), "gantry-leader", metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	holder := ptr.Deref(lease.Spec.HolderIdentity, "")
	for name := range r.pods {
		if strings.HasPrefix(holder, name+"_") {
			return name, nil
		}
	}
	return "", fmt.Errorf("the Lease's holder %q is none of the pods %v", holder, slices.Collect(maps.Keys(r.pods)))
}

// status is what `gantry status` in a replica's pod says of its
// controllers (kubectl exec), as an operator asks it.
func (r *chartReplicas) status(t *testing.T, pod string) string {
	t.Helper()
	k := kubectl{t: t, kubeconfig: r.h.kubeconfig}
	out, err := k.run("-n", "gantry-system", "exec", pod, "-c", "gantry", "--", "gantry", "status", "--data-dir", "/var/lib/gantry")
	if err != nil {
		return fmt.Sprintf("%v: %s", err, out)
	}
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "controllers: ") {
			return strings.Fields(line)[1]
		}
	}
	return out
}

// killReplica ends a replica's container as a crash or the OOM killer
// does: SIGKILL to each of its processes on this machine (the node's),
// found by the container's ID in their cgroup. The kubelet starts it
// again in the same pod.
func (r *chartReplicas) killReplica(t *testing.T, pod string) {
	t.Helper()
	p, err := r.h.client.CoreV1().Pods("gantry-system").Get(context.Background(), pod, metav1.GetOptions{})
	if err != nil || len(p.Status.ContainerStatuses) != 1 {
		t.Fatalf("pod %s: %v", pod, err)
	}
	_, id, ok := strings.Cut(p.Status.ContainerStatuses[0].ContainerID, "://")
	if !ok || len(id) < 32 {
		t.Fatalf("pod %s's container ID %q", pod, p.Status.ContainerStatuses[0].ContainerID)
	}
	entries, _ := os.ReadDir("/proc")
	var killed []int
	for _, e := range entries {
		pid := atoi(e.Name())
		if pid <= 0 {
			continue
		}
		cg, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		if err != nil || !strings.Contains(string(cg), id) {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
			killed = append(killed, pid)
		}
	}
	if len(killed) == 0 {
		t.Fatalf("no process of pod %s's container %s on this machine", pod, id)
	}
	t.Logf("killed pod %s's processes %v", pod, killed)
}

// logs is a replica's log, as kubectl logs shows it.
func (r *chartReplicas) logs(t *testing.T, pod string) string {
	t.Helper()
	data, err := r.h.client.CoreV1().Pods("gantry-system").GetLogs(pod, &corev1.PodLogOptions{}).DoRaw(context.Background())
	if err != nil {
		t.Fatalf("the log of pod %s: %v", pod, err)
	}
	return string(data)
}

// dump logs what a failed test leaves of gantry's pods: their state and
// the end of each one's log (and of its previous container's).
func (r *chartReplicas) dump(t *testing.T) {
	ctx := context.Background()
	pods, err := r.h.client.CoreV1().Pods("gantry-system").List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, p := range pods.Items {
		t.Logf("pod %s: %s %+v", p.Name, p.Status.Phase, p.Status.ContainerStatuses)
		for _, previous := range []bool{true, false} {
			logs, err := r.h.client.CoreV1().Pods("gantry-system").GetLogs(p.Name,
				&corev1.PodLogOptions{TailLines: ptr.To(int64(80)), Previous: previous}).DoRaw(ctx)
			if err == nil {
				t.Logf("log of %s (previous container: %v):\n%s", p.Name, previous, logs)
			}
		}
	}
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

// testReplicas (TestRealNodes/Replicas): gantry's Helm chart with replicas:
// 2 (leader election, control planes as pods, a TLS Secret) on a host with
// a real node. Both replicas, started together, serve the API and the
// proxy, and a token one issued works on the other; the standby's webhook
// and proxy work through the host. The leader's container killed with
// SIGKILL, the other takes over within 15 s: a new virtual cluster and a
// new app made through it are reconciled, and everything made before
// (users, projects, sessions, apps and their history, a virtual cluster's
// contents) is still there; the killed replica comes back as the standby.
// A virtual pod's log reads through the leader and, after the failover,
// through the survivor (the replicas' one kubelet API), and the control
// plane it goes through was not restarted.
func testReplicas(t *testing.T) {
	if out, err := run(t, "up", "--leader-elect", "--kubeconfig", "/nonexistent", "--data-dir", t.TempDir()); err == nil ||
		!strings.Contains(out, "--leader-elect (several replicas) needs --control-planes pods") {
		t.Errorf("leader election with process control planes: %v\n%s", err, out)
	}
	h := startReplicaHost(t, 3)
	ctx := context.Background()
	// Only a webhook explains a new revision.
	rs := h.installReplicas(t, map[string]any{"gitPollInterval": "10m"})

	// The first admin password: in its Secret (the notes say so), made by
	// one of the two replicas that started together, in no pod's output.
	secret, err := h.client.CoreV1().Secrets("gantry-system").Get(ctx, "gantry-initial-admin-password", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the first admin password is not in its Secret: %v", err)
	}
	password := string(secret.Data["password"])
	var leaderPod, standbyPod string
	eventually(t, 30*time.Second, "one replica leads (the Lease), the other stands by", func() error {
		var err error
		leaderPod, err = rs.leader()
		return err
	})
	for name := range rs.pods {
		if name != leaderPod {
			standbyPod = name
		}
	}
	leader, standby := rs.pods[leaderPod], rs.pods[standbyPod]
	// gantry status in each pod says the same as the Lease.
	if got := rs.status(t, leaderPod); got != "leading" {
		t.Errorf("gantry status in the leader's pod %s: controllers %q", leaderPod, got)
	}
	if got := rs.status(t, standbyPod); got != "standby" {
		t.Errorf("gantry status in the standby's pod %s: controllers %q", standbyPod, got)
	}
	// Each pod's log (kubectl logs): the leader's says it took the kubelet
	// API's Service; no password in any.
	for _, p := range rs.podList(t) {
		out := rs.logs(t, p.Name)
		if strings.Contains(out, password) {
			t.Errorf("the admin password is in pod %s's log", p.Name)
		}
		if advertised := strings.Contains(out, "the kubelet API's Service points at this replica"); advertised != (p.Name == leaderPod) {
			t.Errorf("pod %s (leader %s): its log says it took the kubelet API's Service: %v\n%s", p.Name, leaderPod, advertised, out)
		}
		if n := p.Status.ContainerStatuses[0].RestartCount; n != 0 {
			t.Errorf("pod %s restarted %d times while starting", p.Name, n)
		}
	}

	for range 2 { // users at the external URL, through the Service
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
	// reaches the leader's engine (the poll is ten minutes away). The
	// repository is on the node's address, which the pods reach.
	h.g.grantProject(t, "default", hostGrant)
	repo := newGitServerOn(t, h.nodeIP).newRepo("cfg")
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

	// The leader's container killed: the standby takes over.
	killed := time.Now()
	rs.killReplica(t, leaderPod)
	survivor := standby
	eventually(t, 60*time.Second, "the survivor holds the Lease", func() error {
		if p, err := rs.leader(); err != nil || p != standbyPod {
			return fmt.Errorf("holder %q (%v)", p, err)
		}
		return nil
	})
	failover := time.Since(killed)
	t.Logf("figure: failover: leader killed → survivor leading: %.2fs", failover.Seconds())
	if failover > 15*time.Second {
		t.Errorf("the survivor took the Lease %.1fs after the leader was killed; want within 15 s", failover.Seconds())
	}
	eventually(t, 5*time.Second, "gantry status in the survivor's pod says it leads", func() error {
		if got := rs.status(t, standbyPod); got != "leading" { // what it publishes every second
			return fmt.Errorf("controllers %q", got)
		}
		return nil
	})
	// The survivor now serves the kubelet API's Service, and says so.
	eventually(t, 10*time.Second, "the survivor's log says it took the kubelet API's Service", func() error {
		if !strings.Contains(rs.logs(t, standbyPod), "the kubelet API's Service points at this replica") {
			return errors.New("not yet")
		}
		return nil
	})
	eventually(t, 60*time.Second, "the virtual pod's log through the survivor", readLog(survivor, tokStandby))
	t.Logf("figure: failover: leader killed → a virtual pod's log read through the survivor: %.2fs", time.Since(killed).Seconds())
	createThrough(t, survivor, tokStandby, "after")
	waitVCRunning(t, dyn, "after")
	t.Logf("figure: failover: leader killed → new VirtualCluster Running: %.2fs", time.Since(killed).Seconds())
	appThrough(t, survivor, tokStandby, "after", repo.URL, "demo2")
	waitApp(t, dyn, "p-default", "after", "Synced", "Healthy", 90*time.Second)
	t.Logf("figure: failover: leader killed → new app Synced and Healthy: %.2fs", time.Since(killed).Seconds())

	// The external URL answers as before (the Service skips the dead replica).
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
	// The kubelet started the killed replica again, in its pod: it is
	// ready, and stands by.
	eventually(t, 60*time.Second, "the killed replica ready again", func() error {
		p, err := h.client.CoreV1().Pods("gantry-system").Get(ctx, leaderPod, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cs := p.Status.ContainerStatuses[0]; cs.RestartCount != 1 || !cs.Ready {
			return fmt.Errorf("restarts %d, ready %v", cs.RestartCount, cs.Ready)
		}
		return nil
	})
	if got := rs.status(t, leaderPod); got != "standby" {
		t.Errorf("gantry status in the restarted replica's pod %s: controllers %q", leaderPod, got)
	}
}
