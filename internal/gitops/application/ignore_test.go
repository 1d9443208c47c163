package application

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

const webDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: %d
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: "nginx:%s"}]
`

// Fields named in ignoreDifferences (a JSON pointer, a jq path) are someone
// else's: a change to them is no drift for selfHeal to revert, and with
// RespectIgnoreDifferences a sync of a new commit leaves them as they are.
func TestIgnoredFieldsAreLeftAlone(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	repo := e.gitRepo(map[string]string{"deploy/web.yaml": fmt.Sprintf(webDeployment, 2, "1.27")})
	key := e.app(ns, "web", repo.URL, ns, selfHeal, func(a *gitopsv1alpha1.Application) {
		a.Spec.IgnoreDifferences = []gitopsv1alpha1.ResourceIgnoreDifferences{{Group: "apps", Kind: "Deployment",
			JSONPointers:      []string{"/spec/replicas"},
			JQPathExpressions: []string{`.spec.template.spec.containers[] | select(.name == "nginx") | .image`}}}
		a.Spec.SyncPolicy.SyncOptions = []string{"RespectIgnoreDifferences=true"}
	})
	e.reconcileUntil(key, "the app synced", synced)

	ctx := context.Background()
	hotfix := []byte(`{"spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:hotfix"}]}}}}`)
	if _, err := e.env.Kube.AppsV1().Deployments(ns).Patch(ctx, "web", types.StrategicMergePatchType, hotfix, metav1.PatchOptions{FieldManager: "hpa"}); err != nil {
		t.Fatal(err)
	}
	kept := func(when string) {
		t.Helper()
		d, err := e.env.Kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *d.Spec.Replicas != 1 || d.Spec.Template.Spec.Containers[0].Image != "nginx:hotfix" {
			t.Errorf("%s: replicas %d, image %s: want the live 1 and nginx:hotfix kept", when, *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image)
		}
	}
	// Once the engine sees the change (its diff, as `gantry app diff` shows
	// it, has the live hotfix) the Deployment is not modified, and more
	// comparisons start no sync.
	var item ResourceDiff
	eventually(t, "the change seen", func() bool {
		item = e.managed(key, "Deployment", "web")
		return strings.Contains(item.LiveState, "nginx:hotfix")
	})
	if item.Modified {
		t.Errorf("the diff calls a change of ignored fields a modification:\n%s", item.Diff)
	}
	app := e.reconcile(key, 5)
	if app.Status.Sync.Status != gitopsv1alpha1.SyncStatusSynced || len(app.Status.History) != 1 {
		t.Errorf("after a change to ignored fields: %s with %d syncs, want Synced and no new sync", app.Status.Sync.Status, len(app.Status.History))
	}
	kept("selfHeal")

	// A commit that changes something else (an annotation) is synced and
	// keeps the ignored fields as they are live.
	next := repo.commit(map[string]string{"deploy/web.yaml": strings.Replace(fmt.Sprintf(webDeployment, 2, "1.27"),
		"metadata: {name: web}", "metadata: {name: web, annotations: {team: web}}", 1)})
	e.refresh(key)
	e.reconcileUntil(key, "the commit synced", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.OperationState.SyncResult.Revision == next
	})
	d, err := e.env.Kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || d.Annotations["team"] != "web" {
		t.Fatalf("the commit's annotation was not applied: %v %v", err, d.Annotations)
	}
	kept("a sync with RespectIgnoreDifferences=true")
}

// managed returns the engine's diff of one resource of the app.
func (e *engine) managed(key types.NamespacedName, kind, name string) ResourceDiff {
	e.t.Helper()
	out, err := e.r.ManagedResources(context.Background(), e.get(key))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, d := range out.(map[string]any)["items"].([]ResourceDiff) {
		if d.Kind == kind && d.Name == name {
			return d
		}
	}
	e.t.Fatalf("no %s %s among the app's resources", kind, name)
	return ResourceDiff{}
}
