package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
	release "helm.sh/helm/v4/pkg/release/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// helmRelease is testHelmInstall's installed gantry, shared by its upgrade
// steps: one host, one release.
type helmRelease struct {
	t      *testing.T
	cfg    *action.Configuration
	chart  *chart.Chart
	values map[string]any // as installed or last upgraded
	host   kubernetes.Interface
	dyn    dynamic.Interface

	kubeconfig  string // the host's
	local       string // the port-forward's address, gantry's external URL
	stopForward func()
	admin       *remoteCLI // logged in before the upgrades
	caFile, ca  string
	pod         corev1.Pod // gantry's pod now

	devKubeconfig string   // virtual cluster dev, through gantry's proxy
	git           *gitRepo // the app's repository
	repo, tag     string   // the image
}

var (
	applicationsGVR    = schema.GroupVersionResource{Group: "gitops.gantry.dev", Version: "v1alpha1", Resource: "applications"}
	virtualClustersGVR = schema.GroupVersionResource{Group: "platform.gantry.dev", Version: "v1alpha1", Resource: "virtualclusters"}
)

// upgrade runs helm upgrade gantry with values (merged over the last ones, as
// --reuse-values --set does) and waits for the rollout; it returns how long
// that took.
func (h *helmRelease) upgrade(t *testing.T, set map[string]any) (time.Duration, error) {
	t.Helper()
	values := merge(h.values, set)
	up := action.NewUpgrade(h.cfg)
	up.Namespace = "gantry-system"
	up.WaitStrategy, up.Timeout = kube.StatusWatcherStrategy, 3*time.Minute
	start := time.Now()
	if _, err := up.RunWithContext(context.Background(), "gantry", h.chart, values); err != nil {
		return 0, err
	}
	h.values = values
	return time.Since(start), nil
}

// merge returns base with over merged into it, maps recursively.
func merge(base, over map[string]any) map[string]any {
	out := maps.Clone(base)
	for k, v := range over {
		if vm, ok := v.(map[string]any); ok {
			if bm, ok := out[k].(map[string]any); ok {
				out[k] = merge(bm, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// lastRelease returns the release's newest revision.
func (h *helmRelease) lastRelease(t *testing.T) *release.Release {
	t.Helper()
	r, err := h.cfg.Releases.Last("gantry")
	if err != nil {
		t.Fatal(err)
	}
	return r.(*release.Release)
}

// gantryPod returns gantry's one pod, once it is the only one and Ready.
func (h *helmRelease) gantryPod(t *testing.T) corev1.Pod {
	t.Helper()
	var pod corev1.Pod
	eventually(t, 2*time.Minute, "one Ready gantry pod", func() error {
		pods, err := h.host.CoreV1().Pods("gantry-system").List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=gantry"})
		if err != nil {
			return err
		}
		if len(pods.Items) != 1 {
			return fmt.Errorf("%d pods", len(pods.Items))
		}
		pod = pods.Items[0]
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && pod.DeletionTimestamp == nil {
				return nil
			}
		}
		return fmt.Errorf("pod %s not Ready: %+v", pod.Name, pod.Status.Conditions)
	})
	return pod
}

// reconnect points the port-forward at gantry's new pod, on the same local
// address (gantry's external URL).
func (h *helmRelease) reconnect(t *testing.T) {
	t.Helper()
	h.stopForward()
	h.stopForward = portForward(h.t, h.kubeconfig, "gantry-system", "svc/gantry", h.local, "443")
}

// app returns the Application p-default/name as stored.
func (h *helmRelease) app(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	u, err := h.dyn.Resource(applicationsGVR).Namespace("p-default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func syncedHealthy(u *unstructured.Unstructured) error {
	sync, _, _ := unstructured.NestedString(u.Object, "status", "sync", "status")
	health, _, _ := unstructured.NestedString(u.Object, "status", "health", "status")
	if sync != "Synced" || health != "Healthy" {
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		return fmt.Errorf("app %s is %s/%s; conditions %v", u.GetName(), sync, health, conds)
	}
	return nil
}

// vclusterPhase returns p-default/name's phase.
func (h *helmRelease) vclusterPhase(name string) string {
	u, err := h.dyn.Resource(virtualClustersGVR).Namespace("p-default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	return phase
}

// retag writes archive's image as ref, with its version label set to version:
// a new image (its config, so its ID, differs) around the same binaries, as a
// release's image would be, without building gantry again.
func retag(t *testing.T, archive, ref, version string) string {
	t.Helper()
	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Labels["org.opencontainers.image.version"] = version
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "gantry-upgrade.tar")
	if err := tarball.WriteToFile(out, tag, img); err != nil {
		t.Fatal(err)
	}
	return out
}

// upgradeKeepsState: helm upgrade to a new image replaces gantry's pod (the
// old one stops first: Recreate, for the ReadWriteOnce volume) and keeps
// every project, user, app and virtual cluster, with the same CA and signing
// keys (a session from before still works).
func (h *helmRelease) upgradeKeepsState(t *testing.T, archive, dataDir string) {
	ctx := context.Background()
	// State a platform team would miss: a project, a user, an app's history,
	// a virtual cluster's contents (made in testHelmInstall).
	h.admin.must("project", "create", "shop")
	if out, code := h.admin.run("alice-secret-pw\n", "user", "create", "alice", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", out)
	}
	eventually(t, 90*time.Second, "app cfg Synced and Healthy", func() error { return syncedHealthy(h.app(t, "cfg")) })
	history, _, _ := unstructured.NestedSlice(h.app(t, "cfg").Object, "status", "history")
	if len(history) == 0 {
		t.Fatal("app cfg has no history to keep")
	}

	// A new image: tagged anew, loaded as a release's image would be.
	newTag := h.tag + "-next"
	ref := h.repo + ":" + newTag
	next := retag(t, archive, ref, newTag)
	if out, err := run(t, "image", "load", next, "--data-dir", dataDir); err != nil || !strings.Contains(out, "loaded "+ref) {
		t.Fatalf("gantry image load %s: %v\n%s", ref, err, out)
	}
	took, err := h.upgrade(t, map[string]any{"image": map[string]any{"tag": newTag}})
	if err != nil {
		t.Fatalf("helm upgrade to %s: %v", ref, err)
	}
	pod := h.gantryPod(t)
	t.Logf("figure: helm upgrade → new gantry pod Ready: %.1fs", took.Seconds())
	if pod.UID == h.pod.UID || pod.Spec.Containers[0].Image != ref ||
		len(pod.Status.ContainerStatuses) != 1 || pod.Status.ContainerStatuses[0].ImageID == h.pod.Status.ContainerStatuses[0].ImageID {
		t.Fatalf("after the upgrade: pod %s (%s, image %s, %+v); want a new pod of %s (before: %s, %+v)",
			pod.Name, pod.UID, pod.Spec.Containers[0].Image, pod.Status.ContainerStatuses, ref, h.pod.UID, h.pod.Status.ContainerStatuses)
	}
	if rel := h.lastRelease(t); rel.Version != 2 || rel.Info.Status != "deployed" {
		t.Errorf("release after the upgrade: revision %d %s; want 2 deployed", rel.Version, rel.Info.Status)
	}
	d, err := h.host.AppsV1().Deployments("gantry-system").Get(ctx, "gantry", metav1.GetOptions{})
	if err != nil || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("gantry's Deployment: %v; want strategy Recreate (one pod holds the ReadWriteOnce volume)", err)
	}
	h.pod = pod
	h.reconnect(t)

	// Same CA, same signing keys: the CA file and the admin's session from
	// before the upgrade still work.
	if cm, err := h.host.CoreV1().ConfigMaps("gantry-system").Get(ctx, "gantry-ca", metav1.GetOptions{}); err != nil || cm.Data["ca.crt"] != h.ca {
		t.Errorf("gantry's CA changed in the upgrade (%v)", err)
	}
	var projects string
	eventually(t, 30*time.Second, "the admin's session from before", func() error {
		out, code := h.admin.run("", "project", "list")
		if projects = out; code != 0 {
			return fmt.Errorf("exit %d: %s", code, out)
		}
		return nil
	})
	if !strings.Contains(projects, "shop") || !strings.Contains(projects, "default") {
		t.Errorf("projects after the upgrade:\n%s", projects)
	}
	alice := newRemoteCLI(t)
	if out, code := alice.run("alice-secret-pw\n", "login", "https://"+h.local, "--ca-file", h.caFile, "--username", "alice", "--password-stdin"); code != 0 {
		t.Errorf("alice cannot log in with her password after the upgrade: %s", out)
	}

	// The app: compared again by the new pod (--refresh waits for that),
	// still Synced and Healthy, and not synced since (the same history).
	h.admin.must("app", "get", "cfg", "--refresh")
	if err := syncedHealthy(h.app(t, "cfg")); err != nil {
		t.Error(err)
	}
	if after, _, _ := unstructured.NestedSlice(h.app(t, "cfg").Object, "status", "history"); !reflect.DeepEqual(after, history) {
		a, _ := json.Marshal(after)
		b, _ := json.Marshal(history)
		t.Errorf("app cfg's history changed in the upgrade:\n%s\nwas\n%s", a, b)
	}

	// The virtual cluster: Running again in the new pod, with its namespace.
	eventually(t, 2*time.Minute, "virtual cluster dev Running again", func() error {
		if p := h.vclusterPhase("dev"); p != "Running" {
			return fmt.Errorf("phase %s", p)
		}
		return nil
	})
	k := kubectl{t: t, kubeconfig: h.devKubeconfig, env: h.admin.env}
	eventually(t, time.Minute, "namespace from-helm through gantry's proxy", func() error {
		out, err := k.run("get", "namespace", "from-helm")
		if err != nil || !strings.Contains(out, "Active") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
}

// badUpgrade: helm upgrade with values the chart refuses fails with its
// message and leaves the running release as it was.
func (h *helmRelease) badUpgrade(t *testing.T) {
	before := h.lastRelease(t)
	for _, c := range []struct {
		set  map[string]any
		want string
	}{
		{map[string]any{"replicas": 2}, "replicas: 2 needs controlPlanes: pods"},
		{map[string]any{"externalURL": "http://gantry.example.com"}, "give an https URL"},
	} {
		if _, err := h.upgrade(t, c.set); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("helm upgrade --set %v: %v; want the chart's refusal saying %q", c.set, err, c.want)
		}
	}
	if rel := h.lastRelease(t); rel.Version != before.Version || rel.Info.Status != "deployed" {
		t.Errorf("after the refused upgrades: revision %d %s; want %d deployed", rel.Version, rel.Info.Status, before.Version)
	}
	if pod := h.gantryPod(t); pod.UID != h.pod.UID {
		t.Errorf("a refused upgrade replaced gantry's pod (%s, was %s)", pod.UID, h.pod.UID)
	}
	d, err := h.host.AppsV1().Deployments("gantry-system").Get(context.Background(), "gantry", metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas != 1 {
		t.Errorf("gantry's Deployment after the refused upgrades: %v", err)
	}
}

// withoutHostGitOps: with rbac.hostGitOps false gantry holds only the
// platform's ClusterRole, and that is enough for everything but apps for the
// host: sign-in, projects, virtual clusters (made, proxied, asleep and
// woken) and an app deployed into one. An app for the host is refused,
// naming the missing grant and the value, with nothing of it written.
func (h *helmRelease) withoutHostGitOps(t *testing.T) {
	ctx := context.Background()
	took, err := h.upgrade(t, map[string]any{"rbac": map[string]any{"hostGitOps": false}})
	if err != nil {
		t.Fatalf("helm upgrade --set rbac.hostGitOps=false: %v", err)
	}
	t.Logf("figure: helm upgrade (rbac.hostGitOps=false) → new gantry pod Ready: %.1fs", took.Seconds())
	if _, err := h.host.RbacV1().ClusterRoleBindings().Get(ctx, "gantry-gitops-host", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("ClusterRoleBinding gantry-gitops-host with hostGitOps false: %v", err)
	}
	pod := h.gantryPod(t)
	if pod.UID == h.pod.UID {
		t.Fatal("gantry's pod was not restarted with --host-gitops=false")
	}
	h.pod = pod
	h.reconnect(t)
	eventually(t, 30*time.Second, "the admin's session", func() error {
		if out, code := h.admin.run("", "project", "list"); code != 0 {
			return fmt.Errorf("exit %d: %s", code, out)
		}
		return nil
	})
	alice := newRemoteCLI(t)
	if out, code := alice.run("alice-secret-pw\n", "login", "https://"+h.local, "--ca-file", h.caFile, "--username", "alice", "--password-stdin"); code != 0 {
		t.Errorf("alice's login: %s", out)
	}

	// A new virtual cluster, through the proxy, asleep and woken.
	if out, code := h.admin.run("", "vcluster", "create", "lean"); code != 0 || !strings.Contains(out, "Running") {
		t.Fatalf("vcluster create with the platform's role only: %s", out)
	}
	kc := filepath.Join(t.TempDir(), "lean")
	h.admin.must("vcluster", "connect", "lean", "--proxy", "--kubeconfig", kc)
	k := kubectl{t: t, kubeconfig: kc, env: h.admin.env}
	k.must("create", "namespace", "kept")
	h.admin.must("vcluster", "sleep", "lean")
	eventually(t, time.Minute, "lean asleep", func() error {
		if p := h.vclusterPhase("lean"); p != "Sleeping" {
			return fmt.Errorf("phase %s", p)
		}
		return nil
	})
	eventually(t, 2*time.Minute, "lean woken by kubectl, its namespace kept", func() error {
		out, err := k.run("get", "namespace", "kept")
		if err != nil || !strings.Contains(out, "Active") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})

	// An app into the virtual cluster, with a Deployment and a Service: the
	// syncer copies its pod (and what the pod uses) to the host with the
	// platform's role. The pod lands on the simulated node (the real one is
	// tainted, and gantry in a pod sets no placement), which runs nothing:
	// its image is never pulled.
	h.git.commit("lean", map[string]*string{"lean/all.yaml": str(`apiVersion: v1
kind: ConfigMap
metadata:
  name: from-git
data:
  k: v
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: gantry.invalid/web:1, envFrom: [{configMapRef: {name: from-git}}]}]
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80}]
`)})
	if out, code := h.admin.run("", "app", "create", "lean-cfg", "--repo", h.git.URL, "--path", "lean", "--dest-name", "p-default/lean",
		"--dest-namespace", "web", "--sync-policy", "automated", "--sync-option", "CreateNamespace=true"); code != 0 {
		t.Fatalf("app create into the virtual cluster: %s", out)
	}
	eventually(t, 90*time.Second, "app lean-cfg Synced and Healthy", func() error { return syncedHealthy(h.app(t, "lean-cfg")) })
	if out := k.must("get", "configmap", "from-git", "-n", "web", "-o", "jsonpath={.data.k}"); out != "v" {
		t.Errorf("the app's ConfigMap in the virtual cluster: %q", out)
	}
	if out := k.must("get", "pods", "-n", "web", "-l", "app=web", "-o", "jsonpath={.items[*].status.phase}"); out != "Running" {
		t.Errorf("the app's pod in the virtual cluster: %q; want Running (its host copy scheduled)", out)
	}

	// An app for the host: refused before anything is written, by name.
	h.git.commit("host", map[string]*string{"host/all.yaml": str(`apiVersion: v1
kind: ConfigMap
metadata:
  name: host-settings
data:
  k: v
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: host-web
spec:
  selector: {matchLabels: {app: host-web}}
  template:
    metadata: {labels: {app: host-web}}
    spec:
      containers: [{name: web, image: gantry.invalid/web:1}]
`)})
	if out, code := h.admin.run("", "app", "create", "host-app", "--repo", h.git.URL, "--path", "host", "--dest-server", "https://kubernetes.default.svc",
		"--dest-namespace", "p-default", "--sync-policy", "automated"); code != 0 {
		t.Fatalf("app create for the host: %s", out)
	}
	var refusal string
	eventually(t, 90*time.Second, "app host-app refused", func() error {
		conds, _, _ := unstructured.NestedSlice(h.app(t, "host-app").Object, "status", "conditions")
		for _, c := range conds {
			if m, _ := c.(map[string]any); m["type"] == "InvalidSpecError" {
				refusal, _ = m["message"].(string)
				return nil
			}
		}
		return fmt.Errorf("conditions %v", conds)
	})
	for _, want := range []string{"forbidden", "ClusterRole gantry-gitops-host", "rbac.hostGitOps: true"} {
		if !strings.Contains(refusal, want) {
			t.Errorf("the refusal %q does not say %q", refusal, want)
		}
	}
	if out, _ := h.admin.run("", "app", "get", "host-app"); !strings.Contains(out, "rbac.hostGitOps") {
		t.Errorf("gantry app get does not show why the app is refused:\n%s", out)
	}
	if _, err := h.host.CoreV1().ConfigMaps("p-default").Get(ctx, "host-settings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the refused app's ConfigMap is on the host (%v): half applied", err)
	}
	if _, err := h.host.AppsV1().Deployments("p-default").Get(ctx, "host-web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the refused app's Deployment is on the host (%v)", err)
	}

	// Nothing gantry did was refused by the host: its role was enough.
	logs, err := h.host.CoreV1().Pods("gantry-system").GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(logs), "\n") {
		if strings.Contains(strings.ToLower(line), "forbidden") && !strings.Contains(line, "gantry-gitops-host") {
			t.Errorf("gantry was refused by the host with the platform's role only: %s", line)
		}
	}
}
