package appset

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/gitops/appset/generate"
)

// listSet is a list-generated set of the given elements (names) and extra
// spec lines (indented two spaces, under spec).
func listSet(names []string, destNS, extra string) string {
	var els strings.Builder
	for _, n := range names {
		els.WriteString("        - name: " + n + "\n")
	}
	return `
metadata:
  name: web
spec:
  generators:
    - list:
        elements:
` + els.String() + `  template:
    metadata:
      name: '{{name}}-web'
      labels:
        env: '{{name}}'
    spec:
      project: ""
      source:
        repoURL: https://example.com/web.git
        path: deploy
        targetRevision: main
      destination:
        server: https://kubernetes.default.svc
        namespace: '` + destNS + `'
` + extra
}

func TestListGenerator(t *testing.T) {
	f := newFixture(t)
	set := f.create(listSet([]string{"dev", "prod"}, "{{name}}", ""))
	if res := f.reconcile("web"); res.RequeueAfter != 0 {
		t.Errorf("a list generator needs no polling, got requeue after %v", res.RequeueAfter)
	}
	apps := f.apps()
	if got := f.appNames(); got != "dev-web,prod-web" {
		t.Fatalf("Applications = %s, want dev-web,prod-web", got)
	}
	dev := apps["dev-web"]
	if !metav1.IsControlledBy(dev, f.get("web")) {
		t.Errorf("dev-web has owner references %+v, want the ApplicationSet as controller", dev.OwnerReferences)
	}
	if dev.Labels[LabelApplicationSet] != "web" || dev.Labels["env"] != "dev" {
		t.Errorf("dev-web labels = %v", dev.Labels)
	}
	if dev.Spec.Destination.Namespace != "dev" || !controllerutil.ContainsFinalizer(dev, gitopsv1alpha1.ApplicationFinalizer) {
		t.Errorf("dev-web: destination %+v, finalizers %v", dev.Spec.Destination, dev.Finalizers)
	}
	got := f.get("web")
	for typ, want := range map[gitopsv1alpha1.ApplicationSetConditionType]string{
		gitopsv1alpha1.ApplicationSetConditionErrorOccurred:       "False/ApplicationSetUpToDate",
		gitopsv1alpha1.ApplicationSetConditionParametersGenerated: "True/ParametersGenerated",
		gitopsv1alpha1.ApplicationSetConditionResourcesUpToDate:   "True/ApplicationSetUpToDate",
	} {
		if c := condition(got, typ); string(c.Status)+"/"+c.Reason != want {
			t.Errorf("condition %s = %s/%s (%s), want %s", typ, c.Status, c.Reason, c.Message, want)
		}
	}

	// status.resources follows the Applications' sync status and health.
	dev.Status.Sync.Status = gitopsv1alpha1.SyncStatusSynced
	dev.Status.Health.Status = gitopsv1alpha1.HealthHealthy
	if err := f.env.Client.Status().Update(context.Background(), dev); err != nil {
		t.Fatal(err)
	}
	f.reconcile("web")
	got = f.get("web")
	if got.Status.ResourcesCount != 2 || len(got.Status.Resources) != 2 {
		t.Fatalf("status.resources = %+v", got.Status.Resources)
	}
	r0 := got.Status.Resources[0]
	if r0.Kind != "Application" || r0.Name != "dev-web" || r0.Status != gitopsv1alpha1.SyncStatusSynced ||
		r0.Health == nil || r0.Health.Status != gitopsv1alpha1.HealthHealthy {
		t.Errorf("status.resources[0] = %+v", r0)
	}

	// Idempotent: nothing is written again.
	rv := map[string]string{}
	for n, a := range f.apps() {
		rv[n] = a.ResourceVersion
	}
	setRV := f.get("web").ResourceVersion
	f.reconcile("web")
	for n, a := range f.apps() {
		if rv[n] != a.ResourceVersion {
			t.Errorf("a second reconcile wrote Application %s", n)
		}
	}
	if f.get("web").ResourceVersion != setRV {
		t.Errorf("a second reconcile wrote the ApplicationSet's status")
	}

	// An element removed: its Application is deleted (its resources
	// finalizer, which the Application controller honours, keeps it until
	// its resources are gone).
	f.update("web", listSet([]string{"dev"}, "{{name}}", ""))
	f.reconcile("web")
	if got := f.appNames(); got != "dev-web" {
		t.Errorf("after removing prod: Applications = %s, want dev-web", got)
	}
	if prod, ok := f.apps()["prod-web"]; ok && prod.DeletionTimestamp.IsZero() {
		t.Errorf("prod-web is not being deleted")
	}
	_ = set
}

func TestPreserveResourcesOnDeletion(t *testing.T) {
	f := newFixture(t)
	extra := "  syncPolicy:\n    preserveResourcesOnDeletion: true\n"
	f.create(listSet([]string{"a", "b"}, "{{name}}", extra))
	f.reconcile("web")
	b := f.apps()["b-web"]
	if b == nil || len(b.Finalizers) != 0 {
		t.Fatalf("b-web = %+v, want it without finalizers", b)
	}
	// A finalizer added by someone else (or an older template) is removed
	// before the delete, as Argo CD does, so the resources stay.
	controllerutil.AddFinalizer(b, gitopsv1alpha1.ApplicationFinalizer)
	if err := f.env.Client.Update(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	f.update("web", listSet([]string{"a"}, "{{name}}", extra))
	f.reconcile("web")
	if _, ok := f.apps()["b-web"]; ok {
		t.Errorf("b-web still exists: its resources finalizer should have been removed before the delete")
	}
}

func TestApplicationsSyncPolicies(t *testing.T) {
	for _, tc := range []struct {
		policy          string
		updated, delete bool
	}{
		{"create-only", false, false},
		{"create-update", true, false},
		{"create-delete", false, true},
		{"sync", true, true},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			f := newFixture(t)
			extra := "  syncPolicy:\n    preserveResourcesOnDeletion: true\n    applicationsSync: " + tc.policy + "\n"
			f.create(listSet([]string{"a", "b"}, "{{name}}", extra))
			f.reconcile("web")
			// b leaves, c arrives, and the template changes.
			f.update("web", listSet([]string{"a", "c"}, "{{name}}-v2", extra))
			f.reconcile("web")
			apps := f.apps()
			if apps["c-web"] == nil {
				t.Errorf("c-web was not created")
			}
			if ns := apps["a-web"].Spec.Destination.Namespace; (ns == "a-v2") != tc.updated {
				t.Errorf("a-web's destination namespace = %s; updated should be %v", ns, tc.updated)
			}
			if _, exists := apps["b-web"]; exists == tc.delete {
				t.Errorf("b-web exists = %v; deleted should be %v", exists, tc.delete)
			}
		})
	}
}

func TestGitBranchesWithVirtualCluster(t *testing.T) {
	f := newFixture(t)
	repo := newRepo(t)
	repo.commit("main")
	f.create(`
metadata:
  name: previews
spec:
  generators:
    - gitBranches:
        repoURL: ` + repo.url() + `
        branchMatch: '^feature/'
        requeueAfterSeconds: 60
  virtualCluster:
    name: 'pr-{{branchNormalized}}'
    labels:
      preview: 'true'
    sleepAfter: 30m
  template:
    metadata:
      name: '{{branchNormalized}}'
    spec:
      project: ""
      source:
        repoURL: ` + repo.url() + `
        path: deploy
        targetRevision: '{{branch}}'
      destination:
        name: '{{virtualCluster.clusterName}}'
        namespace: '{{branchNormalized}}'
`)
	if res := f.reconcile("previews"); res.RequeueAfter.Seconds() != 60 {
		t.Errorf("requeue after %v, want requeueAfterSeconds", res.RequeueAfter)
	}
	if len(f.apps())+len(f.vcs()) != 0 {
		t.Fatalf("no feature branch yet, but objects were created")
	}

	// A pushed branch (the webhook calls Refresh): its VirtualCluster first.
	repo.commit("feature/login")
	f.r.Refresh(repo.url())
	f.reconcile("previews")
	vc := f.vcs()["pr-feature-login"]
	if vc == nil {
		t.Fatalf("VirtualCluster pr-feature-login not created; have %v", f.vcs())
	}
	if vc.Labels["preview"] != "true" || vc.Labels[LabelApplicationSet] != "previews" || vc.Spec.Labels["preview"] != "true" ||
		vc.Spec.SleepAfter == nil || vc.Spec.SleepAfter.Minutes() != 30 || !metav1.IsControlledBy(vc, f.get("previews")) {
		t.Errorf("VirtualCluster = labels %v, spec.labels %v, sleepAfter %v, owners %+v", vc.Labels, vc.Spec.Labels, vc.Spec.SleepAfter, vc.OwnerReferences)
	}
	if len(f.apps()) != 0 {
		t.Fatalf("the Application was created before its VirtualCluster runs")
	}
	set := f.get("previews")
	if c := condition(set, gitopsv1alpha1.ApplicationSetConditionResourcesUpToDate); c.Status != "False" || c.Reason != ReasonWaitingForVirtualCluster {
		t.Errorf("ResourcesUpToDate = %+v, want False/%s", c, ReasonWaitingForVirtualCluster)
	}
	if c := condition(set, gitopsv1alpha1.ApplicationSetConditionErrorOccurred); c.Status != "False" {
		t.Errorf("ErrorOccurred = %+v", c)
	}
	if !hasResource(set, "Application", "feature-login", gitopsv1alpha1.HealthMissing) ||
		!hasResource(set, "VirtualCluster", "pr-feature-login", gitopsv1alpha1.HealthProgressing) {
		t.Errorf("status.resources = %+v", set.Status.Resources)
	}

	// The VirtualCluster runs (nothing runs control planes here: set it).
	vc.Status.Phase = platformv1alpha1.PhaseRunning
	if err := f.env.Client.Status().Update(context.Background(), vc); err != nil {
		t.Fatal(err)
	}
	f.reconcile("previews")
	app := f.apps()["feature-login"]
	if app == nil {
		t.Fatalf("the Application was not created once its VirtualCluster runs")
	}
	if d := app.Spec.Destination; d.Name != f.ns+"/pr-feature-login" || d.Namespace != "feature-login" {
		t.Errorf("destination = %+v, want name %s/pr-feature-login, namespace feature-login", d, f.ns)
	}
	if app.Spec.Source.TargetRevision != "feature/login" || app.Annotations[AnnotationVirtualCluster] != "pr-feature-login" {
		t.Errorf("Application = revision %s, annotations %v", app.Spec.Source.TargetRevision, app.Annotations)
	}
	set = f.get("previews")
	if c := condition(set, gitopsv1alpha1.ApplicationSetConditionResourcesUpToDate); c.Status != "True" {
		t.Errorf("ResourcesUpToDate = %+v", c)
	}
	if !hasResource(set, "VirtualCluster", "pr-feature-login", gitopsv1alpha1.HealthHealthy) {
		t.Errorf("status.resources = %+v", set.Status.Resources)
	}

	// The branch is deleted: the Application goes first; its VirtualCluster
	// stays until the Application is gone.
	repo.deleteBranch("feature/login")
	f.r.Refresh(repo.url())
	f.reconcile("previews")
	app = f.apps()["feature-login"]
	if app == nil || app.DeletionTimestamp.IsZero() {
		t.Fatalf("the Application is not being deleted: %+v", app)
	}
	if v := f.vcs()["pr-feature-login"]; v == nil || !v.DeletionTimestamp.IsZero() {
		t.Fatalf("the VirtualCluster went before its Application")
	}
	// The Application controller removes the finalizer once the resources are gone.
	controllerutil.RemoveFinalizer(app, gitopsv1alpha1.ApplicationFinalizer)
	if err := f.env.Client.Update(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	f.reconcile("previews")
	if v := f.vcs()["pr-feature-login"]; v != nil && v.DeletionTimestamp.IsZero() {
		t.Errorf("the VirtualCluster was not deleted after its Application")
	}
}

func hasResource(set *gitopsv1alpha1.ApplicationSet, kind, name string, health gitopsv1alpha1.HealthStatusCode) bool {
	for _, r := range set.Status.Resources {
		if r.Kind == kind && r.Name == name && r.Health != nil && r.Health.Status == health {
			return true
		}
	}
	return false
}

func TestBadInputChangesNothing(t *testing.T) {
	f := newFixture(t)
	good := listSet([]string{"a", "b"}, "{{name}}", "")
	f.create(good)
	f.reconcile("web")
	before := map[string]string{}
	for n, a := range f.apps() {
		before[n] = a.ResourceVersion
	}
	if len(before) != 2 {
		t.Fatalf("Applications = %v", before)
	}
	for _, tc := range []struct {
		name, spec, reason, msg string
		raw                     string // a merge patch instead of spec
	}{
		{name: "invalid name", spec: listSet([]string{"a", "Bad_Name"}, "{{name}}", ""),
			reason: gitopsv1alpha1.ApplicationSetReasonRenderTemplateParamsError, msg: "not a valid Application name"},
		{name: "duplicates", spec: strings.Replace(good, "'{{name}}-web'", "'same'", 1),
			reason: gitopsv1alpha1.ApplicationSetReasonApplicationValidationError, msg: "both render Application"},
		{name: "generator error", spec: `
metadata: {name: web}
spec:
  generators:
    - git:
        repoURL: file:///nonexistent/repo.git
        revision: main
        directories: [{path: '*'}]
  template:
    metadata: {name: '{{path.basename}}'}
    spec:
      project: ""
      destination: {server: 'https://kubernetes.default.svc', namespace: x}
      source: {repoURL: 'https://example.com/x.git', path: x}
`, reason: gitopsv1alpha1.ApplicationSetReasonApplicationParamsGenerationError, msg: "generators[0].git"},
		{name: "unsupported field", raw: `{"spec":{"strategy":{"type":"RollingSync"}}}`,
			reason: gitopsv1alpha1.ApplicationSetReasonApplicationValidationError, msg: "spec.strategy"},
		{name: "namespace", spec: strings.Replace(good, "    metadata:\n      name: '{{name}}-web'", "    metadata:\n      namespace: elsewhere\n      name: '{{name}}-web'", 1),
			reason: gitopsv1alpha1.ApplicationSetReasonApplicationValidationError, msg: "not in the ApplicationSet's namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.raw != "" {
				set := f.get("web")
				if err := f.env.Client.Patch(context.Background(), set, client.RawPatch(types.MergePatchType, []byte(tc.raw))); err != nil {
					t.Fatal(err)
				}
			} else {
				f.update("web", tc.spec)
			}
			f.reconcile("web")
			set := f.get("web")
			if c := condition(set, gitopsv1alpha1.ApplicationSetConditionErrorOccurred); c.Status != "True" || c.Reason != tc.reason || !strings.Contains(c.Message, tc.msg) {
				t.Errorf("ErrorOccurred = %s/%s %q, want True/%s containing %q", c.Status, c.Reason, c.Message, tc.reason, tc.msg)
			}
			if c := condition(set, gitopsv1alpha1.ApplicationSetConditionParametersGenerated); c.Status != "False" {
				t.Errorf("ParametersGenerated = %+v, want False", c)
			}
			after := f.apps()
			for n, rv := range before {
				if a := after[n]; a == nil || a.ResourceVersion != rv || !a.DeletionTimestamp.IsZero() {
					t.Errorf("Application %s changed", n)
				}
			}
			if len(after) != len(before) {
				t.Errorf("Applications = %d, want %d", len(after), len(before))
			}
			// Back to good input (the unsupported field removed too).
			if tc.raw != "" {
				set := f.get("web")
				if err := f.env.Client.Patch(context.Background(), set, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"strategy":null}}`))); err != nil {
					t.Fatal(err)
				}
			}
			f.update("web", good)
			f.reconcile("web")
			if c := condition(f.get("web"), gitopsv1alpha1.ApplicationSetConditionErrorOccurred); c.Status != "False" {
				t.Errorf("after fixing: ErrorOccurred = %+v", c)
			}
		})
	}
}

func TestGeneratorRefs(t *testing.T) {
	spec := &gitopsv1alpha1.ApplicationSetSpec{Generators: []gitopsv1alpha1.ApplicationSetGenerator{
		{List: &gitopsv1alpha1.ListGenerator{}},
		{Matrix: &gitopsv1alpha1.MatrixGenerator{Generators: []gitopsv1alpha1.ApplicationSetNestedGenerator{
			{GitBranches: &gitopsv1alpha1.GitBranchesGenerator{RepoURL: "https://example.com/a.git"}},
			{Merge: &gitopsv1alpha1.NestedMergeGenerator{Generators: []gitopsv1alpha1.ApplicationSetTerminalGenerator{
				{Clusters: &gitopsv1alpha1.ClusterGenerator{}},
				{Git: &gitopsv1alpha1.GitGenerator{RepoURL: "https://example.com/b.git"}},
			}}},
		}}},
	}}
	refs := generatorRefs(spec)
	var got []string
	for _, r := range refs {
		if r.clusters {
			got = append(got, "clusters")
		} else {
			got = append(got, r.repoURL)
		}
	}
	if strings.Join(got, " ") != "https://example.com/a.git clusters https://example.com/b.git" {
		t.Errorf("generatorRefs = %v", got)
	}
	if generate.RequeueAfter(spec) == 0 {
		t.Errorf("RequeueAfter = 0 for git generators")
	}
}

// An Application of the same name that the set does not own is left alone
// and reported; the other elements go on.
func TestForeignApplication(t *testing.T) {
	f := newFixture(t)
	foreign := &gitopsv1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "a-web", Namespace: f.ns},
		Spec: gitopsv1alpha1.ApplicationSpec{Project: "default",
			Source:      &gitopsv1alpha1.ApplicationSource{RepoURL: "https://example.com/other.git", Path: "."},
			Destination: gitopsv1alpha1.ApplicationDestination{Server: "https://kubernetes.default.svc", Namespace: "other"}}}
	if err := f.env.Client.Create(context.Background(), foreign); err != nil {
		t.Fatal(err)
	}
	f.create(listSet([]string{"a", "b"}, "{{name}}", ""))
	f.reconcile("web")
	apps := f.apps()
	if apps["b-web"] == nil || apps["a-web"].Spec.Destination.Namespace != "other" || len(apps["a-web"].OwnerReferences) != 0 {
		t.Errorf("a-web = %+v, b-web = %v", apps["a-web"], apps["b-web"])
	}
	set := f.get("web")
	if c := condition(set, gitopsv1alpha1.ApplicationSetConditionErrorOccurred); c.Status != "True" ||
		c.Reason != gitopsv1alpha1.ApplicationSetReasonCreateApplicationError || !strings.Contains(c.Message, "not owned") {
		t.Errorf("ErrorOccurred = %+v", c)
	}
	if c := condition(set, gitopsv1alpha1.ApplicationSetConditionParametersGenerated); c.Status != "True" {
		t.Errorf("ParametersGenerated = %+v", c)
	}
}

// A deleted set with VirtualClusters lets them go only after its
// Applications, whose resources finalizers need the cluster.
func TestDeleteSetWithVirtualCluster(t *testing.T) {
	f := newFixture(t)
	f.create(`
metadata: {name: preview}
spec:
  generators:
    - list: {elements: [{name: pr1}]}
  virtualCluster: {name: 'vc-{{name}}'}
  template:
    metadata: {name: '{{name}}-app'}
    spec:
      project: ""
      source: {repoURL: 'https://example.com/x.git', path: x}
      destination: {name: '{{virtualCluster.clusterName}}', namespace: x}
`)
	f.reconcile("preview")
	vc := f.vcs()["vc-pr1"]
	vc.Status.Phase = platformv1alpha1.PhaseRunning
	if err := f.env.Client.Status().Update(context.Background(), vc); err != nil {
		t.Fatal(err)
	}
	f.reconcile("preview")
	if f.apps()["pr1-app"] == nil {
		t.Fatal("no Application")
	}
	if err := f.env.Client.Delete(context.Background(), f.get("preview")); err != nil {
		t.Fatal(err)
	}
	f.reconcile("preview")
	app := f.apps()["pr1-app"]
	if app == nil || app.DeletionTimestamp.IsZero() {
		t.Fatalf("the Application is not being deleted: %+v", app)
	}
	if v := f.vcs()["vc-pr1"]; v == nil || !v.DeletionTimestamp.IsZero() {
		t.Fatal("the VirtualCluster went before its Application")
	}
	controllerutil.RemoveFinalizer(app, gitopsv1alpha1.ApplicationFinalizer)
	if err := f.env.Client.Update(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	f.reconcile("preview")
	if v := f.vcs()["vc-pr1"]; v != nil && v.DeletionTimestamp.IsZero() {
		t.Error("the VirtualCluster was not deleted after the Application")
	}
	set := &gitopsv1alpha1.ApplicationSet{}
	if err := f.env.Client.Get(context.Background(), types.NamespacedName{Namespace: f.ns, Name: "preview"}, set); err == nil {
		t.Errorf("the ApplicationSet is still there, finalizers %v", set.Finalizers)
	}
}
