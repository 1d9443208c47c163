package appset

import (
	"strings"
	"testing"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

// A project member writes ApplicationSets; each test is one way to reach
// past the project, refused before anything is generated.

func refusedWith(t *testing.T, f *fixture, name, want string) {
	t.Helper()
	f.reconcile(name)
	if n := len(f.apps()); n != 0 {
		t.Errorf("%d Applications were generated, want none", n)
	}
	c := condition(f.get(name), gitopsv1alpha1.ApplicationSetConditionErrorOccurred)
	if c.Status != "True" || !strings.Contains(c.Message, want) || !strings.Contains(c.Message, "administrator") {
		t.Fatalf("ErrorOccurred = %s: %s\nwant True naming %q and how an administrator changes it", c.Status, c.Message, want)
	}
}

func TestSetGeneratingAHostDestinationIsRefused(t *testing.T) {
	f := newProjectFixture(t, platformv1alpha1.ProjectSpec{})
	// One element deploys to the project's own namespace (allowed), one to
	// gantry's: the whole set is refused, not the bad element alone.
	f.create(listSet([]string{f.ns, "gantry-system"}, "{{name}}", ""))
	refusedWith(t, f, "web", "namespace gantry-system")
}

func TestSetInAnotherProjectsClusterIsRefused(t *testing.T) {
	f := newProjectFixture(t, platformv1alpha1.ProjectSpec{})
	set := strings.Replace(listSet([]string{"dev"}, "default", ""), "server: https://kubernetes.default.svc", "name: p-other/v1", 1)
	f.create(set)
	f.reconcile("web")
	// p-other/v1 is not registered here, so the Application controller is
	// the one to refuse it; an unknown cluster is not a reason to stop here.
	// A set claiming another project is refused here, though:
	f.update("web", strings.Replace(listSet([]string{"dev"}, "p-x", ""), `project: ""`, "project: other", 1))
	f.reconcile("web")
	c := condition(f.get("web"), gitopsv1alpha1.ApplicationSetConditionErrorOccurred)
	if c.Status != "True" || !strings.Contains(c.Message, `spec.project "other"`) {
		t.Fatalf("ErrorOccurred = %s: %s, want the claimed project refused", c.Status, c.Message)
	}
}

func TestSetReadingALocalRepositoryIsRefused(t *testing.T) {
	f := newProjectFixture(t, platformv1alpha1.ProjectSpec{})
	r := newRepo(t)
	r.commit("main")
	f.create(`
metadata:
  name: web
spec:
  generators:
    - gitBranches:
        repoURL: ` + r.url() + `
  template:
    metadata:
      name: 'web-{{.branch}}'
    spec:
      source: {repoURL: https://example.com/web.git, path: deploy}
      destination: {server: https://kubernetes.default.svc, namespace: default}
`)
	refusedWith(t, f, "web", "gantry's own machine")
}

func TestSetOutsideAProjectNamespaceIsRefused(t *testing.T) {
	f := newFixture(t)
	f.ns = f.env.Namespace(t) // not p-<project>
	f.create(listSet([]string{"dev"}, "dev", ""))
	f.reconcile("web")
	if n := len(f.apps()); n != 0 {
		t.Errorf("%d Applications were generated, want none", n)
	}
	c := condition(f.get("web"), gitopsv1alpha1.ApplicationSetConditionErrorOccurred)
	if c.Status != "True" || !strings.Contains(c.Message, "live in their project's namespace") {
		t.Fatalf("ErrorOccurred = %s: %s", c.Status, c.Message)
	}
}

func TestSetWithinItsProjectIsGenerated(t *testing.T) {
	f := newProjectFixture(t, platformv1alpha1.ProjectSpec{
		AllowedDestinations: []platformv1alpha1.ProjectDestination{{Server: "https://kubernetes.default.svc", Namespace: "web-*"}}})
	f.create(listSet([]string{"dev", "prod"}, "web-{{name}}", ""))
	f.reconcile("web")
	if got := f.appNames(); got != "dev-web,prod-web" {
		t.Fatalf("Applications = %s, want dev-web,prod-web", got)
	}
	project := strings.TrimPrefix(f.ns, "p-")
	if p := f.apps()["dev-web"].Spec.Project; p != project {
		t.Errorf("generated app's spec.project = %q, want its project %q", p, project)
	}
}
