package syncer

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"gantry.dev/gantry/internal/podsecurity"
)

// Run syncs the virtual cluster opts.VCluster with its host namespace until ctx ends.
// It starts informers on both clusters, waits for their caches, then reconciles
// every kind from work queues; it returns nil once ctx has ended and everything it
// started has stopped, or an error if it could not start.
func Run(ctx context.Context, opts Options) error {
	s, err := newSyncer(opts)
	if err != nil {
		return err
	}
	return s.run(ctx)
}

// syncer is one virtual cluster's syncer: clients, informers and one controller per
// kind. Each kind's file adds its setup and reconcile methods.
type syncer struct {
	opts    Options
	log     logr.Logger
	t       translator
	virtual kubernetes.Interface
	host    kubernetes.Interface

	// Informer factories: the virtual cluster (all namespaces); the host namespace
	// filtered by the syncer's labels, so foreign objects are never even cached; host
	// nodes; host events (unlabelled, so unfiltered), only with SyncEvents.
	vf, hf, hnf, hef informers.SharedInformerFactory

	vPods, hPods  cache.SharedIndexInformer
	vPodLister    corelisters.PodLister
	hPodLister    corelisters.PodLister
	hSecretLister corelisters.SecretLister

	// Writers of host objects (hostwrite.go); the per-kind ones are made by the kinds'
	// setup functions, only when the kind is synced.
	pods            hostWriter[corev1.Pod, *corev1.Pod]
	secrets         hostWriter[corev1.Secret, *corev1.Secret]
	configMaps      hostWriter[corev1.ConfigMap, *corev1.ConfigMap]
	serviceAccounts hostWriter[corev1.ServiceAccount, *corev1.ServiceAccount]
	services        hostWriter[corev1.Service, *corev1.Service]
	endpoints       hostWriter[corev1.Endpoints, *corev1.Endpoints]
	pvcs            hostWriter[corev1.PersistentVolumeClaim, *corev1.PersistentVolumeClaim]

	eventSources map[string]eventSource // events.go
	checker      *podsecurity.Checker   // podsecurity.go

	controllers []*controller
	setupErrs   []error
}

func newSyncer(opts Options) (*syncer, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	log := opts.Logger.WithValues("vcluster", opts.VCluster, "namespace", opts.Namespace)
	s := &syncer{
		opts: opts,
		log:  log,
		t: translator{vcluster: opts.VCluster, vclusterNamespace: opts.Namespace, hostNamespace: opts.HostNamespace,
			tolerable: opts.TolerableTaints, dns: opts.DNS, placement: opts.Placement, apiServer: opts.APIServer},
	}
	var err error
	if s.checker, err = podsecurity.NewChecker(); err != nil {
		return nil, fmt.Errorf("syncer %s: %w", opts.VCluster, err)
	}
	if s.virtual, err = newClient(opts.Virtual, opts.VCluster, log.WithValues("cluster", "virtual")); err != nil {
		return nil, fmt.Errorf("syncer %s: virtual client: %w", opts.VCluster, err)
	}
	if s.host, err = newClient(opts.Host, opts.VCluster, log.WithValues("cluster", "host")); err != nil {
		return nil, fmt.Errorf("syncer %s: host client: %w", opts.VCluster, err)
	}
	strip := informers.WithTransform(stripManagedFields)
	ours := labels.Set{LabelManagedBy: ManagedBySyncer, LabelVCluster: opts.VCluster}.String()
	s.vf = informers.NewSharedInformerFactoryWithOptions(s.virtual, 0, strip)
	s.hf = informers.NewSharedInformerFactoryWithOptions(s.host, 0, strip, informers.WithNamespace(opts.HostNamespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = ours }))
	s.hnf = informers.NewSharedInformerFactoryWithOptions(s.host, 0, strip)
	s.hef = informers.NewSharedInformerFactoryWithOptions(s.host, 0, strip, informers.WithNamespace(opts.HostNamespace))

	s.vPods = s.vf.Core().V1().Pods().Informer()
	s.hPods = s.hf.Core().V1().Pods().Informer()
	s.vPodLister = s.vf.Core().V1().Pods().Lister()
	s.hPodLister = s.hf.Core().V1().Pods().Lister()
	s.hSecretLister = s.hf.Core().V1().Secrets().Lister()
	s.addIndexers(s.vPods, podIndexers())
	s.addIndexers(s.hPods, cache.Indexers{indexNode: nodeIndex})

	hns := opts.HostNamespace
	s.pods = newWriter[corev1.Pod]("Pod", s.host.CoreV1().Pods(hns), opts.VCluster)
	s.secrets = newWriter[corev1.Secret]("Secret", s.host.CoreV1().Secrets(hns), opts.VCluster)
	s.configMaps = newWriter[corev1.ConfigMap]("ConfigMap", s.host.CoreV1().ConfigMaps(hns), opts.VCluster)

	// The table of what runs. Pods bring nodes (binding needs them); the other kinds
	// are independent of each other.
	kinds := []struct {
		kind  string
		setup func() *controller
	}{
		{KindPods, s.setupPods},
		{KindPods, s.setupNodes},
		{KindConfigMaps, s.setupConfigMaps},
		{KindSecrets, s.setupSecrets},
		{KindServiceAccounts, s.setupServiceAccounts},
		{KindPersistentVolumeClaims, s.setupPVCs},
		{KindServices, s.setupServices},
		{KindEndpoints, s.setupEndpoints},
	}
	for _, k := range kinds {
		if opts.syncs(k.kind) {
			s.controllers = append(s.controllers, k.setup())
		}
	}
	if opts.DNS != nil {
		s.setupDNS()
	}
	if opts.SyncEvents {
		s.controllers = append(s.controllers, s.setupEvents())
	}
	if err := errors.Join(s.setupErrs...); err != nil {
		return nil, fmt.Errorf("syncer %s: %w", opts.VCluster, err)
	}
	return s, nil
}

func (s *syncer) run(ctx context.Context) error {
	factories := []informers.SharedInformerFactory{s.vf, s.hf, s.hnf, s.hef}
	for _, f := range factories {
		f.Start(ctx.Done())
	}
	defer func() {
		for _, f := range factories {
			f.Shutdown()
		}
	}()
	for _, f := range factories {
		for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("syncer %s: the %v cache did not sync", s.opts.VCluster, typ)
			}
		}
	}
	if d := s.opts.DNS; d != nil {
		key := s.opts.Namespace + "/" + s.opts.VCluster
		z := dnsZone{s}
		d.Registry.Set(key, z, z.member)
		defer d.Registry.Delete(key)
	}
	s.log.Info("syncing", "hostNamespace", s.opts.HostNamespace, "controllers", len(s.controllers))
	var wg sync.WaitGroup
	for _, c := range s.controllers {
		wg.Go(func() { c.run(ctx) })
	}
	wg.Wait()
	return nil
}

// handle adds an event handler to an informer, remembering a failure for newSyncer.
func (s *syncer) handle(inf cache.SharedIndexInformer, h cache.ResourceEventHandler) {
	if _, err := inf.AddEventHandler(h); err != nil {
		s.setupErrs = append(s.setupErrs, err)
	}
}

func (s *syncer) addIndexers(inf cache.SharedIndexInformer, idx cache.Indexers) {
	if err := inf.AddIndexers(idx); err != nil {
		s.setupErrs = append(s.setupErrs, err)
	}
}

// usedByPods reports whether some virtual pod is in index under key.
func (s *syncer) usedByPods(index, key string) bool {
	objs, err := s.vPods.GetIndexer().ByIndex(index, key)
	return err == nil && len(objs) > 0
}

// newClient makes a client for one side with the syncer's own rate limits: client-go's
// default of 5 requests a second would make a Deployment of a few replicas crawl.
func newClient(cfg *rest.Config, vcluster string, log logr.Logger) (kubernetes.Interface, error) {
	c := rest.CopyConfig(cfg)
	if c.QPS == 0 {
		c.QPS, c.Burst = 50, 100
	}
	c.UserAgent = "gantry-syncer/" + vcluster
	c.WarningHandler = warningLogger{log}
	return kubernetes.NewForConfig(c)
}

// warningLogger sends API deprecation warnings (v1 Endpoints has one) to the log at
// debug level instead of client-go's process-wide stderr.
type warningLogger struct{ log logr.Logger }

func (w warningLogger) HandleWarningHeader(_ int, _ string, text string) {
	w.log.V(2).Info("API server warning", "warning", text)
}

// stripManagedFields keeps managedFields out of the caches: the syncer never reads
// them, and they are a good part of each object's size.
func stripManagedFields(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// Event-handler key functions.

// objectKey is an object's own "namespace/name" (or name).
func objectKey(obj any) []string {
	k, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		return nil
	}
	return []string{k}
}

// hostObjectKey is the key of the virtual object a host object was copied from.
func hostObjectKey(obj any) []string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	if k, ok := virtualKey(m); ok {
		return []string{k}
	}
	return nil
}

// getOrNil turns a lister's NotFound into nil.
func getOrNil[T any](obj *T, err error) (*T, error) {
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return obj, nil
}
