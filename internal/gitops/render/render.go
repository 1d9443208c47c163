package render

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"gantry.dev/gantry/api/gitops/v1alpha1"
)

// SourceType is how a source was rendered. The values are Argo CD's, as shown
// in an Application's status.sourceType.
type SourceType string

const (
	SourceTypeDirectory SourceType = "Directory"
	SourceTypeKustomize SourceType = "Kustomize"
	SourceTypeHelm      SourceType = "Helm"
)

// Request is one source to render.
type Request struct {
	// Source is the Application source, as written in the Application.
	Source v1alpha1.ApplicationSource
	// Dir is the checkout root of Source.RepoURL at Revision. It is empty for
	// a chart from a Helm repository (Source.Chart set).
	Dir string
	// Revision is the commit SHA of Dir or, for a chart from a Helm
	// repository, the chart version already resolved from TargetRevision
	// (empty: resolve TargetRevision, which may be a semver constraint,
	// against the repository index). It is part of the cache key: a request
	// without a revision is never cached.
	Revision string
	// RefSources are the other sources of a multi-source Application that
	// have a ref, by ref name without the "$", for helm.valueFiles entries
	// such as $values/env/prod.yaml.
	RefSources map[string]RefSource
	// AppName is the default Helm release name.
	AppName string
	// Namespace is the destination namespace: the Helm release namespace
	// unless helm.namespace is set. Kustomize does not use it (Argo CD does
	// not either); the sync engine puts namespaced objects without a
	// namespace into it.
	Namespace string
	// KubeVersion is the destination's Kubernetes version (e.g. "1.37.2"),
	// for Helm's .Capabilities.KubeVersion, unless helm.kubeVersion is set.
	KubeVersion string
	// APIVersions are the destination's API versions ("apps/v1",
	// "apps/v1/Deployment"), for Helm's .Capabilities.APIVersions, unless
	// helm.apiVersions is set.
	APIVersions []string
}

// RefSource is the checkout of a source that other sources refer to as $ref.
type RefSource struct {
	// Dir is the checkout root.
	Dir string
	// Revision is the commit SHA of Dir; it is part of the cache key of every
	// request whose value files use this ref.
	Revision string
}

// Result is a rendered source.
type Result struct {
	// Objects in the order the tool produced them: files in lexical order for
	// a directory, kustomize's order, and for Helm the CRDs of crds/, then
	// the templates in Helm's install order, then the hooks.
	Objects    []*unstructured.Unstructured
	SourceType SourceType
	// Revision is the chart version rendered, for a chart from a Helm
	// repository, and Request.Revision otherwise.
	Revision string
}

// Options configure a Renderer.
type Options struct {
	// ChartCacheDir keeps chart archives downloaded from Helm repositories,
	// so that a pinned chart version is downloaded once. Empty: archives are
	// downloaded on every render that misses the Cache.
	ChartCacheDir string
	// HTTPClient fetches from Helm repositories. Nil: a client with a one
	// minute timeout.
	HTTPClient *http.Client
	// Cache, when set, keeps rendered results.
	Cache *Cache
}

// Renderer renders sources. It is safe for concurrent use; kustomize builds
// run one at a time (see kustomizer).
type Renderer struct {
	chartCacheDir string
	http          *http.Client
	cache         *Cache

	// kustomizeMu serialises kustomize builds: krusty keeps global state
	// (the OpenAPI schema and its maps) and panics with concurrent map
	// writes when two builds run at once (kustomize#3659). It lives here
	// rather than in a package variable so that independent Renderers (and
	// tests) do not share it; all Renderers of a process still share
	// krusty's globals, so a process should have one Renderer.
	kustomizeMu sync.Mutex
}

// New returns a Renderer.
func New(opts Options) *Renderer {
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: time.Minute}
	}
	return &Renderer{chartCacheDir: opts.ChartCacheDir, http: client, cache: opts.Cache}
}

// Purge forgets what was rendered from repoURL, so that its next render
// runs the tool again (a hard refresh).
func (r *Renderer) Purge(repoURL string) {
	if r.cache != nil {
		r.cache.Purge(repoURL)
	}
}

// Render renders one source. Errors are written for the user who reads them
// on the Application's ComparisonError condition: they name the file and the
// problem, with paths relative to the repository.
func (r *Renderer) Render(ctx context.Context, req Request) (*Result, error) {
	key, cacheable := cacheKey(req)
	if r.cache != nil && cacheable {
		if res, ok := r.cache.get(key); ok {
			return res, nil
		}
	}
	res, err := r.render(ctx, req)
	if err != nil {
		return nil, err
	}
	if r.cache != nil && cacheable {
		r.cache.add(key, res)
	}
	return res, nil
}

func (r *Renderer) render(ctx context.Context, req Request) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	src := req.Source
	if src.Chart != "" {
		if src.Kustomize != nil || src.Directory != nil {
			return nil, errors.New("chart is set, so the source is a Helm chart from a Helm repository: remove the kustomize or directory block")
		}
		objs, version, err := r.renderRepoChart(ctx, req)
		if err != nil {
			return nil, err
		}
		return &Result{Objects: objs, SourceType: SourceTypeHelm, Revision: version}, nil
	}

	if req.Dir == "" {
		return nil, errors.New("no checkout directory for the source (internal error)")
	}
	root, err := resolveRoot(req.Dir)
	if err != nil {
		return nil, err
	}
	appDir, err := confine(root, filepath.Join(root, filepath.FromSlash(src.Path)), displayPath(src.Path))
	if err != nil {
		return nil, fmt.Errorf("path: %w", err)
	}
	if fi, err := os.Stat(appDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("path: %s is not a directory in the repository", displayPath(src.Path))
	}

	typ, err := sourceType(src, appDir)
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	switch typ {
	case SourceTypeHelm:
		objs, err = r.renderLocalChart(ctx, req, root, appDir)
	case SourceTypeKustomize:
		objs, err = r.renderKustomize(root, appDir, src.Kustomize, buildEnv(req))
	default:
		objs, err = renderDirectory(root, appDir, src.Directory, buildEnv(req))
	}
	if err != nil {
		return nil, err
	}
	return &Result{Objects: objs, SourceType: typ, Revision: req.Revision}, nil
}

// sourceType chooses the type of a source in a Git checkout as Argo CD does:
// one explicit block wins, two are an error; otherwise a kustomization file
// makes it Kustomize, a Chart.yaml Helm (Argo CD's discovery checks both and
// lets the kustomization win), and anything else is a directory.
func sourceType(src v1alpha1.ApplicationSource, appDir string) (SourceType, error) {
	var explicit []SourceType
	if src.Kustomize != nil {
		explicit = append(explicit, SourceTypeKustomize)
	}
	if src.Helm != nil {
		explicit = append(explicit, SourceTypeHelm)
	}
	if src.Directory != nil {
		explicit = append(explicit, SourceTypeDirectory)
	}
	switch len(explicit) {
	case 0:
	case 1:
		return explicit[0], nil
	default:
		return "", fmt.Errorf("multiple source types are set (%v): keep one of the kustomize, helm and directory blocks", explicit)
	}
	if kustomizationFile(appDir) != "" {
		return SourceTypeKustomize, nil
	}
	if fi, err := os.Stat(filepath.Join(appDir, "Chart.yaml")); err == nil && fi.Mode().IsRegular() {
		return SourceTypeHelm, nil
	}
	return SourceTypeDirectory, nil
}

// displayPath is a repository path as shown in messages: the root is ".".
func displayPath(p string) string {
	if p == "" || p == "/" {
		return "."
	}
	return p
}
