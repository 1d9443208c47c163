package application

import (
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/unknownfields"
)

func TestUnsupportedFields(t *testing.T) {
	// An Argo CD Application spec with fields gantry implements and some it does not.
	const spec = `
project: default
source:
  repoURL: https://example.com/repo.git
  targetRevision: HEAD
  path: guestbook
  plugin:
    name: cmp
  helm:
    valuesObject: {anything: {goes: here}}
    fileParameters: [{name: a, path: b}]
    parameters: [{name: x, value: y, forceString: true}]
    skipSchemaValidation: true
    version: v3
  kustomize:
    images: [nginx:1.27]
    replicas: [{name: web, count: 3}]
    labelWithoutSelector: true
    labelIncludeTemplates: true
    commonAnnotationsEnvsubst: true
  directory:
    jsonnet: {extVars: [{name: a, value: b, code: false}], tlas: [{name: c, value: d}], libs: [vendor]}
destination: {server: https://kubernetes.default.svc, namespace: web}
syncPolicy:
  automated: {prune: false, selfHeal: true, enabled: true}
  retry: {limit: 2, refresh: true, backoff: {duration: 5s, factor: 2, maxDuration: 3m}}
  managedNamespaceMetadata: {labels: {a: b}}
  syncOptions: [CreateNamespace=true]
ignoreDifferences:
- group: apps
  kind: Deployment
  jsonPointers: [/spec/replicas]
  jqPathExpressions: [.spec]
  managedFieldsManagers: [kube-controller-manager]
  fancyNewMatcher: [x]
`
	var raw map[string]any
	if err := yaml.Unmarshal([]byte(spec), &raw); err != nil {
		t.Fatal(err)
	}
	got := unknownfields.List("spec", raw, reflect.TypeOf(gitopsv1alpha1.ApplicationSpec{}))
	want := []string{
		"spec.ignoreDifferences[0].fancyNewMatcher",
		"spec.source.plugin",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("unsupported fields\n got %v\nwant %v", got, want)
	}
}

func TestValidateSpec(t *testing.T) {
	src := &gitopsv1alpha1.ApplicationSource{RepoURL: "file:///repo", Path: "x"}
	for name, tc := range map[string]struct {
		spec gitopsv1alpha1.ApplicationSpec
		ok   bool
	}{
		"one source":  {gitopsv1alpha1.ApplicationSpec{Source: src}, true},
		"no source":   {gitopsv1alpha1.ApplicationSpec{}, false},
		"both":        {gitopsv1alpha1.ApplicationSpec{Source: src, Sources: []gitopsv1alpha1.ApplicationSource{*src}}, false},
		"only refs":   {gitopsv1alpha1.ApplicationSpec{Sources: []gitopsv1alpha1.ApplicationSource{{RepoURL: "file:///r", Ref: "values"}}}, false},
		"ref + chart": {gitopsv1alpha1.ApplicationSpec{Sources: []gitopsv1alpha1.ApplicationSource{{RepoURL: "file:///r", Ref: "values"}, {RepoURL: "https://charts", Chart: "c"}}}, true},
		"two types":   {gitopsv1alpha1.ApplicationSpec{Source: &gitopsv1alpha1.ApplicationSource{RepoURL: "x", Helm: &gitopsv1alpha1.ApplicationSourceHelm{}, Directory: &gitopsv1alpha1.ApplicationSourceDirectory{}}}, false},
		"no repo URL": {gitopsv1alpha1.ApplicationSpec{Source: &gitopsv1alpha1.ApplicationSource{Path: "x"}}, false},
		"jq path": {gitopsv1alpha1.ApplicationSpec{Source: src, IgnoreDifferences: []gitopsv1alpha1.ResourceIgnoreDifferences{
			{Kind: "Deployment", JQPathExpressions: []string{`.spec.template.spec.containers[] | select(.name == "a") | .image`}}}}, true},
		"bad jq path": {gitopsv1alpha1.ApplicationSpec{Source: src, IgnoreDifferences: []gitopsv1alpha1.ResourceIgnoreDifferences{
			{Kind: "Deployment", JQPathExpressions: []string{`.spec.template.spec.containers[`}}}}, false},
		"known sync options": {gitopsv1alpha1.ApplicationSpec{Source: src, SyncPolicy: &gitopsv1alpha1.SyncPolicy{
			SyncOptions: []string{"CreateNamespace=true", "RespectIgnoreDifferences=true", "ServerSideApply=true", "PrunePropagationPolicy=background"}}}, true},
		"misspelt sync option": {gitopsv1alpha1.ApplicationSpec{Source: src, SyncPolicy: &gitopsv1alpha1.SyncPolicy{
			SyncOptions: []string{"CreateNamepsace=true"}}}, false},
		"namespace metadata": {gitopsv1alpha1.ApplicationSpec{Source: src, SyncPolicy: &gitopsv1alpha1.SyncPolicy{
			SyncOptions: []string{"CreateNamespace=true"}, ManagedNamespaceMetadata: &gitopsv1alpha1.ManagedNamespaceMetadata{Labels: map[string]string{"a": "b"}}}}, true},
		"namespace metadata without CreateNamespace": {gitopsv1alpha1.ApplicationSpec{Source: src, SyncPolicy: &gitopsv1alpha1.SyncPolicy{
			ManagedNamespaceMetadata: &gitopsv1alpha1.ManagedNamespaceMetadata{Labels: map[string]string{"a": "b"}}}}, false},
		"Force": {gitopsv1alpha1.ApplicationSpec{Source: src, SyncPolicy: &gitopsv1alpha1.SyncPolicy{
			SyncOptions: []string{"Replace=true", "Force=true"}}}, true},
		"not KEY=VALUE": {gitopsv1alpha1.ApplicationSpec{Source: src, SyncPolicy: &gitopsv1alpha1.SyncPolicy{
			SyncOptions: []string{"CreateNamespace"}}}, false},
	} {
		err := validateSpec(&tc.spec)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", name, err, tc.ok)
		}
	}
}
