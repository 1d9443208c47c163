package vcluster

import "testing"

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"argocd-application-controller/*", "argocd-application-controller/v3.3.10 (linux/amd64) kubernetes/abc", true},
		{"argocd-application-controller/*", "kubectl/v1.37.2 (linux/amd64)", false},
		{"*/v1.37*", "kubectl/v1.37.2 (linux/amd64)", true},
		{"kubectl", "kubectl", true},
		{"kubectl", "kubectl/v1", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxcyyb", false},
	} {
		if got := glob(c.pattern, c.s); got != c.want {
			t.Errorf("glob(%q, %q) = %v", c.pattern, c.s, got)
		}
	}
}

func TestHostNamespace(t *testing.T) {
	if got := HostNamespace("p-default", "dev"); got != "vc-p-default-dev" {
		t.Fatal(got)
	}
	long := HostNamespace("p-a-very-long-project-name-that-goes-on", "and-a-very-long-virtual-cluster-name")
	if len(long) > 63 {
		t.Fatalf("%q is %d characters", long, len(long))
	}
	other := HostNamespace("p-a-very-long-project-name-that-goes-on", "and-a-very-long-virtual-cluster-namf")
	if long == other {
		t.Fatal("distinct long names collide")
	}
}
