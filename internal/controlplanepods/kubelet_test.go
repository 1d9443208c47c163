package controlplanepods

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"gantry.dev/gantry/internal/kubeletapi"
	"gantry.dev/gantry/internal/kubetest"
	"gantry.dev/gantry/internal/vcluster"
)

// TestFailoverKeepsThePod: the next leader, with its own replica of the
// shared kubelet API, writes the control plane's Secret as it was (the
// same kubelet client certificate and CA), so the pod is not rolled; a
// control plane whose client certificate no longer fits (another CA) gets a
// new one.
func TestFailoverKeepsThePod(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{})
	ctx := context.Background()
	key := types.NamespacedName{Namespace: "p-" + strings.ToLower(t.Name()), Name: "dev"}
	ns := vcluster.HostNamespace(key.Namespace, key.Name)
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}) })
	system := env.Namespace(t)
	replica := func(shared *kubeletapi.Shared) *Runtime {
		k, err := kubeletapi.New(kubeletapi.Options{PKIDir: t.TempDir(), Host: env.Config, Shared: shared,
			HostNamespace: func(vc types.NamespacedName) string { return vcluster.HostNamespace(vc.Namespace, vc.Name) }})
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Join(ctx); err != nil {
			t.Fatal(err)
		}
		r, err := New(Options{Host: env.Config, Image: "gantry.local/gantry:test", WorkDir: t.TempDir(), ReadyTimeout: 1, Kubelet: k})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	ensure := func(r *Runtime) (*corev1.Secret, string) {
		t.Helper()
		return ensureSecret(t, r, env.Client, key)
	}

	first, hash := ensure(replica(&kubeletapi.Shared{Namespace: system}))
	cert := first.Data[flagFilePrefix+"kubelet-client-certificate"]
	if len(cert) == 0 || len(first.Data[flagFilePrefix+"kubelet-certificate-authority"]) == 0 {
		t.Fatalf("the Secret lacks the kubelet API's client certificate or CA: %v", keys(first.Data))
	}
	next, nextHash := ensure(replica(&kubeletapi.Shared{Namespace: system}))
	if nextHash != hash || next.ResourceVersion != first.ResourceVersion {
		t.Errorf("the next leader rewrote the control plane's Secret (hash %s, was %s): the pod would restart", nextHash, hash)
	}
	if !bytes.Equal(next.Data[flagFilePrefix+"kubelet-client-certificate"], cert) {
		t.Error("the next leader issued another kubelet client certificate")
	}

	// A kubelet API with a CA of its own (one gantry's, in its data
	// directory): the old certificate is not kept.
	other, otherHash := ensure(replica(nil))
	if otherHash == hash || bytes.Equal(other.Data[flagFilePrefix+"kubelet-client-certificate"], cert) {
		t.Error("a client certificate of another CA was kept")
	}
}

// TestTrustOfAPodSurvivesARestart: a control plane in a pod trusts gantry's
// issuer for its own cluster's audience, fetching the discovery document and
// keys from the kubelet API at the shared Service's address with the kubelet
// API's CA (what the platform's Trust gives). The next gantry, whose kubelet
// API listens on another port, writes the same configuration: the pod is not
// rolled by a restart of gantry.
func TestTrustOfAPodSurvivesARestart(t *testing.T) {
	bind := routableIP()
	if bind == "" {
		t.Skip("no address of this machine but loopback, which an EndpointSlice cannot hold")
	}
	env := kubetest.Shared(t, kubetest.Options{})
	ctx := context.Background()
	key := types.NamespacedName{Namespace: "p-" + strings.ToLower(t.Name()), Name: "dev"}
	ns := vcluster.HostNamespace(key.Namespace, key.Name)
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}) })
	system := env.Namespace(t)
	const issuer = "https://gantry.example.com/oidc"
	gantry := func() *Runtime {
		k, err := kubeletapi.New(kubeletapi.Options{PKIDir: t.TempDir(), Host: env.Config, BindAddress: bind,
			Shared: &kubeletapi.Shared{Namespace: system}, Issuer: http.NotFoundHandler(),
			HostNamespace: func(vc types.NamespacedName) string { return vcluster.HostNamespace(vc.Namespace, vc.Name) }})
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Join(ctx); err != nil {
			t.Fatal(err)
		}
		trust := func() *vcluster.Trust {
			u, ca, ok := k.IssuerDiscovery()
			if !ok {
				t.Fatal("a shared kubelet API on a routable address gave no discovery URL")
			}
			return &vcluster.Trust{Issuer: issuer, CA: ca, DiscoveryURL: u}
		}
		r, err := New(Options{Host: env.Config, Image: "gantry.local/gantry:test", WorkDir: t.TempDir(), ReadyTimeout: 1,
			Kubelet: k, Trust: trust})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	ensure := func(r *Runtime) (*corev1.Secret, string) {
		t.Helper()
		return ensureSecret(t, r, env.Client, key)
	}
	first, hash := ensure(gantry())
	var cfg struct {
		JWT []struct {
			Issuer struct {
				URL                  string   `json:"url"`
				DiscoveryURL         string   `json:"discoveryURL"`
				CertificateAuthority string   `json:"certificateAuthority"`
				Audiences            []string `json:"audiences"`
			} `json:"issuer"`
		} `json:"jwt"`
	}
	if err := yaml.Unmarshal(first.Data[flagFilePrefix+"authentication-config"], &cfg); err != nil || len(cfg.JWT) != 1 {
		t.Fatalf("the Secret's authentication configuration: %v\n%s", err, first.Data[flagFilePrefix+"authentication-config"])
	}
	svc := &corev1.Service{}
	get(t, env.Client, system, kubeletapi.ServiceName, svc)
	got := cfg.JWT[0].Issuer
	if got.URL != issuer || got.DiscoveryURL != "https://"+net.JoinHostPort(svc.Spec.ClusterIP, "10250")+"/oidc/.well-known/openid-configuration" ||
		!slices.Equal(got.Audiences, []string{vcluster.Audience(key)}) ||
		got.CertificateAuthority != string(first.Data[flagFilePrefix+"kubelet-certificate-authority"]) {
		t.Errorf("the pod trusts %+v; want issuer %s, its keys from the kubelet API's Service %s with the kubelet API's CA, audience %s",
			got, issuer, svc.Spec.ClusterIP, vcluster.Audience(key))
	}
	var spec Spec
	if err := yaml.Unmarshal(first.Data[specKey], &spec); err != nil || !strings.HasPrefix(spec.APIServerFlags["authentication-config"], DataDir) {
		t.Errorf("the authentication-config flag names %q, not the copy in the pod (%v)", spec.APIServerFlags["authentication-config"], err)
	}
	next, nextHash := ensure(gantry())
	if nextHash != hash || next.ResourceVersion != first.ResourceVersion {
		t.Errorf("the next gantry rewrote the control plane's Secret (hash %s, was %s): a restart of gantry would roll the pod", nextHash, hash)
	}
}

// routableIP is an address of this machine other than loopback, or "".
func routableIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// ensureSecret has r set up key's control plane and returns its Secret and
// the hash of it the StatefulSet's pod template carries (a new hash restarts
// the pod).
func ensureSecret(t *testing.T, r *Runtime, c client.Client, key types.NamespacedName) (*corev1.Secret, string) {
	t.Helper()
	if st, err := r.Ensure(key, vcluster.Config{Storage: "postgres://kine@db.example/kine"}); st != vcluster.StateStarting || err != nil {
		t.Fatalf("Ensure: %s %v", st, err)
	}
	ns := vcluster.HostNamespace(key.Namespace, key.Name)
	secret, sts := &corev1.Secret{}, &appsv1.StatefulSet{}
	get(t, c, ns, Name, secret)
	get(t, c, ns, Name, sts)
	return secret, sts.Spec.Template.Annotations[secretHash]
}
