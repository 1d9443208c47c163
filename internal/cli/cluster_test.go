package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"gantry.dev/gantry/internal/clusterauth"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/kubeconfig"
	"gantry.dev/gantry/internal/kubetest"
)

// `gantry cluster add CONTEXT` against a real kube-apiserver as the target
// (the fixture's own, through a kubeconfig with its admin certificate): the
// ServiceAccount, its ClusterRole and binding and its token are made there,
// and the cluster registered with that token; refused adds leave nothing in
// the target; `rm --remove-manager` takes it all back.
func TestClusterAdd(t *testing.T) {
	f := newRESTFixture(t)
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	must(t, kubeconfig.Config{Name: "target", Server: env.Config.Host, CA: env.Config.CAData,
		CertPEM: env.Config.CertData, KeyPEM: env.Config.KeyData}.Write(kc))
	ctx := context.Background()
	t.Cleanup(func() { _ = clusterauth.Remove(context.Background(), env.Kube, nil) })
	managerExists := func() bool {
		_, err := env.Kube.CoreV1().ServiceAccounts(clusterauth.Namespace).Get(ctx, clusterauth.ServiceAccount, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}
	secrets := func() []corev1.Secret {
		var list corev1.SecretList
		must(t, f.direct.List(ctx, &list, client.InNamespace(f.clusterNS), client.MatchingLabels{cluster.SecretTypeLabel: cluster.SecretTypeValue}))
		return list.Items
	}

	// Refused before or after the target is touched: nothing stays there.
	for _, tc := range []struct {
		user string
		args []string
		want string
	}{
		{authn.AdminUser, []string{"cluster", "add", "nope", "--kubeconfig", kc, "--yes"}, `context "nope" is not in the kubeconfig (its contexts: target)`},
		{authn.AdminUser, []string{"cluster", "add", "target", "--name", "team/prod", "--kubeconfig", kc, "--yes"}, "contains '/'"},
		{authn.AdminUser, []string{"cluster", "add", "target", "--kubeconfig", kc}, "not confirmed"},
		{"alice", []string{"cluster", "add", "target", "--project", f.B, "--kubeconfig", kc, "--yes"}, "alice cannot create clusters " + f.B + "/"},
		{authn.AdminUser, []string{"cluster", "add", "target", "--project", "no-such-project", "--kubeconfig", kc, "--yes"}, "project no-such-project not found"},
	} {
		out, err := f.gantry(tc.user, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("gantry %s as %s: %v, want an error mentioning %q\n%s", strings.Join(tc.args, " "), tc.user, err, tc.want, out)
		}
		if managerExists() {
			t.Fatalf("gantry %s left ServiceAccount %s in the target", strings.Join(tc.args, " "), clusterauth.ServiceAccount)
		}
	}
	if n := len(secrets()); n != 0 {
		t.Fatalf("refused adds registered %d clusters", n)
	}

	out := f.must(authn.AdminUser, "cluster", "add", "target", "--kubeconfig", kc, "--yes")
	if !strings.Contains(out, "cluster target ("+strings.TrimRight(env.Config.Host, "/")+") added: Successful") {
		t.Errorf("add said:\n%s", out)
	}
	tokenSecret, err := env.Kube.CoreV1().Secrets(clusterauth.Namespace).Get(ctx, clusterauth.TokenSecret, metav1.GetOptions{})
	must(t, err)
	token := string(tokenSecret.Data[corev1.ServiceAccountTokenKey])
	binding, err := env.Kube.RbacV1().ClusterRoleBindings().Get(ctx, clusterauth.ClusterRoleBinding, metav1.GetOptions{})
	must(t, err)
	if binding.RoleRef.Name != clusterauth.ClusterRole || binding.Subjects[0].Name != clusterauth.ServiceAccount || binding.Subjects[0].Namespace != clusterauth.Namespace {
		t.Errorf("binding %+v", binding)
	}
	registered := secrets()
	if len(registered) != 1 {
		t.Fatalf("%d cluster Secrets, want 1", len(registered))
	}
	var cfg cluster.Config
	must(t, json.Unmarshal(registered[0].Data["config"], &cfg))
	if token == "" || cfg.BearerToken != token || string(cfg.TLSClientConfig.CAData) != string(env.Config.CAData) {
		t.Errorf("registered config does not carry the ServiceAccount's token and the context's CA: %s", registered[0].Data["config"])
	}

	// A second add of the same context is refused by name before the target is touched.
	if out, err := f.gantry(authn.AdminUser, "cluster", "add", "target", "--kubeconfig", kc, "--yes"); err == nil || !strings.Contains(err.Error(), "registered already") {
		t.Errorf("a second add: %v\n%s", err, out)
	}

	list := f.must(authn.AdminUser, "cluster", "list")
	if !strings.Contains(list, "NAME") || !strings.Contains(list, "target") || !strings.Contains(list, "Successful") || !strings.Contains(list, cluster.HostName) {
		t.Errorf("list:\n%s", list)
	}
	get := f.must(authn.AdminUser, "cluster", "get", "target")
	asJSON := f.must(authn.AdminUser, "cluster", "get", "target", "-o", "json")
	for _, o := range []string{list, get, asJSON} {
		if strings.Contains(o, token) {
			t.Fatalf("the token is in the output:\n%s", o)
		}
	}
	if !strings.Contains(get, "Connection:") || !strings.Contains(get, "Successful") || !strings.Contains(get, "Registered by:") {
		t.Errorf("get:\n%s", get)
	}
	// alice (a project member) sees no global cluster.
	if out := f.must("alice", "cluster", "list"); strings.Contains(out, "target") {
		t.Errorf("alice lists a global cluster:\n%s", out)
	}

	out = f.must(authn.AdminUser, "cluster", "rm", "target", "--remove-manager", "--kubeconfig", kc)
	if !strings.Contains(out, "cluster target removed") || !strings.Contains(out, "removed from context target") {
		t.Errorf("rm said:\n%s", out)
	}
	if managerExists() || len(secrets()) != 0 {
		t.Fatalf("after rm --remove-manager: manager %v, %d cluster Secrets", managerExists(), len(secrets()))
	}
	if _, err := env.Kube.RbacV1().ClusterRoles().Get(ctx, clusterauth.ClusterRole, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ClusterRole %s: %v", clusterauth.ClusterRole, err)
	}
}
