package hostapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"gantry.dev/gantry/internal/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// pod makes a pod of namespace ns whose address is ip.
func pod(t *testing.T, kube kubernetes.Interface, ns, name, ip string) {
	t.Helper()
	ctx := context.Background()
	p, err := kube.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "x"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}
	if _, err := kube.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// A host pod reaches the API server through the relay, with its own
// credentials and the API server's own TLS; a virtual cluster's pod, or an
// address that is no pod, is cut off before TLS.
func TestRelayLetsOnlyHostPodsThrough(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hostNS := env.Namespace(t)
	tenantNS := hostNS + "-vc"
	if _, err := env.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenantNS,
		Labels: map[string]string{"platform.gantry.dev/vcluster": "v1"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Kube.CoreV1().Namespaces().Delete(context.Background(), tenantNS, metav1.DeleteOptions{}) })
	pod(t, env.Kube, hostNS, "operator", "127.0.0.2")
	pod(t, env.Kube, tenantNS, "tenant", "127.0.0.3")

	// The node's address is loopback here (an EndpointSlice may not name
	// one: the slice is checked on its own, below), and pods' addresses are
	// other loopback ones, which a test can dial from.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{l: l, opts: Options{Listen: netip.MustParseAddr("127.0.0.1"), APIServer: env.Config.Host[len("https://"):], Kube: env.Kube,
		Tenant: func(ns *corev1.Namespace) bool { return ns.Labels["platform.gantry.dev/vcluster"] != "" }, Log: testr.New(t)}}
	r.start(ctx)

	// A client dialling from src, as a pod of that address would, with the
	// test's admin credentials: what the relay decides is whether to connect.
	from := func(src string) error {
		cfg := rest.CopyConfig(env.Config)
		cfg.Host = "https://" + r.Addr()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		cfg.Dial = d.DialContext
		cfg.Timeout = 10e9
		kube, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return err
		}
		_, err = kube.Discovery().ServerVersion()
		return err
	}
	if err := from("127.0.0.2"); err != nil {
		t.Errorf("a host pod did not reach the API server: %v", err)
	}
	if err := from("127.0.0.1"); err != nil {
		t.Errorf("the node itself did not reach the API server: %v", err)
	}
	// Refused ones are dialled without client-go, which retries a GET
	// whose connection was reset ten times: a TLS handshake says it.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(env.Config.CAData)
	handshake := func(src string) error {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
		c, err := tls.DialWithDialer(d, "tcp", r.Addr(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := handshake("127.0.0.2"); err != nil {
		t.Errorf("a host pod's TLS handshake with the API server failed: %v", err)
	}
	if err := handshake("127.0.0.3"); err == nil {
		t.Error("a virtual cluster's pod reached the host's API server")
	}
	if err := handshake("127.0.0.4"); err == nil {
		t.Error("an address that is no pod reached the host's API server")
	}
	cancel()
	r.Wait()
}

// The kubernetes Service's EndpointSlice names the node's address and the
// relay's port under the Service's port name; a second start updates it.
func TestSlicePointsTheKubernetesServiceAtTheRelay(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{})
	ctx := context.Background()
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r := &Relay{l: l, opts: Options{Listen: netip.MustParseAddr("192.0.2.10"), Kube: env.Kube}}
		if err := r.ensureSlice(ctx); err != nil {
			t.Fatal(err)
		}
		l.Close()
		slice, err := env.Kube.DiscoveryV1().EndpointSlices("default").Get(ctx, SliceName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(l.Addr().String())
		if slice.Labels["kubernetes.io/service-name"] != "kubernetes" || slice.Endpoints[0].Addresses[0] != "192.0.2.10" ||
			strconv.Itoa(int(*slice.Ports[0].Port)) != port || *slice.Ports[0].Name != "https" {
			t.Fatalf("the kubernetes Service's slice does not point at the relay %s: %+v", l.Addr(), slice)
		}
	}
}
