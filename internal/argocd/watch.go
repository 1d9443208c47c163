package argocd

import (
	"context"
	"sync"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// watcher repairs drift in Argo CD's cluster in seconds rather than at the
// next resync: for each Argo CD (target) that projects write to, it watches
// what they wrote there (their cluster Secrets and gantry-argocd-oidc, Argo
// CD's two ConfigMaps, their AppProjects) through a client to that cluster,
// and requeues the projects whose writes changed or went. Only metadata is
// watched: gantry keeps no copy of Argo CD's Secrets. A target is watched
// while a project uses it, with the credentials the project last reached it
// with: new credentials (its cluster Secret in gantry changed) restart it.
type watcher struct {
	log logr.Logger

	mu      sync.Mutex
	ctx     context.Context // the controller's; nil until it starts
	queue   workqueue.TypedRateLimitingInterface[reconcile.Request]
	targets map[target]*targetWatch
	users   map[string]target // project → the target it is watched in
}

// targetWatch is the informers on one Argo CD.
type targetWatch struct {
	cfg      *rest.Config
	cache    cache.Cache
	stop     context.CancelFunc
	projects map[string]bool
	// kinds watched so far: AppProject's joins once Argo CD's CRDs exist.
	kinds map[string]bool
}

// watchedKinds are what the integration writes in Argo CD's namespace.
var watchedKinds = []string{"Secret", "ConfigMap", AppProjectGVK.Kind}

func metaOf(kind string) *metav1.PartialObjectMetadata {
	o := &metav1.PartialObjectMetadata{}
	if kind == AppProjectGVK.Kind {
		o.SetGroupVersionKind(AppProjectGVK)
	} else {
		o.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
	}
	return o
}

// source is the controller's view of the watcher: it hands over the queue.
func (w *watcher) source() source.Source {
	return source.Func(func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.ctx, w.queue = ctx, q
		return nil
	})
}

// watch makes sure proj's writes in t are watched with cfg.
func (w *watcher) watch(proj string, t target, cfg *rest.Config) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx == nil || w.ctx.Err() != nil {
		return // reconciling outside a running controller
	}
	if old, ok := w.users[proj]; ok && old != t {
		w.release(proj, old)
	}
	tw := w.targets[t]
	projects := map[string]bool{}
	if tw != nil && !sameREST(tw.cfg, cfg) {
		w.log.Info("credentials of Argo CD's cluster changed: watching it again", "cluster", t.Cluster, "namespace", t.Namespace)
		tw.stop()
		projects = tw.projects
		tw = nil
	}
	if tw == nil {
		var err error
		if tw, err = w.start(t, cfg, projects); err != nil {
			w.log.Info("cannot watch Argo CD's cluster: drift there is repaired at the next resync", "cluster", t.Cluster, "namespace", t.Namespace, "error", err.Error())
			for p := range projects {
				delete(w.users, p)
			}
			delete(w.targets, t)
			delete(w.users, proj)
			return
		}
		w.targets[t] = tw
	}
	w.users[proj] = t
	tw.projects[proj] = true
	w.addInformers(t, tw)
}

// unwatch stops watching for proj.
func (w *watcher) unwatch(proj string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t, ok := w.users[proj]; ok {
		w.release(proj, t)
	}
}

// release drops proj from t, and stops t's informers when no one is left.
func (w *watcher) release(proj string, t target) {
	delete(w.users, proj)
	tw := w.targets[t]
	if tw == nil {
		return
	}
	delete(tw.projects, proj)
	if len(tw.projects) == 0 {
		tw.stop()
		delete(w.targets, t)
	}
}

// start makes t's cache for projects (informers added by addInformers): Argo
// CD's namespace only, and of Secrets only gantry's.
func (w *watcher) start(t target, cfg *rest.Config, projects map[string]bool) (*targetWatch, error) {
	ctx, stop := context.WithCancel(w.ctx)
	c, err := cache.New(rest.CopyConfig(cfg), cache.Options{
		DefaultNamespaces: map[string]cache.Config{t.Namespace: {}},
		ByObject: map[client.Object]cache.ByObject{
			metaOf("Secret"): {Label: labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedBy})},
		},
	})
	if err != nil {
		stop()
		return nil, err
	}
	go func() {
		if err := c.Start(ctx); err != nil {
			w.log.Info("watch of Argo CD's cluster ended", "cluster", t.Cluster, "namespace", t.Namespace, "error", err.Error())
		}
	}()
	return &targetWatch{cfg: cfg, cache: c, stop: stop, projects: projects, kinds: map[string]bool{}}, nil
}

// addInformers starts the informers t lacks; AppProject's fails until Argo
// CD's CRDs are installed, and is tried again at the next reconcile.
func (w *watcher) addInformers(t target, tw *targetWatch) {
	for _, kind := range watchedKinds {
		if tw.kinds[kind] {
			continue
		}
		inf, err := tw.cache.GetInformer(w.ctx, metaOf(kind), cache.BlockUntilSynced(false))
		if err == nil {
			_, err = inf.AddEventHandler(w.handler(t, kind))
		}
		if err != nil {
			if kind != AppProjectGVK.Kind || !isNoKind(err) {
				w.log.Info("cannot watch Argo CD's cluster", "cluster", t.Cluster, "namespace", t.Namespace, "kind", kind, "error", err.Error())
			}
			continue
		}
		tw.kinds[kind] = true
	}
}

// handler requeues the projects an event concerns. The initial list is what
// the reconcile that started the watch has just written: no news.
func (w *watcher) handler(t target, kind string) toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			if !initial {
				w.enqueue(t, kind, obj)
			}
		},
		UpdateFunc: func(_, obj any) { w.enqueue(t, kind, obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			w.enqueue(t, kind, obj)
		},
	}
}

func (w *watcher) enqueue(t target, kind string, obj any) {
	o, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	tw := w.targets[t]
	if tw == nil || w.queue == nil {
		return
	}
	var projects []string
	proj := o.GetLabels()[LabelProject]
	if kind == AppProjectGVK.Kind && proj == "" {
		proj = o.GetName() // its labels were taken off: still AppProjectName's
	}
	switch {
	case kind == "ConfigMap" && o.GetName() != ConfigMapCM && o.GetName() != ConfigMapRBAC:
	case kind == "Secret" && proj == "" && o.GetName() != OIDCSecretName:
	case proj != "":
		// A cluster Secret or AppProject: its project's, if it uses t.
		if tw.projects[proj] {
			projects = append(projects, proj)
		}
	default:
		// Shared by every project using t (argocd-cm, argocd-rbac-cm and
		// the OIDC Secret).
		for p := range tw.projects {
			projects = append(projects, p)
		}
	}
	for _, p := range projects {
		w.queue.Add(reconcile.Request{NamespacedName: types.NamespacedName{Name: p}})
	}
}
