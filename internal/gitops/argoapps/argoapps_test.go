package argoapps

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func parse(t *testing.T, s string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(s), &obj.Object); err != nil {
		t.Fatal(err)
	}
	return obj
}

// argocd-example-apps' apps/templates/helm-guestbook.yaml, rendered.
const helmGuestbook = `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: helm-guestbook
  namespace: argocd
  finalizers: [resources-finalizer.argocd.argoproj.io]
spec:
  destination: {namespace: helm-guestbook, server: https://kubernetes.default.svc}
  project: default
  source: {path: helm-guestbook, repoURL: https://github.com/argoproj/argocd-example-apps, targetRevision: HEAD}
`

func TestIntoAnArgoCDApplication(t *testing.T) {
	in := parse(t, helmGuestbook)
	out, err := Into(in, "shop")
	if err != nil {
		t.Fatal(err)
	}
	want := parse(t, `apiVersion: gitops.gantry.dev/v1alpha1
kind: Application
metadata:
  name: helm-guestbook
  namespace: p-shop
  finalizers: [resources-finalizer.argocd.argoproj.io]
spec:
  destination: {namespace: helm-guestbook, server: https://kubernetes.default.svc}
  project: shop
  source: {path: helm-guestbook, repoURL: https://github.com/argoproj/argocd-example-apps, targetRevision: HEAD}
`)
	if !reflect.DeepEqual(out.Object, want.Object) {
		t.Errorf("got\n%v\nwant\n%v", out.Object, want.Object)
	}
	if in.GetNamespace() != "argocd" || in.GetAPIVersion() != "argoproj.io/v1alpha1" {
		t.Error("Into changed its input")
	}
}

func TestIntoContainsTheObjectInItsProject(t *testing.T) {
	for _, c := range []struct {
		name, manifest string
		// the destination namespace and project expected after the mapping
		wantDest, wantProject string
	}{
		{"another project named", `{apiVersion: argoproj.io/v1alpha1, kind: Application, metadata: {name: a, namespace: argocd},
			spec: {project: other, destination: {server: "https://kubernetes.default.svc", namespace: web}}}`, "web", "shop"},
		{"another project's namespace as its own", `{apiVersion: argoproj.io/v1alpha1, kind: Application, metadata: {name: a, namespace: p-other},
			spec: {project: other, destination: {server: "https://kubernetes.default.svc", namespace: p-other}}}`, "p-other", "shop"},
		{"Argo CD's namespace as destination (an app of apps)", `{apiVersion: argoproj.io/v1alpha1, kind: Application, metadata: {name: a, namespace: argocd},
			spec: {project: default, destination: {server: "https://kubernetes.default.svc/", namespace: argocd}}}`, "p-shop", "shop"},
		{"in-cluster by name", `{apiVersion: argoproj.io/v1alpha1, kind: Application, metadata: {name: a},
			spec: {destination: {name: in-cluster, namespace: argocd}}}`, "p-shop", "shop"},
		{"its own namespace as destination", `{apiVersion: argoproj.io/v1alpha1, kind: Application, metadata: {name: a, namespace: gitops},
			spec: {destination: {server: "https://kubernetes.default.svc", namespace: gitops}}}`, "p-shop", "shop"},
		{"argocd on another cluster stays", `{apiVersion: argoproj.io/v1alpha1, kind: Application, metadata: {name: a, namespace: argocd},
			spec: {destination: {name: p-shop/dev, namespace: argocd}}}`, "argocd", "shop"},
		{"gantry's own kind", `{apiVersion: gitops.gantry.dev/v1alpha1, kind: Application, metadata: {name: a, namespace: p-shop},
			spec: {project: shop, destination: {server: "https://kubernetes.default.svc", namespace: gantry-system}}}`, "gantry-system", "shop"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := Into(parse(t, c.manifest), "shop")
			if err != nil {
				t.Fatal(err)
			}
			dest, _, _ := unstructured.NestedString(out.Object, "spec", "destination", "namespace")
			proj, _, _ := unstructured.NestedString(out.Object, "spec", "project")
			if out.GetNamespace() != "p-shop" || dest != c.wantDest || proj != c.wantProject {
				t.Errorf("namespace %s, destination namespace %s, project %s; want p-shop, %s, %s", out.GetNamespace(), dest, proj, c.wantDest, c.wantProject)
			}
		})
	}
}

func TestIntoAnApplicationSet(t *testing.T) {
	out, err := Into(parse(t, `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: guestbook, namespace: argocd}
spec:
  generators: [{list: {elements: [{cluster: in-cluster}]}}]
  template:
    metadata: {name: '{{cluster}}-guestbook', namespace: argocd}
    spec:
      project: '{{project}}'
      source: {repoURL: https://github.com/argoproj/argocd-example-apps.git, path: guestbook}
      destination: {server: https://kubernetes.default.svc, namespace: argocd}
status: {conditions: [{type: ErrorOccurred}]}
`), "shop")
	if err != nil {
		t.Fatal(err)
	}
	proj, _, _ := unstructured.NestedString(out.Object, "spec", "template", "spec", "project")
	dest, _, _ := unstructured.NestedString(out.Object, "spec", "template", "spec", "destination", "namespace")
	_, hasNS, _ := unstructured.NestedString(out.Object, "spec", "template", "metadata", "namespace")
	tmplName, _, _ := unstructured.NestedString(out.Object, "spec", "template", "metadata", "name")
	if out.GetAPIVersion() != "gitops.gantry.dev/v1alpha1" || out.GetNamespace() != "p-shop" || proj != "shop" || dest != "p-shop" || hasNS || tmplName != "{{cluster}}-guestbook" {
		t.Errorf("got %v", out.Object)
	}
	if _, ok := out.Object["status"]; ok {
		t.Error("status was kept: it is the engine's, never a manifest's")
	}
}

func TestIntoRefusesWhatIsNotAnApp(t *testing.T) {
	for manifest, want := range map[string]string{
		`{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}`:                                               "not an Application or ApplicationSet",
		`{apiVersion: argoproj.io/v1beta1, kind: Application, metadata: {name: a}, spec: {}}`:                  "apiVersion argoproj.io/v1beta1 is not served",
		`{apiVersion: argoproj.io/v1alpha1, kind: Application, metadata: {generateName: a-}, spec: {}}`:        "has no metadata.name",
		`{apiVersion: argoproj.io/v1alpha1, kind: Application, metadata: {name: A_B}, spec: {}}`:               `metadata.name "A_B"`,
		`{apiVersion: argoproj.io/v1alpha1, kind: Application, metadata: {name: a}}`:                           "has no spec",
		`{apiVersion: argoproj.io/v1alpha1, kind: Application, metadata: {name: a}, spec: {destination: [x]}}`: "spec.destination",
	} {
		if _, err := Into(parse(t, manifest), "shop"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error mentioning %q", manifest, err, want)
		}
	}
}
