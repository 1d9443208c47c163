package controlplane

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

func TestZZSlowCRD(t *testing.T) {
	if os.Getenv("ZZ_PROFILE") == "" {
		t.Skip()
	}
	bins := binaries(t)
	cp, stop, done := start(t, Options{Name: "prof", Dir: t.TempDir(), Binaries: bins,
		APIServerFlags: Flags{"profiling": "true"}})
	defer func() { stop(); <-done }()
	kc := cp.KubeconfigPath()
	cp.Admin().Write(kc)
	kubectl := func(stdin string, args ...string) {
		cmd := exec.Command("../../bin/kubectl", append([]string{"--kubeconfig", kc}, args...)...)
		cmd.Stdin = bytes.NewBufferString(stdin)
		out, err := cmd.CombinedOutput()
		t.Logf("kubectl %v: %s %v", args, out, err)
	}
	crd, _ := os.ReadFile("/tmp/crd.yaml")
	kubectl(string(crd), "apply", "-f", "-")
	kubectl("", "wait", "--for", "condition=established", "crd/widgets.test.dev")
	go func() {
		time.Sleep(1 * time.Second)
		c, _ := rest.HTTPClientFor(cp.RESTConfig())
		resp, err := c.Get(cp.Endpoint() + "/debug/pprof/goroutine?debug=2")
		if err != nil {
			t.Log(err)
			return
		}
		f, _ := os.Create("/tmp/slow-goroutines.txt")
		f.ReadFrom(resp.Body)
		f.Close()
	}()
	t0 := time.Now()
	kubectl("apiVersion: test.dev/v1\nkind: Widget\nmetadata: {name: w1}\n", "create", "-f", "-")
	t.Logf("create took %v", time.Since(t0))
	time.Sleep(500 * time.Millisecond)
	_ = context.Background
}
