package cli

import (
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/internal/up"
)

// Flags that cannot work are refused before anything is opened, with the
// flag named and the fix said.
func TestCheckUpFlags(t *testing.T) {
	good := up.Options{GitPollInterval: time.Minute, Nodes: 3, GitOpsWorkers: 8}
	for _, c := range []struct {
		name string
		set  func(*up.Options)
		want string
	}{
		{"short poll", func(o *up.Options) { o.GitPollInterval = 10 * time.Millisecond }, "--git-poll-interval 10ms is too short: use at least 1s"},
		{"negative nodes", func(o *up.Options) { o.Nodes = -1 }, "--nodes -1"},
		{"no gitops worker", func(o *up.Options) { o.GitOpsWorkers = 0 }, "--gitops-workers 0: use 1 to 256"},
		{"http external URL", func(o *up.Options) { o.ExternalURL = "http://gantry.example.com" }, "give an https URL without a path"},
		{"external URL with a path", func(o *up.Options) { o.ExternalURL = "https://example.com/gantry" }, "give an https URL without a path"},
		{"certificate without key", func(o *up.Options) { o.TLSCertFile = "c.pem" }, "--tls-cert-file and --tls-key-file go together"},
		{"key without certificate", func(o *up.Options) { o.TLSKeyFile = "k.pem" }, "--tls-cert-file and --tls-key-file go together"},
		{"unknown control planes", func(o *up.Options) { o.ControlPlanes = "vms" }, "use process (the default) or pods"},
		{"pods on simulated nodes", func(o *up.Options) { o.ControlPlanes, o.RealNodes = "pods", 0 }, "keep --real-nodes 1"},
		{"kubelet address not an IP", func(o *up.Options) { o.KubeletAddress = "gantry.example.com" }, "--kubelet-address \"gantry.example.com\": give an IP address"},
	} {
		o := good
		c.set(&o)
		if err := checkUpFlags(&o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want %q", c.name, err, c.want)
		}
	}
	o := good
	o.ExternalURL = "https://gantry.example.com/"
	if err := checkUpFlags(&o); err != nil || o.ExternalURL != "https://gantry.example.com" {
		t.Errorf("a good external URL: %v, %q; want it without its trailing slash", err, o.ExternalURL)
	}
}
