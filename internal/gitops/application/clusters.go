package application

import (
	"k8s.io/apimachinery/pkg/types"

	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/gitops/livestate"
)

// Each destination's watches live in the livestate cache under a key that
// names its server and credentials. A key no app uses any more (the app was
// deleted or moved, the cluster's Secret changed its credentials, a preview's
// virtual cluster went away) is dropped, with its watches: without this every
// preview environment left its informers running in gantry until a restart.

// liveCluster returns the live state of app's destination and records that app
// uses it.
func (r *Reconciler) liveCluster(app types.NamespacedName, dest *cluster.Cluster) (*livestate.Cluster, error) {
	key := clusterKey(dest)
	r.clustersMu.Lock()
	defer r.clustersMu.Unlock()
	cl, err := r.Live.Cluster(key, dest.REST)
	if err != nil {
		return nil, err
	}
	if r.appCluster == nil {
		r.appCluster = map[types.NamespacedName]string{}
	}
	prev, had := r.appCluster[app]
	r.appCluster[app] = key
	if had && prev != key {
		r.sweepLocked()
	}
	return cl, nil
}

// releaseCluster records that app no longer deploys anywhere (deleted, or its
// destination is unknown now).
func (r *Reconciler) releaseCluster(app types.NamespacedName) {
	r.clustersMu.Lock()
	defer r.clustersMu.Unlock()
	if _, ok := r.appCluster[app]; !ok {
		return
	}
	delete(r.appCluster, app)
	r.sweepLocked()
}

// sweepLocked drops the destinations no app uses. Under clustersMu, so that no
// reconcile takes a cluster between the count and the drop (every cluster is
// taken through liveCluster).
func (r *Reconciler) sweepLocked() {
	used := map[string]bool{r.appsKey: true}
	for _, k := range r.appCluster {
		used[k] = true
	}
	for _, k := range r.Live.Keys() {
		if !used[k] {
			r.Live.Forget(k)
		}
	}
}
