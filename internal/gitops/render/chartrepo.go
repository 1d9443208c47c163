package render

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	repo "helm.sh/helm/v4/pkg/repo/v1"
)

// Limits on what a chart repository may send, so that a broken or hostile
// repository cannot exhaust memory. Large public indexes are tens of MB.
const (
	maxIndexBytes = 128 << 20
	maxChartBytes = 64 << 20
)

// fetchChart returns chart name from the Helm repository at repoURL, at
// version: an exact version, a semver constraint (as Argo CD accepts in
// targetRevision) or "" for the latest stable version, and the version it
// picked. An archive is checked against the digest in the index and kept
// in the chart cache directory, so that an exact version found there is
// used without asking the repository.
func (r *Renderer) fetchChart(ctx context.Context, repoURL, name, version string) (*chart.Chart, string, error) {
	base, err := chartRepoBase(repoURL)
	if err != nil {
		return nil, "", err
	}
	if _, err := semver.StrictNewVersion(strings.TrimPrefix(version, "v")); err == nil {
		if ch := r.cachedChart(base, name, version); ch != nil {
			return ch, version, nil
		}
	}
	index, err := r.fetchIndex(ctx, base)
	if err != nil {
		return nil, "", err
	}
	cv, err := index.Get(name, version)
	if err != nil {
		want := "version " + version
		if version == "" {
			want = "a stable version"
		}
		return nil, "", fmt.Errorf("chart %s: %s not found in the Helm repository %s: %w", name, want, redactURL(base), err)
	}
	if ch := r.cachedChart(base, name, cv.Version); ch != nil {
		return ch, cv.Version, nil
	}
	if len(cv.URLs) == 0 {
		return nil, "", fmt.Errorf("chart %s %s: the index of %s lists no download URL", name, cv.Version, redactURL(base))
	}
	chartURL, err := repo.ResolveReferenceURL(base, cv.URLs[0])
	if err != nil {
		return nil, "", fmt.Errorf("chart %s %s: %w", name, cv.Version, err)
	}
	data, err := r.download(ctx, chartURL, maxChartBytes)
	if err != nil {
		return nil, "", fmt.Errorf("chart %s %s: %w", name, cv.Version, err)
	}
	if cv.Digest != "" {
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, cv.Digest) {
			return nil, "", fmt.Errorf("chart %s %s: the archive from %s has digest sha256:%s, but the repository index says %s", name, cv.Version, redactURL(chartURL), got, cv.Digest)
		}
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("chart %s %s: %w", name, cv.Version, err)
	}
	r.storeChart(base, name, cv.Version, data)
	return ch, cv.Version, nil
}

// chartRepoBase checks that repoURL is a Helm repository gantry can read
// and returns it without a trailing slash.
func chartRepoBase(repoURL string) (string, error) {
	u, err := url.Parse(repoURL)
	if err != nil {
		return "", fmt.Errorf("repoURL %q: %w", repoURL, err)
	}
	switch u.Scheme {
	case "http", "https":
		return strings.TrimSuffix(repoURL, "/"), nil
	case "oci":
		return "", fmt.Errorf("repoURL %s: charts from OCI registries are not supported yet", redactURL(repoURL))
	default:
		return "", fmt.Errorf("repoURL %q: a Helm repository must be an http or https URL", redactURL(repoURL))
	}
}

// fetchIndex downloads and parses the repository's index.yaml. Helm's
// parser (which also drops invalid entries and sorts versions) reads only
// files, hence the temporary file.
func (r *Renderer) fetchIndex(ctx context.Context, base string) (*repo.IndexFile, error) {
	data, err := r.download(ctx, base+"/index.yaml", maxIndexBytes)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp("", "gantry-helm-index-*.yaml")
	if err != nil {
		return nil, fmt.Errorf("reading the index of %s: %w", redactURL(base), err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("reading the index of %s: %w", redactURL(base), err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("reading the index of %s: %w", redactURL(base), err)
	}
	index, err := repo.LoadIndexFile(tmp.Name())
	if err != nil {
		return nil, fmt.Errorf("the index of the Helm repository %s is invalid: %w", redactURL(base), err)
	}
	return index, nil
}

func (r *Renderer) download(ctx context.Context, rawURL string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", redactURL(rawURL), err)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		// The client's error repeats the URL, credentials included.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("fetching %s: %w", redactURL(rawURL), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching %s: %s", redactURL(rawURL), resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", redactURL(rawURL), err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("fetching %s: larger than %d MiB", redactURL(rawURL), limit>>20)
	}
	return data, nil
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}

// chartCachePath is where the archive of a chart version from a repository
// is kept, or "" when it cannot be kept (no cache directory, or a name or
// version that is not a plain file name).
func (r *Renderer) chartCachePath(base, name, version string) string {
	if r.chartCacheDir == "" {
		return ""
	}
	file := name + "-" + version + ".tgz"
	if strings.ContainsAny(file, `/\`) || strings.Contains(file, "..") {
		return ""
	}
	sum := sha256.Sum256([]byte(base))
	return filepath.Join(r.chartCacheDir, hex.EncodeToString(sum[:8]), file)
}

func (r *Renderer) cachedChart(base, name, version string) *chart.Chart {
	p := r.chartCachePath(base, name, version)
	if p == "" {
		return nil
	}
	ch, err := loader.LoadFile(p)
	if err != nil {
		return nil // missing or damaged: download again
	}
	return ch
}

// storeChart keeps an archive; a failure only costs a later download. The
// write goes through a temporary file so that a concurrent render never
// reads half an archive.
func (r *Renderer) storeChart(base, name, version string, data []byte) {
	p := r.chartCachePath(base, name, version)
	if p == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".download-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), p) != nil {
		os.Remove(tmp.Name())
	}
}

// addMissingDependencies adds the dependencies a chart declares but does
// not carry in charts/, as `helm dependency build` (which Argo CD runs)
// would: from http(s) chart repositories, at the version of Chart.lock if
// there is one, and from file:// directories of the same repository. Other
// repositories (OCI, names of repositories configured in a Helm client)
// cannot be resolved here, and the message says to vendor the chart.
func (r *Renderer) addMissingDependencies(ctx context.Context, ch *chart.Chart, root, chartDir string) error {
	if ch.Metadata == nil {
		return nil
	}
	for _, dep := range ch.Metadata.Dependencies {
		if slices.ContainsFunc(ch.Dependencies(), func(c *chart.Chart) bool { return c.Name() == dep.Name }) {
			continue
		}
		version := dep.Version
		if ch.Lock != nil {
			for _, l := range ch.Lock.Dependencies {
				if l.Name == dep.Name && l.Repository == dep.Repository {
					version = l.Version
				}
			}
		}
		var sub *chart.Chart
		var err error
		switch repoURL := dep.Repository; {
		case strings.HasPrefix(repoURL, "file://"):
			sub, err = r.loadFileDependency(ctx, root, chartDir, repoURL)
		case strings.HasPrefix(repoURL, "http://"), strings.HasPrefix(repoURL, "https://"):
			sub, _, err = r.fetchChart(ctx, repoURL, dep.Name, version)
		default:
			err = fmt.Errorf("it is not in charts/ and gantry cannot fetch it from %q (only http(s) and file:// repositories): run `helm dependency build` and commit the charts/ directory", repoURL)
		}
		if err != nil {
			return fmt.Errorf("chart %s: dependency %s: %w", ch.Name(), dep.Name, err)
		}
		ch.AddDependency(sub)
	}
	return nil
}

func (r *Renderer) loadFileDependency(ctx context.Context, root, chartDir, repoURL string) (*chart.Chart, error) {
	if root == "" {
		return nil, fmt.Errorf("%s: a chart from a Helm repository cannot have file:// dependencies outside charts/", repoURL)
	}
	p := filepath.FromSlash(strings.TrimPrefix(repoURL, "file://"))
	if !filepath.IsAbs(p) {
		p = filepath.Join(chartDir, p)
	}
	dir, err := confine(root, p, repoURL)
	if err != nil {
		return nil, err
	}
	if err := checkSymlinks(root, dir); err != nil {
		return nil, err
	}
	sub, err := loader.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", repoURL, cleanPaths(err, root))
	}
	if err := r.addMissingDependencies(ctx, sub, root, dir); err != nil {
		return nil, err
	}
	return sub, nil
}
