package diff

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Modified answers as Diff does, for the cases the controller meets: in sync,
// changed, missing live, to prune, and a change ignoreDifferences hides.
func TestModifiedAgreesWithDiff(t *testing.T) {
	obj := func(s string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(s), &u.Object); err != nil {
			t.Fatal(err)
		}
		return u
	}
	desired := obj("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: a}\nspec: {replicas: 2}\n")
	same := obj("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: a, uid: u1, resourceVersion: '5'}\nspec: {replicas: 2}\nstatus: {replicas: 2}\n")
	scaled := obj("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: a}\nspec: {replicas: 5}\n")
	ignoreReplicas := Options{IgnoreDifferences: []string{"/spec/replicas"}}
	for _, c := range []struct {
		name          string
		desired, live *unstructured.Unstructured
		opts          Options
		want          bool
	}{
		{"in sync", desired, same, Options{}, false},
		{"changed", desired, scaled, Options{}, true},
		{"missing", desired, nil, Options{}, true},
		{"to prune", nil, same, Options{}, true},
		{"ignored change", desired, scaled, ignoreReplicas, false},
	} {
		got, err := Modified(c.desired, c.live, c.opts)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		full, err := Diff(c.desired, c.live, c.opts)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got != c.want || full.Modified != c.want {
			t.Errorf("%s: Modified %v, Diff.Modified %v, want %v", c.name, got, full.Modified, c.want)
		}
	}
}
