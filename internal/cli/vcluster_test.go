package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/project"
	"gantry.dev/gantry/internal/vcapi"
)

// TestVClusterConnectActsAsTheCaller: connect's kubeconfig reaches the
// virtual cluster through gantry's proxy with the caller's own credential,
// never an admin's: a login's token through the exec plugin, the local admin
// token only for the admin on the gantry machine. Who may not connect gets
// nothing.
func TestVClusterConnectActsAsTheCaller(t *testing.T) {
	f := newRESTFixture(t)
	A := f.A
	f.create(&platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: project.Namespace(A)}})
	proxyURL := f.srv.URL + "/kubernetes/project/" + A + "/virtualcluster/dev"
	ctxName := vcapi.ContextName(A, "dev")

	for _, args := range [][]string{{}, {"--proxy"}} {
		out := f.must("alice", append([]string{"vcluster", "connect", "dev", "-p", A, "--print"}, args...)...)
		cfg, err := clientcmd.Load([]byte(out))
		if err != nil {
			t.Fatalf("connect %v printed no kubeconfig: %v\n%s", args, err, out)
		}
		cur := cfg.Contexts[cfg.CurrentContext]
		cluster, auth := cfg.Clusters[cur.Cluster], cfg.AuthInfos[cur.AuthInfo]
		if cfg.CurrentContext != ctxName || cluster.Server != proxyURL || len(cluster.CertificateAuthorityData) == 0 {
			t.Errorf("connect %v: context %s, cluster %+v", args, cfg.CurrentContext, cluster)
		}
		if auth.Token != "" || auth.Exec == nil || !slices.Equal(auth.Exec.Args[:5], []string{"vcluster", "credential", "dev", "--project", A}) ||
			!slices.Contains(auth.Exec.Args, "--proxy") || !slices.Contains(auth.Exec.Args, f.srv.URL) {
			t.Errorf("connect %v as alice: the user must be her exec plugin, got %+v %+v", args, auth, auth.Exec)
		}
	}

	// The admin on the gantry machine, no login: the local admin token.
	cfg, err := clientcmd.Load([]byte(f.must("admin", "vcluster", "connect", "dev", "-p", A, "--print")))
	if err != nil {
		t.Fatal(err)
	}
	if auth := cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo]; auth.Token != adminToken || len(auth.ClientCertificateData) > 0 {
		t.Errorf("the admin's kubeconfig user: %+v", auth)
	}

	// Merged into a kubeconfig, made current.
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if out := f.must("alice", "vcluster", "connect", "dev", "-p", A, "--kubeconfig", kc); !strings.Contains(out, "context "+ctxName+" added to "+kc) {
		t.Errorf("connect into %s:\n%s", kc, out)
	}
	if merged, err := clientcmd.LoadFromFile(kc); err != nil || merged.CurrentContext != ctxName || merged.Clusters[ctxName].Server != proxyURL {
		t.Errorf("merged kubeconfig: %v %+v", err, merged)
	}

	// Refusals, and nothing written.
	kc2 := filepath.Join(t.TempDir(), "kubeconfig")
	if _, err := f.gantry("bob", "vcluster", "connect", "dev", "-p", A, "--kubeconfig", kc2); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("bob connecting to a virtual cluster of %s: %v", A, err)
	}
	if _, err := os.Stat(kc2); !os.IsNotExist(err) {
		t.Errorf("a refused connect wrote %s: %v", kc2, err)
	}
	if _, err := f.gantry("alice", "vcluster", "connect", "nope", "-p", A, "--print"); err == nil || !strings.Contains(err.Error(), "virtual cluster nope not found in project "+A) {
		t.Errorf("connect to a missing cluster: %v", err)
	}
	if _, err := f.gantry("admin", "vcluster", "connect", "dev", "-p", A, "--admin", "--print"); err == nil || !strings.Contains(err.Error(), "--sso") {
		t.Errorf("--admin: %v", err)
	}
	if _, err := f.gantry("alice", "vcluster", "connect", "dev", "-p", A, "--sso", "--proxy"); err == nil || !strings.Contains(err.Error(), "choose one") {
		t.Errorf("--sso --proxy: %v", err)
	}
}
