package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"gantry.dev/gantry/internal/kubeconfig"
)

type statusJSON struct {
	Ready      bool `json:"ready"`
	Components []struct {
		Name     string `json:"name"`
		Pid      int    `json:"pid"`
		Ready    bool   `json:"ready"`
		RSSBytes int64  `json:"rssBytes"`
		Restarts int    `json:"restarts"`
	} `json:"components"`
}

func status(t *testing.T, dataDir string) statusJSON {
	t.Helper()
	out, err := run(t, "status", "--data-dir", dataDir, "-o", "json")
	if err != nil {
		t.Fatalf("gantry status: %v\n%s", err, out)
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("gantry status -o json: %v\n%s", err, out)
	}
	return st
}

func pidOf(st statusJSON, name string) int {
	for _, c := range st.Components {
		if c.Name == name {
			return c.Pid
		}
	}
	return 0
}

func checkWebServing(t *testing.T, c kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	eventually(t, 60*time.Second, "deployment web 2/2 Available", func() error {
		d, err := c.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range d.Status.Conditions {
			if cond.Type == appsv1.DeploymentAvailable && cond.Status == corev1.ConditionTrue && d.Status.AvailableReplicas == 2 {
				return nil
			}
		}
		return fmt.Errorf("available %d/2, conditions %+v", d.Status.AvailableReplicas, d.Status.Conditions)
	})
	var podIPs []string
	eventually(t, 30*time.Second, "two web pods Running on simulated nodes", func() error {
		pods, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err
		}
		podIPs = nil
		for _, p := range pods.Items {
			if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || !strings.HasPrefix(p.Spec.NodeName, "sim-node-") {
				return fmt.Errorf("pod %s: phase %s, ip %q, node %q", p.Name, p.Status.Phase, p.Status.PodIP, p.Spec.NodeName)
			}
			podIPs = append(podIPs, p.Status.PodIP)
		}
		if len(podIPs) != 2 {
			return fmt.Errorf("%d running pods", len(podIPs))
		}
		return nil
	})
	eventually(t, 30*time.Second, "EndpointSlice of service web lists both pod IPs", func() error {
		slices_, err := c.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
		if err != nil {
			return err
		}
		var got []string
		for _, s := range slices_.Items {
			for _, e := range s.Endpoints {
				got = append(got, e.Addresses...)
			}
		}
		for _, ip := range podIPs {
			if !slices.Contains(got, ip) {
				return fmt.Errorf("endpoint slice addresses %v lack pod IP %s", got, ip)
			}
		}
		return nil
	})
}

// httpGet GETs a path of gantry's HTTPS server, trusting gantry's own CA.
func (g *gantry) httpGet(t *testing.T, path string) (int, string) {
	t.Helper()
	ca, err := os.ReadFile(filepath.Join(g.dataDir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + g.httpAddr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestEmbeddedHost walks the life of an embedded host: start, deploy, status,
// crash of the API server, a second gantry refused, clean stop, restart with state
// kept, kill -9 of gantry itself.
func TestEmbeddedHost(t *testing.T) {
	parallel(t)
	dataDir := t.TempDir()
	g := startGantry(t, dataDir)
	g.waitReady(2 * time.Minute)
	c := g.client()

	nodes, err := c.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{LabelSelector: "gantry.dev/simulated=true"})
	if err != nil || len(nodes.Items) != 3 {
		t.Fatalf("want 3 simulated nodes: %v, %v", len(nodes.Items), err)
	}
	cfg, _ := kubeconfig.Load(dataDir + "/kubeconfig")
	crd, err := apiextensionsclient.NewForConfigOrDie(cfg).ApiextensionsV1().CustomResourceDefinitions().Get(context.Background(), "virtualclusters.platform.gantry.dev", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("gantry's CRD is not installed: %v", err)
	}
	_ = crd

	deployWeb(t, c, "default")
	checkWebServing(t, c)

	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ok"} {
		if code, body := g.httpGet(t, path); code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d %.200q", path, code, body)
		}
	}
	// Metrics need credentials (any authenticated caller, e.g. an access key).
	if code, _ := g.httpGet(t, "/metrics"); code != 401 {
		t.Errorf("GET /metrics without credentials: %d, want 401", code)
	}
	token, _ := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if code, body := g.apiGetRaw(t, "/metrics", strings.TrimSpace(string(token))); code != 200 || !strings.Contains(body, "controller_runtime") {
		t.Errorf("GET /metrics with the admin token: %d %.200q", code, body)
	}
	st := status(t, dataDir)
	for _, name := range []string{"gantry", "kine", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		found := false
		for _, comp := range st.Components {
			if comp.Name == name {
				found = true
				if !comp.Ready || comp.Pid == 0 {
					t.Errorf("component %s: %+v", name, comp)
				}
			}
		}
		if !found {
			t.Errorf("gantry status lacks %s", name)
		}
	}
	text, _ := run(t, "status", "--data-dir", dataDir)
	if !strings.Contains(text, "simulated") || !strings.Contains(text, "no container runs") {
		t.Errorf("gantry status does not say that nodes are simulated:\n%s", text)
	}
	if logs, err := run(t, "logs", "kube-apiserver", "--data-dir", dataDir, "--tail", "5"); err != nil || logs == "" {
		t.Errorf("gantry logs kube-apiserver: %v %q", err, logs)
	}

	// kill -9 of the API server: it is restarted and serves again.
	apiPid := pidOf(st, "kube-apiserver")
	if err := syscall.Kill(apiPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "kube-apiserver restarted and serving", func() error {
		st := status(t, dataDir)
		if p := pidOf(st, "kube-apiserver"); p == 0 || p == apiPid {
			return fmt.Errorf("apiserver pid %d", p)
		}
		_, err := c.AppsV1().Deployments("default").Get(context.Background(), "web", metav1.GetOptions{})
		return err
	})

	// A second gantry on the same data directory is refused and starts nothing.
	out, err := run(t, "up", "--data-dir", dataDir, "--http-addr", freeAddr(t), "--kube-bin-dir", kubeBinDir, "--real-nodes", "0")
	if err == nil || !strings.Contains(out, "is used by another gantry") {
		t.Fatalf("second gantry up: %v\n%s", err, out)
	}

	// Clean stop: nothing left behind.
	g.stop()
	assertNoProcesses(t, dataDir)

	// Restart keeps every object.
	g2 := startGantry(t, dataDir)
	g2.waitReady(2 * time.Minute)
	checkWebServing(t, g2.client())

	// kill -9 of gantry: its children die with it, and the next start works.
	if err := g2.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-g2.exited
	assertNoProcesses(t, dataDir)
	g3 := startGantry(t, dataDir)
	g3.waitReady(2 * time.Minute)
	if _, err := g3.client().AppsV1().Deployments("default").Get(context.Background(), "web", metav1.GetOptions{}); err != nil {
		t.Fatalf("after kill -9 and restart: %v", err)
	}
}

// TestExternalHost uses a running embedded host as the "existing cluster" of a second
// gantry started with --kubeconfig: the second starts no Kubernetes process.
func TestExternalHost(t *testing.T) {
	parallel(t)
	a := startGantry(t, t.TempDir(), "--nodes", "1")
	a.waitReady(2 * time.Minute)
	bDir := t.TempDir()
	b := startGantry(t, bDir, "--kubeconfig", a.dataDir+"/kubeconfig")
	b.waitReady(time.Minute)
	if pids := processesUsing(bDir); len(pids) != 1 {
		t.Errorf("gantry with --kubeconfig runs %d processes naming its data directory, want only itself: %v", len(pids), pids)
	}
	st := status(t, bDir)
	if len(st.Components) != 1 || st.Components[0].Name != "gantry" {
		t.Errorf("external-host status components: %+v", st.Components)
	}
	if code, _ := b.httpGet(t, "/readyz"); code != 200 {
		t.Errorf("readyz %d", code)
	}
	if _, err := os.Stat(bDir + "/host"); err == nil {
		t.Errorf("gantry with --kubeconfig created an embedded host directory")
	}
}

// apiGetRaw GETs a path with a bearer token and returns the body as text.
func (g *gantry) apiGetRaw(t *testing.T, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "https://"+g.httpAddr+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := g.httpsClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
