package diff

import (
	"strings"
	"testing"
)

// An image bumped in git, ignored by a jq path for the web container only:
// no difference; the same path for the other container leaves it one.
func TestJQPathExpressions(t *testing.T) {
	desired, live := load(t, "deployment.desired-image.yaml"), load(t, "deployment.live.yaml")
	tests := []struct {
		name     string
		exprs    []string
		modified bool
	}{
		{"no rule", nil, true},
		{"the web container's image", []string{`.spec.template.spec.containers[] | select(.name == "web") | .image`}, false},
		{"another container's image", []string{`.spec.template.spec.containers[] | select(.name == "log-shipper") | .image`}, true},
		{"every container", []string{`.spec.template.spec.containers[].image`}, false},
		// Fails on this object (no initContainers to iterate): skipped, as Argo CD does.
		{"a path the object lacks", []string{`.spec.template.spec.initContainers[] | .image`}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			modified, err := Modified(desired, live, Options{FieldManager: "gantry", JQPathExpressions: tt.exprs})
			if err != nil {
				t.Fatal(err)
			}
			if modified != tt.modified {
				t.Errorf("modified = %v, want %v", modified, tt.modified)
			}
		})
	}
}

func TestJQInvalidExpressions(t *testing.T) {
	desired, live := load(t, "deployment.desired-image.yaml"), load(t, "deployment.live.yaml")
	for _, expr := range []string{
		`.spec.template.spec.containers[`,
		// closing the del( around it to run a query of its own
		`.spec) | .spec.replicas = 1 | del(.metadata`,
		`.spec | nosuchfunction`,
	} {
		if err := ValidateJQ(expr); err == nil || !strings.Contains(err.Error(), expr) {
			t.Errorf("%q: %v, want an error naming the expression", expr, err)
		}
		if _, err := Modified(desired, live, Options{JQPathExpressions: []string{expr}}); err == nil {
			t.Errorf("%q: compared without an error", expr)
		}
	}
}

// A jq expression cannot read gantry's environment.
func TestJQNoEnvironment(t *testing.T) {
	t.Setenv("GANTRY_JQ_SECRET", "hunter2")
	obj := map[string]any{"a": map[string]any{"b": "x"}}
	out, err := removeJQ(obj, `.a | select($ENV.GANTRY_JQ_SECRET == "hunter2" or env.GANTRY_JQ_SECRET == "hunter2") | .b`)
	if err != nil {
		t.Fatal(err)
	}
	if out["a"].(map[string]any)["b"] == nil {
		t.Error("the expression saw the environment")
	}
}

func TestRespectIgnored(t *testing.T) {
	desired, live := load(t, "deployment.desired-replicas3.yaml"), load(t, "deployment.live.yaml")
	image := func(obj map[string]any, container string) string {
		for _, c := range obj["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any) {
			if c.(map[string]any)["name"] == container {
				s, _ := c.(map[string]any)["image"].(string)
				return s
			}
		}
		return ""
	}
	t.Run("pointer takes live's value", func(t *testing.T) {
		out, err := RespectIgnored(desired, live, Options{IgnoreDifferences: []string{"/spec/replicas"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := out.Object["spec"].(map[string]any)["replicas"]; got != int64(2) {
			t.Errorf("replicas %v (%T), want live's 2", got, got)
		}
		if desired.Object["spec"].(map[string]any)["replicas"] != int64(3) {
			t.Error("desired itself was changed")
		}
		if m, _ := Modified(out, live, Options{FieldManager: "gantry"}); m {
			t.Error("applying the result would still change live")
		}
	})
	t.Run("pointer live lacks removes the field", func(t *testing.T) {
		out, err := RespectIgnored(desired, live, Options{IgnoreDifferences: []string{"/metadata/annotations/not-in-live"}})
		if err != nil {
			t.Fatal(err)
		}
		if out.Object["spec"].(map[string]any)["replicas"] != int64(3) {
			t.Error("a field no rule names changed")
		}
	})
	t.Run("jq path takes live's value", func(t *testing.T) {
		bumped := load(t, "deployment.desired-image.yaml")
		out, err := RespectIgnored(bumped, live, Options{JQPathExpressions: []string{
			`.spec.template.spec.containers[] | select(.name == "web") | .image`}})
		if err != nil {
			t.Fatal(err)
		}
		if got := image(out.Object, "web"); got != "nginx:1.27" {
			t.Errorf("web image %q, want live's nginx:1.27", got)
		}
		if got := image(out.Object, "log-shipper"); got != "fluent/fluent-bit:3.2" {
			t.Errorf("log-shipper image %q", got)
		}
		if _, isInt := out.Object["spec"].(map[string]any)["replicas"].(int64); !isInt {
			t.Errorf("replicas came back as %T, want int64", out.Object["spec"].(map[string]any)["replicas"])
		}
	})
	t.Run("no live object: desired as it is", func(t *testing.T) {
		out, err := RespectIgnored(desired, nil, Options{IgnoreDifferences: []string{"/spec/replicas"}})
		if err != nil || out != desired {
			t.Errorf("got %v, %v", out, err)
		}
	})
	t.Run("managed fields of a trusted manager leave desired", func(t *testing.T) {
		hpa := load(t, "deployment.live-hpa.yaml")
		out, err := RespectIgnored(desired, hpa, Options{ManagedFieldsManagers: []string{"kube-controller-manager"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, has := out.Object["spec"].(map[string]any)["replicas"]; has {
			t.Error("replicas, owned by the HPA's manager, is still applied")
		}
	})
}
