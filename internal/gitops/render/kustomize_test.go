package render

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"

	"gantry.dev/gantry/api/gitops/v1alpha1"
)

const deploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.25
`

const serviceYAML = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
`

// kustomizeRepo is a repository with a base, an overlay and a component.
func kustomizeRepo(t testing.TB) string {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"base/kustomization.yaml": "resources:\n- deployment.yaml\n- service.yaml\n",
		"base/deployment.yaml":    deploymentYAML,
		"base/service.yaml":       serviceYAML,
		"overlays/prod/kustomization.yaml": `resources:
- ../../base
namePrefix: prod-
commonLabels:
  env: prod
patches:
- patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
    spec:
      replicas: 3
`,
		"components/extra/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n- cm.yaml\n",
		"components/extra/cm.yaml":            configMap("extra"),
	})
	return root
}

func kustomizeRequest(root, path string, k *v1alpha1.ApplicationSourceKustomize) Request {
	return Request{
		Source:   v1alpha1.ApplicationSource{RepoURL: "https://git.example.com/app.git", Path: path, Kustomize: k},
		Dir:      root,
		Revision: "0123456789abcdef0123456789abcdef01234567",
	}
}

func TestKustomizeBaseAndOverlay(t *testing.T) {
	root := kustomizeRepo(t)
	r := New(Options{})

	res := mustRender(t, r, kustomizeRequest(root, "base", nil))
	if res.SourceType != SourceTypeKustomize {
		t.Errorf("SourceType = %s", res.SourceType)
	}
	if got := sortedIDs(res.Objects); !equalStrings(got, []string{"Deployment/web", "Service/web"}) {
		t.Errorf("base objects = %v", got)
	}
	// Legacy order, as `kustomize build`: the Service before the Deployment.
	if got := ids(res.Objects); got[0] != "Service/web" {
		t.Errorf("order = %v", got)
	}

	res = mustRender(t, r, kustomizeRequest(root, "overlays/prod", nil))
	d := find(t, res.Objects, "Deployment", "prod-web")
	if got := nested(t, d, "spec", "replicas"); got != int64(3) {
		t.Errorf("replicas = %v (%T)", got, got)
	}
	if got := nested(t, d, "spec", "selector", "matchLabels", "env"); got != "prod" {
		t.Errorf("selector env = %v", got)
	}
	// Namespaced objects without a namespace stay without one.
	if ns := d.GetNamespace(); ns != "" {
		t.Errorf("namespace = %q", ns)
	}
}

func TestKustomizeOverrides(t *testing.T) {
	tests := []struct {
		name  string
		path  string
		k     v1alpha1.ApplicationSourceKustomize
		check func(t *testing.T, res *Result)
	}{
		{"namePrefix replaces the kustomization's", "overlays/prod", v1alpha1.ApplicationSourceKustomize{NamePrefix: "x-"}, func(t *testing.T, res *Result) {
			find(t, res.Objects, "Deployment", "x-web")
		}},
		{"nameSuffix", "base", v1alpha1.ApplicationSourceKustomize{NameSuffix: "-v2"}, func(t *testing.T, res *Result) {
			find(t, res.Objects, "Service", "web-v2")
		}},
		{"image with new name and tag", "base", v1alpha1.ApplicationSourceKustomize{Images: []string{"nginx=registry.example.com/nginx:1.27"}}, func(t *testing.T, res *Result) {
			assertImage(t, res, "web", "registry.example.com/nginx:1.27")
		}},
		{"image tag", "base", v1alpha1.ApplicationSourceKustomize{Images: []string{"nginx:1.26"}}, func(t *testing.T, res *Result) {
			assertImage(t, res, "web", "nginx:1.26")
		}},
		{"image digest", "base", v1alpha1.ApplicationSourceKustomize{Images: []string{"nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000"}}, func(t *testing.T, res *Result) {
			assertImage(t, res, "web", "nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000")
		}},
		{"build variables in images and labels", "base", v1alpha1.ApplicationSourceKustomize{
			Images:       []string{"nginx:${ARGOCD_APP_REVISION_SHORT}"},
			CommonLabels: map[string]string{"rev": "$ARGOCD_APP_REVISION_SHORT_8", "cost": "$$5"},
		}, func(t *testing.T, res *Result) {
			assertImage(t, res, "web", "nginx:0123456")
			labels := find(t, res.Objects, "Deployment", "web").GetLabels()
			if labels["rev"] != "01234567" || labels["cost"] != "$5" {
				t.Errorf("labels = %v", labels)
			}
		}},
		{"commonLabels reach selectors", "base", v1alpha1.ApplicationSourceKustomize{CommonLabels: map[string]string{"team": "blue"}}, func(t *testing.T, res *Result) {
			d := find(t, res.Objects, "Deployment", "web")
			for _, path := range [][]string{
				{"metadata", "labels", "team"},
				{"spec", "selector", "matchLabels", "team"},
				{"spec", "template", "metadata", "labels", "team"},
			} {
				if got := nested(t, d, path...); got != "blue" {
					t.Errorf("%v = %v", path, got)
				}
			}
			if got := nested(t, find(t, res.Objects, "Service", "web"), "spec", "selector", "team"); got != "blue" {
				t.Errorf("service selector team = %v", got)
			}
		}},
		{"labelWithoutSelector keeps selectors as they are", "base", v1alpha1.ApplicationSourceKustomize{
			CommonLabels: map[string]string{"team": "blue"}, LabelWithoutSelector: true}, func(t *testing.T, res *Result) {
			d := find(t, res.Objects, "Deployment", "web")
			if got := nested(t, d, "metadata", "labels", "team"); got != "blue" {
				t.Errorf("metadata.labels.team = %v", got)
			}
			for _, path := range [][]string{{"spec", "selector", "matchLabels"}, {"spec", "template", "metadata", "labels"}} {
				if got, _ := nested(t, d, path...).(map[string]any)["team"]; got != nil {
					t.Errorf("%v has team=%v", path, got)
				}
			}
			if got, _ := nested(t, find(t, res.Objects, "Service", "web"), "spec", "selector").(map[string]any)["team"]; got != nil {
				t.Errorf("service selector has team=%v", got)
			}
		}},
		{"labelIncludeTemplates labels pod templates, not selectors", "base", v1alpha1.ApplicationSourceKustomize{
			CommonLabels: map[string]string{"team": "blue"}, LabelWithoutSelector: true, LabelIncludeTemplates: true}, func(t *testing.T, res *Result) {
			d := find(t, res.Objects, "Deployment", "web")
			if got := nested(t, d, "spec", "template", "metadata", "labels", "team"); got != "blue" {
				t.Errorf("template label team = %v", got)
			}
			if got, _ := nested(t, d, "spec", "selector", "matchLabels").(map[string]any)["team"]; got != nil {
				t.Errorf("selector has team=%v", got)
			}
		}},
		{"commonAnnotationsEnvsubst", "base", v1alpha1.ApplicationSourceKustomize{
			CommonAnnotations: map[string]string{"rev": "$ARGOCD_APP_REVISION_SHORT"}, CommonAnnotationsEnvsubst: true}, func(t *testing.T, res *Result) {
			if got := find(t, res.Objects, "Service", "web").GetAnnotations()["rev"]; got != "0123456" {
				t.Errorf("rev = %q", got)
			}
		}},
		{"commonAnnotations without envsubst are kept as written", "base", v1alpha1.ApplicationSourceKustomize{
			CommonAnnotations: map[string]string{"rev": "$ARGOCD_APP_REVISION_SHORT"}}, func(t *testing.T, res *Result) {
			if got := find(t, res.Objects, "Service", "web").GetAnnotations()["rev"]; got != "$ARGOCD_APP_REVISION_SHORT" {
				t.Errorf("rev = %q", got)
			}
		}},
		{"forceCommonLabels overrides the kustomization's", "overlays/prod", v1alpha1.ApplicationSourceKustomize{CommonLabels: map[string]string{"env": "staging"}, ForceCommonLabels: true}, func(t *testing.T, res *Result) {
			if got := find(t, res.Objects, "Deployment", "prod-web").GetLabels()["env"]; got != "staging" {
				t.Errorf("env = %q", got)
			}
		}},
		{"commonAnnotations", "base", v1alpha1.ApplicationSourceKustomize{CommonAnnotations: map[string]string{"owner": "team-blue"}}, func(t *testing.T, res *Result) {
			for _, o := range res.Objects {
				if got := o.GetAnnotations()["owner"]; got != "team-blue" {
					t.Errorf("%s: owner = %q", o.GetKind(), got)
				}
			}
		}},
		{"namespace", "base", v1alpha1.ApplicationSourceKustomize{Namespace: "shop"}, func(t *testing.T, res *Result) {
			for _, o := range res.Objects {
				if o.GetNamespace() != "shop" {
					t.Errorf("%s: namespace = %q", o.GetKind(), o.GetNamespace())
				}
			}
		}},
		{"replicas by name", "base", v1alpha1.ApplicationSourceKustomize{Replicas: []v1alpha1.KustomizeReplica{{Name: "web", Count: intstr.FromString("4")}}}, func(t *testing.T, res *Result) {
			if got := nested(t, find(t, res.Objects, "Deployment", "web"), "spec", "replicas"); got != int64(4) {
				t.Errorf("replicas = %v", got)
			}
		}},
		{"replicas replace the overlay's count", "overlays/prod", v1alpha1.ApplicationSourceKustomize{Replicas: []v1alpha1.KustomizeReplica{{Name: "web", Count: intstr.FromInt32(7)}}}, func(t *testing.T, res *Result) {
			if got := nested(t, find(t, res.Objects, "Deployment", "prod-web"), "spec", "replicas"); got != int64(7) {
				t.Errorf("replicas = %v", got)
			}
		}},
		{"patch with target", "base", v1alpha1.ApplicationSourceKustomize{Patches: []v1alpha1.KustomizePatch{{
			Target: &v1alpha1.KustomizeSelector{Kind: "Deployment", Name: "web"},
			Patch:  "- op: add\n  path: /metadata/labels/patched\n  value: \"yes\"\n",
		}}}, func(t *testing.T, res *Result) {
			if got := find(t, res.Objects, "Deployment", "web").GetLabels()["patched"]; got != "yes" {
				t.Errorf("patched = %q", got)
			}
			if _, ok := find(t, res.Objects, "Service", "web").GetLabels()["patched"]; ok {
				t.Error("the patch reached the Service")
			}
		}},
		{"patch added to the overlay's patches", "overlays/prod", v1alpha1.ApplicationSourceKustomize{Patches: []v1alpha1.KustomizePatch{{
			Target: &v1alpha1.KustomizeSelector{Kind: "Service"},
			Patch:  "- op: replace\n  path: /spec/ports/0/port\n  value: 8080\n",
		}}}, func(t *testing.T, res *Result) {
			if got := nested(t, find(t, res.Objects, "Service", "prod-web"), "spec", "ports"); got.([]any)[0].(map[string]any)["port"] != int64(8080) {
				t.Errorf("ports = %v", got)
			}
			if got := nested(t, find(t, res.Objects, "Deployment", "prod-web"), "spec", "replicas"); got != int64(3) {
				t.Errorf("the overlay's own patch was lost: replicas = %v", got)
			}
		}},
		{"components", "base", v1alpha1.ApplicationSourceKustomize{Components: []string{"../components/extra"}}, func(t *testing.T, res *Result) {
			find(t, res.Objects, "ConfigMap", "extra")
		}},
	}
	root := kustomizeRepo(t)
	before := hashTree(t, root)
	r := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := mustRender(t, r, kustomizeRequest(root, tt.path, &tt.k))
			tt.check(t, res)
		})
	}
	if after := hashTree(t, root); after != before {
		t.Error("rendering changed the checkout")
	}
}

func assertImage(t *testing.T, res *Result, deployment, want string) {
	t.Helper()
	containers := nested(t, find(t, res.Objects, "Deployment", deployment), "spec", "template", "spec", "containers").([]any)
	if got := containers[0].(map[string]any)["image"]; got != want {
		t.Errorf("image = %v, want %s", got, want)
	}
}

func TestKustomizeErrors(t *testing.T) {
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{
		"kustomization.yaml": "resources:\n- cm.yaml\n",
		"cm.yaml":            configMap("stolen"),
	})
	root := kustomizeRepo(t)
	rel, err := filepath.Rel(filepath.Join(root, "apps", "x"), outside)
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, root, map[string]string{
		"apps/missing/kustomization.yaml":    "resources:\n- deployment.yaml\n- nothere.yaml\n",
		"apps/missing/deployment.yaml":       deploymentYAML,
		"apps/remote/kustomization.yaml":     "resources:\n- https://github.com/example/app//deploy?ref=v1\n",
		"apps/remotefile/kustomization.yaml": "resources:\n- ../../base\npatches:\n- path: https://example.com/patch.yaml\n",
		"apps/x/kustomization.yaml":          "resources:\n- " + filepath.ToSlash(rel) + "\n",
		"apps/badyaml/kustomization.yaml":    "resources:\n- a.yaml\n",
		"apps/badyaml/a.yaml":                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n data: {}\n",
		"apps/empty/README.md":               "nothing here\n",
	})
	r := New(Options{})
	tests := []struct {
		name  string
		path  string
		k     *v1alpha1.ApplicationSourceKustomize
		wants []string
	}{
		{"missing resource", "apps/missing", nil, []string{"apps/missing/kustomization.yaml", `"nothere.yaml" does not exist`}},
		{"remote base", "apps/remote", nil, []string{"apps/remote/kustomization.yaml", "remote base"}},
		{"remote patch file", "apps/remotefile", nil, []string{"https://example.com/patch.yaml", "URL"}},
		{"base outside the repository", "apps/x", nil, []string{"apps/x/kustomization.yaml", "outside the repository"}},
		{"invalid resource YAML", "apps/badyaml", nil, []string{"kustomize build apps/badyaml", "a.yaml"}},
		{"no kustomization with an explicit block", "apps/empty", &v1alpha1.ApplicationSourceKustomize{}, []string{"apps/empty has no kustomization.yaml"}},
		{"label already set", "overlays/prod", &v1alpha1.ApplicationSourceKustomize{CommonLabels: map[string]string{"env": "dev"}}, []string{`label "env" is already set in overlays/prod/kustomization.yaml`, "forceCommonLabels"}},
		{"bad image", "base", &v1alpha1.ApplicationSourceKustomize{Images: []string{"nginx"}}, []string{`kustomize.images: "nginx"`}},
		{"bad replica count", "base", &v1alpha1.ApplicationSourceKustomize{Replicas: []v1alpha1.KustomizeReplica{{Name: "web", Count: intstr.FromString("many")}}}, []string{`count "many" is not a number`}},
		{"missing component", "base", &v1alpha1.ApplicationSourceKustomize{Components: []string{"../components/none"}}, []string{"components entry", "does not exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := renderErr(t, r, kustomizeRequest(root, tt.path, tt.k), tt.wants...)
			t.Log(err)
			if strings.Contains(err.Error(), root) {
				t.Errorf("the error shows where the checkout is: %v", err)
			}
		})
	}
}

// TestKustomizeConcurrent renders from many goroutines: krusty's global
// state must not be touched by two builds at once.
func TestKustomizeConcurrent(t *testing.T) {
	root := kustomizeRepo(t)
	r := New(Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := "base"
			if i%2 == 0 {
				path = "overlays/prod"
			}
			if _, err := r.Render(t.Context(), kustomizeRequest(root, path, &v1alpha1.ApplicationSourceKustomize{NamePrefix: "c-"})); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(root, "base", "kustomization.yaml")); err != nil {
		t.Fatal(err)
	}
}
