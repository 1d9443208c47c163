package render

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	repo "helm.sh/helm/v4/pkg/repo/v1"

	"gantry.dev/gantry/api/gitops/v1alpha1"
)

// chartServer serves a Helm repository under /stable with the chart "web"
// at the given versions, and counts the requests it answers.
type chartServer struct {
	*httptest.Server
	requests atomic.Int64
	dir      string
}

func newChartServer(t *testing.T, versions ...string) *chartServer {
	t.Helper()
	dir := t.TempDir()
	index := repo.NewIndexFile()
	for _, v := range versions {
		src := t.TempDir()
		writeFiles(t, src, chartFiles(v))
		ch, err := loader.LoadDir(src)
		if err != nil {
			t.Fatal(err)
		}
		archive, err := chartutil.Save(ch, dir)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(archive)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		// A relative URL, resolved against the repository URL.
		if err := index.MustAdd(ch.Metadata, filepath.Base(archive), "", hex.EncodeToString(sum[:])); err != nil {
			t.Fatal(err)
		}
	}
	index.SortEntries()
	if err := index.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &chartServer{dir: dir}
	files := http.StripPrefix("/stable/", http.FileServer(http.Dir(dir)))
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *chartServer) repoURL() string { return s.URL + "/stable" }

func chartRequest(repoURL, version string, h *v1alpha1.ApplicationSourceHelm) Request {
	return Request{
		Source:      v1alpha1.ApplicationSource{RepoURL: repoURL, Chart: "web", TargetRevision: version, Helm: h},
		AppName:     "shop",
		Namespace:   "shop-ns",
		KubeVersion: "1.37.2",
	}
}

func TestChartRepository(t *testing.T) {
	srv := newChartServer(t, "1.0.0", "1.1.0", "2.0.0", "3.0.0-rc.1")
	r := New(Options{HTTPClient: srv.Client(), ChartCacheDir: t.TempDir()})
	tests := []struct {
		name     string
		version  string
		revision string
		want     string
	}{
		{"exact version", "1.0.0", "", "1.0.0"},
		{"semver constraint", "^1.0.0", "", "1.1.0"},
		{"range", ">=1.0.0 <2.0.0", "", "1.1.0"},
		{"latest stable", "", "", "2.0.0"},
		{"resolved revision wins", "^1.0.0", "1.0.0", "1.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := chartRequest(srv.repoURL(), tt.version, nil)
			req.Revision = tt.revision
			res := mustRender(t, r, req)
			if res.Revision != tt.want || res.SourceType != SourceTypeHelm {
				t.Errorf("Revision = %q, SourceType = %s; want %s", res.Revision, res.SourceType, tt.want)
			}
			find(t, res.Objects, "ConfigMap", "shop-web")
		})
	}

	// An exact version already downloaded needs no request.
	before := srv.requests.Load()
	mustRender(t, r, chartRequest(srv.repoURL(), "1.1.0", nil))
	if n := srv.requests.Load() - before; n != 0 {
		t.Errorf("%d requests for a cached chart version", n)
	}

	// Value files: relative ones are files of the chart, $ref ones come from
	// a Git source.
	valuesRepo := t.TempDir()
	writeFiles(t, valuesRepo, map[string]string{"shop/prod.yaml": "fromRef: git\n"})
	req := chartRequest(srv.repoURL(), "2.0.0", &v1alpha1.ApplicationSourceHelm{ValueFiles: []string{"values-prod.yaml", "$values/shop/prod.yaml"}})
	req.RefSources = map[string]RefSource{"values": {Dir: valuesRepo, Revision: "abc"}}
	data := configData(t, mustRender(t, r, req), "shop-web")
	if data["replicas"] != "2" || data["fromRef"] != "git" {
		t.Errorf("data = %v", data)
	}

	renderErr(t, r, chartRequest(srv.repoURL(), "9.9.9", nil), "chart web: version 9.9.9 not found in the Helm repository")
	renderErr(t, r, chartRequest(srv.repoURL(), "2.0.0", &v1alpha1.ApplicationSourceHelm{ValueFiles: []string{"../etc/passwd"}}), "outside the chart")
	renderErr(t, r, chartRequest(srv.URL+"/nothere", "1.0.0", nil), "/nothere/index.yaml", "404")
	renderErr(t, r, chartRequest("oci://registry.example.com/charts", "1.0.0", nil), "OCI registries are not supported")
}

func TestChartRepositoryDigestMismatch(t *testing.T) {
	srv := newChartServer(t, "1.0.0")
	index, err := repo.LoadIndexFile(filepath.Join(srv.dir, "index.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	index.Entries["web"][0].Digest = "0000000000000000000000000000000000000000000000000000000000000000"
	if err := index.WriteFile(filepath.Join(srv.dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	cacheDir := t.TempDir()
	r := New(Options{HTTPClient: srv.Client(), ChartCacheDir: cacheDir})
	renderErr(t, r, chartRequest(srv.repoURL(), "1.0.0", nil), "chart web 1.0.0", "digest", "the repository index says 0000")
	if entries, _ := os.ReadDir(cacheDir); len(entries) != 0 {
		t.Errorf("a chart that failed verification was cached: %v", entries)
	}
}

// TestChartDependencyFromRepository renders a chart of the Git checkout whose
// dependency is not vendored, but comes from a Helm repository, as `helm
// dependency build` would fetch it.
func TestChartDependencyFromRepository(t *testing.T) {
	srv := newChartServer(t, "1.0.0", "1.1.0")
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"app/Chart.yaml":        "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: web\n  version: ^1.0.0\n  repository: " + srv.repoURL() + "\n",
		"app/Chart.lock":        "dependencies:\n- name: web\n  version: 1.0.0\n  repository: " + srv.repoURL() + "\ndigest: sha256:x\ngenerated: \"2026-01-01T00:00:00Z\"\n",
		"app/templates/cm.yaml": configMap("app"),
	})
	r := New(Options{HTTPClient: srv.Client()})
	req := helmRequest(root, &v1alpha1.ApplicationSourceHelm{Parameters: []v1alpha1.HelmParameter{{Name: "web.replicas", Value: "4"}}})
	req.Source.Path = "app"
	res := mustRender(t, r, req)
	if data := configData(t, res, "shop-web"); data["replicas"] != "4" {
		t.Errorf("subchart data = %v", data)
	}
	find(t, res.Objects, "ConfigMap", "app")
}
