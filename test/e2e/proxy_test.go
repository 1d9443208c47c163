package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func proxyClient(t *testing.T, dataDir, name string) *kubernetes.Clientset {
	t.Helper()
	out, err := run(t, "vcluster", "connect", name, "--proxy", "--print", "--data-dir", dataDir)
	if err != nil {
		t.Fatalf("connect --proxy: %v\n%s", err, out)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	cfg.UserAgent = "e2e-user/1.0"
	return kubernetes.NewForConfigOrDie(cfg)
}

func phase(t *testing.T, dataDir, name string) string {
	out, _ := run(t, "vcluster", "get", name, "--data-dir", dataDir, "-o", "json")
	i := strings.Index(out, `"phase": "`)
	if i < 0 {
		return ""
	}
	rest := out[i+len(`"phase": "`):]
	return rest[:strings.IndexByte(rest, '"')]
}

// TestProxySleepWake: requests through gantry's proxy reach the virtual cluster
// (including a watch); unauthenticated ones are refused; a virtual cluster idle past
// sleepAfter goes to sleep, and the next request wakes it and is answered.
func TestProxySleepWake(t *testing.T) {
	parallel(t)
	dataDir := t.TempDir()
	g := startGantry(t, dataDir, "--nodes", "1")
	g.waitReady(2 * time.Minute)
	createVCluster(t, dataDir, "sleepy", "--sleep-after", "8s")
	c := proxyClient(t, dataDir, "sleepy")
	ctx := context.Background()

	if code, body := g.httpGet(t, "/kubernetes/project/default/virtualcluster/sleepy/api"); code != 401 {
		t.Errorf("request without credentials: %d %s", code, body)
	}
	if code, _ := g.httpGet(t, "/kubernetes/project/default/virtualcluster/nope/api"); code != 401 {
		t.Errorf("unauthenticated request for an unknown vcluster must be 401 too (no existence leak): %d", code)
	}

	// A watch through the proxy sees an object created while it runs.
	w, err := c.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "hello"}, Data: map[string]string{"a": "b"}}
	if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		if ev.Type != watch.Added {
			t.Errorf("watch event %s", ev.Type)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch through the proxy saw nothing")
	}
	w.Stop()

	// A workload whose pods must leave the host while asleep and come back on wake.
	host := g.client()
	deployWeb(t, c, "default")
	assertWebRuns(t, c, host, "default", "sleepy", "vc-p-default-sleepy")

	// Idle past sleepAfter: asleep, no process left.
	eventually(t, 45*time.Second, "sleepy goes to sleep after 8s idle", func() error {
		if p := phase(t, dataDir, "sleepy"); p != "Sleeping" {
			return fmt.Errorf("phase %s", p)
		}
		return nil
	})
	if pids := vclusterPids(t, dataDir, "p-default/sleepy"); len(pids) != 0 {
		t.Errorf("a sleeping virtual cluster still has processes: %v", pids)
	}
	if n := hostPods(t, host, "vc-p-default-sleepy", "sleepy"); n != 0 {
		t.Errorf("a sleeping virtual cluster still has %d pods on the host", n)
	}
	// The next request is held until the API answers, and sees the data kept.
	start := time.Now()
	got, err := c.CoreV1().ConfigMaps("default").Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("request to a sleeping virtual cluster failed instead of waking it: %v", err)
	}
	t.Logf("woke and answered in %.2fs", time.Since(start).Seconds())
	if got.Data["a"] != "b" {
		t.Errorf("data lost across sleep: %v", got.Data)
	}
	// Running once the controller-manager is up too, which starts after the
	// API server has answered.
	eventually(t, 20*time.Second, "sleepy Running after the wake", func() error {
		if p := phase(t, dataDir, "sleepy"); p != "Running" {
			return fmt.Errorf("phase %s", p)
		}
		return nil
	})
	// The Deployment kept its spec; its pods run on the host again.
	assertWebRuns(t, c, host, "default", "sleepy", "vc-p-default-sleepy")
}
