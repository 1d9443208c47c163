package policy

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

const HostServer = "https://kubernetes.default.svc"

var (
	host    = Target{Host: true, Server: HostServer, Name: "in-cluster"}
	ownVC   = Target{Server: "https://127.0.0.1:7001", Name: "p-a/v1", Project: "a"}
	otherVC = Target{Server: "https://127.0.0.1:7002", Name: "p-b/v1", Project: "b"}
	shared  = Target{Server: "https://prod.example.com:6443", Name: "prod"}
)

func mustNew(t *testing.T, spec platformv1alpha1.ProjectSpec) *Policy {
	t.Helper()
	p, err := New(&platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func obj(apiVersion, kind, ns, name string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"name": name}}}
	if ns != "" {
		o.SetNamespace(ns)
	}
	return o
}

func TestDestination(t *testing.T) {
	grants := platformv1alpha1.ProjectSpec{AllowedDestinations: []platformv1alpha1.ProjectDestination{
		{Server: HostServer, Namespace: "web-*"},
		{Server: HostServer, Namespace: "!web-secret"},
		{Name: "prod", Namespace: "shop"},
		{Server: "*", Namespace: "*"}, // a careless grant: still never gantry-system by glob
	}}
	cases := []struct {
		name   string
		spec   platformv1alpha1.ProjectSpec
		target Target
		ns     string
		ok     bool
		rule   string
	}{
		{"own namespace on the host", platformv1alpha1.ProjectSpec{}, host, "p-a", true, ""},
		{"another project's namespace", platformv1alpha1.ProjectSpec{}, host, "p-b", false, "spec.allowedDestinations"},
		{"gantry-system by default", platformv1alpha1.ProjectSpec{}, host, "gantry-system", false, "spec.allowedDestinations"},
		{"own virtual cluster, any namespace", platformv1alpha1.ProjectSpec{}, ownVC, "kube-system", true, ""},
		{"another project's virtual cluster", platformv1alpha1.ProjectSpec{}, otherVC, "default", false, "spec.allowedDestinations"},
		{"a shared cluster without a grant", platformv1alpha1.ProjectSpec{}, shared, "shop", false, "spec.allowedDestinations"},
		{"granted glob", grants, host, "web-1", true, ""},
		{"denied inside the glob", grants, host, "web-secret", false, "spec.allowedDestinations"},
		{"granted by cluster name", grants, shared, "shop", true, ""},
		{"a star grant never matches gantry-system", grants, host, "gantry-system", false, "spec.allowedDestinations"},
		{"nor kube-system", grants, host, "kube-system", false, "spec.allowedDestinations"},
		{"but matches others", grants, host, "anything", true, ""},
		{"gantry-system named exactly", platformv1alpha1.ProjectSpec{AllowedDestinations: []platformv1alpha1.ProjectDestination{{Server: HostServer, Namespace: "gantry-system"}}}, host, "gantry-system", true, ""},
		{"a grant on one server does not open another", platformv1alpha1.ProjectSpec{AllowedDestinations: []platformv1alpha1.ProjectDestination{{Server: "https://prod.example.com:6443", Namespace: "*"}}}, host, "x", false, "spec.allowedDestinations"},
		{"host with no namespace: objects decide", platformv1alpha1.ProjectSpec{}, host, "", true, ""},
		{"shared cluster with no namespace and no grant", platformv1alpha1.ProjectSpec{}, shared, "", false, "spec.allowedDestinations"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := mustNew(t, c.spec).Destination(c.target, c.ns)
			if (err == nil) != c.ok {
				t.Fatalf("Destination(%s, %q) = %v, want ok=%v", c.target.Name, c.ns, err, c.ok)
			}
			if err != nil {
				r, isRefusal := err.(*Refusal)
				if !isRefusal || r.Rule != c.rule || !strings.Contains(err.Error(), "administrator") {
					t.Fatalf("refusal %#v does not name rule %s and the fix", err, c.rule)
				}
			}
		})
	}
}

func TestSource(t *testing.T) {
	cases := []struct {
		name string
		spec platformv1alpha1.ProjectSpec
		url  string
		ok   bool
	}{
		{"https by default", platformv1alpha1.ProjectSpec{}, "https://github.com/argoproj/argocd-example-apps.git", true},
		{"ssh by default", platformv1alpha1.ProjectSpec{}, "ssh://git@github.com/org/repo.git", true},
		{"scp-like ssh by default", platformv1alpha1.ProjectSpec{}, "git@github.com:org/repo.git", true},
		{"file:// refused", platformv1alpha1.ProjectSpec{}, "file:///var/lib/gantry/repo", false},
		{"FILE:// refused", platformv1alpha1.ProjectSpec{}, "FILE:///etc", false},
		{"absolute path refused", platformv1alpha1.ProjectSpec{}, "/srv/git/repo", false},
		{"relative path refused", platformv1alpha1.ProjectSpec{}, "../other-project", false},
		{"unknown transport refused", platformv1alpha1.ProjectSpec{}, "ext::sh -c touch% /tmp/pwned", false},
		{"a drive-letter-like path refused", platformv1alpha1.ProjectSpec{}, "c:repo", false},
		{"local allowed when enabled", platformv1alpha1.ProjectSpec{LocalRepositories: true}, "file:///srv/git/repo", true},
		{"allow-list match", platformv1alpha1.ProjectSpec{SourceRepos: []string{"https://github.com/acme/*"}}, "https://github.com/acme/shop.git", true},
		{"allow-list miss", platformv1alpha1.ProjectSpec{SourceRepos: []string{"https://github.com/acme/*"}}, "https://github.com/evil/shop.git", false},
		{"user part cannot fake the host", platformv1alpha1.ProjectSpec{SourceRepos: []string{"https://github.com*"}}, "https://github.com:x@evil.example/acme/shop.git", false},
		{"user part on an allowed host", platformv1alpha1.ProjectSpec{SourceRepos: []string{"https://github.com/acme/*"}}, "https://bot@github.com/acme/shop.git", true},
		{"negation wins", platformv1alpha1.ProjectSpec{SourceRepos: []string{"*", "!https://github.com/acme/secret*"}}, "https://github.com/acme/secret.git", false},
		{"star does not open local repositories", platformv1alpha1.ProjectSpec{SourceRepos: []string{"*"}}, "file:///etc", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := mustNew(t, c.spec).Source(c.url)
			if (err == nil) != c.ok {
				t.Fatalf("Source(%q) = %v, want ok=%v", c.url, err, c.ok)
			}
		})
	}
}

func TestObjects(t *testing.T) {
	crb := obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "pwn")
	crd := obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com")
	cm := obj("v1", "ConfigMap", "p-a", "web")
	cmSystem := obj("v1", "ConfigMap", "gantry-system", "gantry-rbac-cm")
	ownNS := obj("v1", "Namespace", "", "p-a")
	newNS := obj("v1", "Namespace", "", "web-1")
	privNS := obj("v1", "Namespace", "", "web-2")
	privNS.SetLabels(map[string]string{"pod-security.kubernetes.io/enforce": "privileged"})
	webhook := obj("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "", "x")
	secretInVC := obj("v1", "Secret", "default", "s")
	grants := platformv1alpha1.ProjectSpec{AllowedDestinations: []platformv1alpha1.ProjectDestination{{Server: HostServer, Namespace: "web-*"}}}

	cases := []struct {
		name   string
		spec   platformv1alpha1.ProjectSpec
		target Target
		objs   []*unstructured.Unstructured
		refuse []string // rules, in order; nil = allowed
	}{
		{"namespaced in the own namespace", platformv1alpha1.ProjectSpec{}, host, []*unstructured.Unstructured{cm}, nil},
		{"ClusterRoleBinding on the host", platformv1alpha1.ProjectSpec{}, host, []*unstructured.Unstructured{cm, crb}, []string{"spec.clusterResourceWhitelist"}},
		{"the whole set is checked", platformv1alpha1.ProjectSpec{}, host, []*unstructured.Unstructured{crb, cmSystem, webhook}, []string{"spec.clusterResourceWhitelist", "spec.allowedDestinations", "spec.clusterResourceWhitelist"}},
		{"anything in the own virtual cluster", platformv1alpha1.ProjectSpec{}, ownVC, []*unstructured.Unstructured{crb, crd, secretInVC}, nil},
		{"blacklist holds in the own virtual cluster", platformv1alpha1.ProjectSpec{ClusterResourceBlacklist: []metav1.GroupKind{{Group: "apiextensions.k8s.io", Kind: "*"}}}, ownVC, []*unstructured.Unstructured{crd}, []string{"spec.clusterResourceBlacklist"}},
		{"whitelist opens a kind on the host", platformv1alpha1.ProjectSpec{ClusterResourceWhitelist: []metav1.GroupKind{{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}}}, host, []*unstructured.Unstructured{crd}, nil},
		{"whitelist set applies to own clusters too", platformv1alpha1.ProjectSpec{ClusterResourceWhitelist: []metav1.GroupKind{{Group: "apiextensions.k8s.io", Kind: "*"}}}, ownVC, []*unstructured.Unstructured{crb}, []string{"spec.clusterResourceWhitelist"}},
		{"own namespace object", platformv1alpha1.ProjectSpec{}, host, []*unstructured.Unstructured{ownNS}, nil},
		{"a granted namespace may be created", grants, host, []*unstructured.Unstructured{newNS}, nil},
		{"an ungranted namespace may not", platformv1alpha1.ProjectSpec{}, host, []*unstructured.Unstructured{newNS}, []string{"spec.allowedDestinations"}},
		{"nor a privileged one", grants, host, []*unstructured.Unstructured{privNS}, []string{"spec.podSecurity"}},
		{"namespaced blacklist", platformv1alpha1.ProjectSpec{NamespaceResourceBlacklist: []metav1.GroupKind{{Group: "", Kind: "ConfigMap"}}}, host, []*unstructured.Unstructured{cm}, []string{"spec.namespaceResourceBlacklist"}},
		{"namespaced whitelist", platformv1alpha1.ProjectSpec{NamespaceResourceWhitelist: []metav1.GroupKind{{Group: "apps", Kind: "*"}}}, host, []*unstructured.Unstructured{cm}, []string{"spec.namespaceResourceWhitelist"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := mustNew(t, c.spec).Objects(c.target, c.objs)
			if c.refuse == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("allowed, want refusals %v", c.refuse)
			}
			var rules []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				rules = append(rules, e.(*Refusal).Rule)
			}
			if strings.Join(rules, ",") != strings.Join(c.refuse, ",") {
				t.Fatalf("refused by %v, want %v (%v)", rules, c.refuse, err)
			}
		})
	}
}

func TestInvalidGlobNamesTheField(t *testing.T) {
	_, err := New(&platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "a"},
		Spec: platformv1alpha1.ProjectSpec{SourceRepos: []string{"https://[x"}}})
	if err == nil || !strings.Contains(err.Error(), "spec.sourceRepos[0]") {
		t.Fatalf("err = %v, want it to name spec.sourceRepos[0]", err)
	}
}

func parse(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	o := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(y), &o.Object); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestWorkloadsMeetTheProjectsPodSecurityOnSharedClusters(t *testing.T) {
	hostPathDeployment := parse(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: root, namespace: p-a}
spec:
  selector: {matchLabels: {app: root}}
  template:
    metadata: {labels: {app: root}}
    spec:
      containers: [{name: c, image: busybox}]
      volumes: [{name: root, hostPath: {path: /}}]
`)
	privilegedCronJob := parse(t, `
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: p-a}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          hostPID: true
          restartPolicy: Never
          containers: [{name: c, image: busybox, securityContext: {privileged: true}}]
`)
	plain := parse(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: p-a}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
`)
	vc := obj("platform.gantry.dev/v1alpha1", "VirtualCluster", "p-a", "loose")
	p := mustNew(t, platformv1alpha1.ProjectSpec{})
	for _, o := range []*unstructured.Unstructured{hostPathDeployment, privilegedCronJob} {
		err := p.Object(host, o)
		if err == nil || err.(*Refusal).Rule != "spec.podSecurity" || !strings.Contains(err.Error(), "baseline") {
			t.Errorf("%s on the host: %v, want refused by spec.podSecurity", o.GetName(), err)
		}
		if err := p.Reaches(host, o); err != nil {
			t.Errorf("%s: Reaches = %v; a live workload stays the app's to prune", o.GetName(), err)
		}
		if err := p.Object(ownVC, o); err != nil {
			t.Errorf("%s in the project's own virtual cluster: %v; it enforces its own level", o.GetName(), err)
		}
	}
	if err := p.Object(host, plain); err != nil {
		t.Errorf("a baseline Deployment was refused: %v", err)
	}
	if err := mustNew(t, platformv1alpha1.ProjectSpec{PodSecurity: "restricted"}).Object(host, plain); err == nil {
		t.Error("a Deployment without a restricted securityContext passed a restricted project")
	}
	if err := mustNew(t, platformv1alpha1.ProjectSpec{PodSecurity: "privileged"}).Object(host, privilegedCronJob); err != nil {
		t.Errorf("a privileged project's CronJob was refused: %v", err)
	}
	// A VirtualCluster written by an app would skip the API's checks (its
	// pod security level, its storage): gantry's own kinds go through gantry.
	if err := p.Object(host, vc); err == nil || !strings.Contains(err.Error(), "gantry vcluster create") {
		t.Errorf("a VirtualCluster from an app: %v, want refused", err)
	}
}
