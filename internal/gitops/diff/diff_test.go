package diff

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func load(t *testing.T, file string) *unstructured.Unstructured {
	t.Helper()
	if file == "" {
		return nil
	}
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, u); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return u
}

// changedLines returns the removed and added lines of a unified diff, without
// their -/+ marks and without the ---/+++ header.
func changedLines(unified string) (removed, added []string) {
	for _, l := range strings.Split(unified, "\n") {
		switch {
		case strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "+++ "):
		case strings.HasPrefix(l, "-"):
			removed = append(removed, l[1:])
		case strings.HasPrefix(l, "+"):
			added = append(added, l[1:])
		}
	}
	return removed, added
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name           string
		desired, live  string // fixture files; "" is a missing object
		opts           Options
		modified       bool
		removed, added []string // exactly the changed lines of the unified diff
		notInOutput    []string // must appear in neither YAML output nor the diff
		predictedHas   []string // must appear in PredictedLive
	}{
		{
			name:    "server-defaulted fields, status and metadata are not differences",
			desired: "deployment.desired.yaml", live: "deployment.live.yaml",
		},
		{
			name:    "same with gantry's managed fields as the previous apply",
			desired: "deployment.desired.yaml", live: "deployment.live.yaml",
			opts: Options{FieldManager: "gantry"},
		},
		{
			name:    "replicas changed",
			desired: "deployment.desired-replicas3.yaml", live: "deployment.live.yaml",
			modified: true,
			removed:  []string{"  replicas: 2"},
			added:    []string{"  replicas: 3"},
		},
		{
			name:    "replicas changed but ignored by JSON pointer",
			desired: "deployment.desired-replicas3.yaml", live: "deployment.live.yaml",
			opts: Options{IgnoreDifferences: []string{"/spec/replicas"}},
		},
		{
			name:    "container image changed: containers matched by name, not position",
			desired: "deployment.desired-image.yaml", live: "deployment.live.yaml",
			modified: true,
			removed:  []string{"        image: nginx:1.27"},
			added:    []string{"        image: nginx:1.28"},
		},
		{
			name:    "int and float are the same number",
			desired: "deployment.desired-float.yaml", live: "deployment.live.yaml",
		},
		{
			name:    "replicas set by an HPA differ from git",
			desired: "deployment.desired.yaml", live: "deployment.live-hpa.yaml",
			modified: true,
			removed:  []string{"  replicas: 5"},
			added:    []string{"  replicas: 2"},
		},
		{
			name:    "a misspelt field shows instead of vanishing in the typed conversion",
			desired: "deployment.desired-typo.yaml", live: "deployment.live.yaml",
			modified: true,
			added:    []string{"  replica: 2"},
		},
		{
			name:    "replicas owned by an ignored manager",
			desired: "deployment.desired.yaml", live: "deployment.live-hpa.yaml",
			opts: Options{ManagedFieldsManagers: []string{"kube-controller-manager"}},
		},
		{
			name:    "env var removed from git, two-way: not known to be ours",
			desired: "deployment.desired-no-env.yaml", live: "deployment.live.yaml",
		},
		{
			name:    "env var removed from git, gantry applied it before",
			desired: "deployment.desired-no-env.yaml", live: "deployment.live.yaml",
			opts:     Options{FieldManager: "gantry"},
			modified: true,
			// env sorts first in the container, so the "- " moves to the image line
			removed: []string{"      - env:", "        - name: LOG_LEVEL", "          value: info", "        image: nginx:1.27"},
			added:   []string{"      - image: nginx:1.27"},
		},
		{
			name:    "container added by hand, two-way: the list in git is complete",
			desired: "deployment.desired.yaml", live: "deployment.live-extra-container.yaml",
			modified: true,
			removed: []string{
				"      - image: busybox:1.37",
				"        imagePullPolicy: IfNotPresent",
				"        name: debug",
				"        resources: {}",
				"        terminationMessagePath: /dev/termination-log",
				"        terminationMessagePolicy: File",
			},
		},
		{
			name:    "container added by hand, three-way: not gantry's, left alone",
			desired: "deployment.desired.yaml", live: "deployment.live-extra-container.yaml",
			opts: Options{FieldManager: "gantry"},
		},
		{
			name:    "missing from the cluster",
			desired: "deployment.desired.yaml", live: "",
			modified:     true,
			predictedHas: []string{"image: nginx:1.27", "cpu: \"1\""},
		},
		{
			name:    "in the cluster, not in git",
			desired: "", live: "deployment.live.yaml",
			modified: true,
		},
		{
			name:    "ConfigMap data changed, label removed since the last kubectl apply",
			desired: "configmap.desired.yaml", live: "configmap.live.yaml",
			modified:    true,
			removed:     []string{"  LOG_LEVEL: info", "  labels:", "    tier: backend"},
			added:       []string{"  LOG_LEVEL: debug"},
			notInOutput: []string{"last-applied-configuration"},
		},
		{
			name:    "ConfigMap equal; an annotation kubectl never applied is not ours",
			desired: "configmap.desired.yaml", live: "configmap.live-same.yaml",
		},
		{
			name:    "Secret stringData equals live data",
			desired: "secret.desired.yaml", live: "secret.live.yaml",
			notInOutput: []string{"s3cr3t", "czNjcjN0", "c2hvcA=="},
		},
		{
			name:    "Secret rotated: the diff shows which key, never the value",
			desired: "secret.desired-rotated.yaml", live: "secret.live.yaml",
			modified:    true,
			removed:     []string{"  password: ++++++++"},
			added:       []string{"  password: +++++++++"},
			notInOutput: []string{"s3cr3t", "czNjcjN0", "bjN3LXMzY3IzdA=="},
		},
		{
			name:    "Service: no targetPort in git, defaulted in live",
			desired: "service.desired.yaml", live: "service.live.yaml",
		},
		{
			name:    "custom resource: 3.0 is 3, 1000m is 1, 1Gi is 1024Mi, extra fields are defaults",
			desired: "widget.desired.yaml", live: "widget.live.yaml",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Diff(load(t, tc.desired), load(t, tc.live), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Modified != tc.modified {
				t.Fatalf("Modified = %v, want %v\n%s", res.Modified, tc.modified, res.Unified)
			}
			if !tc.modified {
				if res.Unified != "" || string(res.NormalizedLive) != string(res.PredictedLive) {
					t.Fatalf("not modified, yet the outputs differ:\n%s", res.Unified)
				}
			}
			if tc.desired == "" || tc.live == "" {
				checkOneSided(t, res, tc.live == "")
			} else if tc.modified {
				if !strings.HasPrefix(res.Unified, "--- live\n+++ desired\n@@ ") {
					t.Errorf("unified diff header:\n%s", res.Unified)
				}
				removed, added := changedLines(res.Unified)
				if !slices.Equal(removed, tc.removed) || !slices.Equal(added, tc.added) {
					t.Errorf("changed lines:\nremoved %q\nadded   %q\nwant\nremoved %q\nadded   %q\n%s",
						removed, added, tc.removed, tc.added, res.Unified)
				}
			}
			all := string(res.NormalizedLive) + string(res.PredictedLive) + res.Unified
			for _, s := range tc.notInOutput {
				if strings.Contains(all, s) {
					t.Errorf("output contains %q", s)
				}
			}
			for _, s := range tc.predictedHas {
				if !strings.Contains(string(res.PredictedLive), s) {
					t.Errorf("PredictedLive lacks %q:\n%s", s, res.PredictedLive)
				}
			}
		})
	}
}

// checkOneSided checks a diff where one side is missing: every line is added
// (missing live) or removed (missing desired), and the missing side is nil.
func checkOneSided(t *testing.T, res *Result, liveMissing bool) {
	t.Helper()
	removed, added := changedLines(res.Unified)
	if liveMissing {
		if res.NormalizedLive != nil || len(removed) != 0 || len(added) != strings.Count(string(res.PredictedLive), "\n") {
			t.Errorf("missing live: want only added lines, got %d removed, %d added\n%s", len(removed), len(added), res.Unified)
		}
		if strings.Contains(string(res.PredictedLive), "null") || strings.Contains(string(res.PredictedLive), "{}") {
			t.Errorf("predicted live of a missing object carries empty values:\n%s", res.PredictedLive)
		}
		return
	}
	if res.PredictedLive != nil || len(added) != 0 || len(removed) != strings.Count(string(res.NormalizedLive), "\n") {
		t.Errorf("missing desired: want only removed lines, got %d removed, %d added\n%s", len(removed), len(added), res.Unified)
	}
	if strings.Contains(string(res.NormalizedLive), "managedFields") || strings.Contains(string(res.NormalizedLive), "status:") {
		t.Errorf("normalized live keeps managedFields or status:\n%s", res.NormalizedLive)
	}
}

// TestNumbersByValue builds the objects in code, where the Go types of the
// numbers are certain: int64 from the API server, float64 from a JSON decoder.
func TestNumbersByValue(t *testing.T) {
	obj := func(replicas any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "example.com/v1", "kind": "Widget",
			"metadata": map[string]any{"name": "w"},
			"spec":     map[string]any{"replicas": replicas},
		}}
	}
	for _, tc := range []struct {
		desired, live any
		modified      bool
	}{
		{float64(1), int64(1), false},
		{int64(1), float64(1), false},
		{float64(1.5), int64(1), true},
		{"1", int64(1), true},
	} {
		res, err := Diff(obj(tc.desired), obj(tc.live), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Modified != tc.modified {
			t.Errorf("%T %v vs %T %v: Modified = %v", tc.desired, tc.desired, tc.live, tc.live, res.Modified)
		}
	}
}

func TestDiffBothNil(t *testing.T) {
	if _, err := Diff(nil, nil, Options{}); err == nil {
		t.Fatal("want an error")
	}
}

func TestRemovePointer(t *testing.T) {
	doc := func() map[string]any {
		return map[string]any{
			"metadata": map[string]any{"annotations": map[string]any{"example.com/a": "1", "b~c": "2"}},
			"spec": map[string]any{"containers": []any{
				map[string]any{"name": "a", "image": "x"},
				map[string]any{"name": "b", "image": "y"},
			}},
		}
	}
	tests := []struct {
		pointer string
		want    string
	}{
		{"/metadata/annotations/example.com~1a", `{"metadata":{"annotations":{"b~c":"2"}},"spec":{"containers":[{"image":"x","name":"a"},{"image":"y","name":"b"}]}}`},
		{"/metadata/annotations/b~0c", `{"metadata":{"annotations":{"example.com/a":"1"}},"spec":{"containers":[{"image":"x","name":"a"},{"image":"y","name":"b"}]}}`},
		{"/spec/containers/1/image", `{"metadata":{"annotations":{"b~c":"2","example.com/a":"1"}},"spec":{"containers":[{"image":"x","name":"a"},{"name":"b"}]}}`},
		{"/spec/containers/0", `{"metadata":{"annotations":{"b~c":"2","example.com/a":"1"}},"spec":{"containers":[{"image":"y","name":"b"}]}}`},
		{"/spec/containers/7/image", `{"metadata":{"annotations":{"b~c":"2","example.com/a":"1"}},"spec":{"containers":[{"image":"x","name":"a"},{"image":"y","name":"b"}]}}`},
		{"/spec/nothing/here", `{"metadata":{"annotations":{"b~c":"2","example.com/a":"1"}},"spec":{"containers":[{"image":"x","name":"a"},{"image":"y","name":"b"}]}}`},
	}
	for _, tc := range tests {
		got, err := yaml.Marshal(removePointer(doc(), tc.pointer))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := yaml.JSONToYAML([]byte(tc.want))
		if string(got) != string(want) {
			t.Errorf("%s:\ngot\n%s\nwant\n%s", tc.pointer, got, want)
		}
	}
}

func TestIgnoreRuleMatches(t *testing.T) {
	deploy := load(t, "deployment.live.yaml")
	svc := load(t, "service.live.yaml")
	tests := []struct {
		rule IgnoreRule
		obj  *unstructured.Unstructured
		want bool
	}{
		{IgnoreRule{Group: "apps", Kind: "Deployment"}, deploy, true},
		{IgnoreRule{Group: "apps", Kind: "Deployment", Name: "web", Namespace: "shop"}, deploy, true},
		{IgnoreRule{Group: "apps", Kind: "Deployment", Name: "api"}, deploy, false},
		{IgnoreRule{Group: "apps", Kind: "Deployment", Namespace: "other"}, deploy, false},
		{IgnoreRule{Kind: "Deployment"}, deploy, false}, // empty group is the core group
		{IgnoreRule{Kind: "Service"}, svc, true},
		{IgnoreRule{Group: "*", Kind: "*"}, deploy, true},
		{IgnoreRule{Group: "*", Kind: "*"}, svc, true},
		{IgnoreRule{Group: "apps", Kind: "Stateful*"}, deploy, false},
	}
	for _, tc := range tests {
		if got := tc.rule.Matches(tc.obj); got != tc.want {
			t.Errorf("%+v matches %s: %v, want %v", tc.rule, tc.obj.GetKind(), got, tc.want)
		}
	}
}

func TestOptionsFor(t *testing.T) {
	deploy := load(t, "deployment.live-hpa.yaml")
	rules := []IgnoreRule{
		{Group: "apps", Kind: "Deployment", JSONPointers: []string{"/spec/replicas"}},
		{Group: "apps", Kind: "Deployment", ManagedFieldsManagers: []string{"kube-controller-manager"}},
		{Kind: "Service", JSONPointers: []string{"/spec/clusterIP"}},
	}
	base := Options{FieldManager: "gantry", IgnoreDifferences: []string{"/metadata/labels"}}
	got := OptionsFor(base, rules, deploy)
	if !slices.Equal(got.IgnoreDifferences, []string{"/metadata/labels", "/spec/replicas"}) ||
		!slices.Equal(got.ManagedFieldsManagers, []string{"kube-controller-manager"}) || got.FieldManager != "gantry" {
		t.Fatalf("OptionsFor = %+v", got)
	}
	if len(base.IgnoreDifferences) != 1 {
		t.Fatal("OptionsFor changed its base")
	}
	res, err := Diff(load(t, "deployment.desired-replicas3.yaml"), deploy, got)
	if err != nil || res.Modified {
		t.Fatalf("with the matching rules: Modified = %v, err = %v\n%s", res.Modified, err, res.Unified)
	}
}

// The states shown next to a diff hide a Secret's values the same way:
// equal values one mask, different values another, stringData folded first.
func TestMaskSecrets(t *testing.T) {
	desired := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata":   map[string]any{"name": "s"},
		"stringData": map[string]any{"same": "kept", "changed": "new-password"}}}
	live := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "s", "annotations": map[string]any{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"same":"a2VwdA=="}}`}},
		"data":     map[string]any{"same": "a2VwdA==", "changed": "b2xkLXBhc3N3b3Jk"}}}
	d, l := MaskSecrets(desired, live)
	dd, ld := d.Object["data"].(map[string]any), l.Object["data"].(map[string]any)
	if dd["same"] != ld["same"] || dd["changed"] == ld["changed"] {
		t.Errorf("masks must keep equal values equal and different ones different: desired %v live %v", dd, ld)
	}
	for _, o := range []*unstructured.Unstructured{d, l} {
		b, _ := json.Marshal(o.Object)
		for _, secret := range []string{"kept", "new-password", "a2VwdA==", "b2xkLXBhc3N3b3Jk"} {
			if strings.Contains(string(b), secret) {
				t.Errorf("a masked Secret shows %q: %s", secret, b)
			}
		}
	}
	if _, ok := live.Object["data"].(map[string]any)["same"].(string); !ok || live.Object["data"].(map[string]any)["same"] != "a2VwdA==" {
		t.Error("MaskSecrets changed its argument")
	}
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]any{"k": "v"}}}
	if got, _ := MaskSecrets(cm, nil); got.Object["data"].(map[string]any)["k"] != "v" {
		t.Error("a ConfigMap was masked")
	}
}
