package syncer

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// reconcileFunc brings one key to the desired state. A positive requeueAfter asks to
// be called again then (e.g. to renew something); an error retries with backoff.
type reconcileFunc func(ctx context.Context, key string) (requeueAfter time.Duration, err error)

// controller is one kind's work queue and the workers that drain it. Informers on
// both clusters feed it keys; it never polls.
type controller struct {
	name      string
	workers   int
	reconcile reconcileFunc
	queue     workqueue.TypedRateLimitingInterface[string]
	// blocked paces keys held up by a foreign host object or one that is another
	// virtual object's copy: the label-filtered informers never see a foreign
	// object go, and the events of the other copy are the other key's, so only a
	// (slow) retry finds out.
	blocked workqueue.TypedRateLimiter[string]
	log     logr.Logger
}

func newController(log logr.Logger, name string, workers int, reconcile reconcileFunc) *controller {
	return &controller{
		name:      name,
		workers:   workers,
		reconcile: reconcile,
		// Unnamed: a named queue registers metrics in a process-wide registry, and
		// every virtual cluster's syncer would share (and fight over) the names.
		queue:   workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		blocked: workqueue.NewTypedItemExponentialFailureRateLimiter[string](15*time.Second, 10*time.Minute),
		log:     log.WithValues("controller", name),
	}
}

// enqueue adds keys to the queue.
func (c *controller) enqueue(keys ...string) {
	for _, k := range keys {
		if k != "" {
			c.queue.Add(k)
		}
	}
}

// on returns an event handler that enqueues the keys keysOf finds in an object (old
// and new ones on updates, so a changed reference releases its old target too).
func (c *controller) on(keysOf func(obj any) []string) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueue(keysOf(obj)...) },
		UpdateFunc: func(old, obj any) { c.enqueue(keysOf(old)...); c.enqueue(keysOf(obj)...) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			c.enqueue(keysOf(obj)...)
		},
	}
}

// run works until ctx ends and returns once every worker has stopped.
func (c *controller) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range c.workers {
		wg.Go(func() {
			for c.next(ctx) {
			}
		})
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
}

func (c *controller) next(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	after, err := c.reconcile(ctx, key)
	switch {
	case err == nil:
		c.queue.Forget(key)
		c.blocked.Forget(key)
		if after > 0 {
			c.queue.AddAfter(key, after)
		}
	case ctx.Err() != nil:
		// Shutting down: the error is the cancellation's doing.
	case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || meta.IsNoMatchError(err):
		// A write raced an informer; the next attempt sees the newer object.
		c.log.V(1).Info("retrying", "key", key, "reason", err.Error())
		c.queue.AddRateLimited(key)
	default:
		var blocked blockedError
		if errors.As(err, &blocked) {
			retry := c.blocked.When(key)
			c.log.Error(err, "refusing to touch a host object that is not this object's copy", "key", key, "retryIn", retry.String())
			c.queue.AddAfter(key, retry)
			return true
		}
		c.log.Error(err, "sync failed; will retry", "key", key)
		c.queue.AddRateLimited(key)
	}
	return true
}
