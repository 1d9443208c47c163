package application

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Marks on managed objects. The tracking id follows Argo CD's annotation
// tracking format under gantry's own key, so a real Argo CD, which reads
// argocd.argoproj.io/tracking-id, never mistakes gantry's objects for its own.
const (
	TrackingAnnotation = "gitops.gantry.dev/tracking-id"
	InstanceLabel      = "gitops.gantry.dev/app-instance"
	FieldManager       = "gantry"
	// NamespaceFieldManager applies managedNamespaceMetadata to the
	// destination namespace, apart from the app's own objects.
	NamespaceFieldManager = "gantry-namespace"
	// UserAgent marks the engine's requests; a virtual cluster does not count them
	// as activity, so apps do not keep it awake.
	UserAgent = "gantry/gitops"
)

// Argo CD annotations on Applications that gantry honours.
const (
	RefreshAnnotation = "argocd.argoproj.io/refresh" // "normal" or "hard"
)

// trackingID is Argo CD's annotation tracking id for obj managed by the app.
func trackingID(appNamespace, appName string, obj *unstructured.Unstructured) string {
	gvk := obj.GroupVersionKind()
	return fmt.Sprintf("%s_%s:%s/%s:%s/%s", appNamespace, appName, gvk.Group, gvk.Kind, obj.GetNamespace(), obj.GetName())
}

// resourceKey identifies a resource across desired and live states (no version:
// the same object may be served at several).
type resourceKey struct{ Group, Kind, Namespace, Name string }

func keyOf(obj *unstructured.Unstructured) resourceKey {
	gvk := obj.GroupVersionKind()
	return resourceKey{gvk.Group, gvk.Kind, obj.GetNamespace(), obj.GetName()}
}

func (k resourceKey) String() string {
	kind := k.Kind
	if k.Group != "" {
		kind = k.Group + "/" + k.Kind
	}
	if k.Namespace == "" {
		return kind + " " + k.Name
	}
	return kind + " " + k.Namespace + "/" + k.Name
}

// isHook reports whether obj is an Argo CD or Helm hook: run by syncs, never
// compared or pruned as part of the app's resources.
func isHook(obj *unstructured.Unstructured) bool {
	a := obj.GetAnnotations()
	if _, ok := a["argocd.argoproj.io/hook"]; ok {
		return true
	}
	_, ok := a["helm.sh/hook"]
	return ok
}

// syncWave is the argocd.argoproj.io/sync-wave annotation (default 0).
func syncWave(obj *unstructured.Unstructured) int64 {
	var w int64
	if v, ok := obj.GetAnnotations()["argocd.argoproj.io/sync-wave"]; ok {
		_, _ = fmt.Sscanf(v, "%d", &w)
	}
	return w
}
