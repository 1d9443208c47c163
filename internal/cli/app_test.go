package cli

import (
	"reflect"
	"strings"
	"testing"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

func TestAppCreateHelmFlags(t *testing.T) {
	create, _, err := NewRoot().Find([]string{"app", "create"})
	if err != nil {
		t.Fatal(err)
	}
	// A comma belongs to the value, as with argocd app create.
	if err := create.ParseFlags([]string{"--helm-set", "tags=a,b", "--helm-set-string", "tag=1.0",
		"--helm-set-file", "config=files/app.conf"}); err != nil {
		t.Fatal(err)
	}
	get := func(name string) []string {
		v, err := create.Flags().GetStringArray(name)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	h, err := helmFromFlags(nil, get("helm-set"), get("helm-set-string"), get("helm-set-file"), "")
	if err != nil {
		t.Fatal(err)
	}
	want := &gitopsv1alpha1.ApplicationSourceHelm{
		Parameters:     []gitopsv1alpha1.HelmParameter{{Name: "tags", Value: "a,b"}, {Name: "tag", Value: "1.0", ForceString: true}},
		FileParameters: []gitopsv1alpha1.HelmFileParameter{{Name: "config", Path: "files/app.conf"}},
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("helm block\n got %+v\nwant %+v", h, want)
	}
	if h, err := helmFromFlags(nil, nil, nil, nil, ""); h != nil || err != nil {
		t.Errorf("no flags: %+v, %v; want no helm block", h, err)
	}
	for _, bad := range [][]string{{"novalue"}, {"=x"}} {
		if _, err := helmFromFlags(nil, bad, nil, nil, ""); err == nil || !strings.Contains(err.Error(), "--helm-set") {
			t.Errorf("--helm-set %v: %v", bad, err)
		}
	}
	if _, err := helmFromFlags(nil, nil, nil, []string{"config="}, ""); err == nil || !strings.Contains(err.Error(), "--helm-set-file") {
		t.Errorf("--helm-set-file without a path: %v", err)
	}
}
