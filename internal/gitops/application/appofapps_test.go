package application

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/gitops/tree"
)

// The app of apps pattern as Argo CD's own repositories hold it
// (argocd-example-apps' apps: a Helm chart whose templates are argoproj.io
// Applications in namespace argocd, project default): the Applications
// become gantry's, children of the app in its project.

// appsChart is a Helm chart shaped like argocd-example-apps' apps; values
// carry the repository's URL, known once the repository exists.
var appsChart = map[string]string{
	"apps/Chart.yaml": "apiVersion: v1\nappVersion: \"1.0\"\ndescription: Applications\nname: applications\nversion: 0.1.0\n",
	"apps/templates/web.yaml": `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
  namespace: argocd
  finalizers:
  - resources-finalizer.argocd.argoproj.io
spec:
  destination:
    namespace: {{ .Values.spec.destination.namespace }}
    server: {{ .Values.spec.destination.server }}
  project: default
  source:
    path: web
    repoURL: {{ .Values.spec.source.repoURL }}
    targetRevision: {{ .Values.spec.source.targetRevision }}
  syncPolicy:
    automated:
      prune: true
`,
	"apps/templates/worker.yaml": `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: worker
  namespace: argocd
  finalizers:
  - resources-finalizer.argocd.argoproj.io
spec:
  destination:
    namespace: argocd
    server: {{ .Values.spec.destination.server }}
  project: default
  source:
    path: worker
    repoURL: {{ .Values.spec.source.repoURL }}
    targetRevision: {{ .Values.spec.source.targetRevision }}
  syncPolicy:
    automated:
      prune: true
`,
	"web/cm.yaml":    configMapYAML("web", "1"),
	"worker/cm.yaml": configMapYAML("worker", "1"),
}

// appsValues is the chart's values.yaml for a repository and destination namespace.
func appsValues(repoURL, namespace string) string {
	return fmt.Sprintf("spec:\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: %s\n  source:\n    repoURL: %s\n    targetRevision: main\n", namespace, repoURL)
}

// appsPath points an app at the repository's apps chart.
func appsPath(a *gitopsv1alpha1.Application) { a.Spec.Source.Path = "apps" }

// childApp returns the app ns/name, or nil when there is none.
func (e *engine) childApp(ns, name string) *gitopsv1alpha1.Application {
	e.t.Helper()
	app := &gitopsv1alpha1.Application{}
	err := e.env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, app)
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		e.t.Fatal(err)
	}
	return app
}

// forgetChildren lets every app of ns go when the test ends: nothing runs the
// children's finalizers once the test stops reconciling them.
func (e *engine) forgetChildren(ns string) {
	e.t.Cleanup(func() {
		ctx := context.Background()
		var list gitopsv1alpha1.ApplicationList
		if err := e.env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return
		}
		for i := range list.Items {
			_ = e.update(client.ObjectKeyFromObject(&list.Items[i]), func(a *gitopsv1alpha1.Application) { a.Finalizers = nil })
			_ = e.env.Client.Delete(ctx, &list.Items[i])
		}
	})
}

func TestAppOfApps(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	project := strings.TrimPrefix(ns, "p-")
	e.forgetChildren(ns)
	repo := e.gitRepo(appsChart)
	repo.commit(map[string]string{"apps/values.yaml": appsValues(repo.URL, ns)})
	key := e.app(ns, "apps", repo.URL, ns, appsPath, withFinalizer(gitopsv1alpha1.ApplicationFinalizer))

	parent := e.reconcileUntil(key, "the app of apps synced", synced)
	if parent.Status.Health.Status != gitopsv1alpha1.HealthHealthy {
		t.Errorf("parent health %s, want Healthy", parent.Status.Health.Status)
	}
	for _, name := range []string{"web", "worker"} {
		child := e.childApp(ns, name)
		if child == nil {
			t.Fatalf("no Application %s in the project's namespace %s: %+v", name, ns, parent.Status.Conditions)
		}
		// The parent owns it: deleting the parent deletes it.
		if owner := metav1.GetControllerOf(child); owner == nil || owner.UID != parent.UID || owner.Kind != "Application" {
			t.Errorf("%s: controller %+v, want the app %s", name, owner, parent.Name)
		}
		if child.Spec.Project != project {
			t.Errorf("%s: project %q, want %q (project default maps to the parent's)", name, child.Spec.Project, project)
		}
		rs := resource(parent, "Application", name)
		if rs == nil || rs.Group != "gitops.gantry.dev" || rs.Namespace != ns || rs.Status != gitopsv1alpha1.SyncStatusSynced {
			t.Errorf("%s in the parent's resources: %+v, want gitops.gantry.dev Synced in %s", name, rs, ns)
		}
		// As in Argo CD v3.3, a child app's health is its own, not its parent's.
		if rs != nil && rs.Health != nil {
			t.Errorf("%s has health %+v in its parent's resources, want none", name, rs.Health)
		}
	}
	if d := e.childApp(ns, "worker").Spec.Destination.Namespace; d != ns {
		t.Errorf("worker's destination namespace %q, want %s (argocd is Argo CD's namespace: the project's)", d, ns)
	}

	// Each child syncs as any app of the project.
	for _, name := range []string{"web", "worker"} {
		ck := types.NamespacedName{Namespace: ns, Name: name}
		child := e.reconcileUntil(ck, name+" synced and healthy", func(a *gitopsv1alpha1.Application) bool {
			return synced(a) && a.Status.Health.Status == gitopsv1alpha1.HealthHealthy
		})
		if !e.configMapExists(ns, name) {
			t.Errorf("%s synced (%+v) without its ConfigMap", name, child.Status.Conditions)
		}
	}
	if parent = e.reconcile(key, 3); !synced(parent) || parent.Status.Health.Status != gitopsv1alpha1.HealthHealthy {
		t.Errorf("parent after its children synced: %s/%s", parent.Status.Sync.Status, parent.Status.Health.Status)
	}

	// The children are nodes of the parent's tree, readable through its destination.
	v, err := e.r.ResourceTree(context.Background(), parent)
	if err != nil {
		t.Fatal(err)
	}
	var tr tree.Tree
	b, _ := json.Marshal(v)
	_ = json.Unmarshal(b, &tr)
	var nodes []string
	for _, n := range tr.Nodes {
		nodes = append(nodes, n.Group+"/"+n.Kind+"/"+n.Name)
	}
	if !strings.Contains(strings.Join(nodes, " "), "gitops.gantry.dev/Application/web") {
		t.Errorf("tree %v lacks the child web", nodes)
	}

	// A child changed by hand is drift, as any resource: OutOfSync, and a
	// sync sets it back to Git.
	if err := e.update(types.NamespacedName{Namespace: ns, Name: "web"}, func(a *gitopsv1alpha1.Application) {
		a.Spec.Source.Path = "elsewhere"
	}); err != nil {
		t.Fatal(err)
	}
	e.refresh(key)
	parent = e.reconcileUntil(key, "the edited child OutOfSync", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Status == gitopsv1alpha1.SyncStatusOutOfSync
	})
	if rs := resource(parent, "Application", "web"); rs == nil || rs.Status != gitopsv1alpha1.SyncStatusOutOfSync {
		t.Errorf("the edited child in the parent's resources: %+v, want OutOfSync", rs)
	}
	e.operate(key, syncBy("alice"))
	e.reconcileUntil(key, "the edited child set back", func(a *gitopsv1alpha1.Application) bool {
		return finished(a) && synced(a) && e.childApp(ns, "web").Spec.Source.Path == "web"
	})

	// Out of Git, out of the project: pruned, and its own finalizer deletes its resources.
	second := repo.commit(map[string]string{"apps/templates/worker.yaml": ""})
	e.refresh(key)
	e.reconcileUntil(key, "worker pruned", func(a *gitopsv1alpha1.Application) bool {
		r := resultFor(a, "Application", "worker")
		return a.Status.Sync.Revision == second && r != nil && r.Status == gitopsv1alpha1.ResultPruned
	})
	eventually(t, "worker and its ConfigMap gone", func() bool {
		return e.gone(types.NamespacedName{Namespace: ns, Name: "worker"}) && !e.configMapExists(ns, "worker")
	})
	if parent = e.reconcileUntil(key, "the parent synced without worker", synced); resource(parent, "Application", "worker") != nil {
		t.Error("a pruned child is still listed in the parent's resources")
	}

	// Deleting the parent (cascade) deletes its children, and theirs.
	e.deleteApp(key)
	eventually(t, "the parent, web and its ConfigMap gone", func() bool {
		e.gone(types.NamespacedName{Namespace: ns, Name: "web"})
		return e.gone(key) && e.childApp(ns, "web") == nil && !e.configMapExists(ns, "web")
	})
}

// otherProject makes a second project beside the test's, with its namespace.
func (e *engine) otherProject() (name, namespace string) {
	e.t.Helper()
	ctx := context.Background()
	mine := e.project(local)
	name = strings.TrimPrefix(mine, "p-") + "-x"
	p := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: local}
	if err := e.env.Client.Create(ctx, p); err != nil {
		e.t.Fatal(err)
	}
	namespace = "p-" + name
	if _, err := e.env.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = e.env.Client.Delete(ctx, p)
		_ = e.env.Kube.CoreV1().Namespaces().Delete(ctx, namespace, metav1.DeleteOptions{})
	})
	return name, mine
}

// A tenant's Git names another project, its namespace, or gantry's own: the
// children stay in the tenant's project, where its rules refuse the rest.
func TestAppOfAppsStaysInItsProject(t *testing.T) {
	e := newEngine(t)
	other, ns := e.otherProject()
	project := strings.TrimPrefix(ns, "p-")
	e.forgetChildren(ns)
	otherNS := "p-" + other
	app := func(name, namespace, proj, destNS string) string {
		return fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: %s, namespace: %s}
spec:
  project: %s
  source: {repoURL: {{ .Values.repoURL }}, path: web, targetRevision: main}
  destination: {server: https://kubernetes.default.svc, namespace: %s}
`, name, namespace, proj, destNS)
	}
	repo := e.gitRepo(map[string]string{
		"apps/Chart.yaml":              "apiVersion: v2\nname: apps\nversion: 0.1.0\n",
		"apps/templates/intruder.yaml": app("intruder", otherNS, other, otherNS),
		"apps/templates/system.yaml":   app("system", "argocd", "default", "gantry-system"),
		"apps/templates/appset.yaml": fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: set, namespace: %s}
spec:
  generators: [{list: {elements: [{env: dev}]}}]
  template:
    metadata: {name: 'set-{{"{{"}}env{{"}}"}}', namespace: %s}
    spec:
      project: %s
      source: {repoURL: {{ .Values.repoURL }}, path: web, targetRevision: main}
      destination: {server: https://kubernetes.default.svc, namespace: %s}
`, otherNS, otherNS, other, otherNS),
		"web/cm.yaml": configMapYAML("web", "1"),
	})
	repo.commit(map[string]string{"apps/values.yaml": "repoURL: " + repo.URL + "\n"})
	key := e.app(ns, "apps", repo.URL, ns, appsPath)
	parent := e.reconcileUntil(key, "the app of apps synced", synced)

	// Nothing reached the other project.
	var theirs gitopsv1alpha1.ApplicationList
	if err := e.env.Client.List(context.Background(), &theirs, client.InNamespace(otherNS)); err != nil || len(theirs.Items) != 0 {
		t.Fatalf("applications in the other project's namespace: %v %d", err, len(theirs.Items))
	}
	var sets gitopsv1alpha1.ApplicationSetList
	if err := e.env.Client.List(context.Background(), &sets, client.InNamespace(otherNS)); err != nil || len(sets.Items) != 0 {
		t.Fatalf("application sets in the other project's namespace: %v %d", err, len(sets.Items))
	}
	set := &gitopsv1alpha1.ApplicationSet{}
	if err := e.env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "set"}, set); err != nil {
		t.Fatalf("the ApplicationSet child: %v (%+v)", err, parent.Status.Conditions)
	}
	if set.Spec.Template.Spec.Project != project || set.Spec.Template.Namespace != "" {
		t.Errorf("the set's template: project %q namespace %q, want %q and none (its own)", set.Spec.Template.Spec.Project, set.Spec.Template.Namespace, project)
	}

	// The children are the tenant's, and their own rules refuse what they name.
	for name, refused := range map[string]string{"intruder": "namespace " + otherNS, "system": "namespace gantry-system"} {
		child := e.childApp(ns, name)
		if child == nil || child.Spec.Project != project {
			t.Fatalf("child %s: %+v, want it in project %s", name, child, project)
		}
		child = e.reconcile(types.NamespacedName{Namespace: ns, Name: name}, 3)
		if msg := conditionOf(child, gitopsv1alpha1.ConditionInvalidSpecError); !strings.Contains(msg, refused) || !strings.Contains(msg, "spec.allowedDestinations") {
			t.Errorf("child %s: InvalidSpecError %q, want %s refused", name, msg, refused)
		}
	}
	if e.configMapExists(otherNS, "web") || e.configMapExists("gantry-system", "web") {
		t.Error("a child deployed outside its project")
	}

	// Children are objects of the project's namespace: its rules may refuse
	// them, as an administrator who wants no sets made from Git would.
	p := &platformv1alpha1.Project{}
	if err := e.env.Client.Get(context.Background(), client.ObjectKey{Name: project}, p); err != nil {
		t.Fatal(err)
	}
	p.Spec.NamespaceResourceBlacklist = []metav1.GroupKind{{Group: "gitops.gantry.dev", Kind: "ApplicationSet"}}
	if err := e.env.Client.Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	parent = e.reconcile(key, 3)
	if msg := conditionOf(parent, gitopsv1alpha1.ConditionInvalidSpecError); !strings.Contains(msg, "ApplicationSet.gitops.gantry.dev "+ns+"/set") || !strings.Contains(msg, "spec.namespaceResourceBlacklist") {
		t.Errorf("InvalidSpecError %q, want the set refused by the blacklist", msg)
	}
}

// A child's name taken by an app the parent does not own (one made by hand,
// or the parent itself) refuses the parent's sync as a whole; the other app
// is left as it was.
func TestAppOfAppsNeverTakesAnotherApp(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	e.forgetChildren(ns)
	mine := e.app(ns, "web", e.repo(map[string]string{"deploy/cm.yaml": configMapYAML("mine", "1")}), ns, manual)
	before := e.childApp(ns, "web")

	child := func(name string) string {
		return fmt.Sprintf("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: %s, namespace: argocd}\n"+
			"spec: {project: default, source: {repoURL: https://git.example.com/x.git, path: x}, destination: {server: https://kubernetes.default.svc, namespace: argocd}}\n", name)
	}
	for _, tc := range []struct{ name, manifest, want string }{
		{"taken", child("web"), "made apart from this app"},
		{"itself", child("apps"), "an app cannot be its own child"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := e.repo(map[string]string{"deploy/cm.yaml": configMapYAML("parent-"+tc.name, "1"), "deploy/app.yaml": tc.manifest})
			key := e.app(ns, "apps", repo, ns)
			app := e.reconcile(key, 3)
			if msg := conditionOf(app, gitopsv1alpha1.ConditionComparisonError); !strings.Contains(msg, tc.want) {
				t.Errorf("ComparisonError %q, want %q", msg, tc.want)
			}
			if e.configMapExists(ns, "parent-"+tc.name) {
				t.Error("the parent applied its other objects although a child was refused")
			}
			e.deleteApp(key)
			eventually(t, "the parent gone", func() bool { return e.gone(key) })
		})
	}
	after := e.childApp(ns, "web")
	if after == nil || after.ResourceVersion != before.ResourceVersion || len(after.OwnerReferences) != 0 {
		t.Errorf("the app made by hand was changed: %+v", after)
	}
	_ = mine
}

// registerCluster registers the test's API server again as a virtual
// cluster of project (a cluster Secret, as the Registrar writes one): another
// destination to the engine, with clients and watches of its own.
func (e *engine) registerCluster(project, name string) string {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.env.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gantry-system"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		e.t.Fatal(err)
	}
	tls := e.env.Config.TLSClientConfig
	clusterName := "p-" + project + "/" + name
	sec, err := cluster.Secret("gantry-system", project+"-"+name, cluster.Cluster{Name: clusterName, Server: e.env.Config.Host, Project: project},
		cluster.Config{TLSClientConfig: cluster.TLSClientConfig{CAData: tls.CAData, CertData: tls.CertData, KeyData: tls.KeyData}}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.env.Kube.CoreV1().Secrets("gantry-system").Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = e.env.Kube.CoreV1().Secrets("gantry-system").Delete(ctx, sec.Name, metav1.DeleteOptions{}) })
	return clusterName
}

// An app of apps whose destination is a virtual cluster: its objects go
// there, its children to the host, in one sync, and go with it.
func TestAppOfAppsOnAVirtualCluster(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	project := strings.TrimPrefix(ns, "p-")
	e.forgetChildren(ns)
	dest := e.registerCluster(project, "dev")
	target := e.env.Namespace(t) // in the "virtual cluster"
	repo := e.repo(map[string]string{
		"deploy/cm.yaml": configMapYAML("outer", "1"),
		"deploy/app.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: inner, namespace: argocd}\n" +
			"spec: {project: default, source: {repoURL: https://git.example.com/x.git, path: x}, destination: {name: " + dest + ", namespace: " + target + "}}\n",
	})
	key := e.app(ns, "apps", repo, target, withFinalizer(gitopsv1alpha1.ApplicationFinalizer), func(a *gitopsv1alpha1.Application) {
		a.Spec.Destination = gitopsv1alpha1.ApplicationDestination{Name: dest, Namespace: target}
	})
	parent := e.reconcileUntil(key, "the app of apps synced", synced)
	child := e.childApp(ns, "inner")
	if child == nil || metav1.GetControllerOf(child) == nil || metav1.GetControllerOf(child).UID != parent.UID {
		t.Fatalf("the child on the host: %+v (%+v)", child, parent.Status.Conditions)
	}
	if !e.configMapExists(target, "outer") {
		t.Error("the parent's ConfigMap is not in its destination")
	}
	if rs := resource(parent, "Application", "inner"); rs == nil || rs.Namespace != ns {
		t.Errorf("the child in the parent's resources: %+v", rs)
	}
	// The API reads a child through the app's destination clients.
	dyn, mapper, err := e.r.Destination(context.Background(), parent)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mapper.RESTMapping(gitopsv1alpha1.GroupVersion.WithKind("Application").GroupKind())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(m.Resource).Namespace(ns).Get(context.Background(), "inner", metav1.GetOptions{}); err != nil {
		t.Errorf("reading the child through the destination: %v", err)
	}

	e.deleteApp(key)
	eventually(t, "the parent, its child and its ConfigMap gone", func() bool {
		return e.gone(key) && e.childApp(ns, "inner") == nil && !e.configMapExists(target, "outer")
	})
}
