//go:build bench

package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"gantry.dev/gantry/internal/kubeconfig"
	"gantry.dev/gantry/internal/realnode"
	"gantry.dev/gantry/internal/runstate"
)

// BenchmarkFailover: two replicas of gantry (--leader-elect, control planes
// as pods) against an embedded host with its real node; the leader killed
// with SIGKILL, then at once a VirtualCluster and an Application created in
// the host. Per round: killed → the other replica holds the Lease; → the new
// VirtualCluster reconciled (its finalizer: the new leader's controller
// acted); → the new Application Synced and Healthy; → the VirtualCluster
// Running (its control-plane pod started). The killed replica comes back as
// the standby for the next round. The image is bin/gantry-image.tar (make
// image) or $GANTRY_IMAGE.
func BenchmarkFailover(b *testing.B) {
	const rounds = 3
	if _, err := realnode.Preflight(context.Background(), []string{kubeBinDir}, b.TempDir()); err != nil {
		b.Skipf("no real node here: %v", err)
	}
	archive := os.Getenv("GANTRY_IMAGE")
	if archive == "" {
		archive = filepath.Join(kubeBinDir, "gantry-image.tar")
	}
	manifest, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(archive) })
	if err != nil || len(manifest) != 1 {
		b.Fatalf("no image archive at %s (%v): make image", archive, err)
	}
	image := manifest[0].RepoTags[0]
	hostDir := b.TempDir()
	_, stopHost, _ := upWith(b, hostDir, "--host-only", "--real-nodes", "1", "--nodes", "0")
	defer stopHost()
	if out, err := exec.Command(gantryBin, "image", "load", archive, "--data-dir", hostDir).CombinedOutput(); err != nil {
		b.Fatalf("gantry image load: %v\n%s", err, out)
	}
	kc := filepath.Join(hostDir, "kubeconfig")
	cfg, err := kubeconfig.Load(kc)
	if err != nil {
		b.Fatal(err)
	}
	host := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	ctx := context.Background()
	prepareHost(b, host, rounds)
	repo := gitRepoOf(b, "cfg/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: failover\ndata:\n  k: v\n")

	type replica struct {
		dir  string
		pid  int
		stop func()
	}
	start := func() replica {
		r := replica{dir: b.TempDir()}
		_, r.stop, r.pid = upWith(b, r.dir, "--kubeconfig", kc, "--control-planes", "pods", "--control-plane-image", image,
			"--leader-elect", "--external-url", "https://gantry.failover.test")
		return r
	}
	reps := []replica{start(), start()}
	defer func() {
		for _, r := range reps {
			r.stop()
		}
	}()
	projects := schema.GroupVersionResource{Group: "platform.gantry.dev", Version: "v1alpha1", Resource: "projects"}
	if _, err := dyn.Resource(projects).Patch(ctx, "default", types.MergePatchType,
		[]byte(`{"spec":{"allowedDestinations":[{"server":"https://kubernetes.default.svc","namespace":"*"}],"localRepositories":true}}`),
		metav1.PatchOptions{}); err != nil {
		b.Fatal(err)
	}

	var lease, reconciled, synced, running []time.Duration
	for i := range rounds {
		leader := -1
		waitFor(b, time.Minute, "one replica leading", func() bool {
			for j, r := range reps {
				if st, err := runstate.Read(r.dir); err == nil && st.Controllers == "leading" {
					leader = j
					return true
				}
			}
			return false
		})
		l, err := host.CoordinationV1().Leases("gantry-system").Get(ctx, "gantry-leader", metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		holder := ptr.Deref(l.Spec.HolderIdentity, "")
		killed := time.Now()
		if err := syscall.Kill(reps[leader].pid, syscall.SIGKILL); err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("fo%d", i)
		createVC(b, dyn, name)
		createApp(b, dyn, name, repo)
		var got [4]time.Duration
		waitFor(b, 5*time.Minute, "failover "+name, func() bool {
			if got[0] == 0 {
				if l, err := host.CoordinationV1().Leases("gantry-system").Get(ctx, "gantry-leader", metav1.GetOptions{}); err == nil &&
					ptr.Deref(l.Spec.HolderIdentity, "") != holder && ptr.Deref(l.Spec.HolderIdentity, "") != "" {
					got[0] = time.Since(killed)
				}
			}
			vc, _ := dyn.Resource(schema.GroupVersionResource{Group: "platform.gantry.dev", Version: "v1alpha1", Resource: "virtualclusters"}).
				Namespace("p-default").Get(ctx, name, metav1.GetOptions{})
			if vc != nil && got[1] == 0 && len(vc.GetFinalizers()) > 0 {
				got[1] = time.Since(killed)
			}
			if vc != nil && got[3] == 0 {
				if p, _, _ := unstructured.NestedString(vc.Object, "status", "phase"); p == "Running" {
					got[3] = time.Since(killed)
				}
			}
			app, _ := dyn.Resource(schema.GroupVersionResource{Group: "gitops.gantry.dev", Version: "v1alpha1", Resource: "applications"}).
				Namespace("p-default").Get(ctx, name, metav1.GetOptions{})
			if app != nil && got[2] == 0 {
				s, _, _ := unstructured.NestedString(app.Object, "status", "sync", "status")
				h, _, _ := unstructured.NestedString(app.Object, "status", "health", "status")
				if s == "Synced" && h == "Healthy" {
					got[2] = time.Since(killed)
				}
			}
			return got[0] > 0 && got[1] > 0 && got[2] > 0 && got[3] > 0
		})
		lease, reconciled, synced, running = append(lease, got[0]), append(reconciled, got[1]), append(synced, got[2]), append(running, got[3])
		reps[leader].stop() // reaps the killed process
		reps[leader] = start()
	}

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "leader killed (SIGKILL) → …, two replicas\tp50\truns")
	fmt.Fprintf(w, "the other replica holds the Lease\t%.2fs\t%s\n", p50(lease).Seconds(), secs(lease))
	fmt.Fprintf(w, "a new VirtualCluster reconciled\t%.2fs\t%s\n", p50(reconciled).Seconds(), secs(reconciled))
	fmt.Fprintf(w, "a new Application Synced and Healthy\t%.2fs\t%s\n", p50(synced).Seconds(), secs(synced))
	fmt.Fprintf(w, "the new VirtualCluster Running (pod started)\t%.2fs\t%s\n", p50(running).Seconds(), secs(running))
	w.Flush()
}

// prepareHost makes the embedded host one that takes control planes as
// pods: its one node takes any pod (no simulated ones, the real node's
// taint gone), and a default StorageClass hands out volumes made here.
func prepareHost(b *testing.B, host kubernetes.Interface, volumes int) {
	ctx := context.Background()
	waitFor(b, 30*time.Second, "the real node's taint removed", func() bool {
		nodes, err := host.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "gantry.dev/real=true"})
		if err != nil || len(nodes.Items) == 0 {
			return false
		}
		n := &nodes.Items[0]
		var taints []corev1.Taint
		for _, t := range n.Spec.Taints {
			if t.Key != "gantry.dev/real" {
				taints = append(taints, t)
			}
		}
		n.Spec.Taints = taints
		_, err = host.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		return err == nil
	})
	if _, err := host.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{
		ObjectMeta:  metav1.ObjectMeta{Name: "prepared", Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner: "kubernetes.io/no-provisioner",
	}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	for i := range volumes {
		path := b.TempDir()
		if err := os.Chown(path, 65532, 65532); err != nil {
			b.Fatal(err)
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
			b.Fatal(err)
		}
	}
}

// gitRepoOf is a local repository (file://) with one file committed.
func gitRepoOf(b *testing.B, path, content string) string {
	dir := b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(path)), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, path), []byte(content), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-b", "main"}, {"add", "-A"}, {"commit", "-m", "one"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=b", "GIT_AUTHOR_EMAIL=b@example.com", "GIT_COMMITTER_NAME=b",
			"GIT_COMMITTER_EMAIL=b@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return "file://" + dir
}

func createVC(b *testing.B, dyn dynamic.Interface, name string) {
	vc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "platform.gantry.dev/v1alpha1", "kind": "VirtualCluster",
		"metadata": map[string]any{"name": name, "namespace": "p-default"},
	}}
	if _, err := dyn.Resource(schema.GroupVersionResource{Group: "platform.gantry.dev", Version: "v1alpha1", Resource: "virtualclusters"}).
		Namespace("p-default").Create(context.Background(), vc, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
}

func createApp(b *testing.B, dyn dynamic.Interface, name, repo string) {
	app := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gitops.gantry.dev/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": name, "namespace": "p-default"},
		"spec": map[string]any{
			"project":     "default",
			"source":      map[string]any{"repoURL": repo, "path": "cfg", "targetRevision": "HEAD"},
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": name},
			"syncPolicy":  map[string]any{"automated": map[string]any{}, "syncOptions": []any{"CreateNamespace=true"}},
		},
	}}
	if _, err := dyn.Resource(schema.GroupVersionResource{Group: "gitops.gantry.dev", Version: "v1alpha1", Resource: "applications"}).
		Namespace("p-default").Create(context.Background(), app, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
}

// waitFor polls cond every 100 ms until it holds.
func waitFor(b *testing.B, timeout time.Duration, what string, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("%s: not after %s", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
