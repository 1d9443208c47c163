package template

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

func TestReplaceFasttemplate(t *testing.T) {
	params := map[string]any{"name": "in-cluster", "path[0]": "apps", "metadata.labels.env": "prod", "n": 3}
	for in, want := range map[string]string{
		"{{name}}-guestbook":                    "in-cluster-guestbook",
		"{{ name }}/{{path[0]}}":                "in-cluster/apps",
		"{{metadata.labels.env}}":               "prod",
		"{{unknown}} and {{ n }} stay":          "{{unknown}} and {{ n }} stay", // unknown and non-string: left as is
		"no tags":                               "no tags",
		"{{}}":                                  "{{}}",
		"multi\nline {{name}}\n{{path[0]}} end": "multi\nline in-cluster\napps end",
	} {
		got, err := Replace(in, params, Options{})
		if err != nil || got != want {
			t.Errorf("Replace(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Replace("{{name}} {{oops", params, Options{}); err == nil || !strings.Contains(err.Error(), "without a closing }}") {
		t.Errorf("unclosed tag: %v", err)
	}
}

func TestReplaceGoTemplate(t *testing.T) {
	params := map[string]any{
		"name":     "My_Cluster",
		"path":     map[string]any{"path": "apps/web", "segments": []any{"apps", "web"}},
		"metadata": map[string]any{"labels": map[string]any{"kubernetes.io/env": "prod"}},
		"branch":   "feature/Some Long Branch Name",
		"values":   map[string]any{"a": "b"},
	}
	opts := Options{GoTemplate: true}
	for in, want := range map[string]string{
		"{{.path.path}}":                                 "apps/web",
		"{{index .path.segments 1}}":                     "web",
		`{{index .metadata.labels "kubernetes.io/env"}}`: "prod",
		"{{.name | normalize}}":                          "my-cluster",
		"{{.name | upper}}-{{.values.a | quote}}":        `MY_CLUSTER-"b"`,
		"{{ .values | toYaml }}":                         "a: b",
		`{{ (fromYaml "x: 1").x }}`:                      "1",
		"{{ slugify 12 .branch }}":                       "feature-some",
		"{{ slugify .branch }}":                          "feature-some-long-branch-name",
		"{{.missing}}":                                   "<no value>", // default: Argo CD's too
		"plain":                                          "plain",
	} {
		got, err := Replace(in, params, opts)
		if err != nil || got != want {
			t.Errorf("Replace(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	// env and expandenv are removed, as in Argo CD.
	for _, in := range []string{`{{env "HOME"}}`, `{{expandenv "$HOME"}}`, `{{getHostByName "example.com"}}`} {
		if _, err := Replace(in, params, opts); err == nil || !strings.Contains(err.Error(), "not defined") {
			t.Errorf("Replace(%q): %v, want function not defined", in, err)
		}
	}
	strict := Options{GoTemplate: true, GoTemplateOptions: []string{"missingkey=error"}}
	_, err := Replace("{{.path.basename}}", params, strict)
	if err == nil || !strings.Contains(err.Error(), `execute template "{{.path.basename}}": <.path.basename>: map has no entry for key "basename"`) {
		t.Errorf("missingkey=error: %v", err)
	}
	if _, err := Replace("{{.name}}", params, Options{GoTemplate: true, GoTemplateOptions: []string{"bogus"}}); err == nil || !strings.Contains(err.Error(), `"bogus" is not a text/template option`) {
		t.Errorf("bad option: %v", err)
	}
}

func TestNormalizeLabel(t *testing.T) {
	for in, want := range map[string]string{
		"feature/Login_Page": "feature-login-page",
		"main":               "main",
		"--Fix--":            "fix",
		"release/1.0":        "release-1-0",
		"ÄÖÜ/x":              "x",
	} {
		if got := NormalizeLabel(in); got != want {
			t.Errorf("NormalizeLabel(%q) = %q, want %q", in, got, want)
		}
	}
	long := "feature/" + strings.Repeat("abcdefghij", 8)
	got := NormalizeLabel(long)
	if len(got) != 63 || !strings.HasPrefix(got, "feature-abcdefghij") || got[54] != '-' {
		t.Errorf("NormalizeLabel(long) = %q (%d)", got, len(got))
	}
	if other := NormalizeLabel(long + "x"); other == got || other[:54] != got[:54] {
		t.Errorf("two long names with one prefix: %q and %q", got, other)
	}
	if got := NormalizeLabel("///"); len(got) != 8 {
		t.Errorf("NormalizeLabel(///) = %q, want 8 hex digits", got)
	}
	if got, want := Normalize("Directory_2.Sub"), "directory-2.sub"; got != want {
		t.Errorf("Normalize = %q, want %q", got, want)
	}
}

func set(t *testing.T, y string) *gitopsv1alpha1.ApplicationSet {
	t.Helper()
	s := &gitopsv1alpha1.ApplicationSet{}
	if err := yaml.UnmarshalStrict([]byte(y), s); err != nil {
		t.Fatalf("bad test ApplicationSet: %v", err)
	}
	s.Namespace = "p-team"
	return s
}

// Argo CD's cluster-generator template (Template.md), fasttemplate.
const clusterSet = `
spec:
  generators: [{clusters: {}}]
  template:
    metadata:
      name: '{{nameNormalized}}-guestbook'
      labels: {'env-{{metadata.labels.env}}': 'true', team: '{{ values.team }}'}
    spec:
      project: '{{project}}'
      source:
        repoURL: https://github.com/infra-team/cluster-deployments.git
        targetRevision: HEAD
        path: guestbook/{{nameNormalized}}
        helm:
          valuesObject: {cluster: '{{name}}', list: ['{{server}}', 3]}
      destination:
        server: '{{server}}'
        namespace: guestbook
`

func TestRenderApplication(t *testing.T) {
	s := set(t, clusterSet)
	params := map[string]any{"name": "Prod_EU", "nameNormalized": "prod-eu", "server": "https://prod.example.com",
		"project": "web", "metadata.labels.env": "prod", "values.team": "a"}
	r, err := Render(s, Element{Index: 0, Params: params})
	if err != nil {
		t.Fatal(err)
	}
	app := r.Application
	got, _ := yaml.Marshal(app)
	want := `apiVersion: gitops.gantry.dev/v1alpha1
kind: Application
metadata:
  finalizers:
  - resources-finalizer.argocd.argoproj.io
  labels:
    env-prod: "true"
    team: a
  name: prod-eu-guestbook
  namespace: p-team
spec:
  destination:
    namespace: guestbook
    server: https://prod.example.com
  project: web
  source:
    helm:
      valuesObject:
        cluster: Prod_EU
        list:
        - https://prod.example.com
        - 3
    path: guestbook/prod-eu
    repoURL: https://github.com/infra-team/cluster-deployments.git
    targetRevision: HEAD
status:
  health: {}
  summary: {}
  sync:
    comparedTo:
      destination: {}
    status: ""
`
	if string(got) != want {
		t.Errorf("rendered:\n%s\nwant:\n%s", got, want)
	}
	if r.VirtualCluster != nil {
		t.Errorf("virtual cluster without template: %+v", r.VirtualCluster)
	}

	// preserveResourcesOnDeletion: no finalizer; the template's own win; a
	// template namespace wins over the set's.
	s.Spec.SyncPolicy = &gitopsv1alpha1.ApplicationSetSyncPolicy{PreserveResourcesOnDeletion: true}
	s.Spec.Template.Namespace = "apps-{{values.team}}"
	r, err = Render(s, Element{Params: params})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Application.Finalizers) != 0 || r.Application.Namespace != "apps-a" {
		t.Errorf("finalizers %v namespace %s", r.Application.Finalizers, r.Application.Namespace)
	}
	s.Spec.Template.Finalizers = []string{gitopsv1alpha1.ApplicationBackgroundFinalizer}
	s.Spec.SyncPolicy = nil
	if r, err = Render(s, Element{Params: params}); err != nil || len(r.Application.Finalizers) != 1 || r.Application.Finalizers[0] != gitopsv1alpha1.ApplicationBackgroundFinalizer {
		t.Errorf("template finalizers: %v, %v", r, err)
	}
}

func TestRenderErrors(t *testing.T) {
	s := set(t, clusterSet)
	base := map[string]any{"name": "x", "nameNormalized": "x", "server": "https://x", "project": "p", "metadata.labels.env": "e", "values.team": "t"}
	with := func(k, v string) map[string]any {
		p := map[string]any{}
		for k, v := range base {
			p[k] = v
		}
		p[k] = v
		return p
	}
	cases := []struct {
		params map[string]any
		want   []string
	}{
		{with("nameNormalized", "Prod_EU"), []string{`element 4 (name=x, server=https://x, metadata.labels.env=e, nameNormalized=Prod_EU`,
			`metadata.name "Prod_EU-guestbook" is not a valid Application name`, "use a *Normalized parameter"}},
		{with("values.team", "not a label value!"), []string{`metadata.labels["team"]: value "not a label value!" is not valid`}},
		{with("metadata.labels.env", "a/b/c"), []string{`metadata.labels: key "env-a/b/c" is not valid`}},
	}
	for _, c := range cases {
		_, err := Render(s, Element{Index: 4, Params: c.params})
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("Render(%v): %v\nwant it to contain %q", c.params, err, w)
			}
		}
	}

	// goTemplate with missingkey=error: the message names the element, the
	// field and the missing key.
	g := set(t, `
spec:
  goTemplate: true
  goTemplateOptions: [missingkey=error]
  generators: [{list: {elements: []}}]
  template:
    metadata: {name: '{{.name}}'}
    spec:
      project: default
      destination: {server: https://kubernetes.default.svc, namespace: '{{.path.basename}}'}
`)
	_, err := Render(g, Element{Index: 1, Params: map[string]any{"name": "web"}})
	if err == nil || !strings.Contains(err.Error(), `element 1 (name=web): spec.destination.namespace: execute template "{{.path.basename}}": <.path.basename>: map has no entry for key "path"`) {
		t.Errorf("missingkey=error: %v", err)
	}
}

func TestDuplicates(t *testing.T) {
	s := set(t, clusterSet)
	s.Spec.Template.Labels = nil
	params := []map[string]any{
		{"name": "a", "nameNormalized": "prod", "server": "https://a", "project": "p"},
		{"name": "b", "nameNormalized": "staging", "server": "https://b", "project": "p"},
		{"name": "c", "nameNormalized": "prod", "server": "https://c", "project": "p"},
	}
	_, err := RenderAll(s, params)
	if err == nil || !strings.Contains(err.Error(), "element 0 (name=a, server=https://a, nameNormalized=prod, project=p) and element 2 (name=c, server=https://c, nameNormalized=prod, project=p) both render Application p-team/prod-guestbook") {
		t.Errorf("duplicates: %v", err)
	}
	rs, err := RenderAll(s, params[:2])
	if err != nil || len(rs) != 2 || rs[1].Element.Index != 1 || rs[1].Application.Name != "staging-guestbook" {
		t.Errorf("RenderAll: %v, %v", rs, err)
	}
	// Every failing element is reported.
	_, err = RenderAll(s, []map[string]any{{"nameNormalized": "A"}, {"nameNormalized": "B"}})
	if err == nil || !strings.Contains(err.Error(), `"A-guestbook"`) || !strings.Contains(err.Error(), `"B-guestbook"`) {
		t.Errorf("all errors: %v", err)
	}
}

// A preview environment per branch: a VirtualCluster per branch, the
// Application deploying into it, two apps sharing one cluster.
func TestRenderVirtualCluster(t *testing.T) {
	s := set(t, `
spec:
  generators: [{gitBranches: {repoURL: https://example.com/app.git}}]
  virtualCluster:
    name: 'pr-{{branchNormalized}}'
    labels: {preview: 'true', branch: '{{branchNormalized}}'}
    sleepAfter: '{{values.sleep}}'
  template:
    metadata: {name: '{{app}}-{{branchNormalized}}'}
    spec:
      project: default
      source: {repoURL: https://example.com/app.git, targetRevision: '{{sha}}', path: '{{app}}'}
      destination: {name: '{{virtualCluster.clusterName}}', namespace: '{{app}}'}
`)
	el := func(i int, app, branch, sleep string) map[string]any {
		return map[string]any{"app": app, "branch": branch, "branchNormalized": NormalizeLabel(branch), "sha": "abc", "values.sleep": sleep}
	}
	rs, err := RenderAll(s, []map[string]any{el(0, "web", "feature/Login_Page", "30m"), el(1, "api", "feature/Login_Page", "30m")})
	if err != nil {
		t.Fatal(err)
	}
	vc := rs[0].VirtualCluster
	if vc.Name != "pr-feature-login-page" || vc.SleepAfter != "30m" || vc.Labels["branch"] != "feature-login-page" || vc.Labels["preview"] != "true" {
		t.Errorf("virtual cluster %+v", vc)
	}
	if d := rs[1].Application.Spec.Destination; d.Name != "p-team/pr-feature-login-page" || d.Namespace != "api" || rs[1].Application.Name != "api-feature-login-page" {
		t.Errorf("application %s → %+v", rs[1].Application.Name, d)
	}

	// Sharing a cluster with different settings is refused.
	_, err = RenderAll(s, []map[string]any{el(0, "web", "f", "30m"), el(1, "api", "f", "1h")})
	if err == nil || !strings.Contains(err.Error(), "render VirtualCluster pr-f differently") {
		t.Errorf("conflicting virtual clusters: %v", err)
	}
	// Bad names and durations.
	_, err = Render(s, Element{Index: 3, Params: map[string]any{"app": "web", "branchNormalized": "Bad_Name", "values.sleep": "soon"}})
	if err == nil || !strings.Contains(err.Error(), `virtualCluster.name "pr-Bad_Name" is not a valid VirtualCluster name`) ||
		!strings.Contains(err.Error(), `virtualCluster.sleepAfter "soon" is not a duration`) || !strings.HasPrefix(err.Error(), "element 3 (") {
		t.Errorf("bad virtual cluster: %v", err)
	}

	// goTemplate: nested virtualCluster parameters.
	s.Spec.GoTemplate = true
	s.Spec.VirtualCluster = &gitopsv1alpha1.ApplicationSetVirtualClusterTemplate{Name: "pr-{{.branchNormalized}}"}
	s.Spec.Template.Name = "{{.app}}"
	s.Spec.Template.Spec.Destination.Name = "{{.virtualCluster.clusterName}}"
	s.Spec.Template.Spec.Destination.Namespace = "{{.virtualCluster.namespace}}-{{.virtualCluster.name}}"
	s.Spec.Template.Spec.Source.TargetRevision = "HEAD"
	s.Spec.Template.Spec.Source.Path = "."
	r, err := Render(s, Element{Params: map[string]any{"app": "web", "branchNormalized": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := r.Application.Spec.Destination; d.Name != "p-team/pr-x" || d.Namespace != "p-team-pr-x" {
		t.Errorf("goTemplate destination %+v", d)
	}
}
