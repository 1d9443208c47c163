package realnode

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"gantry.dev/gantry/internal/binimage"
	"gantry.dev/gantry/internal/controlplane"
	"gantry.dev/gantry/internal/kubebin"
)

// machine returns what preflight found, or skips the test naming the check
// that failed: `make test` runs everywhere, real containers only where they can.
func machine(t *testing.T) (*Environment, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real node; runs without -short")
	}
	binDir, _ := filepath.Abs("../../bin")
	if d := os.Getenv(kubebin.EnvDir); d != "" {
		binDir = d
	}
	env, err := Preflight(context.Background(), []string{binDir}, t.TempDir())

	if err != nil {
		t.Skipf("skipping the real node: %v", err)
	}
	lock, err := AcquireLock(LockPath(), t.TempDir())
	if err != nil {
		t.Skipf("skipping the real node: %v", err)
	}
	t.Cleanup(lock.Release)
	return env, binDir
}

// goBuild builds a static binary of pkg (a directory) into dir.
func goBuild(t *testing.T, pkg, dir string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, ".")
	cmd.Dir, cmd.Env = pkg, append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

func TestRealNodeRunsAPodAndLeavesNothingBehind(t *testing.T) {
	env, binDir := machine(t)
	ctx := context.Background()
	bins, err := kubebin.Find(ctx, []string{binDir}, kubebin.All...)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cp, err := controlplane.New(controlplane.Options{Name: "host", Dir: filepath.Join(dir, "host"), Binaries: bins,
		Controllers: controlplane.HostControllers, Kubelets: true})
	if err != nil {
		t.Fatal(err)
	}
	cpCtx, stopCP := context.WithCancel(ctx)
	cpDone := make(chan error, 1)
	go func() { cpDone <- cp.Run(cpCtx) }()
	t.Cleanup(func() { stopCP(); <-cpDone })
	if err := cp.WaitReady(ctx, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(cp.RESTConfig())
	fwdBefore, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	chainsBefore := Chains(ctx)

	node, err := New(Options{Dir: filepath.Join(dir, "realnode"), LogDir: filepath.Join(dir, "logs"), Env: env,
		Server: cp.Endpoint(), CA: cp.CA(), Issuer: cp, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	nodeCtx, stopNode := context.WithCancel(ctx)
	nodeDone := make(chan error, 1)
	began := time.Now()
	go func() { nodeDone <- node.Run(nodeCtx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopNode()
			if err := <-nodeDone; err != nil {
				t.Errorf("node run: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	select {
	case <-node.Ready():
	case err := <-nodeDone:
		stopped = true
		logs, _ := os.ReadFile(filepath.Join(dir, "logs", "kubelet.log"))
		t.Fatalf("node did not start: %v\nkubelet log tail:\n%s", err, tail(logs, 30))
	}
	t.Logf("node Ready after %s", time.Since(began).Round(time.Millisecond))
	// The node lifecycle controller removes the not-ready taint a moment
	// after the node turns Ready: wait for it before looking at the taints.
	var k8sNode *corev1.Node
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		k8sNode, err = client.CoreV1().Nodes().Get(ctx, node.Name(), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		notReady := slices.ContainsFunc(k8sNode.Spec.Taints, func(t corev1.Taint) bool { return t.Key == corev1.TaintNodeNotReady })
		if !notReady || time.Now().After(deadline) {
			break
		}
	}
	if k8sNode.Labels[RealLabel] != "true" {
		t.Errorf("node labels %v, want %s=true", k8sNode.Labels, RealLabel)
	}
	if len(k8sNode.Spec.Taints) != 1 || k8sNode.Spec.Taints[0].Key != RealLabel || k8sNode.Spec.Taints[0].Effect != corev1.TaintEffectNoSchedule {
		t.Errorf("node taints %v, want only %s=true:NoSchedule", k8sNode.Spec.Taints, RealLabel)
	}

	// The kubelet answers no anonymous caller (kube-apiserver reaches it with
	// its client certificate).
	kubeletURL := fmt.Sprintf("https://%s/pods", net.JoinHostPort(env.NodeIP, strconv.Itoa(node.ports.kubelet)))
	anon := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if resp, err := anon.Get(kubeletURL); err != nil {
		t.Errorf("kubelet %s: %v", kubeletURL, err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous GET %s: %s, want 401 Unauthorized", kubeletURL, resp.Status)
		}
	}

	// A locally built image, loaded without any registry.
	tar := filepath.Join(t.TempDir(), "hello.tar")
	f, err := os.Create(tar)
	if err != nil {
		t.Fatal(err)
	}
	if err := binimage.Write(f, goBuild(t, "testdata/hello", t.TempDir()), "example.local/hello:v1", "hello"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	archive, err := os.Open(tar)
	if err != nil {
		t.Fatal(err)
	}
	names, err := node.LoadImages(ctx, archive) // as `gantry image load -` streams it
	archive.Close()
	if err != nil || !slices.Equal(names, []string{"example.local/hello:v1"}) {
		t.Fatalf("load: %v, %v", names, err)
	}
	images, err := node.ListImages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, i := range images {
		listed = append(listed, i.Name)
	}
	if !slices.Contains(listed, "example.local/hello:v1") || !slices.Contains(listed, SandboxImage) {
		t.Errorf("images %v lack the loaded one or the sandbox image", listed)
	}
	if _, err := node.LoadImages(ctx, strings.NewReader("not an archive")); err == nil {
		t.Error("loading a non-archive succeeded")
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default", Labels: map[string]string{"app": "hello"}},
		Spec: corev1.PodSpec{
			NodeName:                     node.Name(),
			Tolerations:                  []corev1.Toleration{Toleration},
			AutomountServiceAccountToken: new(false),
			Containers: []corev1.Container{{Name: "hello", Image: "example.local/hello:v1",
				ImagePullPolicy: corev1.PullIfNotPresent, Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}},
		},
	}
	created := time.Now()
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var podIP string
	for deadline := time.Now().Add(90 * time.Second); podIP == ""; {
		p, err := client.CoreV1().Pods("default").Get(ctx, "hello", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Status.Phase == corev1.PodRunning {
			podIP = p.Status.PodIP
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod not Running: %+v", p.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("pod Running after %s", time.Since(created).Round(time.Millisecond))
	var body string
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get("http://" + net.JoinHostPort(podIP, "8080") + "/probe")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s does not answer: %v", podIP, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.HasPrefix(body, "hello from hello") {
		t.Errorf("pod answered %q", body)
	}
	// A Service: kube-proxy's rules take its ClusterIP to the pod.
	svc, err := client.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "hello"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "hello"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svcURL := "http://" + net.JoinHostPort(svc.Spec.ClusterIP, "80") + "/service"
	// A new connection per try: one made before kube-proxy's rules went to
	// whatever the default route reaches, and would be reused.
	quick := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := quick.Get(svcURL)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.HasPrefix(string(b), "hello from hello") {
				break
			}
			err = fmt.Errorf("%s answered %q", resp.Status, b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Service %s does not reach the pod: %v", svcURL, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var logs []byte
	for deadline := time.Now().Add(10 * time.Second); ; { // the log file trails stdout a little
		logs, err = client.CoreV1().Pods("default").GetLogs("hello", &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil {
			t.Fatalf("logs through kube-apiserver and the kubelet: %v", err)
		}
		if strings.Contains(string(logs), "GET /service") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(string(logs), "hello: GET /probe") || !strings.Contains(string(logs), "hello: GET /service") {
		t.Errorf("logs %q lack the request", logs)
	}
	shims := Shims(node.Socket())
	if len(shims) == 0 {
		t.Errorf("no containerd shim serves %s while a pod runs", node.Socket())
	}

	stopping := time.Now()
	stop()
	t.Logf("node stopped and cleaned up in %s", time.Since(stopping).Round(time.Millisecond))
	for _, pid := range shims {
		if processAlive(pid) {
			t.Errorf("shim %d still runs after stop", pid)
		}
	}
	if left := Shims(node.Socket()); len(left) > 0 {
		t.Errorf("shims %v still run after stop", left)
	}
	if m := MountsUnder(dir); len(m) > 0 {
		t.Errorf("mounts left under the data directory: %v", m)
	}
	if _, err := net.InterfaceByName(node.l.bridge()); err == nil {
		t.Errorf("bridge %s still exists", node.l.bridge())
	}
	for table, chains := range Chains(ctx) {
		for _, c := range chains {
			if !slices.Contains(chainsBefore[table], c) {
				t.Errorf("%s: chain %s left behind", table, c)
			}
		}
	}
	if left := CgroupsLeft(node.l.cgroupRoot()); len(left) > 0 {
		t.Errorf("cgroups left: %v", left)
	}
	if fwd, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); string(fwd) != string(fwdBefore) {
		t.Errorf("ip_forward is %q, was %q", fwd, fwdBefore)
	}
	if _, err := client.CoreV1().Nodes().Get(ctx, node.Name(), metav1.GetOptions{}); err == nil {
		t.Errorf("node %s still registered", node.Name())
	}
}

func processAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(data), ')')
	return i < 0 || i+2 >= len(data) || data[i+2] != 'Z'
}

func tail(b []byte, n int) string {
	lines := strings.Split(string(b), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
