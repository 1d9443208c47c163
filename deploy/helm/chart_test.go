// Package helm_test checks gantry's Helm chart (deploy/helm/gantry) with the
// Helm SDK: `helm lint`'s rules, and what `helm template` renders for the
// values a platform team sets. Installing it is the end-to-end test's part
// (test/e2e), on the embedded host's real node.
package helm_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

const chartDir = "gantry"

func TestChartLints(t *testing.T) {
	for _, values := range []map[string]any{nil, {"ingress": map[string]any{"enabled": true}, "tlsSecret": "gantry-tls"},
		{"replicas": 2, "controlPlanes": "pods", "tlsSecret": "gantry-tls"}} {
		res := lint.RunAll(chartDir, values, "gantry-system")
		for _, m := range res.Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("helm lint (values %v): %s", values, m.Error())
			}
		}
	}
}

// The chart carries gantry's CRDs: they must be the ones the code generates.
func TestChartCRDsAreGantrys(t *testing.T) {
	want, _ := filepath.Glob("../../config/crd/*.yaml")
	got, _ := filepath.Glob(filepath.Join(chartDir, "crds", "*.yaml"))
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("chart CRDs %v, config/crd %v: run make generate", got, want)
	}
	for _, w := range want {
		a, _ := os.ReadFile(w)
		b, err := os.ReadFile(filepath.Join(chartDir, "crds", filepath.Base(w)))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs from the chart's copy: run make generate", w)
		}
	}
}

type rendered struct {
	objs  map[string][]byte // kind/name
	notes string
}

func (r rendered) get(t *testing.T, kind, name string, into any) bool {
	t.Helper()
	data, ok := r.objs[kind+"/"+name]
	if ok && into != nil {
		if err := yaml.Unmarshal(data, into); err != nil {
			t.Fatal(err)
		}
	}
	return ok
}

func render(t *testing.T, namespace string, values map[string]any) (rendered, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	install := action.NewInstall(action.NewConfiguration(action.ConfigurationSetLogger(slog.DiscardHandler)))
	install.DryRunStrategy = action.DryRunClient
	install.Replace = true
	install.ReleaseName, install.Namespace = "gantry", namespace
	rel, err := install.RunWithContext(context.Background(), ch, values)
	if err != nil {
		return rendered{}, err
	}
	r := rendered{objs: map[string][]byte{}, notes: rel.(*release.Release).Info.Notes}
	for _, doc := range strings.Split(rel.(*release.Release).Manifest, "\n---") {
		var meta struct {
			Kind     string
			Metadata struct{ Name string }
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil || meta.Kind == "" {
			continue
		}
		r.objs[meta.Kind+"/"+meta.Metadata.Name] = []byte(doc)
	}
	return r, nil
}

func TestChartRendersASecureGantry(t *testing.T) {
	r, err := render(t, "gantry-system", nil)
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if !r.get(t, "Deployment", "gantry", &d) {
		t.Fatalf("no Deployment gantry; rendered %v", keys(r.objs))
	}
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	if c.Image != "gantry.local/gantry:dev" {
		t.Errorf("image %q", c.Image)
	}
	for _, arg := range []string{"up", "--in-cluster", "--data-dir=/var/lib/gantry", "--external-url=https://gantry.gantry-system.svc"} {
		if !slices.Contains(c.Args, arg) {
			t.Errorf("args %v lack %s", c.Args, arg)
		}
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security context %+v: want a read-only root, no privilege escalation, no capabilities", sc)
	}
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod security context %+v: want non-root", psc)
	}
	// An upgrade must not start a second gantry beside the one holding the
	// ReadWriteOnce volume.
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %q: want Recreate", d.Spec.Strategy.Type)
	}
	// The notes say where gantry's own CA is, and where control planes run.
	if !strings.Contains(r.notes, "get configmap gantry-ca") || !strings.Contains(r.notes, "control planes run inside gantry's pod") {
		t.Errorf("the notes:\n%s", r.notes)
	}
	if slices.Contains(c.Args, "--host-gitops=false") || strings.Contains(r.notes, "virtual clusters only") {
		t.Errorf("args %v: by default apps may deploy into the host (rbac.hostGitOps: true)", c.Args)
	}
	if pod.ServiceAccountName != "gantry" || !r.get(t, "ServiceAccount", "gantry", nil) {
		t.Errorf("service account %q", pod.ServiceAccountName)
	}
	if pod.Volumes[0].PersistentVolumeClaim == nil || !r.get(t, "PersistentVolumeClaim", "gantry-data", nil) {
		t.Errorf("data volume %+v: want the PVC gantry-data", pod.Volumes[0])
	}
	if !r.get(t, "Service", "gantry", nil) || r.get(t, "Ingress", "gantry", nil) {
		t.Error("want a Service and, by default, no Ingress")
	}
	var platform rbacv1.ClusterRole
	if !r.get(t, "ClusterRole", "gantry-platform", &platform) || !r.get(t, "ClusterRole", "gantry-gitops-host", nil) {
		t.Errorf("ClusterRoles: %v", keys(r.objs))
	}
	for _, rule := range platform.Rules {
		if slices.Contains(rule.Resources, "*") && !slices.Contains(rule.APIGroups, "platform.gantry.dev") {
			t.Errorf("the platform's role grants every resource of %v: it must list them", rule.APIGroups)
		}
	}

	// What a platform team changes.
	r, err = render(t, "gantry-system", map[string]any{
		"rbac":        map[string]any{"hostGitOps": false},
		"ingress":     map[string]any{"enabled": true, "host": "gantry.example.com"},
		"tlsSecret":   "gantry-tls",
		"externalURL": "https://gantry.example.com/",
		"persistence": map[string]any{"enabled": false},
		"image":       map[string]any{"tag": "v9"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.notes, "Apps deploy into virtual clusters only (rbac.hostGitOps: false)") {
		t.Errorf("the notes do not say that apps deploy into virtual clusters only:\n%s", r.notes)
	}
	if r.get(t, "ClusterRole", "gantry-gitops-host", nil) || !r.get(t, "Ingress", "gantry", nil) {
		t.Errorf("hostGitOps false / ingress: %v", keys(r.objs))
	}
	r.get(t, "Deployment", "gantry", &d)
	c = d.Spec.Template.Spec.Containers[0]
	for _, arg := range []string{"--tls-cert-file=/etc/gantry/tls/tls.crt", "--external-url=https://gantry.example.com", "--host-gitops=false"} {
		if !slices.Contains(c.Args, arg) {
			t.Errorf("args %v lack %s", c.Args, arg)
		}
	}
	if c.Image != "gantry.local/gantry:v9" || d.Spec.Template.Spec.Volumes[0].EmptyDir == nil || r.get(t, "PersistentVolumeClaim", "gantry-data", nil) {
		t.Errorf("image %s, data volume %+v", c.Image, d.Spec.Template.Spec.Volumes[0])
	}
}

// Several replicas: leader election, a rolling upgrade (no volume to hand
// over), the Lease's Role in gantry's namespace only, no data claim.
func TestChartRendersReplicas(t *testing.T) {
	r, err := render(t, "gantry-system", map[string]any{"replicas": 3, "controlPlanes": "pods", "tlsSecret": "gantry-tls"})
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	r.get(t, "Deployment", "gantry", &d)
	c := d.Spec.Template.Spec.Containers[0]
	if *d.Spec.Replicas != 3 || !slices.Contains(c.Args, "--leader-elect") || !slices.Contains(c.Args, "--control-planes=pods") {
		t.Errorf("replicas %d, args %v: want 3 with --leader-elect", *d.Spec.Replicas, c.Args)
	}
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("strategy %q: want RollingUpdate", d.Spec.Strategy.Type)
	}
	if d.Spec.Template.Spec.Volumes[0].EmptyDir == nil || r.get(t, "PersistentVolumeClaim", "gantry-data", nil) {
		t.Errorf("data volume %+v: want an emptyDir per replica and no claim", d.Spec.Template.Spec.Volumes[0])
	}
	// The notes: no ConfigMap gantry-ca (gantry publishes none when it
	// serves tlsSecret's certificate), control planes as pods.
	for _, want := range []string{"3 replicas", "the CA that signed Secret gantry-tls", "control planes run as pods"} {
		if !strings.Contains(r.notes, want) {
			t.Errorf("the notes do not say %q:\n%s", want, r.notes)
		}
	}
	if strings.Contains(r.notes, "configmap gantry-ca") || strings.Contains(r.notes, "inside gantry's pod") {
		t.Errorf("the notes point at the ConfigMap gantry-ca or control planes in gantry's pod:\n%s", r.notes)
	}
	var role rbacv1.Role
	if !r.get(t, "Role", "gantry-leader-election", &role) || role.Namespace != "gantry-system" || !r.get(t, "RoleBinding", "gantry-leader-election", nil) {
		t.Fatalf("no Role gantry-leader-election in gantry-system: %v", keys(r.objs))
	}
	if len(role.Rules) != 1 || !slices.Equal(role.Rules[0].Resources, []string{"leases"}) {
		t.Errorf("leader election's Role %+v: leases only", role.Rules)
	}
	var platform rbacv1.ClusterRole
	r.get(t, "ClusterRole", "gantry-platform", &platform)
	for _, rule := range platform.Rules {
		if slices.Contains(rule.Resources, "leases") {
			t.Errorf("the platform's ClusterRole grants leases everywhere: %+v", rule)
		}
	}
}

func TestChartRefusesWhatCannotWork(t *testing.T) {
	for _, c := range []struct {
		namespace string
		values    map[string]any
		want      string
	}{
		{"gantry", nil, "install it there (helm install gantry ./deploy/helm/gantry -n gantry-system --create-namespace)"},
		{"gantry-system", map[string]any{"replicas": 2}, "replicas: 2 needs controlPlanes: pods"},
		{"gantry-system", map[string]any{"replicas": 2, "controlPlanes": "pods"}, "replicas: 2 needs tlsSecret"},
		{"gantry-system", map[string]any{"replicas": 0}, "at least one replica"},
		{"gantry-system", map[string]any{"externalURL": "http://gantry.example.com"}, "give an https URL"},
	} {
		if _, err := render(t, c.namespace, c.values); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("namespace %s values %v: %v; want an error saying %q", c.namespace, c.values, err, c.want)
		}
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
