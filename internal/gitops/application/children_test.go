package application

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/livestate"
)

// A sync's clients send an app's children to the host and everything else
// to the destination, whatever the destination serves: two fake clusters,
// each holding one object, each answering only for its own.
func TestRoutedClientsSplitByGroup(t *testing.T) {
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "web", "namespace": "shop"}}}
	app := &unstructured.Unstructured{Object: map[string]any{"apiVersion": gitopsv1alpha1.GroupVersion.String(), "kind": "Application",
		"metadata": map[string]any{"name": "web", "namespace": "p-shop"}}}
	cmGVR := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	appGVR := gitopsv1alpha1.GroupVersion.WithResource("applications")
	lists := map[schema.GroupVersionResource]string{cmGVR: "ConfigMapList", appGVR: "ApplicationList"}
	mapper := func(gvks ...schema.GroupVersionKind) meta.ResettableRESTMapper {
		m := meta.NewDefaultRESTMapper(nil)
		for _, g := range gvks {
			m.Add(g, meta.RESTScopeNamespace)
		}
		return resettable{m}
	}
	dest := &livestate.Cluster{Dynamic: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), lists, cm),
		Mapper: mapper(cm.GroupVersionKind())}
	apps := &livestate.Cluster{Dynamic: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), lists, app),
		Mapper: mapper(app.GroupVersionKind())}

	dyn, m := routed(dest, apps)
	ctx := context.Background()
	for _, c := range []struct {
		obj *unstructured.Unstructured
		gvr schema.GroupVersionResource
	}{{cm, cmGVR}, {app, appGVR}} {
		mapping, err := m.RESTMapping(c.obj.GroupVersionKind().GroupKind(), c.obj.GroupVersionKind().Version)
		if err != nil || mapping.Resource != c.gvr {
			t.Fatalf("mapping of %s: %v %v", c.obj.GetKind(), mapping, err)
		}
		if _, err := dyn.Resource(c.gvr).Namespace(c.obj.GetNamespace()).Get(ctx, c.obj.GetName(), metav1.GetOptions{}); err != nil {
			t.Errorf("%s through the routed client: %v", c.obj.GetKind(), err)
		}
	}
	if dyn, m := routed(dest, nil); dyn != dest.Dynamic || m != dest.Mapper {
		t.Error("an app without children gets anything but its destination's clients")
	}
}

type resettable struct{ *meta.DefaultRESTMapper }

func (resettable) Reset() {}
