package cluster

import "testing"

func TestUserLabel(t *testing.T) {
	for key, want := range map[string]bool{
		"env":                            true,
		"team":                           true,
		"example.com/tier":               true,
		"kubernetes.io.example.com/x":    true, // a domain of its own, not a subdomain
		"notgantry.dev/x":                true,
		"argocd.argoproj.io/secret-type": false,
		"argocd.argoproj.io/instance":    false,
		"argoproj.io/x":                  false,
		"app.kubernetes.io/managed-by":   false,
		"app.kubernetes.io/instance":     false,
		"kubernetes.io/metadata.name":    false,
		"node.k8s.io/x":                  false,
		"gantry.dev/project":             false,
		"platform.gantry.dev/vcluster":   false,
		"Gantry.Dev/project":             false,
	} {
		if _, got := UserLabel(key); got != want {
			t.Errorf("UserLabel(%q) = %v, want %v", key, got, want)
		}
	}
}
