package kubeletapi

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"gantry.dev/gantry/internal/pki"
	"gantry.dev/gantry/internal/simnodes"
	"gantry.dev/gantry/internal/syncer"
)

// fakeHost stands in for the host API server: it answers GETs of the pods it
// holds and records every subresource call; an upgraded call gets 101 and an
// echo of what follows.
type fakeHost struct {
	mu    sync.Mutex
	pods  map[string]*corev1.Pod // "<ns>/<name>"
	calls []*http.Request
}

func (f *fakeHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if node, ok := strings.CutPrefix(r.URL.Path, "/api/v1/nodes/"); ok {
		w.Header().Set("Content-Type", "application/json")
		labels := map[string]string{}
		if strings.HasPrefix(node, "sim-") {
			labels[simnodes.SimulatedLabel] = "true"
		}
		_ = json.NewEncoder(w).Encode(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node, Labels: labels}})
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v1/namespaces/"), "/")
	if len(parts) == 3 && parts[1] == "pods" {
		f.mu.Lock()
		p, ok := f.pods[parts[0]+"/"+parts[2]]
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
			return
		}
		_ = json.NewEncoder(w).Encode(p)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, r.Clone(context.Background()))
	f.mu.Unlock()
	if r.Header.Get("Upgrade") != "" {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprint(buf, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n")
		_ = buf.Flush()
		_, _ = io.Copy(conn, buf)
		return
	}
	fmt.Fprintf(w, "log line of %s\n", r.URL.Path)
}

func (f *fakeHost) lastCall(t *testing.T) *http.Request {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("the host API got no call")
	}
	return f.calls[len(f.calls)-1]
}

// syncedPod is the host copy of virtual pod namespace/name of vc, as the syncer makes it.
func syncedPod(vc types.NamespacedName, namespace, name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: syncer.HostName(name, namespace, vc.Name), Namespace: hostNS(vc),
		Labels: map[string]string{syncer.LabelManagedBy: syncer.ManagedBySyncer, syncer.LabelVCluster: vc.Name,
			syncer.LabelVClusterNamespace: vc.Namespace, syncer.LabelNamespace: namespace},
		Annotations: map[string]string{syncer.AnnotationName: name, syncer.AnnotationNamespace: namespace},
	}}
}

// hostNS is vcluster.HostNamespace, whose collisions ("vc-p-a-b-c" for
// p-a/b-c and p-a-b/c) the server must not trust.
func hostNS(vc types.NamespacedName) string { return "vc-" + vc.Namespace + "-" + vc.Name }

type env struct {
	srv  *Server
	host *fakeHost
	addr string
	pki  string
}

func newEnv(t *testing.T, pods ...*corev1.Pod) *env {
	t.Helper()
	fh := &fakeHost{pods: map[string]*corev1.Pod{}}
	for _, p := range pods {
		fh.pods[p.Namespace+"/"+p.Name] = p
	}
	hs := httptest.NewTLSServer(fh)
	t.Cleanup(hs.Close)
	hostCfg := &rest.Config{Host: hs.URL, BearerToken: "host-admin-token",
		TLSClientConfig: rest.TLSClientConfig{Insecure: true}}
	dir := t.TempDir()
	srv, err := New(Options{PKIDir: dir, Host: hostCfg, HostNamespace: hostNS})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	ip, port := srv.Endpoint()
	return &env{srv: srv, host: fh, addr: net.JoinHostPort(ip, fmt.Sprint(port)), pki: dir}
}

// client is a virtual API server of vc: its client certificate from
// APIServerFlags, and the server verified against the CA it names.
func (e *env) client(t *testing.T, vc types.NamespacedName) *tls.Config {
	t.Helper()
	dir := t.TempDir()
	flags, err := e.srv.APIServerFlags(dir, vc)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(flags["kubelet-client-certificate"], flags["kubelet-client-key"])
	if err != nil {
		t.Fatal(err)
	}
	return e.trusting(t, cert)
}

func (e *env) trusting(t *testing.T, certs ...tls.Certificate) *tls.Config {
	t.Helper()
	ca, err := pki.Load(e.pki, caName)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return &tls.Config{RootCAs: pool, Certificates: certs, NextProtos: []string{"http/1.1"}}
}

func (e *env) get(t *testing.T, tlsCfg *tls.Config, path string) (int, string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}, Timeout: 10 * time.Second}
	resp, err := c.Get("https://" + e.addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var (
	vcA = types.NamespacedName{Namespace: "p-a", Name: "dev"}
	vcB = types.NamespacedName{Namespace: "p-b", Name: "dev"}
)

func TestLogsReachTheHostPod(t *testing.T) {
	e := newEnv(t, syncedPod(vcA, "default", "web"))
	code, body := e.get(t, e.client(t, vcA), "/containerLogs/default/web/app?follow=true&tailLines=5")
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	call := e.host.lastCall(t)
	if got, want := call.URL.Path, "/api/v1/namespaces/vc-p-a-dev/pods/web-x-default-x-dev/log"; got != want {
		t.Errorf("host path %s, want %s", got, want)
	}
	if got := call.URL.Query(); got.Get("container") != "app" || got.Get("follow") != "true" || got.Get("tailLines") != "5" {
		t.Errorf("host query %v", got)
	}
	if got := call.Header.Get("Authorization"); got != "Bearer host-admin-token" {
		t.Errorf("host call authenticated with %q, want gantry's host credentials", got)
	}
}

// TestRefused: whoever is not a virtual API server of this server's CA, and
// any pod that is not the caller's own synced pod, gets nothing from the host.
func TestRefused(t *testing.T) {
	// In p-a/dev's host namespace: the copy of virtual pod c/a-x-b; a pod the
	// syncer did not make; and a pod that p-b/dev's syncer made, as if the
	// two host namespaces collided.
	crafted := syncedPod(vcA, "c", "a-x-b")
	foreign := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: syncer.HostName("sys", "kube-system", "dev"), Namespace: hostNS(vcA)}}
	other := syncedPod(vcB, "default", "db")
	other.Namespace = hostNS(vcA)
	simulated := syncedPod(vcA, "default", "sim")
	simulated.Spec.NodeName = "sim-node-1"
	e := newEnv(t, syncedPod(vcA, "default", "web"), syncedPod(vcB, "default", "web"), crafted, foreign, other, simulated)
	a := e.client(t, vcA)

	for _, tc := range []struct {
		name   string
		tls    *tls.Config
		path   string
		status int
	}{
		{"no client certificate", e.trusting(t), "/containerLogs/default/web/app", http.StatusUnauthorized},
		{"crafted name: pod a in namespace b-x-c has the host name of pod a-x-b in c", a, "/containerLogs/b-x-c/a/app", http.StatusNotFound},
		{"a host pod the syncer did not make", a, "/exec/kube-system/sys/app?command=id&output=1", http.StatusNotFound},
		{"another virtual cluster's pod in a colliding host namespace", a, "/containerLogs/default/db/app", http.StatusNotFound},
		{"a pod that does not exist", a, "/portForward/default/nothing?port=80", http.StatusNotFound},
		{"a pod on a simulated node, where nothing runs", a, "/containerLogs/default/sim/app", http.StatusNotFound},
		{"a path that is no name", a, "/containerLogs/default/..%2F..%2Fkube-system/app", http.StatusBadRequest},
		{"not a kubelet call served here", a, "/run/default/web/app", http.StatusNotFound},
		{"stats of the node", a, "/stats/summary", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := e.get(t, tc.tls, tc.path)
			if code != tc.status {
				t.Errorf("status %d (%s), want %d", code, strings.TrimSpace(body), tc.status)
			}
		})
	}
	if _, body := e.get(t, a, "/containerLogs/default/sim/app"); !strings.Contains(body, "runs on simulated node sim-node-1: no container runs there") {
		t.Errorf("a simulated pod's refusal does not say why: %s", body)
	}
	e.host.mu.Lock()
	defer e.host.mu.Unlock()
	if len(e.host.calls) != 0 {
		t.Errorf("refused calls reached the host: %s", e.host.calls[0].URL)
	}

	// A client certificate from another CA does not get past the handshake.
	other2, err := pki.NewCA("gantry-kubelet-api-ca")
	if err != nil {
		t.Fatal(err)
	}
	kp, err := other2.Issue(pki.CertSpec{CommonName: ClientName(vcA), Client: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.trusting(t, tls.Certificate{Certificate: [][]byte{kp.Cert.Raw}, PrivateKey: kp.Key})
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	if resp, err := c.Get("https://" + e.addr + "/containerLogs/default/web/app"); err == nil {
		resp.Body.Close()
		t.Errorf("a certificate from another CA was accepted: %s", resp.Status)
	}
}

// TestExecStreamPassesThrough: an upgraded call reaches the host pod's exec
// subresource and the stream flows both ways.
func TestExecStreamPassesThrough(t *testing.T) {
	e := newEnv(t, syncedPod(vcA, "default", "web"))
	conn, err := tls.Dial("tcp", e.addr, e.client(t, vcA))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /exec/default/web/app?command=echo&command=hi&output=1 HTTP/1.1\r\nHost: x\r\n"+
		"Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nAuthorization: Bearer stolen\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %s, want 101", resp.Status)
	}
	fmt.Fprint(conn, "ping")
	got := make([]byte, 4)
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo %q, %v", got, err)
	}
	call := e.host.lastCall(t)
	if got, want := call.URL.Path, "/api/v1/namespaces/vc-p-a-dev/pods/web-x-default-x-dev/exec"; got != want {
		t.Errorf("host path %s, want %s", got, want)
	}
	if q := call.URL.Query(); strings.Join(q["command"], " ") != "echo hi" || q.Get("stdout") != "true" || q.Get("container") != "app" {
		t.Errorf("host query %v", q)
	}
	if got := call.Header.Get("Authorization"); got != "Bearer host-admin-token" {
		t.Errorf("host call authenticated with %q, want gantry's host credentials", got)
	}
	if call.Header.Get("X-Stream-Protocol-Version") != "v4.channel.k8s.io" {
		t.Errorf("stream protocol header lost: %v", call.Header)
	}
}
