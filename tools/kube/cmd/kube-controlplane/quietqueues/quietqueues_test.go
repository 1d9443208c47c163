package quietqueues_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/util/workqueue"
	_ "k8s.io/component-base/metrics/prometheus/workqueue" // sets a provider in its init, as in kube-controller-manager

	"gantry.dev/gantry/tools/kube/cmd/kube-controlplane/quietqueues"
)

// TestQueuesAreQuiet: a named queue, made after component-base's init has
// run, starts no goroutine that ticks for metrics.
func TestQueuesAreQuiet(t *testing.T) {
	if !quietqueues.Spent {
		t.Fatal("component-base set its metrics provider first: the init order changed (import paths?)")
	}
	q := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "test-queue"})
	defer q.ShutDown()
	q.Add("x")
	time.Sleep(10 * time.Millisecond)
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	if strings.Contains(stacks, "updateUnfinishedWorkLoop") {
		t.Errorf("a work queue updates its metrics on a ticker:\n%s", stacks)
	}
}
