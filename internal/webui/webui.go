package webui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"

	"gantry.dev/gantry/internal/jsonapi"
)

//go:embed all:dist
var dist embed.FS

// Dir is where the build lies inside dist (ui/vite.config.ts writes it there).
const Dir = "dist/app"

// CSP allows only the app's own files: no inline scripts or styles, no other
// origins, no framing. React sets styles through the CSSOM, which style-src
// does not restrict.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// reserved are the server's own paths: never answered with the app, even when
// the mux has no more specific route for them (an API not mounted yet).
var reserved = []string{"/api/", "/oidc/", "/kubernetes/", "/healthz", "/readyz", "/metrics", "/livez"}

// Reserved reports whether p belongs to the server rather than to the UI.
func Reserved(p string) bool {
	for _, r := range reserved {
		if dir, ok := strings.CutSuffix(r, "/"); ok {
			if p == dir || strings.HasPrefix(p, r) {
				return true
			}
		} else if p == r || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}

type file struct {
	body    []byte
	gz      []byte // nil when not worth compressing
	ctype   string
	etag    string
	caching string
}

// Handler serves the embedded build. The platform registers it public at
// "GET /"; the server's more specific routes win over it.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, Dir)
	if err != nil {
		return notBuilt{}
	}
	return New(sub)
}

// Built reports whether the binary carries the UI.
func Built() bool {
	_, err := fs.Stat(dist, Dir+"/index.html")
	return err == nil
}

// New serves the files of fsys (a Vite build: index.html, assets/...). All of
// it is read into memory once, with gzip variants: the build is a few hundred KB.
func New(fsys fs.FS) http.Handler {
	h := &handler{files: map[string]*file{}}
	_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil
		}
		h.files["/"+p] = newFile(p, body)
		return nil
	})
	if h.files["/index.html"] == nil {
		return notBuilt{}
	}
	return h
}

func newFile(p string, body []byte) *file {
	sum := sha256.Sum256(body)
	f := &file{body: body, ctype: contentType(p), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	switch {
	case strings.HasPrefix(p, "assets/"):
		// Vite puts a content hash in every name under assets/: never stale.
		f.caching = "public, max-age=31536000, immutable"
	default:
		// index.html (and the few unhashed files) are checked every time (ETag).
		f.caching = "no-cache"
	}
	if compressible(f.ctype) && len(body) > 1024 {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		if b.Len() < len(body)*9/10 {
			f.gz = b.Bytes()
		}
	}
	return f
}

var types = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".map":         "application/json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".woff2":       "font/woff2",
	".txt":         "text/plain; charset=utf-8",
	".webmanifest": "application/manifest+json",
}

// contentType is fixed per extension, not taken from the system's MIME tables
// (which differ between machines and have served JavaScript as text/plain).
func contentType(p string) string {
	if t, ok := types[path.Ext(p)]; ok {
		return t
	}
	return "application/octet-stream"
}

func compressible(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") || strings.Contains(ct, "svg")
}

func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
}

type handler struct {
	files map[string]*file
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if refuse(w, r) {
		return
	}
	p := path.Clean("/" + r.URL.Path)
	f, ok := h.files[p]
	switch {
	case ok:
	case p == "/":
		f = h.files["/index.html"]
	case strings.HasPrefix(p, "/assets/") || path.Dir(p) == "/" && types[path.Ext(p)] != "":
		// A missing file (an old hashed asset, /favicon.ico) is a 404, not the
		// app: the browser would otherwise run HTML as a script. Deeper paths
		// are client routes whatever their dots (/applications/ns/my.app).
		securityHeaders(w)
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	default:
		// A client-side route (/applications/ns/name): the app decides.
		f = h.files["/index.html"]
	}
	serve(w, r, f)
}

func serve(w http.ResponseWriter, r *http.Request, f *file) {
	securityHeaders(w)
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("Cache-Control", f.caching)
	body, etag := f.body, f.etag
	if f.gz != nil {
		hd.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			body, etag = f.gz, strings.TrimSuffix(f.etag, `"`)+`-gz"`
			hd.Set("Content-Encoding", "gzip")
		}
	}
	hd.Set("ETag", etag)
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, etag) {
		hd.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.TrimSpace(params)
		if v, ok := strings.CutPrefix(strings.ReplaceAll(q, " ", ""), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			return err == nil && f > 0
		}
		return true
	}
	return false
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "W/"))
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// refuse answers what the UI must not: the server's own paths and methods other
// than GET and HEAD. It reports whether it answered.
func refuse(w http.ResponseWriter, r *http.Request) bool {
	if Reserved(r.URL.Path) {
		if strings.HasPrefix(r.URL.Path, "/api") {
			jsonapi.Error(w, http.StatusNotFound, "no such API path: "+r.URL.Path)
		} else {
			http.NotFound(w, r)
		}
		return true
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return true
	}
	return false
}

// notBuilt is the handler of a binary built without the UI.
type notBuilt struct{}

const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gantry: the UI is not built</title></head>
<body><h1>The UI is not built</h1>
<p>This gantry binary was built without its web UI: run <code>make ui</code> (or <code>make build</code>) and build gantry again.</p>
<p>The REST API is served under <code>/api/v1/</code>.</p></body></html>
`

func (notBuilt) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if refuse(w, r) {
		return
	}
	securityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	if r.Method != http.MethodHead {
		_, _ = fmt.Fprint(w, notBuiltPage)
	}
}
