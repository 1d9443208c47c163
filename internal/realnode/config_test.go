package realnode

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The kubelet must never accept anonymous callers nor garbage-collect the
// only copies of locally loaded images, and its cgroups stay under gantry's own root.
func TestKubeletConfigIsAuthenticatedAndKeepsImages(t *testing.T) {
	l := newLayout("/data/realnode")
	data, err := kubeletConfig(l, &Environment{NodeIP: "192.0.2.10"}, ports{kubelet: 31000, kubeletHealthz: 31001}, "10.96.0.10")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	auth := cfg["authentication"].(map[string]any)
	if auth["anonymous"].(map[string]any)["enabled"] != false || auth["webhook"].(map[string]any)["enabled"] != true {
		t.Errorf("authentication %v: want anonymous off, webhook on", auth)
	}
	if cfg["authorization"].(map[string]any)["mode"] != "Webhook" {
		t.Errorf("authorization %v, want Webhook", cfg["authorization"])
	}
	if cfg["imageGCHighThresholdPercent"].(float64) != 100 {
		t.Errorf("image GC threshold %v, want 100 (never)", cfg["imageGCHighThresholdPercent"])
	}
	if root := cfg["cgroupRoot"].(string); !strings.HasPrefix(root, "/gantry-") || root != l.cgroupRoot() {
		t.Errorf("cgroupRoot %q", root)
	}
	if dns, _ := cfg["clusterDNS"].([]any); len(dns) != 1 || dns[0] != "10.96.0.10" || cfg["clusterDomain"] != "cluster.local" {
		t.Errorf("clusterDNS %v, clusterDomain %v; want the host's DNS Service in cluster.local", cfg["clusterDNS"], cfg["clusterDomain"])
	}
	if cfg["failCgroupV1"] != false || cfg["oomScoreAdj"].(float64) != 0 {
		t.Errorf("failCgroupV1 %v, oomScoreAdj %v", cfg["failCgroupV1"], cfg["oomScoreAdj"])
	}
}

func TestNamesAreUniquePerDataDirectory(t *testing.T) {
	a, b := newLayout("/data/a/realnode"), newLayout("/data/b/realnode")
	if a.bridge() == b.bridge() || a.cgroupRoot() == b.cgroupRoot() {
		t.Errorf("two gantries share names: %s %s", a.bridge(), a.cgroupRoot())
	}
	if len(a.bridge()) > 15 {
		t.Errorf("bridge name %q is longer than Linux's 15 characters", a.bridge())
	}
	for _, env := range []*Environment{{Snapshotter: "native", RestrictOOMScoreAdj: true}, {Snapshotter: "overlayfs"}} {
		c := containerdConfig(a, env)
		for _, want := range []string{`snapshotter = "` + env.Snapshotter + `"`, "/data/a/realnode/containerd/containerd.sock", SandboxImage} {
			if !strings.Contains(c, want) {
				t.Errorf("containerd config lacks %q:\n%s", want, c)
			}
		}
		if strings.Contains(c, "restrict_oom_score_adj = true") != env.RestrictOOMScoreAdj {
			t.Errorf("restrict_oom_score_adj should follow CAP_SYS_RESOURCE:\n%s", c)
		}
	}
}
