package appapi

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/project"
)

// An app of apps owns its children (an ownerReference), so Kubernetes would
// delete them with it: without cascade they stay, orphaned, as Argo CD leaves
// them. (With cascade the engine deletes them: internal/gitops/application.)
func TestDeleteWithoutCascadeLeavesChildren(t *testing.T) {
	f := newFixture(t)
	ns := project.Namespace(f.A)
	parent := newApp(f.A, "parent")
	f.MustCreate(parent)
	child := newApp(f.A, "child")
	child.OwnerReferences = []metav1.OwnerReference{{APIVersion: gitopsv1alpha1.GroupVersion.String(), Kind: "Application",
		Name: parent.Name, UID: parent.UID, Controller: new(true)}}
	f.MustCreate(child)
	t.Cleanup(func() { _ = f.Direct.Delete(context.Background(), child) })

	f.Expect("root", "DELETE", Prefix+"/parent?cascade=false", nil, 200)
	f.Eventually("the parent gone and its child orphaned", func() bool {
		if err := f.Direct.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "parent"}, &gitopsv1alpha1.Application{}); err == nil {
			return false
		}
		got := &gitopsv1alpha1.Application{}
		return f.Direct.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "child"}, got) == nil && len(got.OwnerReferences) == 0
	})
}
