package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"gantry.dev/gantry/internal/nodetest"
)

// kubectl runs bin/kubectl with a kubeconfig (and an environment, for the
// exec plugin of a --sso kubeconfig).
type kubectl struct {
	t          *testing.T
	kubeconfig string
	env        []string
}

func (k kubectl) cmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(kubeBinDir, "kubectl"), append([]string{"--kubeconfig", k.kubeconfig}, args...)...)
	cmd.Env = k.env
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	return cmd
}

func (k kubectl) run(args ...string) (string, error) {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := k.cmd(ctx, args...).CombinedOutput()
	return string(out), err
}

func (k kubectl) must(args ...string) string {
	k.t.Helper()
	out, err := k.run(args...)
	if err != nil {
		k.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// helloPod is the pod of the streams tests: the locally built HTTP server,
// never pulled. It asks for no node: the syncer puts a virtual cluster's pods
// on gantry's real node.
func helloPod(name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  containers:
  - name: hello
    image: %s
    imagePullPolicy: Never
    ports:
    - containerPort: 8080
`, name, nodetest.HelloImage)
}

// testPodStreams runs the hello pod in a virtual cluster through k (a
// kubeconfig of it), and checks what a user checks: kubectl logs (and -f),
// exec, port-forward reach the container.
func testPodStreams(t *testing.T, k kubectl, pod string) {
	t.Helper()
	apply := k.cmd(context.Background(), "apply", "-f", "-")
	apply.Stdin = strings.NewReader(helloPod(pod))
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	if out, err := k.run("wait", "--for=condition=Ready", "pod/"+pod, "--timeout=90s"); err != nil {
		desc, _ := k.run("describe", "pod", pod)
		t.Fatalf("pod %s not Ready: %v\n%s\n%s", pod, err, out, desc)
	}
	// logs: what the container printed at start.
	if out := k.must("logs", pod); !strings.Contains(out, "listening on :8080") {
		t.Errorf("kubectl logs %s: %q, want the server's start line", pod, out)
	}
	// exec: a command in the container, its output back.
	start := time.Now()
	if out := k.must("exec", pod, "--", "echo", "hi"); strings.TrimSpace(out) != "hi" {
		t.Errorf("kubectl exec %s -- echo hi: %q", pod, out)
	}
	t.Logf("kubectl exec -- echo hi: %s (the kubectl process, start to exit)", time.Since(start).Round(time.Millisecond))
	// logs -f, left running while port-forward sends a request whose line
	// must then arrive on it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	follow := k.cmd(ctx, "logs", "-f", pod)
	fout, _ := follow.StdoutPipe()
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = follow.Wait() }()
	lines := make(chan string, 100)
	go func() {
		s := bufio.NewScanner(fout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()

	local := strings.TrimPrefix(freeAddr(t), "127.0.0.1:")
	pf := k.cmd(ctx, "port-forward", "pod/"+pod, local+":8080")
	pfOut, _ := pf.StdoutPipe()
	var pfErr strings.Builder
	var mu sync.Mutex
	pf.Stderr = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return pfErr.Write(p) })
	if err := pf.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = pf.Wait() }()
	ready := make(chan struct{})
	go func() {
		s := bufio.NewScanner(pfOut)
		for s.Scan() {
			if strings.Contains(s.Text(), "Forwarding from") {
				close(ready)
				_, _ = io.Copy(io.Discard, pfOut)
				return
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("kubectl port-forward did not start: %s", pfErr.String())
	}
	path := "/through-port-forward-" + pod
	resp, err := http.Get("http://127.0.0.1:" + local + path)
	if err != nil {
		t.Fatalf("GET through port-forward: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "hello from ") {
		t.Errorf("GET through port-forward: %q", body)
	}
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("kubectl logs -f ended before the request's line")
			}
			if strings.Contains(l, "request GET "+path) {
				return
			}
		case <-deadline:
			t.Fatalf("kubectl logs -f did not show the request's line within 60s")
		}
	}
}

// helloDeployment is the hello server as a Deployment, for GitOps.
var helloDeployment = fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
spec:
  replicas: 1
  selector:
    matchLabels: {app: hello}
  template:
    metadata:
      labels: {app: hello}
    spec:
      containers:
      - name: hello
        image: %s
        imagePullPolicy: Never
`, nodetest.HelloImage)

// helloService is the hello Deployment's Service: port 80 to the server's 8080.
const helloService = `apiVersion: v1
kind: Service
metadata:
  name: hello
spec:
  selector: {app: hello}
  ports:
  - port: 80
    targetPort: 8080
`

// kubeletAt is where a node's kubelet serves its API.
type kubeletAt struct {
	Address string
	Port    int32
}

// realNode returns where the kubelet of gantry's real node listens, with
// the hello image loaded into it (gantry image load); the test is skipped,
// with gantry's status, where gantry started none.
func realNode(t *testing.T, g *gantry) kubeletAt {
	t.Helper()
	nodes, err := g.client().CoreV1().Nodes().List(context.Background(), metav1.ListOptions{LabelSelector: "gantry.dev/real=true"})
	if err != nil || len(nodes.Items) == 0 {
		st, _ := run(t, "status", "--data-dir", g.dataDir)
		t.Skipf("gantry started no real node here (%v):\n%s", err, st)
	}
	n := nodes.Items[0]
	archive := nodetest.HelloArchive(t, t.TempDir())
	if out, err := run(t, "image", "load", archive, "--data-dir", g.dataDir); err != nil {
		t.Fatalf("gantry image load: %v\n%s", err, out)
	}
	ep := kubeletAt{Port: n.Status.DaemonEndpoints.KubeletEndpoint.Port}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			ep.Address = a.Address
		}
	}
	return ep
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// testPodStreamsOnRealNode (TestRealNodes/PodStreams): a virtual cluster's pod runs on a real node;
// kubectl logs, logs -f, exec and port-forward reach its container through
// gantry's proxy and straight to the virtual cluster (connect --sso), as a
// project member; a project viewer reads logs and cannot exec, either way.
func testPodStreamsOnRealNode(t *testing.T) {
	realNodeMachine(t)
	dataDir := t.TempDir()
	g := startGantry(t, dataDir, "--nodes", "1", "--real-nodes", "1")
	g.waitReady(2 * time.Minute)
	kubelet := realNode(t, g)

	for _, c := range []struct{ stdin, args string }{
		{"alice-secret-pw\n", "user create alice --password-stdin"},
		{"victor-secret-pw\n", "user create victor --password-stdin"},
		{"", "project create shop"},
		{"", "project add-member shop --user alice --role project-member"},
		{"", "project add-member shop --user victor --role project-viewer"},
	} {
		if out, err := runStdin(t, c.stdin, append(strings.Fields(c.args), "--data-dir", dataDir)...); err != nil {
			t.Fatalf("%s: %v\n%s", c.args, err, out)
		}
	}
	createVCluster(t, dataDir, "dev", "--project", "shop")

	server, ca := "https://"+g.httpAddr, filepath.Join(dataDir, "pki", "ca.crt")
	as := func(user string) (cli *remoteCLI, proxy, sso kubectl) {
		cli = newRemoteCLI(t)
		if out, code := cli.run(user+"-secret-pw\n", "login", server, "--ca-file", ca, "--username", user, "--password-stdin"); code != 0 {
			t.Fatalf("login %s: %s", user, out)
		}
		dir := t.TempDir()
		proxy = kubectl{t: t, kubeconfig: filepath.Join(dir, "proxy"), env: cli.env}
		sso = kubectl{t: t, kubeconfig: filepath.Join(dir, "sso"), env: cli.env}
		cli.must("vcluster", "connect", "dev", "--project", "shop", "--proxy", "--kubeconfig", proxy.kubeconfig)
		cli.must("vcluster", "connect", "dev", "--project", "shop", "--sso", "--kubeconfig", sso.kubeconfig)
		return cli, proxy, sso
	}
	alice, aliceProxy, aliceSSO := as("alice")
	t.Run("through the proxy", func(t *testing.T) {
		aliceProxy.t = t
		testPodStreams(t, aliceProxy, "hello")
	})
	t.Run("connect --sso", func(t *testing.T) {
		aliceSSO.t = t
		testPodStreams(t, aliceSSO, "hello-sso")
	})

	// No registry is reachable here: a pod whose image is not loaded says,
	// once, in the virtual cluster's events, how to load it.
	t.Run("an image not loaded names the fix", func(t *testing.T) {
		aliceProxy.t = t
		aliceProxy.must("run", "nothing", "--image", "gantry.invalid/nothing:1", "--image-pull-policy", "IfNotPresent", "--restart", "Never")
		warnings := func() ([]string, error) {
			out, err := aliceProxy.run("get", "events", "--field-selector", "involvedObject.name=nothing,reason=ImageNotLoaded",
				"-o", `jsonpath={range .items[*]}{.message}{"\n"}{end}`)
			if err != nil {
				return nil, fmt.Errorf("%v: %s", err, out)
			}
			return strings.FieldsFunc(out, func(r rune) bool { return r == '\n' }), nil
		}
		eventually(t, 2*time.Minute, "an ImageNotLoaded warning about pod nothing", func() error {
			w, err := warnings()
			if err == nil && len(w) == 0 {
				err = fmt.Errorf("none yet")
			}
			return err
		})
		// The kubelet has failed and backed off at least once more since.
		eventually(t, 2*time.Minute, "pod nothing in ImagePullBackOff", func() error {
			out, err := aliceProxy.run("get", "pod", "nothing", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}")
			if err != nil || out != "ImagePullBackOff" {
				return fmt.Errorf("waiting reason %q (%v)", out, err)
			}
			return nil
		})
		w, err := warnings()
		if err != nil {
			t.Fatal(err)
		}
		if len(w) != 1 {
			t.Errorf("%d ImageNotLoaded warnings, want one:\n%s", len(w), strings.Join(w, "\n"))
		}
		for _, want := range []string{`"gantry.invalid/nothing:1"`, "node real-node-1", "gantry image load <archive>", "gantry image list", "registry reachable"} {
			if !strings.Contains(w[0], want) {
				t.Errorf("the warning does not say %q: %s", want, w[0])
			}
		}
		t.Logf("kubectl get events: %s", w[0])
		aliceProxy.must("delete", "pod", "nothing", "--wait=false")
	})

	// A tenant with cluster-admin inside (a project admin; here gantry's
	// admin) makes a Node that points at the host's real kubelet, and a pod
	// bound to it named as another workload's host pod: the virtual API
	// server must not reach that kubelet (its certificate is not from the
	// kubelet API's CA), so no log comes back.
	t.Run("a virtual Node aimed at the real kubelet", func(t *testing.T) {
		admin := kubectl{t: t, kubeconfig: filepath.Join(t.TempDir(), "admin")}
		if out, err := run(t, "vcluster", "connect", "dev", "--project", "shop", "--proxy", "--kubeconfig", admin.kubeconfig, "--data-dir", dataDir); err != nil {
			t.Fatalf("connect as admin: %v\n%s", err, out)
		}
		evil := `{"apiVersion":"v1","kind":"Node","metadata":{"name":"evil"}}`
		apply := admin.cmd(context.Background(), "apply", "-f", "-")
		apply.Stdin = strings.NewReader(evil)
		if out, err := apply.CombinedOutput(); err != nil {
			t.Fatalf("creating node evil: %v\n%s", err, out)
		}
		patch := fmt.Sprintf(`{"status":{"addresses":[{"type":"InternalIP","address":%q},{"type":"Hostname","address":"localhost"}],"daemonEndpoints":{"kubeletEndpoint":{"Port":%d}}}}`,
			kubelet.Address, kubelet.Port)
		admin.must("patch", "node", "evil", "--subresource=status", "--type=merge", "-p", patch)
		admin.must("create", "namespace", "vc-p-shop-dev")
		stolen := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"hello-x-default-x-dev","namespace":"vc-p-shop-dev"},
"spec":{"nodeName":"evil","containers":[{"name":"hello","image":"` + nodetest.HelloImage + `","imagePullPolicy":"Never"}]}}`
		apply = admin.cmd(context.Background(), "apply", "-f", "-")
		apply.Stdin = strings.NewReader(stolen)
		if out, err := apply.CombinedOutput(); err != nil {
			t.Fatalf("creating the pod on node evil: %v\n%s", err, out)
		}
		out, err := admin.run("logs", "-n", "vc-p-shop-dev", "hello-x-default-x-dev")
		if err == nil || strings.Contains(out, "listening on") {
			t.Fatalf("the virtual API server read a host pod's log through a tenant's Node: %v\n%s", err, out)
		}
		if !strings.Contains(out, "x509") && !strings.Contains(out, "certificate") {
			t.Errorf("refused, but not by the certificate check:\n%s", out)
		}
		t.Logf("refused: %s", strings.TrimSpace(out))
	})

	// GitOps: a Deployment of the hello server from Git into the virtual
	// cluster; gantry app logs reads its pod as a project member.
	t.Run("gantry app logs", func(t *testing.T) {
		repo := newGitServer(t).newRepo("hello")
		repo.commit("hello", map[string]*string{"hello/deploy.yaml": str(helloDeployment), "hello/service.yaml": str(helloService)})
		if out, err := run(t, "app", "create", "hello", "-p", "shop", "--repo", repo.URL, "--path", "hello", "--dest-name", "p-shop/dev",
			"--dest-namespace", "web", "--sync-policy", "automated", "--sync-option", "CreateNamespace=true", "--data-dir", dataDir); err != nil {
			t.Fatalf("app create: %v\n%s", err, out)
		}
		waitApp(t, dynamic.NewForConfigOrDie(g.restConfig(t)), "p-shop", "hello", "Synced", "Healthy", 2*time.Minute)
		out := alice.must("app", "logs", "hello", "-p", "shop", "--kind", "Deployment", "--name", "hello", "--tail", "5")
		if !strings.Contains(out, "listening on :8080") || !strings.Contains(out, "[pod/hello-") {
			t.Errorf("gantry app logs --kind Deployment: %q", out)
		}
	})

	// Another pod reaches the GitOps Deployment by its Service's name
	// (cluster DNS, then kube-proxy on the real node); its server killed,
	// the kubelet restarts it and the previous instance's log is kept.
	t.Run("a Service by name, and a restart", func(t *testing.T) {
		aliceProxy.t = t
		// Placed on the real node by the syncer: the pods ask for no node.
		for _, ns := range []string{"default", "web"} {
			if out := aliceProxy.must("get", "pods", "-n", ns, "-o", "jsonpath={.items[*].spec.nodeName}"); strings.Trim(strings.ReplaceAll(out, "real-node-1", ""), " ") != "" {
				t.Errorf("pods of namespace %s run on %q; want real-node-1 only", ns, out)
			}
		}
		for _, url := range []string{"http://hello.web/", "http://hello.web.svc.cluster.local/"} {
			eventually(t, time.Minute, "GET "+url+" from pod hello", func() error {
				out, err := aliceProxy.run("exec", "hello", "--", "get", url)
				if err != nil || !strings.Contains(out, "hello from hello-") {
					return fmt.Errorf("%v: %s", err, out)
				}
				return nil
			})
		}
		if out, err := aliceProxy.run("exec", "hello", "--", "get", "http://nope.web.svc.cluster.local/"); err == nil {
			t.Errorf("a name no Service has resolved: %s", out)
		}
		// The host's names are the host's pods' only: not even this
		// cluster's own Service copy on the host resolves by its host name.
		if out, err := aliceProxy.run("exec", "hello", "--", "get", "http://hello-x-web-x-dev.vc-p-shop-dev.svc.cluster.local/"); err == nil ||
			!strings.Contains(out, "no such host") {
			t.Errorf("a virtual cluster's pod resolved a host Service: %v\n%s", err, out)
		}
		// A pod of another virtual cluster asks for the same name: its
		// cluster has no Service hello in web, and DNS answers for the
		// asking pod's own cluster only.
		createVCluster(t, dataDir, "qa", "--project", "shop")
		qa := kubectl{t: t, kubeconfig: filepath.Join(t.TempDir(), "qa")}
		if out, err := run(t, "vcluster", "connect", "qa", "--project", "shop", "--proxy", "--kubeconfig", qa.kubeconfig, "--data-dir", dataDir); err != nil {
			t.Fatalf("connect qa: %v\n%s", err, out)
		}
		apply := qa.cmd(context.Background(), "apply", "-f", "-")
		apply.Stdin = strings.NewReader(helloPod("prober"))
		if out, err := apply.CombinedOutput(); err != nil {
			t.Fatalf("kubectl apply in qa: %v\n%s", err, out)
		}
		qa.must("wait", "--for=condition=Ready", "pod/prober", "--timeout=90s")
		for _, url := range []string{"http://hello.web/", "http://hello.web.svc.cluster.local/"} {
			out, err := qa.run("exec", "prober", "--", "get", url)
			if err == nil || strings.Contains(out, "hello from") || !strings.Contains(out, "no such host") {
				t.Errorf("a pod of virtual cluster qa reached dev's Service by %s: %v\n%s", url, err, out)
			}
		}
		aliceProxy.must("exec", "-n", "web", "deployment/hello", "--", "kill")
		eventually(t, time.Minute, "hello restarted", func() error {
			out, err := aliceProxy.run("get", "pods", "-n", "web", "-l", "app=hello", "-o", "jsonpath={.items[0].status.containerStatuses[0].restartCount} {.items[0].status.containerStatuses[0].ready}")
			if err != nil || !strings.HasPrefix(out, "1 true") {
				return fmt.Errorf("restartCount and ready: %q (%v)", out, err)
			}
			return nil
		})
		if out := aliceProxy.must("logs", "-n", "web", "deployment/hello", "--previous"); !strings.Contains(out, "terminated") {
			t.Errorf("kubectl logs --previous: %q, want the killed instance's last line", out)
		}
		eventually(t, time.Minute, "GET http://hello.web/ after the restart", func() error {
			out, err := aliceProxy.run("exec", "hello", "--", "get", "http://hello.web/")
			if err != nil || !strings.Contains(out, "hello from hello-") {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		})
	})

	// In-cluster configuration: a pod reaches its own virtual cluster's API
	// server at KUBERNETES_SERVICE_HOST (or kubernetes.default.svc),
	// verified by the ca.crt it mounts, as its service account: refused
	// without RBAC, allowed with a Role of the virtual cluster. A pod of
	// another virtual cluster reaches its own cluster's API server only.
	t.Run("in-cluster configuration", func(t *testing.T) {
		admin := kubectl{t: t, kubeconfig: filepath.Join(t.TempDir(), "admin")}
		if out, err := run(t, "vcluster", "connect", "dev", "--project", "shop", "--proxy", "--kubeconfig", admin.kubeconfig, "--data-dir", dataDir); err != nil {
			t.Fatalf("connect as admin: %v\n%s", err, out)
		}
		const pods = "/api/v1/namespaces/default/pods"
		out, err := admin.run("exec", "hello", "--", "kubeget", pods)
		if err == nil || !strings.Contains(out, "403 Forbidden") || !strings.Contains(out, "system:serviceaccount:default:default") {
			t.Fatalf("without RBAC the pod's service account must be refused by the virtual API server: %v\n%s", err, out)
		}
		admin.must("create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
		admin.must("create", "rolebinding", "pod-reader", "--role=pod-reader", "--serviceaccount=default:default")
		for _, args := range [][]string{{pods}, {"-server", "https://kubernetes.default.svc", pods}, {"-server", "https://kubernetes.default.svc.cluster.local:443", pods}} {
			eventually(t, 30*time.Second, "kubeget "+strings.Join(args, " ")+" in pod hello", func() error {
				out, err := admin.run(append([]string{"exec", "hello", "--", "kubeget"}, args...)...)
				if err != nil || !strings.Contains(out, `"name":"hello"`) {
					return fmt.Errorf("%v: %s", err, out)
				}
				return nil
			})
		}

		qa := kubectl{t: t, kubeconfig: filepath.Join(t.TempDir(), "qa")}
		if out, err := run(t, "vcluster", "connect", "qa", "--project", "shop", "--proxy", "--kubeconfig", qa.kubeconfig, "--data-dir", dataDir); err != nil {
			t.Fatalf("connect qa: %v\n%s", err, out)
		}
		// qa's API server: no such RoleBinding there.
		if out, err := qa.run("exec", "prober", "--", "kubeget", pods); err == nil || !strings.Contains(out, "403 Forbidden") || strings.Contains(out, `"name":"hello"`) {
			t.Errorf("a pod of qa must reach qa's API server, which refuses it: %v\n%s", err, out)
		}
		// dev's token, sent from a pod of qa, is no token there.
		token := strings.TrimSpace(admin.must("create", "token", "default"))
		if out, err := qa.run("exec", "prober", "--", "kubeget", "-token", token, pods); err == nil || !strings.Contains(out, "401 Unauthorized") || strings.Contains(out, `"name":"hello"`) {
			t.Errorf("dev's token from a pod of qa: %v\n%s", err, out)
		}
	})

	// The host's own pods reach the host's API server through its kubernetes
	// Service, as in any cluster (package hostapi); a virtual cluster's pod
	// dialling that Service is cut off before TLS, whatever it holds.
	t.Run("the host's pods reach the host's API server", func(t *testing.T) {
		host := kubectl{t: t, kubeconfig: filepath.Join(dataDir, "kubeconfig")}
		pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"host-prober","namespace":"default"},
"spec":{"nodeSelector":{"gantry.dev/real":"true"},"tolerations":[{"key":"gantry.dev/real","operator":"Exists","effect":"NoSchedule"}],
"containers":[{"name":"hello","image":"` + nodetest.HelloImage + `","imagePullPolicy":"Never"}]}}`
		apply := host.cmd(context.Background(), "apply", "-f", "-")
		apply.Stdin = strings.NewReader(pod)
		if out, err := apply.CombinedOutput(); err != nil {
			t.Fatalf("creating a host pod: %v\n%s", err, out)
		}
		host.must("wait", "--for=condition=Ready", "pod/host-prober", "--timeout=60s")
		const pods = "/api/v1/namespaces/default/pods"
		// The host's default service account may not list pods: a 403 from
		// the host's API server, naming it, is the proof of arrival.
		eventually(t, 30*time.Second, "a host pod's kubeget", func() error {
			out, err := host.run("exec", "host-prober", "--", "kubeget", pods)
			if !strings.Contains(out, "403 Forbidden") || !strings.Contains(out, "system:serviceaccount:default:default") {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		})
		svc, err := g.client().CoreV1().Services("default").Get(context.Background(), "kubernetes", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		admin := kubectl{t: t, kubeconfig: filepath.Join(t.TempDir(), "admin")}
		if out, err := run(t, "vcluster", "connect", "dev", "--project", "shop", "--proxy", "--kubeconfig", admin.kubeconfig, "--data-dir", dataDir); err != nil {
			t.Fatalf("connect as admin: %v\n%s", err, out)
		}
		out, err := admin.run("exec", "hello", "--", "kubeget", "-server", "https://"+svc.Spec.ClusterIP, pods)
		if err == nil || strings.Contains(out, "x509") || strings.Contains(out, "certificate") || strings.Contains(out, "HTTP") {
			t.Errorf("a virtual cluster's pod got as far as TLS with the host's API server: %v\n%s", err, out)
		}
		t.Logf("cut off: %s", strings.TrimSpace(out))
		_ = g.client().CoreV1().Pods("default").Delete(context.Background(), "host-prober", metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))})
	})

	_, victorProxy, victorSSO := as("victor")
	for name, k := range map[string]kubectl{"proxy": victorProxy, "sso": victorSSO} {
		if out, err := k.run("logs", "hello"); err != nil || !strings.Contains(out, "listening on :8080") {
			t.Errorf("a viewer's kubectl logs (%s): %v\n%s", name, err, out)
		}
		out, err := k.run("exec", "hello", "--", "echo", "hi")
		refused := strings.Contains(out, "Forbidden") || strings.Contains(out, "forbidden") || strings.Contains(out, "permission denied")
		if err == nil || strings.Contains(out, "hi\n") || !refused {
			t.Errorf("a viewer's kubectl exec (%s) must be forbidden: %v\n%s", name, err, out)
		}
		if name == "proxy" && !strings.Contains(out, "cannot exec virtualclusters shop/dev") {
			t.Errorf("gantry's refusal must name the exec action:\n%s", out)
		}
	}

	// Asleep and woken: the control plane restarts (its kubelet client
	// certificate written again), the Deployment's pod comes back on the real
	// node (bare pods do not survive a sleep: their host pods are removed),
	// and logs and exec reach the new container.
	t.Run("after sleep and wake", func(t *testing.T) {
		if out, err := run(t, "vcluster", "sleep", "dev", "--project", "shop", "--data-dir", dataDir); err != nil {
			t.Fatalf("vcluster sleep: %v\n%s", err, out)
		}
		eventually(t, time.Minute, "dev asleep", func() error {
			out, _ := run(t, "vcluster", "get", "dev", "--project", "shop", "-o", "json", "--data-dir", dataDir)
			if !strings.Contains(out, `"phase": "Sleeping"`) {
				return fmt.Errorf("not asleep yet")
			}
			return nil
		})
		aliceProxy.t = t
		// The first request wakes it; the host pod is then made again.
		eventually(t, 2*time.Minute, "hello's log after waking", func() error {
			out, err := aliceProxy.run("logs", "-n", "web", "deployment/hello")
			if err != nil || !strings.Contains(out, "listening on :8080") {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		})
		if out := aliceProxy.must("exec", "-n", "web", "deployment/hello", "--", "echo", "awake"); strings.TrimSpace(out) != "awake" {
			t.Errorf("kubectl exec after waking: %q", out)
		}
		// The woken cluster's pods reach its API server again (its new
		// certificate names the relay's Service too): as web's default
		// service account, which has no Role in default.
		eventually(t, time.Minute, "in-cluster request after waking", func() error {
			out, err := aliceProxy.run("exec", "-n", "web", "deployment/hello", "--", "kubeget", "-server", "https://kubernetes.default.svc", "/api/v1/namespaces/default/pods")
			if err == nil || !strings.Contains(out, "403 Forbidden") || !strings.Contains(out, "system:serviceaccount:web:default") {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		})
	})
}
