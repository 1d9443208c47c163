package render

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"gantry.dev/gantry/api/gitops/v1alpha1"
)

// chartFiles is a chart named "web" with a CRD, a ConfigMap that shows
// the values and capabilities it was rendered with, a hook and a test hook.
func chartFiles(version string) map[string]string {
	return map[string]string{
		"Chart.yaml":       "apiVersion: v2\nname: web\nversion: " + version + "\n",
		"values.yaml":      "replicas: 1\nimage:\n  repository: nginx\n  tag: \"1.25\"\nfailTemplate: false\nlabels: {}\n",
		"values-prod.yaml": "replicas: 2\nimage:\n  tag: \"1.26\"\n",
		"crds/widgets.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`,
		"templates/_helpers.tpl": `{{- define "web.name" -}}{{ .Release.Name }}-web{{- end -}}`,
		"templates/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "web.name" . }}
  labels:
    {{- range $k, $v := .Values.labels }}
    {{ $k }}: {{ $v | quote }}
    {{- end }}
data:
  replicas: {{ .Values.replicas | quote }}
  replicasType: {{ kindOf .Values.replicas }}
  image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
  namespace: {{ .Release.Namespace }}
  kubeVersion: {{ .Capabilities.KubeVersion.Version }}
  hasWidgets: {{ .Capabilities.APIVersions.Has "example.com/v1" | quote }}
  {{- with .Values.extra }}
  extra: {{ . | quote }}
  {{- end }}
  {{- with .Values.fromRef }}
  fromRef: {{ . | quote }}
  {{- end }}
`,
		"templates/fail.yaml": `{{- if .Values.failTemplate }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ required "image.digest is required when failTemplate is set" .Values.image.digest }}
{{- end }}
`,
		"templates/hook.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-1"
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: busybox}]
`,
		"templates/tests/test.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations:
    helm.sh/hook: test
spec:
  containers: [{name: test, image: busybox}]
`,
	}
}

func helmRepo(t testing.TB) string {
	root := t.TempDir()
	files := map[string]string{}
	for name, content := range chartFiles("0.1.0") {
		files["charts/web/"+name] = content
	}
	files["envs/prod/values.yaml"] = "extra: from-repo-root\n"
	files["envs/shop/values.yaml"] = "extra: from-repo-root\n"
	writeFiles(t, root, files)
	return root
}

func helmRequest(root string, h *v1alpha1.ApplicationSourceHelm) Request {
	return Request{
		Source:      v1alpha1.ApplicationSource{RepoURL: "https://git.example.com/app.git", Path: "charts/web", Helm: h},
		Dir:         root,
		Revision:    "0123456789abcdef0123456789abcdef01234567",
		AppName:     "shop",
		Namespace:   "shop-ns",
		KubeVersion: "1.37.2",
	}
}

func configData(t *testing.T, res *Result, name string) map[string]any {
	t.Helper()
	return nested(t, find(t, res.Objects, "ConfigMap", name), "data").(map[string]any)
}

func TestHelmDefaults(t *testing.T) {
	root := helmRepo(t)
	// Detected by its Chart.yaml: no helm block.
	res := mustRender(t, New(Options{}), helmRequest(root, nil))
	if res.SourceType != SourceTypeHelm {
		t.Errorf("SourceType = %s", res.SourceType)
	}
	// CRDs first, then templates, then hooks (in Helm's order).
	got := ids(res.Objects)
	if len(got) != 4 || got[0] != "CustomResourceDefinition/widgets.example.com" || got[1] != "ConfigMap/shop-web" ||
		!equalStrings(sortedIDs(res.Objects[2:]), []string{"Job/shop-migrate", "Pod/shop-test"}) {
		t.Fatalf("objects = %v", got)
	}
	data := configData(t, res, "shop-web")
	for k, want := range map[string]any{
		"replicas": "1", "image": "nginx:1.25", "namespace": "shop-ns", "kubeVersion": "v1.37.2", "hasWidgets": "false",
	} {
		if data[k] != want {
			t.Errorf("data.%s = %v, want %v", k, data[k], want)
		}
	}
	// Hooks keep their annotations for the sync engine.
	if got := find(t, res.Objects, "Job", "shop-migrate").GetAnnotations()["helm.sh/hook"]; got != "pre-install,pre-upgrade" {
		t.Errorf("hook annotation = %q", got)
	}
	// Helm does not set namespaces on templates that do not.
	if ns := find(t, res.Objects, "ConfigMap", "shop-web").GetNamespace(); ns != "" {
		t.Errorf("namespace = %q", ns)
	}
}

func TestHelmValues(t *testing.T) {
	root := helmRepo(t)
	r := New(Options{})
	tests := []struct {
		name string
		h    v1alpha1.ApplicationSourceHelm
		want map[string]any
	}{
		{"values", v1alpha1.ApplicationSourceHelm{Values: "replicas: 5\nimage:\n  tag: \"2.0\"\n"},
			map[string]any{"replicas": "5", "image": "nginx:2.0"}},
		{"valuesObject wins over values", v1alpha1.ApplicationSourceHelm{
			Values:       "replicas: 5\nextra: from-values\n",
			ValuesObject: &runtime.RawExtension{Raw: []byte(`{"replicas": 6}`)},
		}, map[string]any{"replicas": "6", "extra": nil}},
		{"value files in order, then values", v1alpha1.ApplicationSourceHelm{
			ValueFiles: []string{"values-prod.yaml", "/envs/prod/values.yaml"},
			Values:     "image:\n  repository: registry.example.com/nginx\n",
		}, map[string]any{"replicas": "2", "image": "registry.example.com/nginx:1.26", "extra": "from-repo-root"}},
		{"parameters override values", v1alpha1.ApplicationSourceHelm{
			Values: "replicas: 5\n",
			Parameters: []v1alpha1.HelmParameter{
				{Name: "replicas", Value: "3"},
				{Name: "image.tag", Value: "1234", ForceString: true},
				{Name: "extra", Value: "a,b"},
				{Name: "labels.tier", Value: "front"},
			},
		}, map[string]any{"replicas": "3", "replicasType": "int64", "image": "nginx:1234", "extra": "a,b"}},
		{"build variables in parameters and value files", v1alpha1.ApplicationSourceHelm{
			ValueFiles: []string{"/envs/${ARGOCD_APP_NAME}/values.yaml"},
			Parameters: []v1alpha1.HelmParameter{{Name: "image.tag", Value: "$ARGOCD_APP_REVISION_SHORT"}},
		}, map[string]any{"image": "nginx:0123456", "extra": "from-repo-root"}},
		{"forceString keeps a number a string", v1alpha1.ApplicationSourceHelm{
			Parameters: []v1alpha1.HelmParameter{{Name: "replicas", Value: "3", ForceString: true}},
		}, map[string]any{"replicas": "3", "replicasType": "string"}},
		{"missing value files ignored when asked", v1alpha1.ApplicationSourceHelm{
			ValueFiles: []string{"values-prod.yaml", "values-none.yaml"}, IgnoreMissingValueFiles: true,
		}, map[string]any{"replicas": "2"}},
		{"kubeVersion and apiVersions", v1alpha1.ApplicationSourceHelm{
			KubeVersion: "1.30.0", APIVersions: []string{"example.com/v1"},
		}, map[string]any{"kubeVersion": "v1.30.0", "hasWidgets": "true"}},
		{"namespace", v1alpha1.ApplicationSourceHelm{Namespace: "other"}, map[string]any{"namespace": "other"}},
		{"fileParameters set a file's content, after parameters", v1alpha1.ApplicationSourceHelm{
			Parameters:     []v1alpha1.HelmParameter{{Name: "extra", Value: "from-parameter"}},
			FileParameters: []v1alpha1.HelmFileParameter{{Name: "extra", Path: "/envs/${ARGOCD_APP_NAME}/values.yaml"}},
		}, map[string]any{"extra": "extra: from-repo-root\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := mustRender(t, r, helmRequest(root, &tt.h))
			data := configData(t, res, "shop-web")
			for k, want := range tt.want {
				if data[k] != want {
					t.Errorf("data.%s = %v, want %v", k, data[k], want)
				}
			}
		})
	}
	// A parameter reaches nested maps.
	res := mustRender(t, r, helmRequest(root, &v1alpha1.ApplicationSourceHelm{Parameters: []v1alpha1.HelmParameter{{Name: "labels.tier", Value: "front"}}}))
	if got := find(t, res.Objects, "ConfigMap", "shop-web").GetLabels()["tier"]; got != "front" {
		t.Errorf("label tier = %q", got)
	}
}

func TestHelmOptions(t *testing.T) {
	root := helmRepo(t)
	before := hashTree(t, root)
	r := New(Options{})

	res := mustRender(t, r, helmRequest(root, &v1alpha1.ApplicationSourceHelm{ReleaseName: "store"}))
	find(t, res.Objects, "ConfigMap", "store-web")

	res = mustRender(t, r, helmRequest(root, &v1alpha1.ApplicationSourceHelm{SkipCrds: true, SkipTests: true}))
	if got := ids(res.Objects); !equalStrings(got, []string{"ConfigMap/shop-web", "Job/shop-migrate"}) {
		t.Errorf("objects = %v", got)
	}
	if hashTree(t, root) != before {
		t.Error("rendering changed the checkout")
	}
}

func TestHelmMultiSourceValueFile(t *testing.T) {
	chartRepo := helmRepo(t)
	valuesRepo := t.TempDir()
	writeFiles(t, valuesRepo, map[string]string{"shop/prod.yaml": "fromRef: values-repo\nreplicas: 9\n"})
	req := helmRequest(chartRepo, &v1alpha1.ApplicationSourceHelm{ValueFiles: []string{"values-prod.yaml", "$values/shop/prod.yaml"}})
	req.RefSources = map[string]RefSource{"values": {Dir: valuesRepo, Revision: "fedcba9876543210fedcba9876543210fedcba98"}}
	res := mustRender(t, New(Options{}), req)
	data := configData(t, res, "shop-web")
	if data["fromRef"] != "values-repo" || data["replicas"] != "9" || data["image"] != "nginx:1.26" {
		t.Errorf("data = %v", data)
	}
}

func TestHelmErrors(t *testing.T) {
	root := helmRepo(t)
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"values.yaml": "replicas: 100\n"})
	writeFiles(t, root, map[string]string{
		"charts/broken/Chart.yaml":          "apiVersion: v2\nname: broken\nversion: 0.1.0\n",
		"charts/broken/templates/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.name | nosuchfunc }}\n",
		"charts/needsdep/Chart.yaml":        "apiVersion: v2\nname: needsdep\nversion: 0.1.0\ndependencies:\n- name: redis\n  version: 1.x\n  repository: \"@bitnami\"\n",
		"charts/needsdep/templates/cm.yaml": configMap("x"),
	})
	escape, err := filepath.Rel(filepath.Join(root, "charts", "web"), filepath.Join(outside, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r := New(Options{})
	tests := []struct {
		name  string
		path  string
		h     v1alpha1.ApplicationSourceHelm
		refs  map[string]RefSource
		wants []string
	}{
		{"required value", "charts/web", v1alpha1.ApplicationSourceHelm{Values: "failTemplate: true\n"},
			nil, []string{"helm template of chart web", "web/templates/fail.yaml", "image.digest is required"}},
		{"unknown function", "charts/broken", v1alpha1.ApplicationSourceHelm{}, nil, []string{"broken/templates/cm.yaml", "nosuchfunc"}},
		{"missing value file", "charts/web", v1alpha1.ApplicationSourceHelm{ValueFiles: []string{"values-none.yaml"}},
			nil, []string{"helm.valueFiles: values-none.yaml does not exist"}},
		{"missing file parameter", "charts/web", v1alpha1.ApplicationSourceHelm{FileParameters: []v1alpha1.HelmFileParameter{{Name: "extra", Path: "none.txt"}}},
			nil, []string{"helm.fileParameters: extra", "none.txt"}},
		{"file parameter outside the repository", "charts/web", v1alpha1.ApplicationSourceHelm{FileParameters: []v1alpha1.HelmFileParameter{{Name: "extra", Path: escape}}},
			nil, []string{"helm.fileParameters: extra", "outside"}},
		{"value file outside the repository", "charts/web", v1alpha1.ApplicationSourceHelm{ValueFiles: []string{escape}},
			nil, []string{"outside the repository"}},
		{"remote value file", "charts/web", v1alpha1.ApplicationSourceHelm{ValueFiles: []string{"https://example.com/values.yaml"}},
			nil, []string{"remote value files are not supported"}},
		{"unknown ref", "charts/web", v1alpha1.ApplicationSourceHelm{ValueFiles: []string{"$config/values.yaml"}},
			nil, []string{`no source of this application has ref "config"`}},
		{"ref escaping its repository", "charts/web", v1alpha1.ApplicationSourceHelm{ValueFiles: []string{"$values/../x.yaml"}},
			map[string]RefSource{"values": {Dir: outside}}, []string{"outside the repository"}},
		{"invalid values", "charts/web", v1alpha1.ApplicationSourceHelm{Values: "replicas: [\n"}, nil, []string{"helm.values"}},
		{"undeclared dependency repository", "charts/needsdep", v1alpha1.ApplicationSourceHelm{}, nil,
			[]string{"dependency redis", "helm dependency build"}},
		{"bad release name", "charts/web", v1alpha1.ApplicationSourceHelm{ReleaseName: "Not_Valid"}, nil, []string{"Not_Valid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := helmRequest(root, &tt.h)
			req.Source.Path = tt.path
			req.RefSources = tt.refs
			t.Log(renderErr(t, r, req, tt.wants...))
		})
	}
}

func TestHelmStaysInRepository(t *testing.T) {
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"secret.txt": "s3cr3t"})
	root := helmRepo(t)
	if err := os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(root, "charts", "web", "secret.txt")); err != nil {
		t.Fatal(err)
	}
	renderErr(t, New(Options{}), helmRequest(root, nil), "charts/web/secret.txt leads outside the repository")
}

func TestHelmLocalFileDependency(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"charts/app/Chart.yaml":           "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: common\n  version: 0.1.0\n  repository: file://../common\n",
		"charts/app/templates/cm.yaml":    configMap("app"),
		"charts/common/Chart.yaml":        "apiVersion: v2\nname: common\nversion: 0.1.0\n",
		"charts/common/templates/cm.yaml": configMap("{{ .Release.Name }}-common"),
	})
	req := helmRequest(root, nil)
	req.Source.Path = "charts/app"
	res := mustRender(t, New(Options{}), req)
	if got := sortedIDs(res.Objects); !equalStrings(got, []string{"ConfigMap/app", "ConfigMap/shop-common"}) {
		t.Errorf("objects = %v", got)
	}
}

// skipSchemaValidation renders values that the chart's values.schema.json
// refuses, as helm template --skip-schema-validation does.
func TestHelmSkipSchemaValidation(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"charts/strict/Chart.yaml":         "apiVersion: v2\nname: strict\nversion: 0.1.0\n",
		"charts/strict/values.yaml":        "replicas: 1\n",
		"charts/strict/values.schema.json": `{"type": "object", "properties": {"replicas": {"type": "integer"}}}`,
		"charts/strict/templates/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: strict}\ndata: {replicas: {{ .Values.replicas | quote }}}\n",
	})
	req := helmRequest(root, &v1alpha1.ApplicationSourceHelm{Values: "replicas: many\n"})
	req.Source.Path = "charts/strict"
	r := New(Options{})
	renderErr(t, r, req, "replicas")
	req.Source.Helm.SkipSchemaValidation = true
	if got := configData(t, mustRender(t, r, req), "strict")["replicas"]; got != "many" {
		t.Errorf("replicas = %v, want many", got)
	}
}
