package render

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"gantry.dev/gantry/api/gitops/v1alpha1"
)

// renderLocalChart renders the chart at appDir of a Git checkout.
func (r *Renderer) renderLocalChart(ctx context.Context, req Request, root, appDir string) ([]*unstructured.Unstructured, error) {
	dirName := displayPath(relTo(root, appDir))
	if err := checkSymlinks(root, appDir); err != nil {
		return nil, fmt.Errorf("chart %s: %w", dirName, err)
	}
	ch, err := loader.LoadDir(appDir)
	if err != nil {
		return nil, fmt.Errorf("loading chart %s: %w", dirName, cleanPaths(err, root))
	}
	if err := r.addMissingDependencies(ctx, ch, root, appDir); err != nil {
		return nil, err
	}
	values, err := helmValues(req, valueFileReader{root: root, chartDir: appDir})
	if err != nil {
		return nil, err
	}
	return helmTemplate(ctx, req, ch, values)
}

// renderRepoChart renders a chart from a Helm repository (source.chart).
func (r *Renderer) renderRepoChart(ctx context.Context, req Request) ([]*unstructured.Unstructured, string, error) {
	version := req.Revision
	if version == "" {
		version = req.Source.TargetRevision
	}
	ch, resolved, err := r.fetchChart(ctx, req.Source.RepoURL, req.Source.Chart, version)
	if err != nil {
		return nil, "", err
	}
	if err := r.addMissingDependencies(ctx, ch, "", ""); err != nil {
		return nil, "", err
	}
	values, err := helmValues(req, valueFileReader{chart: ch})
	if err != nil {
		return nil, "", err
	}
	objs, err := helmTemplate(ctx, req, ch, values)
	if err != nil {
		return nil, "", err
	}
	return objs, resolved, nil
}

// helmTemplate renders a loaded chart as `helm template --include-crds` does
// (client-only: no cluster is contacted, lookup returns nothing), with the
// release name, namespace and capabilities Argo CD would pass.
func helmTemplate(ctx context.Context, req Request, ch *chart.Chart, values map[string]any) ([]*unstructured.Unstructured, error) {
	var h v1alpha1.ApplicationSourceHelm
	if req.Source.Helm != nil {
		h = *req.Source.Helm
	}
	// Helm logs through its Configuration; what it says in client-only mode
	// (e.g. that CRDs are not installed) is noise for a render.
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(slog.DiscardHandler))
	install := action.NewInstall(cfg)
	install.DryRunStrategy = action.DryRunClient
	install.Replace = true // no release history to check names against
	install.ReleaseName = firstNonEmpty(h.ReleaseName, req.AppName)
	// helm template without --namespace renders into "default".
	install.Namespace = firstNonEmpty(firstNonEmpty(h.Namespace, req.Namespace), "default")
	install.IncludeCRDs = !h.SkipCrds
	install.SkipCRDs = h.SkipCrds
	install.SkipSchemaValidation = h.SkipSchemaValidation

	if kv := firstNonEmpty(h.KubeVersion, req.KubeVersion); kv != "" {
		parsed, err := common.ParseKubeVersion(kv)
		if err != nil {
			return nil, fmt.Errorf("invalid Kubernetes version %q for Helm: %w", kv, err)
		}
		install.KubeVersion = parsed
	}
	apiVersions := req.APIVersions
	if len(h.APIVersions) > 0 {
		apiVersions = h.APIVersions
	}
	install.APIVersions = common.VersionSet(slices.Clone(apiVersions))

	rel, err := install.RunWithContext(ctx, ch, values)
	if err != nil {
		return nil, fmt.Errorf("helm template of chart %s: %w", ch.Name(), err)
	}
	r, ok := rel.(*release.Release)
	if !ok {
		return nil, fmt.Errorf("helm template of chart %s: unexpected release type %T", ch.Name(), rel)
	}
	objs, err := decodeObjects([]byte(r.Manifest), "the output of chart "+ch.Name())
	if err != nil {
		return nil, err
	}
	for _, hook := range r.Hooks {
		if h.SkipTests && slices.Contains(hook.Events, release.HookTest) {
			continue
		}
		hookObjs, err := decodeObjects([]byte(hook.Manifest), hook.Path)
		if err != nil {
			return nil, err
		}
		objs = append(objs, hookObjs...)
	}
	return objs, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
