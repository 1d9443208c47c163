package incluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gantry.dev/gantry/internal/clusterdns"
	"gantry.dev/gantry/internal/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// backend stands for the runtime: cluster key's API server is at addrs[key].
type backend struct {
	addrs map[string]string
	mu    sync.Mutex
	woken []string
}

func (b *backend) Wake(_ context.Context, key string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.woken = append(b.woken, key)
	if a, ok := b.addrs[key]; ok {
		return a, nil
	}
	return "", errors.New("no such cluster")
}

func (b *backend) wakes() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.woken...)
}

// TestPodsReachTheirOwnAPIServer: a pod of cluster one (127.0.0.1) reaches
// one's real kube-apiserver through the relay and is authenticated and
// authorised as its service account, with nothing of gantry's added; a pod of
// cluster two (127.0.0.2) with one's token reaches two's API server only; an
// address that is no cluster's pod gets nothing.
func TestPodsReachTheirOwnAPIServer(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{})
	ctx := t.Context()
	const ns = "incluster"
	kube := env.Kube
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	witness := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "witness", Namespace: ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example.invalid/none"}}}}
	if _, err := kube.CoreV1().Pods(ns).Create(ctx, witness, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "reader"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "reader", Namespace: ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token := func(sa string) string {
		if _, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		tr, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	reader, nobody := token("reader"), token("nobody")

	// Cluster two's API server: another server with another CA.
	two := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"kind":"Status","code":401,"message":"cluster two: Unauthorized"}`, http.StatusUnauthorized)
	}))
	defer two.Close()
	oneURL, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{addrs: map[string]string{"p-a/one": oneURL.Host, "p-b/two": two.Listener.Addr().String()}}
	reg := &clusterdns.Registry{}
	for key, ip := range map[string]string{"p-a/one": "127.0.0.1", "p-b/two": "127.0.0.2"} {
		pod := netip.MustParseAddr(ip)
		reg.Set(key, nil, func(a netip.Addr) bool { return a == pod })
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- (&Server{Owners: reg, Backend: b, Log: testr.New(t)}).Serve(sctx, l) }()
	defer func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	// What a pod of cluster one mounts as ca.crt.
	oneCA := x509.NewCertPool()
	oneCA.AppendCertsFromPEM(env.CP.CA())
	get := func(from, bearer string, skipVerify bool) (*http.Response, string, error) {
		t.Helper()
		tr := &http.Transport{
			DialContext:       (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext,
			TLSClientConfig:   &tls.Config{RootCAs: oneCA, InsecureSkipVerify: skipVerify},
			ForceAttemptHTTP2: true,
		}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+l.Addr().String()+"/api/v1/namespaces/"+ns+"/pods", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body), nil
	}

	t.Run("a service account with RBAC lists pods", func(t *testing.T) {
		resp, body, err := get("127.0.0.1", reader, false)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"witness"`) {
			t.Fatalf("%s: %s", resp.Status, body)
		}
		// TLS ends at the API server, verified by the cluster's CA, and the
		// pod's HTTP/2 passes as it is.
		if resp.ProtoMajor != 2 || resp.TLS.PeerCertificates[0].Subject.CommonName != "kube-apiserver" {
			t.Errorf("proto %s, server certificate %q", resp.Proto, resp.TLS.PeerCertificates[0].Subject)
		}
	})
	t.Run("a watch streams through", func(t *testing.T) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: oneCA}}
		defer tr.CloseIdleConnections()
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(wctx, http.MethodGet, "https://"+l.Addr().String()+"/api/v1/namespaces/"+ns+"/pods?watch=1", nil)
		req.Header.Set("Authorization", "Bearer "+reader)
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("watch: %s", resp.Status)
		}
		late := witness.DeepCopy()
		late.Name = "late"
		if _, err := kube.CoreV1().Pods(ns).Create(ctx, late, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(resp.Body)
		for {
			var ev struct {
				Type   string
				Object struct{ Metadata struct{ Name string } }
			}
			if err := dec.Decode(&ev); err != nil {
				t.Fatalf("the watch ended before pod late was seen: %v", err)
			}
			if ev.Type == "ADDED" && ev.Object.Metadata.Name == "late" {
				return
			}
		}
	})
	t.Run("no RBAC: forbidden as that service account", func(t *testing.T) {
		resp, body, err := get("127.0.0.1", nobody, false)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "system:serviceaccount:"+ns+":nobody") {
			t.Fatalf("%s: %s", resp.Status, body)
		}
	})
	t.Run("no token: anonymous, never gantry's credentials", func(t *testing.T) {
		resp, body, err := get("127.0.0.1", "", false)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "system:anonymous") || strings.Contains(body, "witness") {
			t.Fatalf("%s: %s", resp.Status, body)
		}
	})
	t.Run("a pod of another cluster with this cluster's token", func(t *testing.T) {
		// It reaches its own cluster's API server, whose certificate one's
		// CA does not verify...
		if _, _, err := get("127.0.0.2", reader, false); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("a pod of cluster two verified cluster one's API server: %v", err)
		}
		// ... and which refuses the token if the pod goes on anyway.
		resp, body, err := get("127.0.0.2", reader, true)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "witness") {
			t.Fatalf("%s: %s", resp.Status, body)
		}
	})
	t.Run("an address that is no cluster's pod", func(t *testing.T) {
		before := len(b.wakes())
		if resp, body, err := get("127.0.0.3", reader, true); err == nil {
			t.Fatalf("answered: %s %s", resp.Status, body)
		}
		if w := b.wakes(); len(w) != before {
			t.Errorf("a stranger's connection woke %v", w[before:])
		}
	})
	for _, w := range b.wakes() {
		if w != "p-a/one" && w != "p-b/two" {
			t.Errorf("woke %q", w)
		}
	}
}
