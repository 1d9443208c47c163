// Package quietqueues keeps client-go's work queues without their Prometheus
// metrics in kube-controlplane, unless GANTRY_WORKQUEUE_METRICS=1.
//
// Why: with a metrics provider set (k8s.io/component-base's workqueue package
// sets one in its init), every work queue starts a goroutine that wakes twice a
// second to update its "unfinished work" gauges, whether or not anything is
// queued. kube-apiserver and kube-controller-manager hold about a hundred
// queues between them: two hundred wake-ups a second, which is most of what an
// idle host costs (issue 20: idle must be nearly free). Nobody scrapes these
// metrics from gantry's control planes.
//
// How: client-go takes the first provider it is given (a sync.Once) and starts
// no goroutine while the provider is its own no-op one. There is no exported way
// to say "keep the no-op", so this package spends that Once before
// component-base can, through a linkname to it. Go initialises packages in
// import-path order among those whose imports are ready (Go 1.21 spec), and
// this path (gantry.dev/...) sorts before k8s.io/component-base/..., so main
// only has to import it. If client-go renames the variable, the link fails
// loudly at build time rather than silently doing nothing; TestQueuesAreQuiet
// checks the effect.
package quietqueues

import (
	"os"
	"sync"
	_ "unsafe" // go:linkname

	_ "k8s.io/client-go/util/workqueue" // initialised before the Once is spent
)

//go:linkname providerOnce k8s.io/client-go/util/workqueue.setGlobalMetricsProviderOnce
var providerOnce sync.Once

// Spent says whether this package kept the no-op provider.
var Spent bool

func init() {
	if os.Getenv("GANTRY_WORKQUEUE_METRICS") == "1" {
		return
	}
	providerOnce.Do(func() { Spent = true })
}
