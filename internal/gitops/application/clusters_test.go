package application

import (
	"context"
	"sort"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/gitops/livestate"
)

// A destination's watches go when the last app using it goes: deleted, moved
// elsewhere, or its cluster unknown now. A destination still used stays.
func TestUnusedDestinationsAreForgotten(t *testing.T) {
	r := &Reconciler{Live: livestate.New(context.Background(), livestate.Options{})}
	dest := func(server, token string) *cluster.Cluster {
		return &cluster.Cluster{Server: server, Secret: "gantry-system/" + server, REST: &rest.Config{Host: server, BearerToken: token}}
	}
	one, two := dest("https://one", "t1"), dest("https://two", "t2")
	a, b := types.NamespacedName{Namespace: "p-x", Name: "a"}, types.NamespacedName{Namespace: "p-x", Name: "b"}
	held := func() []string {
		k := r.Live.Keys()
		sort.Strings(k)
		return k
	}
	use := func(app types.NamespacedName, d *cluster.Cluster) {
		t.Helper()
		if _, err := r.liveCluster(app, d); err != nil {
			t.Fatal(err)
		}
	}
	use(a, one)
	use(b, one)
	use(a, two) // a moves; b still deploys to one
	if got := held(); len(got) != 2 {
		t.Fatalf("after a moved: held %v, want both destinations", got)
	}
	r.releaseCluster(b) // b deleted: nobody uses one
	if got := held(); len(got) != 1 || got[0] != clusterKey(two) {
		t.Fatalf("after b went: held %v, want only %s", got, clusterKey(two))
	}
	// New credentials in two's Secret make a new key; the old one goes.
	rotated := dest("https://two", "t2-rotated")
	use(a, rotated)
	if got := held(); len(got) != 1 || got[0] != clusterKey(rotated) {
		t.Fatalf("after rotation: held %v, want only the new key", got)
	}
	r.forget(a)
	if got := held(); len(got) != 0 {
		t.Fatalf("after every app went: held %v", got)
	}
}
