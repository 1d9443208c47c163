package livestate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
)

// Options name the marks the sync step puts on managed objects.
type Options struct {
	// InstanceLabel is the label key on every managed object (its value: InstanceValue).
	InstanceLabel string
	// TrackingAnnotation holds Argo CD's tracking id: <ns>_<app>:<group>/<kind>:<ns>/<name>.
	TrackingAnnotation string
	// OnChange is called with the app key (namespace/name) of a managed object that
	// was added, changed or deleted.
	OnChange func(app string)
	// UserAgent of the clients (gantry's own traffic must not wake sleeping clusters).
	UserAgent string
}

// Cache holds one Cluster per destination.
type Cache struct {
	opts     Options
	ctx      context.Context
	mu       sync.Mutex
	clusters map[string]*Cluster
}

// New returns a cache whose watches live until ctx ends.
func New(ctx context.Context, opts Options) *Cache {
	return &Cache{opts: opts, ctx: ctx, clusters: map[string]*Cluster{}}
}

// InstanceValue is the label value for an app: its key, hashed when it would not
// fit in a label value.
func InstanceValue(appNamespace, appName string) string {
	v := appNamespace + "_" + appName
	if len(v) <= 63 {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return v[:40] + "-" + hex.EncodeToString(sum[:])[:22]
}

// AppKey returns the app (namespace/name) a tracking id belongs to.
func AppKey(trackingID string) (string, bool) {
	app, _, ok := strings.Cut(trackingID, ":")
	if !ok {
		return "", false
	}
	ns, name, ok := strings.Cut(app, "_")
	if !ok {
		return "", false
	}
	return ns + "/" + name, true
}

// Cluster is the live state of one destination cluster.
type Cluster struct {
	opts    Options
	Dynamic dynamic.Interface
	Mapper  meta.ResettableRESTMapper
	// Config is the cluster's client configuration, for what a dynamic
	// client cannot read (pod logs).
	Config *rest.Config

	factory dynamicinformer.DynamicSharedInformerFactory
	ctx     context.Context // ends when the cluster is forgotten; its informers run until then
	cancel  context.CancelFunc
	mu      sync.Mutex
	watched map[schema.GroupVersionResource]cache.SharedIndexInformer
	// mappings remembers the kinds found: every comparison looks up each of
	// its objects' kinds, and the discovery mapper builds (and throws away)
	// a mapping per version it tries. Emptied when the mapper is reset.
	mappings map[schema.GroupVersionKind]*meta.RESTMapping
}

// Cluster returns the cluster at key (a destination's server and credentials),
// creating its clients on first use.
func (c *Cache) Cluster(key string, cfg *rest.Config) (*Cluster, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clusters[key]; ok {
		return cl, nil
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = c.opts.UserAgent
	// The engine applies and lists in bursts (a thousand apps at start-up).
	cfg.QPS, cfg.Burst = 200, 400
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", cfg.Host, err)
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client for %s: %w", cfg.Host, err)
	}
	selector := c.opts.InstanceLabel
	ctx, cancel := context.WithCancel(c.ctx)
	cl := &Cluster{
		opts:    c.opts,
		Dynamic: dyn,
		Config:  cfg,
		Mapper:  restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco)),
		factory: dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, metav1.NamespaceAll,
			func(o *metav1.ListOptions) { o.LabelSelector = selector }),
		ctx:      ctx,
		cancel:   cancel,
		watched:  map[schema.GroupVersionResource]cache.SharedIndexInformer{},
		mappings: map[schema.GroupVersionKind]*meta.RESTMapping{},
	}
	c.clusters[key] = cl
	return cl, nil
}

// Forget stops a cluster's watches and drops its clients (no app deploys to
// it any more). A later Cluster call with the key starts afresh.
func (c *Cache) Forget(key string) {
	c.mu.Lock()
	cl := c.clusters[key]
	delete(c.clusters, key)
	c.mu.Unlock()
	if cl != nil {
		cl.cancel()
	}
}

// Keys returns the keys of the clusters held, in no particular order.
func (c *Cache) Keys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.clusters))
	for k := range c.clusters {
		out = append(out, k)
	}
	return out
}

const appIndex = "app"

// Watch makes sure every kind in gvks is watched and its cache synced. A kind the
// cluster does not serve is an error naming it.
func (cl *Cluster) Watch(ctx context.Context, gvks []schema.GroupVersionKind) error {
	var pending []cache.InformerSynced
	for _, gvk := range gvks {
		m, err := cl.Mapping(gvk)
		if err != nil {
			return err
		}
		cl.mu.Lock()
		inf, ok := cl.watched[m.Resource]
		if !ok {
			inf = cl.factory.ForResource(m.Resource).Informer()
			_ = inf.SetTransform(stripManagedFields)
			_ = inf.AddIndexers(cache.Indexers{appIndex: cl.indexApp})
			_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
				AddFunc:    cl.changed,
				UpdateFunc: func(_, obj any) { cl.changed(obj) },
				DeleteFunc: cl.changed,
			})
			cl.watched[m.Resource] = inf
			go inf.Run(cl.ctx.Done())
		}
		cl.mu.Unlock()
		pending = append(pending, inf.HasSynced)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if !cache.WaitForCacheSync(ctx.Done(), pending...) {
		return fmt.Errorf("watching %v did not sync within 30s: is the cluster reachable?", gvks)
	}
	return nil
}

// Mapping finds the resource of a kind, refreshing discovery once when the kind is
// unknown (its CRD may have been created since).
func (cl *Cluster) Mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	cl.mu.Lock()
	m, ok := cl.mappings[gvk]
	cl.mu.Unlock()
	if ok {
		return m, nil
	}
	m, err := cl.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		cl.Mapper.Reset()
		cl.mu.Lock()
		clear(cl.mappings) // a CRD may have changed: look every kind up again
		cl.mu.Unlock()
		m, err = cl.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err == nil {
		cl.mu.Lock()
		cl.mappings[gvk] = m
		cl.mu.Unlock()
	}
	if err != nil {
		if meta.IsNoMatchError(err) {
			return nil, fmt.Errorf("the cluster has no kind %s: install its CustomResourceDefinition first", gvk)
		}
		return nil, fmt.Errorf("looking up kind %s: %w", gvk, err)
	}
	return m, nil
}

// Managed returns the live objects of an app (namespace/name) in every watched
// kind. The objects are shared with the cache: callers must not change them.
func (cl *Cluster) Managed(app string) []*unstructured.Unstructured {
	cl.mu.Lock()
	infs := make([]cache.SharedIndexInformer, 0, len(cl.watched))
	for _, inf := range cl.watched {
		infs = append(infs, inf)
	}
	cl.mu.Unlock()
	var out []*unstructured.Unstructured
	for _, inf := range infs {
		objs, _ := inf.GetIndexer().ByIndex(appIndex, app)
		for _, o := range objs {
			if u, ok := o.(*unstructured.Unstructured); ok {
				out = append(out, u)
			}
		}
	}
	return out
}

func (cl *Cluster) indexApp(obj any) ([]string, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, nil
	}
	if app, ok := AppKey(u.GetAnnotations()[cl.opts.TrackingAnnotation]); ok {
		return []string{app}, nil
	}
	return nil, nil
}

func (cl *Cluster) changed(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok || cl.opts.OnChange == nil {
		return
	}
	if app, ok := AppKey(u.GetAnnotations()[cl.opts.TrackingAnnotation]); ok {
		cl.opts.OnChange(app)
	}
}

// stripManagedFields keeps the cache small: the diff never reads managedFields.
func stripManagedFields(obj any) (any, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		u.SetManagedFields(nil)
	}
	return obj, nil
}
