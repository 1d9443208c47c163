package vcproxy

import (
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/rest"

	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/identity/authn"
)

// anyone authenticates every request as alice.
type anyone struct{}

func (anyone) Authenticate(*http.Request) (authn.Identity, error) {
	return authn.Identity{User: "alice"}, nil
}

// confinedProxy is the proxy, mounted on a router that lets anyone in, in
// front of the upstream at url (trusting ca).
func confinedProxy(url string, ca []byte) http.Handler {
	router := api.NewRouter(anyone{}, func([]string, string, string, string) error { return nil })
	(&Proxy{Backend: oneCluster{&rest.Config{Host: url, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}}}).Register(router)
	return router
}

// oneCluster is a Backend whose every virtual cluster is the upstream at cfg.
type oneCluster struct{ cfg *rest.Config }

func (b oneCluster) Wake(context.Context, string, string) (*rest.Config, error)  { return b.cfg, nil }
func (b oneCluster) Awake(context.Context, string, string) (*rest.Config, error) { return b.cfg, nil }
func (oneCluster) Activity(string, string, string)                               {}

// A tenant's pod, service or node proxy answers with HTML that sets cookies
// (in an early hint too) and clears site data. Through gantry's proxy the
// browser gets it sandboxed, not sniffed, and with no state headers, whatever
// tricks the path plays.
func TestProxiedResponsesConfined(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.EscapedPath())
		mu.Unlock()
		w.Header().Set("Link", "</evil.js>; rel=preload; as=script")
		w.Header().Set("Set-Cookie", "gantry.token=early; Path=/")
		w.WriteHeader(http.StatusEarlyHints)
		clear(w.Header())
		w.Header().Set("Content-Type", "text/html")
		w.Header().Add("Set-Cookie", "gantry.token=planted; Path=/")
		w.Header().Add("Set-Cookie", "other=1; Path=/kubernetes/")
		w.Header().Set("Set-Cookie2", "legacy=1")
		w.Header().Set("Clear-Site-Data", `"cookies", "storage"`)
		w.Header().Set("Content-Security-Policy", "default-src *; script-src 'unsafe-inline'")
		io.WriteString(w, `<html><script>fetch("/api/v1/projects",{method:"DELETE"})</script></html>`)
	}))
	defer upstream.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: upstream.Certificate().Raw})
	gantry := httptest.NewServer(confinedProxy(upstream.URL, ca))
	defer gantry.Close()

	const vc = "/kubernetes/project/a/virtualcluster/v1"
	for _, path := range []string{
		"/api/v1/namespaces/default/services/web/proxy/",
		"/api/v1/namespaces/default/services/web:8080/proxy/index.html",
		"/api/v1/namespaces/default/services/https:web:443/proxy/",
		"/api/v1/namespaces/default/pods/web-0/proxy/",
		"/api/v1/namespaces/default/pods/web-0:8080/proxy/x",
		"/api/v1/nodes/sim-node-1/proxy/",
		"/api/v1/nodes/sim-node-1:10250/proxy/pods",
		// Encoded and double-encoded slashes, dot segments, duplicate slashes, case.
		"/api/v1/namespaces/default/services%2Fweb%2Fproxy%2F",
		"/api/v1/namespaces/default/services/web%252Fproxy/",
		"/api/v1/namespaces/default/services/web/PROXY/",
		"/api/v1/namespaces/default/x/../services/web/proxy/",
		"/api/v1/namespaces/default/services/web/proxy/%2e%2e/%2e%2e/",
		"//api//v1//namespaces/default/services/web/proxy//",
		"/apis/../api/v1/namespaces/default/services/web/proxy/",
		// And a plain API path: everything is confined, not only what looks like a proxy.
		"/api/v1/namespaces",
	} {
		t.Run(path, func(t *testing.T) {
			var early []textproto.MIMEHeader
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				Got1xxResponse: func(_ int, h textproto.MIMEHeader) error { early = append(early, h); return nil }})
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, gantry.URL+vc+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer x")
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusTemporaryRedirect {
				// The router sends dot segments and doubled slashes to the
				// cleaned path: gantry's own answer, no tenant content in it.
				if strings.Contains(string(body), "<script>") || len(resp.Header.Values("Set-Cookie")) != 0 ||
					!strings.HasPrefix(resp.Header.Get("Location"), vc+"/") {
					t.Fatalf("a redirect with tenant content or elsewhere: %v %s", resp.Header, body)
				}
				return
			}
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<script>") {
				t.Fatalf("did not reach the upstream: %d %s", resp.StatusCode, body)
			}
			if got := resp.Header.Values("Content-Security-Policy"); len(got) != 1 || got[0] != "sandbox" {
				t.Errorf("Content-Security-Policy %q, want only sandbox", got)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
			for _, h := range []string{"Set-Cookie", "Set-Cookie2", "Clear-Site-Data"} {
				if v := resp.Header.Values(h); len(v) != 0 {
					t.Errorf("%s reached the browser: %q", h, v)
				}
			}
			if len(early) != 1 {
				t.Fatalf("%d early hints, want the upstream's one", len(early))
			}
			if v := early[0].Values("Set-Cookie"); len(v) != 0 || early[0].Get("Link") == "" {
				t.Errorf("early hint headers %v: want Link kept, Set-Cookie dropped", early[0])
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("paths the upstream saw: %q", seen)
}

// Upgraded streams (exec, attach, port-forward) still pass through the
// confining transport, with the headers set on the 101 too.
func TestUpgradeThroughConfiningTransport(t *testing.T) {
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
			return
		}
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\nSet-Cookie: gantry.token=x\r\n\r\n")
		line, _ := buf.ReadString('\n')
		io.WriteString(conn, "echo: "+line)
	}))
	defer upstream.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: upstream.Certificate().Raw})
	gantry := httptest.NewServer(confinedProxy(upstream.URL, ca))
	defer gantry.Close()

	req, _ := http.NewRequest(http.MethodPost, gantry.URL+"/kubernetes/project/a/virtualcluster/v1/api/v1/namespaces/default/pods/web-0/exec", nil)
	req.Header.Set("Authorization", "Bearer x")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d %s, want 101", resp.StatusCode, b)
	}
	if resp.Header.Get("Set-Cookie") != "" || resp.Header.Get("Content-Security-Policy") != "sandbox" {
		t.Errorf("101 headers %v", resp.Header)
	}
	rw, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		t.Fatalf("upgraded body %T is not writable", resp.Body)
	}
	io.WriteString(rw, "hello\n")
	got := make([]byte, len("echo: hello\n"))
	if _, err := io.ReadFull(rw, got); err != nil || string(got) != "echo: hello\n" {
		t.Errorf("stream answered %q, %v", got, err)
	}
}
