package kubeletapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"gantry.dev/gantry/internal/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// TestSharedByReplicas: two replicas on one host join at once and share one
// CA (whichever made the Secret) and one address, the Service's, which
// both give virtual Nodes and both serving certificates name. A virtual API
// server's client certificate from one replica's flags is accepted by the
// other, which it verifies at the Service's address with the CA those flags
// name. The leader points the Service at itself; the next leader at itself.
func TestSharedByReplicas(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{})
	ctx := context.Background()
	ns := env.Namespace(t)
	bind, routable := machineIP()
	replica := func() *Server {
		s, err := New(Options{PKIDir: t.TempDir(), Host: env.Config, BindAddress: bind,
			Shared: &Shared{Namespace: ns}, HostNamespace: hostNS})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := replica(), replica()
	errs := make(chan error, 2)
	for _, s := range []*Server{a, b} {
		go func() { errs <- s.Join(ctx) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*Server{a, b} {
		serve(t, s)
	}

	secret, err := env.Kube.CoreV1().Secrets(ns).Get(ctx, CASecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	caA, _ := os.ReadFile(a.CAFile())
	caB, _ := os.ReadFile(b.CAFile())
	if !bytes.Equal(caA, secret.Data[corev1.TLSCertKey]) || !bytes.Equal(caB, caA) {
		t.Fatal("the replicas verify with different CAs, or not the Secret's")
	}
	svc, err := env.Kube.CoreV1().Services(ns).Get(ctx, ServiceName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Server{a, b} {
		if addr, port := s.Endpoint(); addr != svc.Spec.ClusterIP || port != ServicePort {
			t.Errorf("virtual Nodes given %s:%d, want the Service's %s:%d", addr, port, svc.Spec.ClusterIP, ServicePort)
		}
	}

	// Flags from a; the call reaches b, as after a failover.
	flags, err := a.APIServerFlags(t.TempDir(), vcA)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(flags["kubelet-client-certificate"], flags["kubelet-client-key"])
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(flags["kubelet-certificate-authority"])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	// What kube-apiserver checks: the certificate names the Node's InternalIP.
	apiServer := &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: svc.Spec.ClusterIP, NextProtos: []string{"http/1.1"}}
	for name, s := range map[string]*Server{"the replica that issued the certificate": a, "the other replica": b} {
		code, body := getFrom(t, s, apiServer, "/containerLogs/default/web/app")
		if code != http.StatusNotFound || !strings.Contains(body, "has no host pod") {
			t.Errorf("%s: %d %s, want 404 (no such host pod) past the client certificate", name, code, strings.TrimSpace(body))
		}
	}
	leaf, err := x509.ParseCertificate(b.ca.serving.Cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(leaf.DNSNames, ServiceName+"."+ns+".svc") {
		t.Errorf("serving certificate names %v, want %s.%s.svc", leaf.DNSNames, ServiceName, ns)
	}

	// A replica that joins later (a restart, a new pod) takes the same CA.
	c := replica()
	if err := c.Join(ctx); err != nil {
		t.Fatal(err)
	}
	if caC, _ := os.ReadFile(c.CAFile()); !bytes.Equal(caC, caA) {
		t.Error("a replica that joined later has another CA")
	}

	if !routable {
		t.Log("no address of this machine but loopback, which an EndpointSlice cannot hold: the Service's endpoint is not checked")
		return
	}
	for _, leader := range []*Server{a, b} {
		lctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = leader.Advertise(lctx) }()
		want := fmt.Sprintf("%s:%d", bind, leader.port())
		deadline := time.Now().Add(10 * time.Second)
		for got := endpoint(t, env, ns); got != want; got = endpoint(t, env, ns) {
			if time.Now().After(deadline) {
				t.Fatalf("the Service's endpoint is %q, want the leader's %s", got, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
		<-done
	}
}

// machineIP is an address of this machine other than loopback (an
// EndpointSlice refuses loopback), else 127.0.0.1 and false.
func machineIP() (string, bool) {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String(), true
		}
	}
	return "127.0.0.1", false
}

func serve(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// getFrom calls s's listener, whatever the address the TLS configuration verifies.
func getFrom(t *testing.T, s *Server, cfg *tls.Config, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	resp, err := c.Get("https://" + s.listener.Addr().String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// endpoint is the address and port the Service's EndpointSlice names.
func endpoint(t *testing.T, env *kubetest.Env, ns string) string {
	t.Helper()
	slice, err := env.Kube.DiscoveryV1().EndpointSlices(ns).Get(context.Background(), ServiceName, metav1.GetOptions{})
	if err != nil || len(slice.Endpoints) != 1 || len(slice.Ports) != 1 || len(slice.Endpoints[0].Addresses) != 1 {
		return fmt.Sprintf("none (%v)", err)
	}
	return fmt.Sprintf("%s:%d", slice.Endpoints[0].Addresses[0], ptr.Deref(slice.Ports[0].Port, 0))
}

// TestIssuerDiscovery: with Options.Issuer the server serves it under
// IssuerPath to a caller without a client certificate (a virtual API
// server's JWT authenticator), verified at the shared Service's address with
// the CA IssuerDiscovery names; the kubelet paths still want a client
// certificate. Not shared (the listener's own port changes at every start),
// or on loopback (no pod reaches it), there is no discovery URL to give.
func TestIssuerDiscovery(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{})
	ctx := context.Background()
	ns := env.Namespace(t)
	bind, routable := machineIP()
	issuer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "issuer says "+r.URL.Path) })

	alone, err := New(Options{PKIDir: t.TempDir(), Host: env.Config, BindAddress: bind, HostNamespace: hostNS, Issuer: issuer})
	if err != nil {
		t.Fatal(err)
	}
	if u, _, ok := alone.IssuerDiscovery(); ok {
		t.Errorf("a server that is not shared gave discovery URL %s", u)
	}
	alone.listener.Close()

	s, err := New(Options{PKIDir: t.TempDir(), Host: env.Config, BindAddress: bind,
		Shared: &Shared{Namespace: ns}, HostNamespace: hostNS, Issuer: issuer})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Join(ctx); err != nil {
		t.Fatal(err)
	}
	serve(t, s)
	u, caPEM, ok := s.IssuerDiscovery()
	if !routable {
		if ok {
			t.Errorf("a server on %s gave discovery URL %s", bind, u)
		}
		return
	}
	svc, err := env.Kube.CoreV1().Services(ns).Get(ctx, ServiceName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("https://%s:%d/oidc/.well-known/openid-configuration", svc.Spec.ClusterIP, ServicePort)
	if !ok || u != want || s.IssuerBase()+"/.well-known/openid-configuration" != u {
		t.Fatalf("discovery URL %q (%v), want %s", u, ok, want)
	}
	secret, err := env.Kube.CoreV1().Secrets(ns).Get(ctx, CASecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(caPEM, secret.Data[corev1.TLSCertKey]) {
		t.Error("the discovery CA is not the shared CA")
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	anonymous := &tls.Config{RootCAs: pool, ServerName: svc.Spec.ClusterIP}
	if code, body := getFrom(t, s, anonymous, "/oidc/.well-known/openid-configuration"); code != http.StatusOK || body != "issuer says /oidc/.well-known/openid-configuration" {
		t.Errorf("discovery without a client certificate: %d %q", code, body)
	}
	if code, body := getFrom(t, s, anonymous, "/containerLogs/default/web/app"); code != http.StatusUnauthorized {
		t.Errorf("a kubelet path without a client certificate: %d %q, want 401", code, body)
	}
}
