package crds

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	clienttesting "k8s.io/client-go/testing"

	crdmanifests "gantry.dev/gantry/config/crd"
)

var groups = []string{"platform.gantry.dev", "gitops.gantry.dev"}

func TestEmbeddedCRDs(t *testing.T) {
	ms, err := load(crdmanifests.FS)
	if err != nil {
		t.Fatal(err)
	}
	perFile := map[string]int{}
	for _, m := range ms {
		c := m.crd
		perFile[m.file]++
		if !slices.Contains(groups, c.Spec.Group) {
			t.Errorf("%s: group %q not one of %v", m.file, c.Spec.Group, groups)
		}
		if want := c.Spec.Names.Plural + "." + c.Spec.Group; c.Name != want {
			t.Errorf("%s: metadata.name %q, want %q", m.file, c.Name, want)
		}
		// controller-gen names files <group>_<plural>.yaml; a mismatch means
		// a stale file was left behind after a kind was renamed.
		if want := c.Spec.Group + "_" + c.Spec.Names.Plural + ".yaml"; m.file != want {
			t.Errorf("file %s holds CRD %s, want it in %s", m.file, c.Name, want)
		}
		if len(c.Spec.Versions) == 0 {
			t.Errorf("%s: no versions", c.Name)
		}
		storage := 0
		for _, v := range c.Spec.Versions {
			if v.Storage {
				storage++
			}
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				t.Errorf("%s %s: no schema", c.Name, v.Name)
			}
		}
		if storage != 1 {
			t.Errorf("%s: %d storage versions, want 1", c.Name, storage)
		}
	}
	for f, n := range perFile {
		if n != 1 {
			t.Errorf("%s: %d CRDs, want 1", f, n)
		}
	}
	files, err := fs.Glob(crdmanifests.FS, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(perFile) {
		t.Errorf("%d embedded files but %d hold a CRD", len(files), len(perFile))
	}
}

func TestVirtualClusterCRD(t *testing.T) {
	ms, err := load(crdmanifests.FS)
	if err != nil {
		t.Fatal(err)
	}
	var vc *apiextensionsv1.CustomResourceDefinition
	for _, m := range ms {
		if m.crd.Name == "virtualclusters.platform.gantry.dev" {
			vc = m.crd
		}
	}
	if vc == nil {
		t.Fatal("virtualclusters.platform.gantry.dev not embedded")
	}
	if vc.Spec.Scope != apiextensionsv1.NamespaceScoped {
		t.Errorf("scope %s, want Namespaced", vc.Spec.Scope)
	}
	if !slices.Contains(vc.Spec.Names.ShortNames, "vc") {
		t.Errorf("short names %v lack vc", vc.Spec.Names.ShortNames)
	}
	v := vc.Spec.Versions[0]
	if v.Subresources == nil || v.Subresources.Status == nil {
		t.Error("status subresource missing")
	}
	var cols []string
	for _, c := range v.AdditionalPrinterColumns {
		cols = append(cols, c.Name)
	}
	if !slices.Equal(cols, []string{"Phase", "Endpoint", "Age"}) {
		t.Errorf("printer columns %v", cols)
	}
}

func TestNames(t *testing.T) {
	names, err := Names()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(names) {
		t.Errorf("not sorted: %v", names)
	}
	if !slices.Contains(names, "virtualclusters.platform.gantry.dev") {
		t.Errorf("names %v lack virtualclusters.platform.gantry.dev", names)
	}
}

func TestLoadRejectsBadManifests(t *testing.T) {
	for name, body := range map[string]string{
		"unknown field": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: a.b}\nspec: {grup: b}\n",
		"wrong kind":    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
		"no name":       "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n",
		"empty":         "---\n# nothing\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := load(fstest.MapFS{"x.yaml": {Data: []byte(body)}}); err == nil {
				t.Error("want error")
			}
		})
	}
}

// establishOnWatch makes the fake client report the given condition on the
// CRD a watch (by name, as Install's) begins with, standing in for the API
// server's CRD controller.
func establishOnWatch(cs *fake.Clientset, cond apiextensionsv1.CustomResourceDefinitionCondition) {
	cs.PrependWatchReactor("customresourcedefinitions", func(a clienttesting.Action) (bool, watch.Interface, error) {
		name, ok := a.(clienttesting.WatchAction).GetWatchRestrictions().Fields.RequiresExactMatch("metadata.name")
		if !ok {
			return true, nil, errors.New("watch without a metadata.name field selector")
		}
		obj, err := cs.Tracker().Get(apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions"), "", name)
		if err != nil {
			return true, nil, err
		}
		c := obj.(*apiextensionsv1.CustomResourceDefinition).DeepCopy()
		c.Status.Conditions = append(c.Status.Conditions, cond)
		w := watch.NewRaceFreeFake()
		w.Add(c)
		return true, w, nil
	})
}

func TestInstallAppliesAndWaits(t *testing.T) {
	cs := fake.NewClientset()
	establishOnWatch(cs, apiextensionsv1.CustomResourceDefinitionCondition{
		Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := install(ctx, cs.ApiextensionsV1().CustomResourceDefinitions(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	names, err := Names()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		obj, err := cs.Tracker().Get(apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions"), "", n)
		if err != nil {
			t.Fatalf("%s not applied: %v", n, err)
		}
		var managers []string
		for _, f := range obj.(metav1.Object).GetManagedFields() {
			managers = append(managers, f.Manager)
		}
		if !slices.Contains(managers, FieldManager) {
			t.Errorf("%s: field managers %v lack %s", n, managers, FieldManager)
		}
	}
	// A second install must succeed too: apply is idempotent.
	if err := install(ctx, cs.ApiextensionsV1().CustomResourceDefinitions(), time.Millisecond); err != nil {
		t.Fatalf("second install: %v", err)
	}
}

func TestInstallFailsOnRejectedNames(t *testing.T) {
	cs := fake.NewClientset()
	establishOnWatch(cs, apiextensionsv1.CustomResourceDefinitionCondition{
		Type: apiextensionsv1.NamesAccepted, Status: apiextensionsv1.ConditionFalse,
		Reason: "NameConflict", Message: "vc is already in use",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := install(ctx, cs.ApiextensionsV1().CustomResourceDefinitions(), time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), ".gantry.dev: names not accepted") || !strings.Contains(err.Error(), "NameConflict") {
		t.Fatalf("want names-rejected error naming the CRD, got %v", err)
	}
	if ctx.Err() != nil {
		t.Error("should fail at once, not wait for the deadline")
	}
}

func TestInstallTimesOutNamingCRD(t *testing.T) {
	cs := fake.NewClientset() // never Established
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := install(ctx, cs.ApiextensionsV1().CustomResourceDefinitions(), time.Millisecond)
	// The first CRD waited for is named (which one depends on the embedded set).
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "CRD ") || !strings.Contains(err.Error(), ".gantry.dev") {
		t.Fatalf("want deadline error naming the CRD, got %v", err)
	}
}
