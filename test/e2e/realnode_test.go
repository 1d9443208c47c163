package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"gantry.dev/gantry/internal/binimage"
	"gantry.dev/gantry/internal/nodetest"
	"gantry.dev/gantry/internal/realnode"
)

// realNodeMachine skips, naming the failed check, where this machine cannot
// run a real node, or where another gantry holds the machine's one.
func realNodeMachine(t *testing.T) {
	t.Helper()
	if _, err := realnode.Preflight(context.Background(), []string{kubeBinDir}, t.TempDir()); err != nil {
		t.Skipf("skipping the real node: %v", err)
	}
	lock, err := realnode.AcquireLock(realnode.LockPath(), t.TempDir())
	if err != nil {
		t.Skipf("skipping the real node: %v", err)
	}
	lock.Release()
}

// TestRealNodes runs the tests that need the machine's one real node one
// after another (the node's lock and kube-proxy's iptables chains are the
// machine's), as a single parallel test that holds one of the two slots from
// the start (parallelChain) while the simulated-node tests share the other.
// Run one with -run 'TestRealNodes/HelmInstall'.
func TestRealNodes(t *testing.T) {
	parallelChain(t)
	t.Run("RealNode", testRealNode)
	t.Run("PodStreams", testPodStreamsOnRealNode)
	t.Run("HelmInstall", testHelmInstall)
	t.Run("ControlPlanePods", testControlPlanePods)
	t.Run("Replicas", testReplicas)
}

// helloArchive is a docker-save archive of a tiny HTTP server, built here:
// no registry anywhere.
func helloArchive(t *testing.T, ref string) []byte {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "hello")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	src, _ := filepath.Abs("../../internal/realnode/testdata/hello")
	cmd.Dir, cmd.Env = src, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build hello: %v\n%s", err, out)
	}
	f, err := os.Create(filepath.Join(dir, "hello.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if err := binimage.Write(f, bin, ref, "hello"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// leftovers lists what a stopped gantry left of its real node on the machine.
func leftovers(ctx context.Context, dataDir string, chainsBefore map[string][]string, fwdBefore string, podIPs ...string) []string {
	var left []string
	netns, _ := filepath.Glob("/run/netns/cni-*")
	for _, ns := range netns {
		out, _ := exec.CommandContext(ctx, "ip", "-n", filepath.Base(ns), "-4", "-o", "addr", "show").Output()
		for _, ip := range podIPs {
			if strings.Contains(string(out), " "+ip+"/") {
				left = append(left, "network namespace "+ns+" of pod IP "+ip)
			}
		}
	}
	if s := realnode.Shims(filepath.Join(dataDir, "realnode", "containerd", "containerd.sock")); len(s) > 0 {
		left = append(left, fmt.Sprintf("shims %v", s))
	}
	if m := realnode.MountsUnder(dataDir); len(m) > 0 {
		left = append(left, fmt.Sprintf("mounts %v", m))
	}
	for table, chains := range realnode.Chains(ctx) {
		for _, c := range chains {
			if !slices.Contains(chainsBefore[table], c) {
				left = append(left, table+" chain "+c)
			}
		}
	}
	if fwd, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); strings.TrimSpace(string(fwd)) != fwdBefore {
		left = append(left, "ip_forward "+string(fwd))
	}
	return left
}

// A pod on the real node runs a locally loaded image: gantry image load (the
// archive on stdin), IfNotPresent finds it, it answers on its pod IP and its
// logs come through the API server. A second gantry says the machine's real
// node is taken and carries on simulated. kill -9 leaves containers behind,
// which the next start removes; a clean stop leaves nothing.
func testRealNode(t *testing.T) {
	realNodeMachine(t)
	ctx := context.Background()
	chainsBefore := realnode.Chains(ctx)
	fwd, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	fwdBefore := strings.TrimSpace(string(fwd))
	dataDir := t.TempDir()
	g := startGantry(t, dataDir, "--real-nodes", "1", "--nodes", "1")
	g.waitReady(2 * time.Minute)
	eventually(t, 5*time.Second, "the ready message names the real node", func() error {
		if !strings.Contains(g.output(), "real-node-1 real") { // the lines after "gantry is ready" trail it
			return fmt.Errorf("output:\n%s", g.output())
		}
		return nil
	})
	text, _ := run(t, "status", "--data-dir", dataDir)
	if !strings.Contains(text, "real nodes: real-node-1") {
		t.Errorf("gantry status does not name the real node:\n%s", text)
	}
	st := status(t, dataDir)
	for _, name := range []string{"containerd", "kubelet", "kube-proxy"} {
		if p := pidOf(st, name); p == 0 {
			t.Errorf("gantry status lacks a running %s", name)
		}
	}

	out, err := runStdin(t, string(helloArchive(t, "example.local/hello:e2e")), "image", "load", "-", "--data-dir", dataDir)
	if err != nil || !strings.Contains(out, "loaded example.local/hello:e2e into node real-node-1") {
		t.Fatalf("gantry image load -: %v\n%s", err, out)
	}
	if out, err := run(t, "image", "list", "--data-dir", dataDir); err != nil || !strings.Contains(out, "example.local/hello:e2e") {
		t.Errorf("gantry image list: %v\n%s", err, out)
	}

	c := g.client()
	podIP := runHello(t, c, "hello")
	// Running comes a moment before the server listens.
	eventually(t, 20*time.Second, "pod "+podIP+" answers", func() error {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + net.JoinHostPort(podIP, "8080") + "/e2e")
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(string(body), "hello from hello") {
			return fmt.Errorf("pod answered %q", body)
		}
		return nil
	})
	eventually(t, 10*time.Second, "the request in the pod's log, through the API server", func() error {
		logs, err := c.CoreV1().Pods("default").GetLogs("hello", &corev1.PodLogOptions{}).DoRaw(ctx)
		if err == nil && !strings.Contains(string(logs), "GET /e2e") {
			err = fmt.Errorf("logs %q", logs)
		}
		return err
	})

	hostPodResolvesHostService(t, dataDir, c)

	for _, comp := range []string{"containerd", "kubelet", "kube-proxy"} {
		if out, err := run(t, "logs", comp, "--data-dir", dataDir, "--tail", "3"); err != nil || strings.TrimSpace(out) == "" {
			t.Errorf("gantry logs %s: %v %q", comp, err, out)
		}
	}

	// One real node per machine: a second gantry says who holds it and runs simulated.
	other := t.TempDir()
	g2 := startGantry(t, other, "--real-nodes", "1", "--nodes", "1")
	g2.waitReady(2 * time.Minute)
	if want := "data dir " + dataDir; !strings.Contains(g2.output(), want) || !strings.Contains(g2.output(), "simulated nodes only") {
		t.Errorf("the second gantry does not say which gantry holds the real node (%q):\n%s", want, g2.output())
	}
	if text, _ := run(t, "status", "--data-dir", other); !strings.Contains(text, "real nodes: none") {
		t.Errorf("the second gantry's status claims a real node:\n%s", text)
	}
	g2.stop()

	// kill -9: the children die with gantry, the pod's container and shim do not;
	// the next start cleans them up and the node runs pods again.
	if err := g.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-g.exited
	g3 := startGantry(t, dataDir, "--real-nodes", "1", "--nodes", "1")
	g3.waitReady(2 * time.Minute)
	if text, _ := run(t, "status", "--data-dir", dataDir); !strings.Contains(text, "real nodes: real-node-1") {
		t.Fatalf("no real node after a kill -9 and a restart:\n%s\n%s", text, g3.output())
	}
	c = g3.client()
	_ = c.CoreV1().Pods("default").Delete(ctx, "hello", metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))})
	ip2 := runHello(t, c, "hello-again")

	g3.stop()
	assertNoProcesses(t, dataDir)
	if left := leftovers(ctx, dataDir, chainsBefore, fwdBefore, podIP, ip2); len(left) > 0 {
		t.Errorf("the real node left behind: %s", strings.Join(left, "; "))
	}
}

// runHello runs the loaded image on the real node and returns its pod IP.
func runHello(t *testing.T, c kubernetes.Interface, name string) string {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			NodeSelector:                 map[string]string{realnode.RealLabel: "true"},
			Tolerations:                  []corev1.Toleration{realnode.Toleration},
			AutomountServiceAccountToken: new(false),
			Containers: []corev1.Container{{Name: "hello", Image: "example.local/hello:e2e",
				ImagePullPolicy: corev1.PullIfNotPresent}},
		},
	}
	if _, err := c.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ip string
	eventually(t, 60*time.Second, "pod "+name+" Running on the real node", func() error {
		p, err := c.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodRunning || p.Spec.NodeName != "real-node-1" {
			return fmt.Errorf("phase %s on %q", p.Status.Phase, p.Spec.NodeName)
		}
		ip = p.Status.PodIP
		return nil
	})
	return ip
}

// hostPodResolvesHostService: a host pod on the real node (not a virtual
// cluster's), with the default dnsPolicy ClusterFirst, reaches the host's
// Service of pod hello by its names: the kubelet's clusterDNS is gantry's DNS
// server, which answers the host's pods from the host's Services.
func hostPodResolvesHostService(t *testing.T, dataDir string, c kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	if out, err := run(t, "image", "load", nodetest.HelloArchive(t, t.TempDir()), "--data-dir", dataDir); err != nil {
		t.Fatalf("gantry image load: %v\n%s", err, out)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "hello"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
	if _, err := c.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	asker := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "asker", Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeSelector:                 map[string]string{realnode.RealLabel: "true"},
			Tolerations:                  []corev1.Toleration{realnode.Toleration},
			AutomountServiceAccountToken: new(false),
			Containers:                   []corev1.Container{{Name: "hello", Image: nodetest.HelloImage, ImagePullPolicy: corev1.PullNever}},
		},
	}
	if _, err := c.CoreV1().Pods("default").Create(ctx, asker, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	k := kubectl{t: t, kubeconfig: filepath.Join(dataDir, "kubeconfig")}
	if out, err := k.run("wait", "--for=condition=Ready", "pod/asker", "--timeout=90s"); err != nil {
		desc, _ := k.run("describe", "pod", "asker")
		t.Fatalf("pod asker not Ready: %v\n%s\n%s", err, out, desc)
	}
	for _, url := range []string{"http://hello/", "http://hello.default/", "http://hello.default.svc.cluster.local/"} {
		eventually(t, time.Minute, "GET "+url+" from the host pod asker", func() error {
			out, err := k.run("exec", "asker", "--", "get", url)
			if err != nil || !strings.Contains(out, "hello from hello") {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		})
	}
	if out, err := k.run("exec", "asker", "--", "get", "http://nope.default.svc.cluster.local/"); err == nil || !strings.Contains(out, "no such host") {
		t.Errorf("a name no host Service has: %v\n%s", err, out)
	}
	events, err := c.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=asker,reason=MissingClusterDNS"})
	if err == nil && len(events.Items) > 0 {
		t.Errorf("the kubelet warns about pod asker: %s", events.Items[0].Message)
	}
	_ = c.CoreV1().Pods("default").Delete(ctx, "asker", metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))})
}
