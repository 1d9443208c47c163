package generate

import (
	"context"
	"strings"
	"testing"
	"time"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/appset/template"
)

const appTemplate = `
  template:
    metadata: {name: app}
    spec:
      project: default
      destination: {server: https://kubernetes.default.svc, namespace: default}
`

func TestList(t *testing.T) {
	g := &Generator{}
	// Argo CD's Generators-List.md example.
	set := appSet(t, `
spec:
  generators:
  - list:
      elements:
      - cluster: engineering-dev
        url: https://kubernetes.default.svc
      - cluster: engineering-prod
        url: https://kubernetes.default.svc
        values: {project: prod}
`+appTemplate)
	assertParams(t, generate(t, g, set), `
- {cluster: engineering-dev, url: https://kubernetes.default.svc}
- {cluster: engineering-prod, url: https://kubernetes.default.svc, values.project: prod}
`)

	set.Spec.GoTemplate = true
	set.Spec.Generators[0].List.Elements[0].Raw = []byte(`{"cluster":"dev","replicas":2,"tags":["a","b"],"nested":{"k":"v"}}`)
	assertParams(t, generate(t, g, set), `
- {cluster: dev, replicas: 2, tags: [a, b], nested: {k: v}}
- {cluster: engineering-prod, url: https://kubernetes.default.svc, values: {project: prod}}
`)

	set.Spec.GoTemplate = false
	_, err := g.Generate(context.Background(), set)
	if err == nil || !strings.Contains(err.Error(), "generators[0].list: elements[0].") || !strings.Contains(err.Error(), "is not a string") {
		t.Errorf("non-string element without goTemplate: got %v", err)
	}
}

func TestClusters(t *testing.T) {
	g := &Generator{Clusters: testClusters}
	set := appSet(t, `
spec:
  generators:
  - clusters:
      values: {revision: '{{name}}-rev'}
`+appTemplate)
	// Argo CD's parameters: the local cluster has no metadata and its name as
	// nameNormalized; Secrets' labels and annotations are flattened.
	assertParams(t, generate(t, g, set), `
- {name: in-cluster, nameNormalized: in-cluster, server: "https://kubernetes.default.svc", project: "", values.revision: in-cluster-rev}
- name: staging
  nameNormalized: staging
  server: https://staging.example.com
  project: web
  metadata.labels.argocd.argoproj.io/secret-type: cluster
  metadata.labels.env: staging
  metadata.annotations.owner: team-a
  values.revision: staging-rev
- name: p-team/Prod_EU
  nameNormalized: p-team-prod-eu
  server: https://prod-eu.example.com
  project: ""
  metadata.labels.argocd.argoproj.io/secret-type: cluster
  metadata.labels.env: prod
  values.revision: p-team/Prod_EU-rev
`)

	// A selector leaves the local cluster out and matches Secrets' labels;
	// goTemplate nests metadata.
	set = appSet(t, `
spec:
  goTemplate: true
  generators:
  - clusters:
      selector:
        matchExpressions: [{key: env, operator: In, values: [staging, qa]}]
      values: {revision: '{{.name}}-{{index .metadata.labels "env"}}'}
`+appTemplate)
	assertParams(t, generate(t, g, set), `
- name: staging
  nameNormalized: staging
  server: https://staging.example.com
  project: web
  metadata:
    labels: {argocd.argoproj.io/secret-type: cluster, env: staging}
    annotations: {owner: team-a}
  values: {revision: staging-staging}
`)
}

func TestGitDirectories(t *testing.T) {
	r := newRepo(t)
	r.commit("main", map[string]string{
		"apps/guestbook/kustomization.yaml":   "resources: []\n",
		"apps/Helm_Guestbook/Chart.yaml":      "name: x\n",
		"apps/excluded/kustomization.yaml":    "resources: []\n",
		"apps/.hidden/kustomization.yaml":     "resources: []\n",
		"apps/guestbook/base/deployment.yaml": "kind: Deployment\n",
		"other/thing/README.md":               "hi\n",
	})
	g := &Generator{Sources: newSources(t)}
	// Argo CD's "Exclude directories" example.
	set := appSet(t, `
spec:
  generators:
  - git:
      repoURL: `+r.url()+`
      revision: HEAD
      directories:
      - path: apps/*
      - path: apps/excluded
        exclude: true
      values: {ns: '{{path.basenameNormalized}}-ns'}
`+appTemplate)
	assertParams(t, generate(t, g, set), `
- {path: apps/Helm_Guestbook, path.basename: Helm_Guestbook, path.basenameNormalized: helm-guestbook, "path[0]": apps, "path[1]": Helm_Guestbook, values.ns: helm-guestbook-ns}
- {path: apps/guestbook, path.basename: guestbook, path.basenameNormalized: guestbook, "path[0]": apps, "path[1]": guestbook, values.ns: guestbook-ns}
`)

	// goTemplate nests them; exclusion wins whatever the order; a leading
	// slash is accepted; pathParamPrefix moves them.
	set = appSet(t, `
spec:
  goTemplate: true
  generators:
  - git:
      repoURL: `+r.url()+`
      revision: main
      directories:
      - path: /apps/[eg]*
        exclude: true
      - path: '*/*'
      pathParamPrefix: app
`+appTemplate)
	assertParams(t, generate(t, g, set), `
- app: {path: {path: apps/Helm_Guestbook, basename: Helm_Guestbook, basenameNormalized: helm-guestbook, segments: [apps, Helm_Guestbook]}}
- app: {path: {path: other/thing, basename: thing, basenameNormalized: thing, segments: [other, thing]}}
`)

	set.Spec.Generators[0].Git.Directories[0].Path = "apps/[" // bad pattern
	if _, err := g.Generate(context.Background(), set); err == nil || !strings.Contains(err.Error(), "generators[0].git: directories[0].path") {
		t.Errorf("bad pattern: got %v", err)
	}
}

func TestGitFiles(t *testing.T) {
	r := newRepo(t)
	r.commit("main", map[string]string{
		// Argo CD's Generators-Git.md example file, and a YAML list.
		"cluster-config/engineering/dev/config.json": `{
  "aws_account": "123456",
  "asset_id": "11223344",
  "cluster": {"owner": "cluster-admin@company.com", "name": "engineering-dev", "address": "https://1.2.3.4"}
}`,
		"cluster-config/engineering/prod/config.yaml": "- cluster: {name: prod-a, address: https://5.6.7.8}\n  zones: [a, b]\n- cluster: {name: prod-b, address: https://9.9.9.9}\n",
		"cluster-config/engineering/old/config.json":  `{"cluster": {"name": "old"}}`,
		"cluster-config/engineering/dev/other.txt":    "not matched",
	})
	g := &Generator{Sources: newSources(t)}
	set := appSet(t, `
spec:
  generators:
  - git:
      repoURL: `+r.url()+`
      revision: HEAD
      files:
      - path: cluster-config/**/config.*
      - path: cluster-config/*/old/*
        exclude: true
`+appTemplate)
	assertParams(t, generate(t, g, set), `
- aws_account: "123456"
  asset_id: "11223344"
  cluster.owner: cluster-admin@company.com
  cluster.name: engineering-dev
  cluster.address: https://1.2.3.4
  path: cluster-config/engineering/dev
  path.basename: dev
  path.basenameNormalized: dev
  path.filename: config.json
  path.filenameNormalized: config.json
  "path[0]": cluster-config
  "path[1]": engineering
  "path[2]": dev
- {cluster.name: prod-a, cluster.address: https://5.6.7.8, zones.0: a, zones.1: b, path: cluster-config/engineering/prod, path.basename: prod, path.basenameNormalized: prod, path.filename: config.yaml, path.filenameNormalized: config.yaml, "path[0]": cluster-config, "path[1]": engineering, "path[2]": prod}
- {cluster.name: prod-b, cluster.address: https://9.9.9.9, path: cluster-config/engineering/prod, path.basename: prod, path.basenameNormalized: prod, path.filename: config.yaml, path.filenameNormalized: config.yaml, "path[0]": cluster-config, "path[1]": engineering, "path[2]": prod}
`)

	// goTemplate keeps the objects; '*' does not cross directories.
	set = appSet(t, `
spec:
  goTemplate: true
  generators:
  - git:
      repoURL: `+r.url()+`
      revision: HEAD
      files:
      - path: cluster-config/*/dev/*.json
      values: {name: '{{.cluster.name}}'}
`+appTemplate)
	assertParams(t, generate(t, g, set), `
- aws_account: "123456"
  asset_id: "11223344"
  cluster: {owner: cluster-admin@company.com, name: engineering-dev, address: https://1.2.3.4}
  path: {path: cluster-config/engineering/dev, basename: dev, basenameNormalized: dev, filename: config.json, filenameNormalized: config.json, segments: [cluster-config, engineering, dev]}
  values: {name: engineering-dev}
`)
	set.Spec.Generators[0].Git.Files[0].Path = "cluster-config/*.json"
	if got := generate(t, g, set); len(got) != 0 {
		t.Errorf("cluster-config/*.json matched files in subdirectories: %v", got)
	}

	r.commit("main", map[string]string{"bad/config.json": "{not json"})
	set.Spec.Generators[0].Git.Files[0].Path = "bad/*.json"
	set.Spec.Generators[0].Git.Revision = "main"
	g = &Generator{Sources: newSources(t)} // a fresh cache sees the new commit
	if _, err := g.Generate(context.Background(), set); err == nil || !strings.Contains(err.Error(), "generators[0].git: file bad/config.json: not a JSON or YAML object") {
		t.Errorf("unparsable file: got %v", err)
	}
}

func TestGitBranches(t *testing.T) {
	r := newRepo(t)
	mainSHA := r.commit("main", map[string]string{"README.md": "x\n"})
	loginSHA := r.commit("feature/Login_Page", map[string]string{"login.txt": "x\n"})
	long := "feature/" + strings.Repeat("very-long-branch-name-", 5) + "END"
	longSHA := r.commit(long, nil)
	r.commit("release/1.0", nil)

	g := &Generator{Sources: newSources(t)}
	set := appSet(t, `
spec:
  generators:
  - gitBranches:
      repoURL: `+r.url()+`
      branchMatch: ^feature/
      values: {host: '{{branchNormalized}}.preview.example.com'}
`+appTemplate)
	got := generate(t, g, set)
	longNorm := template.NormalizeLabel(long)
	assertParams(t, got, `
- {branch: feature/Login_Page, branchNormalized: feature-login-page, sha: '`+loginSHA+`', shortSha: '`+loginSHA[:8]+`', values.host: feature-login-page.preview.example.com}
- {branch: `+long+`, branchNormalized: `+longNorm+`, sha: '`+longSHA+`', shortSha: '`+longSHA[:8]+`', values.host: `+longNorm+`.preview.example.com}
`)
	if len(longNorm) > 63 || !strings.HasPrefix(longNorm, "feature-very-long-branch-name-very-long") {
		t.Errorf("long branch normalized to %q (%d chars)", longNorm, len(longNorm))
	}

	// No branchMatch: every branch.
	set.Spec.Generators[0].GitBranches.BranchMatch = ""
	got = generate(t, g, set)
	var names []string
	for _, p := range got {
		names = append(names, p["branch"].(string))
	}
	if want := "feature/Login_Page," + long + ",main,release/1.0"; strings.Join(names, ",") != want {
		t.Errorf("branches %v, want %s", names, want)
	}
	if got[2]["sha"] != mainSHA {
		t.Errorf("main's sha %v, want %s", got[2]["sha"], mainSHA)
	}

	set.Spec.Generators[0].GitBranches.BranchMatch = "feature/("
	if _, err := g.Generate(context.Background(), set); err == nil || !strings.Contains(err.Error(), "generators[0].gitBranches: branchMatch") {
		t.Errorf("bad regexp: got %v", err)
	}
}

func TestMatrixBranchesTimesClusters(t *testing.T) {
	r := newRepo(t)
	r.commit("main", map[string]string{"README.md": "x\n"})
	sha := r.commit("feature/a", nil)
	g := &Generator{Sources: newSources(t), Clusters: testClusters}
	set := appSet(t, `
spec:
  goTemplate: true
  goTemplateOptions: [missingkey=error]
  generators:
  - matrix:
      generators:
      - gitBranches: {repoURL: `+r.url()+`, branchMatch: ^feature/}
      - clusters:
          selector: {matchLabels: {argocd.argoproj.io/secret-type: cluster}}
`+appTemplate)
	got := generate(t, g, set)
	if len(got) != 2 {
		t.Fatalf("got %d sets, want 1 branch × 2 clusters:\n%s", len(got), canon(t, got))
	}
	for i, wantCluster := range []string{"staging", "p-team/Prod_EU"} {
		if got[i]["branch"] != "feature/a" || got[i]["sha"] != sha || got[i]["name"] != wantCluster {
			t.Errorf("set %d: %v", i, got[i])
		}
	}

	// Rendered end to end: one Application per branch and cluster.
	set.Spec.Template.Name = "{{.branchNormalized}}-{{.nameNormalized}}"
	set.Spec.Template.Spec.Destination = gitopsv1alpha1.ApplicationDestination{Server: "{{.server}}", Namespace: "preview"}
	rs, err := template.RenderAll(set, got)
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Application.Name != "feature-a-staging" || rs[1].Application.Name != "feature-a-p-team-prod-eu" ||
		rs[1].Application.Spec.Destination.Server != "https://prod-eu.example.com" {
		t.Errorf("rendered %s, %s → %s", rs[0].Application.Name, rs[1].Application.Name, rs[1].Application.Spec.Destination.Server)
	}
}

func TestMatrixSecondUsesFirst(t *testing.T) {
	r := newRepo(t)
	r.commit("main", map[string]string{
		"envs/staging/config.json": `{"replicas": "2"}`,
		"envs/prod/config.json":    `{"replicas": "5"}`,
	})
	g := &Generator{Sources: newSources(t), Clusters: testClusters}
	// Argo CD's Generators-Matrix.md pattern: the clusters selector uses the
	// git generator's path.basename.
	set := appSet(t, `
spec:
  generators:
  - matrix:
      generators:
      - git:
          repoURL: `+r.url()+`
          revision: HEAD
          files: [{path: 'envs/*/config.json'}]
      - clusters:
          selector: {matchLabels: {env: '{{path.basename}}'}}
`+appTemplate)
	got := generate(t, g, set)
	if len(got) != 2 {
		t.Fatalf("got %d sets:\n%s", len(got), canon(t, got))
	}
	if got[0]["path.basename"] != "prod" || got[0]["name"] != "p-team/Prod_EU" || got[0]["replicas"] != "5" ||
		got[1]["path.basename"] != "staging" || got[1]["name"] != "staging" || got[1]["replicas"] != "2" {
		t.Errorf("sets:\n%s", canon(t, got))
	}

	// Flat mode: one parameter set to two values by both generators fails.
	set = appSet(t, `
spec:
  generators:
  - matrix:
      generators:
      - list: {elements: [{name: a}]}
      - list: {elements: [{name: b}]}
`+appTemplate)
	if _, err := g.Generate(context.Background(), set); err == nil || !strings.Contains(err.Error(), "generators[0].matrix: both generators set parameter name") {
		t.Errorf("conflict: got %v", err)
	}

	// goTemplate: the first generator's values win, nested maps merge
	// (Argo CD's "overriding parameters" example).
	set = appSet(t, `
spec:
  goTemplate: true
  generators:
  - matrix:
      generators:
      - list: {elements: [{stageName: test, cpuRequest: 100m, debug: {enabled: true}}, {stageName: staging}]}
      - list: {elements: [{cpuRequest: 200m, memoryLimit: 256Mi, debug: {enabled: false, level: 1}}]}
`+appTemplate)
	assertParams(t, generate(t, g, set), `
- {stageName: test, cpuRequest: 100m, memoryLimit: 256Mi, debug: {enabled: true, level: 1}}
- {stageName: staging, cpuRequest: 200m, memoryLimit: 256Mi, debug: {enabled: false, level: 1}}
`)
}

func TestNestedMatrixAndMerge(t *testing.T) {
	g := &Generator{Clusters: testClusters}
	set := appSet(t, `
spec:
  generators:
  - matrix:
      generators:
      - matrix:
          generators:
          - list: {elements: [{app: web}, {app: api}]}
          - list: {elements: [{tier: a}]}
      - merge:
          mergeKeys: [env]
          generators:
          - list: {elements: [{env: dev}, {env: prod}]}
          - list: {elements: [{env: prod, big: "yes"}]}
`+appTemplate)
	assertParams(t, generate(t, g, set), `
- {app: web, tier: a, env: dev}
- {app: web, tier: a, env: prod, big: "yes"}
- {app: api, tier: a, env: dev}
- {app: api, tier: a, env: prod, big: "yes"}
`)
}

func TestMerge(t *testing.T) {
	g := &Generator{Clusters: testClusters}
	// Argo CD's Generators-Merge.md example: base clusters, override by
	// label, then a list matched on server.
	set := appSet(t, `
spec:
  generators:
  - merge:
      mergeKeys: [server]
      generators:
      - clusters:
          values: {kafka: "true", redis: "false"}
      - clusters:
          selector: {matchLabels: {env: staging}}
          values: {kafka: "false"}
      - list:
          elements:
          - {server: https://kubernetes.default.svc, values.redis: "true"}
          - {server: https://unknown.example.com, values.redis: "true"}
`+appTemplate)
	got := generate(t, g, set)
	if len(got) != 3 {
		t.Fatalf("got %d sets:\n%s", len(got), canon(t, got))
	}
	want := []struct{ name, kafka, redis string }{
		{"in-cluster", "true", "true"},
		{"staging", "false", "false"},
		{"p-team/Prod_EU", "true", "false"},
	}
	for i, w := range want {
		if got[i]["name"] != w.name || got[i]["values.kafka"] != w.kafka || got[i]["values.redis"] != w.redis {
			t.Errorf("set %d: %v, want %+v", i, got[i], w)
		}
	}

	set.Spec.Generators[0].Merge.MergeKeys = []string{"project"} // "" twice in the base
	if _, err := g.Generate(context.Background(), set); err == nil || !strings.Contains(err.Error(), "generators[0].merge.generators[0]: the parameter sets are not unique by mergeKeys") {
		t.Errorf("non-unique keys: got %v", err)
	}
}

func TestUnsupportedGenerator(t *testing.T) {
	g := &Generator{}
	// An Argo CD generator gantry lacks is kept by the API server but sets no
	// field gantry knows.
	set := appSet(t, `
spec:
  generators:
  - list: {elements: [{a: b}]}
  - {}
`+appTemplate)
	_, err := g.Generate(context.Background(), set)
	if err == nil || !strings.Contains(err.Error(), "generators[1]: no generator gantry supports is set: use one of list, clusters, git, gitBranches, matrix, merge") {
		t.Errorf("got %v", err)
	}
	set.Spec.Generators[1] = gitopsv1alpha1.ApplicationSetGenerator{
		List:     set.Spec.Generators[0].List,
		Clusters: &gitopsv1alpha1.ClusterGenerator{},
	}
	if _, err := g.Generate(context.Background(), set); err == nil || !strings.Contains(err.Error(), "list and clusters are set in one entry") {
		t.Errorf("got %v", err)
	}
	// A nested matrix holding a combination: the third level Argo CD refuses.
	// The typed API cannot express it, so it arrives as an empty entry.
	set = appSet(t, `
spec:
  generators:
  - matrix:
      generators:
      - matrix: {generators: [{list: {elements: [{a: b}]}}, {}]}
      - list: {elements: [{c: d}]}
`+appTemplate)
	if _, err := g.Generate(context.Background(), set); err == nil || !strings.Contains(err.Error(), "nest only one level deep") {
		t.Errorf("got %v", err)
	}
}

func TestRequeueAfter(t *testing.T) {
	set := appSet(t, `
spec:
  generators:
  - list: {elements: [{a: b}]}
`+appTemplate)
	if got := RequeueAfter(&set.Spec); got != 0 {
		t.Errorf("list only: %v, want 0", got)
	}
	set = appSet(t, `
spec:
  generators:
  - git: {repoURL: x, revision: HEAD, directories: [{path: '*'}]}
  - matrix:
      generators:
      - gitBranches: {repoURL: x, requeueAfterSeconds: 30}
      - clusters: {}
`+appTemplate)
	if got := RequeueAfter(&set.Spec); got != 30*time.Second {
		t.Errorf("got %v, want 30s", got)
	}
	set.Spec.Generators = set.Spec.Generators[:1]
	if got := RequeueAfter(&set.Spec); got != DefaultRequeueAfter {
		t.Errorf("got %v, want %v", got, DefaultRequeueAfter)
	}
}
