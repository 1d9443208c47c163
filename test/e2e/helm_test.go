package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/kube"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
)

// testHelmInstall (TestRealNodes/HelmInstall) is how a platform team tries gantry's chart: `gantry up
// --host-only` gives a cluster with a real node, `gantry image load` puts
// `make image`'s image on it, and `helm install` (the Helm SDK, as the helm
// CLI runs it) brings up gantry as a non-root pod that reaches the host's API
// server through the kubernetes Service, its data on a PersistentVolume.
// Through a port-forward, with the password and CA the chart's notes point at,
// the API serves, the UI and the OpenID Connect discovery answer, a virtual
// cluster runs (its control plane inside gantry's pod) and a Git repository is
// deployed. Then, on the same release: helm upgrade to a new image keeps all
// of it (helm_upgrade_test.go), an upgrade with values that cannot work
// changes nothing, and with rbac.hostGitOps false the platform's ClusterRole
// alone runs everything but apps for the host, which are refused by name.
// helm uninstall takes gantry's own objects away.
func testHelmInstall(t *testing.T) {
	realNodeMachine(t)
	archive := filepath.Join(filepath.Dir(gantryBin), "gantry-image.tar")
	manifest, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(archive) })
	if err != nil || len(manifest) != 1 || len(manifest[0].RepoTags) != 1 {
		t.Fatalf("no image archive at %s (%v): make image builds it, and make test does that first", archive, err)
	}
	ref := manifest[0].RepoTags[0]
	repo, tag := ref[:strings.LastIndex(ref, ":")], ref[strings.LastIndex(ref, ":")+1:]

	dataDir := t.TempDir()
	g := startGantry(t, dataDir, "--host-only", "--real-nodes", "1", "--nodes", "1")
	g.waitReady(2 * time.Minute)
	eventually(t, 5*time.Second, "the ready message says the platform is off", func() error {
		if !strings.Contains(g.output(), "platform      none (--host-only)") { // the lines after "gantry is ready" trail it
			return fmt.Errorf("output:\n%s", g.output())
		}
		return nil
	})
	host := g.client()
	ctx := context.Background()
	nodes, err := host.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "gantry.dev/real=true"})
	if err != nil || len(nodes.Items) == 0 {
		st, _ := run(t, "status", "--data-dir", dataDir)
		t.Skipf("gantry started no real node here (%v):\n%s", err, st)
	}
	nodeIP := ""
	for _, a := range nodes.Items[0].Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			nodeIP = a.Address
		}
	}
	if out, err := run(t, "image", "load", archive, "--data-dir", dataDir); err != nil || !strings.Contains(out, "loaded "+ref) {
		t.Fatalf("gantry image load (host only): %v\n%s", err, out)
	}

	// The data volume: the embedded host has no volume provisioner, so a
	// PersistentVolume on the real node (a directory of the test's) waits for
	// the chart's claim, as an administrator's static volume would.
	volume := t.TempDir()
	if err := os.Chown(volume, 65532, 65532); err != nil { // the pod's user: a hostPath volume gets no fsGroup
		t.Fatal(err)
	}
	if _, err := host.CoreV1().PersistentVolumes().Create(ctx, &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "gantry-data"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			ClaimRef:                      &corev1.ObjectReference{Namespace: "gantry-system", Name: "gantry-data"},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: volume, Type: ptr.To(corev1.HostPathDirectory)}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// helm install gantry ./deploy/helm/gantry -n gantry-system --create-namespace --wait
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = ptr.To(filepath.Join(dataDir, "kubeconfig"))
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
	install.ReleaseName, install.Namespace, install.CreateNamespace = "gantry", "gantry-system", true
	install.WaitStrategy, install.Timeout = kube.StatusWatcherStrategy, 3*time.Minute
	// Users reach gantry at its external URL (the OIDC issuer, the proxy's
	// kubeconfigs): here a port-forward's local port, chosen now.
	local := freeAddr(t)
	values := map[string]any{
		"externalURL": "https://" + local,
		"image":       map[string]any{"repository": repo, "tag": tag, "pullPolicy": "Never"},
		"persistence": map[string]any{"enabled": true, "size": "1Gi"},
		// The real node is tainted so that nothing lands there by chance.
		"nodeSelector": map[string]any{"gantry.dev/real": "true"},
		"tolerations":  []any{map[string]any{"key": "gantry.dev/real", "operator": "Exists", "effect": "NoSchedule"}},
		"resources":    map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "256Mi"}},
	}
	start := time.Now()
	if _, err := install.RunWithContext(ctx, ch, values); err != nil {
		pods, _ := host.CoreV1().Pods("gantry-system").List(ctx, metav1.ListOptions{})
		for _, p := range pods.Items {
			logs, _ := host.CoreV1().Pods("gantry-system").GetLogs(p.Name, &corev1.PodLogOptions{TailLines: ptr.To(int64(40))}).DoRaw(ctx)
			t.Logf("pod %s: %s %+v\n%s", p.Name, p.Status.Phase, p.Status.ContainerStatuses, logs)
		}
		t.Fatalf("helm install: %v", err)
	}
	t.Logf("helm install → gantry's pod ready: %.1fs", time.Since(start).Seconds())

	pods, err := host.CoreV1().Pods("gantry-system").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=gantry"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("gantry's pods: %v %v", pods, err)
	}
	pod := pods.Items[0]
	if pod.Spec.NodeName != nodes.Items[0].Name {
		t.Errorf("gantry runs on %s, not the real node", pod.Spec.NodeName)
	}
	logs, _ := host.CoreV1().Pods("gantry-system").GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	secret, err := host.CoreV1().Secrets("gantry-system").Get(ctx, "gantry-initial-admin-password", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the first admin password is not in its Secret: %v\n%s", err, logs)
	}
	password := string(secret.Data["password"])
	if len(password) < 12 || strings.Contains(string(logs), password) {
		t.Errorf("the admin password (%d characters) is short or in gantry's log", len(password))
	}
	caCM, err := host.CoreV1().ConfigMaps("gantry-system").Get(ctx, "gantry-ca", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "gantry-ca.crt")
	if err := os.WriteFile(caFile, []byte(caCM.Data["ca.crt"]), 0o600); err != nil {
		t.Fatal(err)
	}

	// kubectl port-forward svc/gantry PORT:443, as the notes say.
	stopForward := portForward(t, filepath.Join(dataDir, "kubeconfig"), "gantry-system", "svc/gantry", local, "443")
	server := "https://" + local
	cli := newRemoteCLI(t)
	if out, code := cli.run(password+"\n", "login", server, "--ca-file", caFile, "--username", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("gantry login to the installed gantry: %s\n%s", out, logs)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(caCM.Data["ca.crt"]))
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for path, want := range map[string]string{"/": "<div id=\"root\">", "/oidc/.well-known/openid-configuration": `"issuer":"` + server + `/oidc"`} {
		resp, err := client.Get(server + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(data)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d, want %q in:\n%.400s", path, resp.StatusCode, want, body)
		}
	}

	// A virtual cluster: its control plane runs in gantry's pod (non-root,
	// read-only root filesystem, data in the pod's volume).
	if out, code := cli.run("", "vcluster", "create", "dev"); code != 0 || !strings.Contains(out, "Running") {
		t.Fatalf("vcluster create in the installed gantry: %s", out)
	}
	kc := filepath.Join(t.TempDir(), "dev")
	cli.must("vcluster", "connect", "dev", "--proxy", "--kubeconfig", kc)
	k := kubectl{t: t, kubeconfig: kc, env: cli.env}
	k.must("create", "namespace", "from-helm")
	if out := k.must("get", "namespaces"); !strings.Contains(out, "from-helm") {
		t.Errorf("the virtual cluster does not keep a namespace:\n%s", out)
	}

	// GitOps: a repository on the node's address (the pod cannot reach the
	// test's loopback) deployed into the project's own host namespace.
	git := newGitServerOn(t, nodeIP)
	r := git.newRepo("cfg")
	r.commit("cfg", map[string]*string{"cfg/cm.yaml": str("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-git\ndata:\n  k: v\n")})
	if out, code := cli.run("", "app", "create", "cfg", "--repo", r.URL, "--path", "cfg", "--dest-server", "https://kubernetes.default.svc",
		"--dest-namespace", "p-default", "--sync-policy", "automated"); code != 0 {
		t.Fatalf("app create in the installed gantry: %s", out)
	}
	eventually(t, 90*time.Second, "ConfigMap from-git on the host", func() error {
		_, err := host.CoreV1().ConfigMaps("p-default").Get(ctx, "from-git", metav1.GetOptions{})
		return err
	})

	h := &helmRelease{t: t, cfg: cfg, chart: ch, values: values, host: host, dyn: dynamic.NewForConfigOrDie(g.restConfig(t)),
		kubeconfig: filepath.Join(dataDir, "kubeconfig"), local: local, stopForward: stopForward, admin: cli,
		caFile: caFile, ca: caCM.Data["ca.crt"], pod: pod, devKubeconfig: kc, git: r, repo: repo, tag: tag}
	if !t.Run("upgrade keeps state", func(t *testing.T) { h.upgradeKeepsState(t, archive, dataDir) }) {
		return
	}
	if !t.Run("upgrade with values that cannot work", h.badUpgrade) {
		return
	}
	if !t.Run("without the host grant", h.withoutHostGitOps) {
		return
	}

	// helm uninstall: gantry's pod, Service and cluster roles go.
	uninstall := action.NewUninstall(cfg)
	uninstall.WaitStrategy, uninstall.Timeout = kube.StatusWatcherStrategy, 2*time.Minute
	if _, err := uninstall.Run("gantry"); err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
	eventually(t, 60*time.Second, "gantry's pod gone", func() error {
		pods, err := host.CoreV1().Pods("gantry-system").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=gantry"})
		if err == nil && len(pods.Items) > 0 {
			err = fmt.Errorf("%d pods left", len(pods.Items))
		}
		return err
	})
	for _, name := range []string{"gantry-platform", "gantry-gitops-host"} {
		if _, err := host.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("ClusterRole %s after uninstall: %v", name, err)
		}
	}
}

// portForward runs kubectl port-forward from local (127.0.0.1:PORT) to
// target's port until the test ends or stop is called (a Service's
// port-forward holds the pod it chose, so a new pod needs a new one).
func portForward(t *testing.T, kubeconfigPath, namespace, target, local, port string) (stop func()) {
	t.Helper()
	_, localPort, _ := net.SplitHostPort(local)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, filepath.Join(kubeBinDir, "kubectl"), "--kubeconfig", kubeconfigPath, "-n", namespace,
		"port-forward", target, localPort+":"+port, "--address", "127.0.0.1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); _ = cmd.Wait() }) }
	t.Cleanup(stop)
	found := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`Forwarding from (127\.0\.0\.1:\d+)`)
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if m := re.FindStringSubmatch(s.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case <-found:
	case <-time.After(30 * time.Second):
		t.Fatalf("kubectl port-forward %s did not start", target)
	}
	return stop
}
