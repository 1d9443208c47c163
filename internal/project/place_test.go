package project

import (
	"strings"
	"testing"
)

func TestPlace(t *testing.T) {
	for _, c := range []struct {
		project, namespace  string
		wantProject, wantNS string
		err                 string
	}{
		{"shop", "", "shop", "p-shop", ""},
		{"shop", "p-shop", "shop", "p-shop", ""},
		{"shop", "argocd", "shop", "p-shop", ""}, // an Argo CD manifest as is
		{"", "", "default", "p-default", ""},
		{"", "p-shop", "shop", "p-shop", ""},
		{"", "argocd", "default", "p-default", ""},
		{"shop", "p-web", "", "", `namespace p-web belongs to project "web", not to project "shop": leave the namespace out (the object goes to p-shop), or name project "web"`},
		{"shop", "gantry-system", "", "", `namespace gantry-system belongs to no project: objects of project "shop" live in namespace p-shop`},
		{"", "kube-system", "", "", "namespace kube-system belongs to no project"},
		{"Shop", "", "", "", `project "Shop" is not a project name`},
		{"../x", "", "", "", "is not a project name"},
	} {
		p, ns, err := Place(c.project, c.namespace)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Place(%q, %q) = %q, %q, %v; want an error with %q", c.project, c.namespace, p, ns, err, c.err)
			}
			continue
		}
		if err != nil || p != c.wantProject || ns != c.wantNS {
			t.Errorf("Place(%q, %q) = %q, %q, %v; want %q, %q", c.project, c.namespace, p, ns, err, c.wantProject, c.wantNS)
		}
	}
}
