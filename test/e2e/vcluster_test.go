package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// vclusterClient connects to a virtual cluster the way gantry's
// administrator on the gantry machine does: `gantry vcluster connect NAME
// --print`, through gantry's proxy as the admin (cluster-admin inside).
func vclusterClient(t *testing.T, dataDir, name string, extra ...string) *kubernetes.Clientset {
	t.Helper()
	out, err := run(t, append([]string{"vcluster", "connect", name, "--print", "--data-dir", dataDir}, extra...)...)
	if err != nil {
		t.Fatalf("connect %s: %v\n%s", name, err, out)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(out))
	if err != nil {
		t.Fatalf("connect %s printed no usable kubeconfig: %v", name, err)
	}
	return kubernetes.NewForConfigOrDie(cfg)
}

func vclusterPids(t *testing.T, dataDir, key string) map[string]int {
	t.Helper()
	out, err := run(t, "status", "--data-dir", dataDir, "-o", "json")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	var st struct {
		VClusters map[string][]struct {
			Name string `json:"name"`
			Pid  int    `json:"pid"`
		} `json:"vclusters"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	pids := map[string]int{}
	for _, c := range st.VClusters[key] {
		pids[c.Name] = c.Pid
	}
	return pids
}

func createVCluster(t *testing.T, dataDir, name string, extra ...string) {
	t.Helper()
	out, err := run(t, append([]string{"vcluster", "create", name, "--data-dir", dataDir}, extra...)...)
	if err != nil || !strings.Contains(out, "Running") {
		t.Fatalf("vcluster create %s: %v\n%s", name, err, out)
	}
}

// TestVirtualClusters: two isolated virtual clusters, a crashed API server restarted,
// both back after a gantry restart with their objects, and deletion removing all.
func TestVirtualClusters(t *testing.T) {
	parallel(t)
	dataDir := t.TempDir()
	g := startGantry(t, dataDir, "--nodes", "1")
	g.waitReady(2 * time.Minute)
	createVCluster(t, dataDir, "alpha")
	createVCluster(t, dataDir, "beta", "--project", "other")

	ctx := context.Background()
	a := vclusterClient(t, dataDir, "alpha")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "only-in-alpha"}}
	if _, err := a.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := vclusterClient(t, dataDir, "beta", "--project", "other")
	if _, err := b.CoreV1().Namespaces().Get(ctx, "only-in-alpha", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("namespace made in alpha is visible in beta: %v", err)
	}
	// The host sees neither virtual namespace, only the host namespaces gantry made.
	host := g.client()
	if _, err := host.CoreV1().Namespaces().Get(ctx, "only-in-alpha", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("virtual namespace leaked into the host: %v", err)
	}
	for _, hostNS := range []string{"vc-p-default-alpha", "vc-p-other-beta"} {
		if _, err := host.CoreV1().Namespaces().Get(ctx, hostNS, metav1.GetOptions{}); err != nil {
			t.Errorf("host namespace %s: %v", hostNS, err)
		}
	}

	// A Deployment and a Service in each: pods run on the host's nodes, and inside
	// each virtual cluster everything looks as on a real cluster.
	deployWeb(t, a, "default")
	deployWeb(t, b, "shop")
	assertWebRuns(t, a, host, "default", "alpha", "vc-p-default-alpha")
	assertWebRuns(t, b, host, "shop", "beta", "vc-p-other-beta")

	// spec.resourceQuota lands in the host namespace.
	hostCfg, _ := clientcmd.BuildConfigFromFlags("", filepath.Join(dataDir, "kubeconfig"))
	dyn := dynamic.NewForConfigOrDie(hostCfg)
	vcGVR := schema.GroupVersionResource{Group: "platform.gantry.dev", Version: "v1alpha1", Resource: "virtualclusters"}
	patch := []byte(`{"spec":{"resourceQuota":{"hard":{"pods":"20"}}}}`)
	if _, err := dyn.Resource(vcGVR).Namespace("p-default").Patch(ctx, "alpha", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "resource quota in alpha's host namespace", func() error {
		q, err := host.CoreV1().ResourceQuotas("vc-p-default-alpha").Get(ctx, "gantry-vcluster", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if q.Spec.Hard.Pods().String() != "20" {
			return fmt.Errorf("hard pods %s", q.Spec.Hard.Pods())
		}
		return nil
	})

	// kill -9 of alpha's API server: back within seconds.
	pids := vclusterPids(t, dataDir, "p-default/alpha")
	if pids["kube-apiserver"] == 0 {
		t.Fatalf("status shows no kube-apiserver for alpha: %v", pids)
	}
	killed := time.Now()
	syscall.Kill(pids["kube-apiserver"], syscall.SIGKILL)
	eventually(t, 30*time.Second, "alpha's API server back", func() error {
		if p := vclusterPids(t, dataDir, "p-default/alpha")["kube-apiserver"]; p == pids["kube-apiserver"] {
			return fmt.Errorf("still the old pid")
		}
		_, err := a.CoreV1().Namespaces().Get(ctx, "only-in-alpha", metav1.GetOptions{})
		return err
	})
	t.Logf("alpha's API server answered again %.1fs after kill -9", time.Since(killed).Seconds())

	// Restart gantry: both come back with their objects.
	g.stop()
	assertNoProcesses(t, dataDir)
	g2 := startGantry(t, dataDir, "--nodes", "1")
	g2.waitReady(2 * time.Minute)
	eventually(t, time.Minute, "alpha Running again with its namespace", func() error {
		out, err := run(t, "vcluster", "get", "alpha", "--data-dir", dataDir)
		if err != nil || !strings.Contains(out, "Running") {
			return fmt.Errorf("%v: %s", err, out)
		}
		_, err = vclusterClient(t, dataDir, "alpha").CoreV1().Namespaces().Get(ctx, "only-in-alpha", metav1.GetOptions{})
		return err
	})
	assertWebRuns(t, vclusterClient(t, dataDir, "alpha"), g2.client(), "default", "alpha", "vc-p-default-alpha")
	if out, err := run(t, "vcluster", "list", "-A", "--data-dir", dataDir); err != nil || !strings.Contains(out, "beta") {
		t.Fatalf("list -A: %v\n%s", err, out)
	}

	// Delete: the Secret, the host namespace, the processes and the data are gone.
	alphaDir := filepath.Join(dataDir, "vclusters", "p-default", "alpha")
	if out, err := run(t, "vcluster", "delete", "alpha", "--data-dir", dataDir); err != nil {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	host = g2.client()
	if _, err := host.CoreV1().Secrets("p-default").Get(ctx, "vc-alpha", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("kubeconfig Secret left after delete: %v", err)
	}
	eventually(t, 30*time.Second, "host namespace of alpha gone", func() error {
		_, err := host.CoreV1().Namespaces().Get(ctx, "vc-p-default-alpha", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	if n := hostPods(t, host, "vc-p-default-alpha", "alpha"); n != 0 {
		t.Errorf("%d host pods of alpha left after delete", n)
	}
	if n := hostPods(t, host, "vc-p-other-beta", "beta"); n != 2 {
		t.Errorf("deleting alpha changed beta's host pods: %d, want 2", n)
	}
	if _, err := os.Stat(alphaDir); !os.IsNotExist(err) {
		t.Errorf("data directory of alpha left after delete: %v", err)
	}
	assertNoProcesses(t, alphaDir)
	if pids := vclusterPids(t, dataDir, "p-other/beta"); pids["kube-apiserver"] == 0 {
		t.Errorf("deleting alpha disturbed beta: %v", pids)
	}
}

func TestVirtualClusterBadInput(t *testing.T) {
	parallel(t)
	dataDir := t.TempDir()
	g := startGantry(t, dataDir, "--nodes", "1")
	g.waitReady(2 * time.Minute)
	if out, err := run(t, "vcluster", "create", "Not_Valid", "--data-dir", dataDir); err == nil || !strings.Contains(out, "invalid virtual cluster name") {
		t.Errorf("invalid name: %v\n%s", err, out)
	}
	createVCluster(t, dataDir, "dup")
	if out, err := run(t, "vcluster", "create", "dup", "--data-dir", dataDir); err == nil || !strings.Contains(out, "already exists") {
		t.Errorf("duplicate name: %v\n%s", err, out)
	}
	// Storage of its own takes the project's allowance, an administrator's
	// too: the refusal says how to give it.
	nodb := []string{"vcluster", "create", "nodb", "--storage", "postgres://gantry:x@127.0.0.1:1/gantry?sslmode=disable", "--timeout", "90s", "--data-dir", dataDir}
	if out, err := run(t, nodb...); err == nil || !strings.Contains(out, "gantry project allow default --vcluster-own-storage") {
		t.Errorf("own storage in a project that does not allow it: %v\n%s", err, out)
	}
	if out, err := run(t, "project", "allow", "default", "--vcluster-own-storage", "--data-dir", dataDir); err != nil || !strings.Contains(out, "allowed: gantry connects to the server a cluster names") {
		t.Fatalf("project allow --vcluster-own-storage: %v\n%s", err, out)
	}
	// A storage DSN nobody answers: Failed with the reason, and nothing left running.
	out, err := run(t, nodb...)
	if err == nil || !strings.Contains(out, "failed") {
		t.Errorf("unreachable storage: %v\n%s", err, out)
	}
	assertNoProcesses(t, filepath.Join(dataDir, "vclusters", "p-default", "nodb"))
	if _, err := g.client().CoreV1().Namespaces().Get(context.Background(), "vc-p-default-nodb", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a failed virtual cluster made its host namespace: %v", err)
	}
}
