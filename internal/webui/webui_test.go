package webui

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

const indexHTML = `<!doctype html><html><head><script type="module" crossorigin src="/assets/index-abc123.js"></script></head><body><div id="root"></div></body></html>`

var bigJS = "console.log('gantry');\n" + strings.Repeat("export const x = 'some javascript that compresses well';\n", 100)

func testFS() fstest.MapFS {
	return fstest.MapFS{
		"index.html":              {Data: []byte(indexHTML)},
		"favicon.svg":             {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
		"assets/index-abc123.js":  {Data: []byte(bigJS)},
		"assets/index-def456.css": {Data: []byte("body{margin:0}")},
	}
}

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestServesFilesWithTypesAndCaching(t *testing.T) {
	h := New(testFS())
	cases := []struct {
		path, ctype, cache, body string
	}{
		{"/", "text/html; charset=utf-8", "no-cache", indexHTML},
		{"/index.html", "text/html; charset=utf-8", "no-cache", indexHTML},
		{"/assets/index-abc123.js", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", bigJS},
		{"/assets/index-def456.css", "text/css; charset=utf-8", "public, max-age=31536000, immutable", "body{margin:0}"},
		{"/favicon.svg", "image/svg+xml", "no-cache", `<svg xmlns="http://www.w3.org/2000/svg"/>`},
	}
	for _, c := range cases {
		w := get(t, h, "GET", c.path, nil)
		if w.Code != 200 {
			t.Fatalf("%s: %d", c.path, w.Code)
		}
		if got := w.Header().Get("Content-Type"); got != c.ctype {
			t.Errorf("%s: Content-Type %q, want %q", c.path, got, c.ctype)
		}
		if got := w.Header().Get("Cache-Control"); got != c.cache {
			t.Errorf("%s: Cache-Control %q, want %q", c.path, got, c.cache)
		}
		if w.Body.String() != c.body {
			t.Errorf("%s: wrong body %.60q", c.path, w.Body.String())
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", c.path)
		}
	}
}

func TestSPAFallback(t *testing.T) {
	h := New(testFS())
	for _, p := range []string{"/applications", "/applications/p-shop/web", "/applications/ns/my.app", "/login?next=%2Fprojects", "/projects"} {
		w := get(t, h, "GET", p, nil)
		if w.Code != 200 || w.Body.String() != indexHTML {
			t.Errorf("%s: %d %.40q, want index.html", p, w.Code, w.Body.String())
		}
		if w.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: index.html must not be cached", p)
		}
	}
	// Missing files are 404s, never HTML served as a script.
	for _, p := range []string{"/assets/index-old999.js", "/favicon.ico", "/robots.txt"} {
		if w := get(t, h, "GET", p, nil); w.Code != 404 {
			t.Errorf("%s: %d, want 404", p, w.Code)
		}
	}
}

func TestStrictCSP(t *testing.T) {
	h := New(testFS())
	w := get(t, h, "GET", "/", nil)
	csp := w.Header().Get("Content-Security-Policy")
	// connect-src 'self': the login page fetches the OIDC provider's sign-in
	// endpoints (/oidc/login…), same origin.
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "connect-src 'self'", "object-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline or eval: %q", csp)
	}
	if w.Header().Get("X-Frame-Options") != "DENY" {
		t.Error("no X-Frame-Options")
	}
}

func TestNeverShadowsServerPaths(t *testing.T) {
	h := New(testFS())
	for _, p := range []string{"/api/v1/projects", "/api/v1/virtualclusters/x", "/api", "/oidc/authorize", "/kubernetes/project/a/virtualcluster/b/api", "/healthz", "/readyz", "/metrics", "/healthz/x"} {
		w := get(t, h, "GET", p, nil)
		if w.Code != 404 || strings.Contains(w.Body.String(), "<div id=\"root\">") {
			t.Errorf("%s: %d %.60q: the UI must not answer server paths", p, w.Code, w.Body.String())
		}
	}
	w := get(t, h, "GET", "/api/v1/nothing", nil)
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["code"] != float64(404) {
		t.Errorf("/api/ 404s are JSON in Argo CD's shape: %s", w.Body.String())
	}
	// Paths that only begin like a server path are client routes.
	for _, p := range []string{"/metricsboard", "/apis", "/healthzz"} {
		if w := get(t, h, "GET", p, nil); w.Code != 200 {
			t.Errorf("%s: %d, want the app", p, w.Code)
		}
	}
}

// Mounted as gantry mounts it: the server's own, more specific routes win.
func TestMountedBesideTheAPI(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	mux.Handle("/api/v1/applications/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "api") }))
	mux.Handle("/", New(testFS()))
	for p, want := range map[string]string{"/healthz": "ok", "/api/v1/applications/x": "api", "/applications/ns/x": indexHTML} {
		w := get(t, mux, "GET", p, nil)
		if w.Body.String() != want {
			t.Errorf("%s: %.40q, want %.40q", p, w.Body.String(), want)
		}
	}
	if w := get(t, mux, "POST", "/healthz", nil); w.Code != 404 {
		t.Errorf("POST /healthz: %d, want 404 (not the app)", w.Code)
	}
	if w := get(t, mux, "POST", "/applications", nil); w.Code != 405 {
		t.Errorf("POST to a client route: %d, want 405", w.Code)
	}
}

func TestGzipAndETag(t *testing.T) {
	h := New(testFS())
	w := get(t, h, "GET", "/assets/index-abc123.js", map[string]string{"Accept-Encoding": "gzip, deflate, br"})
	if w.Header().Get("Content-Encoding") != "gzip" {
		t.Fatal("JavaScript not gzipped for a client that accepts it")
	}
	zr, err := gzip.NewReader(bytes.NewReader(w.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if string(plain) != bigJS {
		t.Error("gzip body does not decode to the file")
	}
	if !strings.Contains(w.Header().Get("Vary"), "Accept-Encoding") {
		t.Error("no Vary: Accept-Encoding")
	}
	if w2 := get(t, h, "GET", "/assets/index-abc123.js", map[string]string{"Accept-Encoding": "gzip;q=0"}); w2.Header().Get("Content-Encoding") != "" {
		t.Error("gzip sent though refused (q=0)")
	}
	etag := get(t, h, "GET", "/", nil).Header().Get("ETag")
	if etag == "" {
		t.Fatal("index.html has no ETag")
	}
	if w := get(t, h, "GET", "/", map[string]string{"If-None-Match": etag}); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("If-None-Match: %d, want 304", w.Code)
	}
	if w := get(t, h, "HEAD", "/", nil); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d with %d bytes", w.Code, w.Body.Len())
	}
}

func TestNotBuilt(t *testing.T) {
	h := New(fstest.MapFS{".gitkeep": {Data: nil}})
	w := get(t, h, "GET", "/applications", nil)
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "make ui") {
		t.Errorf("without a build: %d %q", w.Code, w.Body.String())
	}
	if w := get(t, h, "GET", "/api/v1/x", nil); w.Code != 404 {
		t.Errorf("without a build, /api/ still 404s: %d", w.Code)
	}
	// The embedded build, whichever this binary has, answers.
	if w := get(t, Handler(), "GET", "/", nil); w.Code != 200 && w.Code != 503 {
		t.Errorf("Handler(): %d", w.Code)
	}
	if Built() && get(t, Handler(), "GET", "/", nil).Code != 200 {
		t.Error("built, but / is not served")
	}
}
