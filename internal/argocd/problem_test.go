package argocd

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// No AppProject kind in Argo CD's cluster (its CRDs not installed) is a
// condition, not a retried error.
func TestClassifyNoKind(t *testing.T) {
	in := &instance{Cluster: InCluster, Namespace: "argocd"}
	err := classify(&meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "argoproj.io", Kind: "AppProject"}}, "AppProject x", in)
	var p *problem
	if !errors.As(err, &p) || p.Reason != ReasonAppProjectCRDMissing {
		t.Fatalf("got %v", err)
	}
}

func TestTargetAndNames(t *testing.T) {
	for _, s := range []string{"argocd@in-cluster", "ops@p-shop/dev"} {
		tg, ok := parseTarget(s)
		if !ok || tg.String() != s {
			t.Errorf("parseTarget(%q) = %v %v", s, tg, ok)
		}
	}
	if id := OIDCClientID("", "argocd"); id != "argocd" {
		t.Errorf("host argocd: %s", id)
	}
	a, b := OIDCClientID("in-cluster", "ops"), OIDCClientID("p-shop/dev", "argocd")
	if a == b || a == "argocd" || len(a) > 63 || a != OIDCClientID("", "ops") {
		t.Errorf("client ids %s %s", a, b)
	}
}
