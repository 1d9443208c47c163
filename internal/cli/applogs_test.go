package cli

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAppLogs: gantry app logs asks the REST API for the app's logs as
// argocd app logs does (kind and name, a Pod by podName, container, follow,
// previous, tail) and prints the lines, prefixed by pod when several may come.
func TestAppLogs(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
		if r.URL.Query().Get("podName") == "gone" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":"not found","message":"no pods of pod gone in application web (yet)","code":5}`)
			return
		}
		for _, l := range []string{
			`{"result":{"content":"started","podName":"web-a","timeStampStr":"2026-12-06T10:00:00Z"}}`,
			`{"result":{"content":"GET /","podName":"web-b","timeStampStr":"2026-12-06T10:00:01Z"}}`,
			`{"result":{"last":true}}`,
		} {
			fmt.Fprintln(w, l)
		}
	}))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	config := filepath.Join(t.TempDir(), "config.json")
	s := cliSession{Username: "alice", Token: "alice", RefreshToken: "unused", CA: string(ca), ExpiresAt: time.Now().Add(time.Hour)}
	must(t, (sessionStore{file: config, server: srv.URL}).save(s, true))
	t.Setenv(EnvConfig, config)
	run := func(args ...string) (string, error) {
		root, _ := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append(args, "--server", srv.URL))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := root.ExecuteContext(ctx)
		return out.String(), err
	}

	out, err := run("app", "logs", "web", "-p", "shop", "--kind", "Deployment", "--name", "web", "-c", "app", "-f", "--tail", "5")
	if err != nil {
		t.Fatal(err, out)
	}
	if want := "[pod/web-a] started\n[pod/web-b] GET /\n"; out != want {
		t.Errorf("printed %q, want %q", out, want)
	}
	out, err = run("app", "logs", "web", "--kind", "Pod", "--name", "web-a", "--previous", "--timestamps")
	if err != nil {
		t.Fatal(err, out)
	}
	if !strings.HasPrefix(out, "2026-12-06T10:00:00Z started\n") {
		t.Errorf("one pod, with timestamps: %q", out)
	}
	if out, err := run("app", "logs", "web", "--kind", "Pod", "--name", "gone"); err == nil || !strings.Contains(err.Error(), "no pods of pod gone") {
		t.Errorf("a missing pod: %v %s", err, out)
	}
	if _, err := run("app", "logs", "web", "--kind", "Deployment"); err == nil || !strings.Contains(err.Error(), "--kind and --name go together") {
		t.Errorf("--kind without --name: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, want := range []string{
		"/api/v1/applications/web/logs?appNamespace=p-shop&container=app&follow=true&group=apps&kind=Deployment&resourceName=web&tailLines=5",
		"/api/v1/applications/web/logs?appNamespace=p-default&podName=web-a&previous=true",
	} {
		if i >= len(asked) || asked[i] != want {
			t.Errorf("request %d: %v, want %s", i, asked, want)
		}
	}
}
