package platform

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/appapi"
	"gantry.dev/gantry/internal/appsetapi"
	"gantry.dev/gantry/internal/crds"
	"gantry.dev/gantry/internal/gitops/application"
	"gantry.dev/gantry/internal/gitops/appset"
	"gantry.dev/gantry/internal/gitops/appset/generate"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/gitops/livestate"
	"gantry.dev/gantry/internal/gitops/render"
	"gantry.dev/gantry/internal/gitops/source"
	"gantry.dev/gantry/internal/gitops/webhook"
	"gantry.dev/gantry/internal/kubebin"
)

// SystemNamespace holds gantry's own objects in the host: cluster Secrets,
// repository Secrets and the webhook Secret, in Argo CD's formats.
const SystemNamespace = "gantry-system"

// WebhookSecret holds the webhook secrets under Argo CD's keys
// (webhook.github.secret, webhook.gitlab.secret, webhook.gogs.secret for Gitea).
const WebhookSecret = "gantry-webhook"

// setupGitOps wires the GitOps engine: Git cache, renderer, live state, the
// Application controller, the cluster registrar, the webhook and the REST API.
func (p *Platform) setupGitOps(mgr manager.Manager, id *identity) error {
	reader := mgr.GetClient()
	srcs, err := source.NewCache(source.Options{
		Dir:    filepath.Join(p.opts.DataDir, "gitops"),
		MaxAge: p.opts.GitPollInterval,
		// Repository Secrets are read from gantry-system only, which only
		// administrators write: one without a project is an admin's global
		// credential, one with a project serves that project's apps only.
		Credentials: func(repoURL, project string) (source.Credentials, bool) {
			var list corev1.SecretList
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := reader.List(ctx, &list, client.InNamespace(SystemNamespace), client.HasLabels{source.LabelSecretType}); err != nil {
				return source.Credentials{}, false
			}
			set, _ := source.NewCredentialSet(list.Items)
			return set.Lookup(repoURL, project)
		},
	})
	if err != nil {
		return fmt.Errorf("git cache: %w", err)
	}
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		pruneTrees(ctx, srcs, p.opts.Logger)
		return nil
	})); err != nil {
		return err
	}
	registerSourceMetrics(srcs)
	renderCache := render.NewCache(render.CacheOptions{})
	renderer := render.New(render.Options{
		ChartCacheDir: filepath.Join(p.opts.DataDir, "gitops", "charts"),
		Cache:         renderCache,
	})
	registerRenderMetrics(renderCache)
	var rec *application.Reconciler
	live := livestate.New(p.ctx, livestate.Options{
		InstanceLabel:      application.InstanceLabel,
		TrackingAnnotation: application.TrackingAnnotation,
		UserAgent:          application.UserAgent,
		OnChange: func(app string) {
			ns, name, _ := strings.Cut(app, "/")
			rec.Enqueue(types.NamespacedName{Namespace: ns, Name: name})
		},
	})
	registry := &cluster.Registry{Reader: mgr.GetClient(), Namespace: SystemNamespace, Host: p.opts.Host}
	rec = &application.Reconciler{
		APIReader:    mgr.GetAPIReader(),
		Client:       mgr.GetClient(),
		Clusters:     registry,
		Live:         live,
		Sources:      srcs,
		Renderer:     renderer,
		Log:          p.opts.Logger.WithName("gitops"),
		PollInterval: p.opts.GitPollInterval,
		Workers:      p.opts.GitOpsWorkers,
		// The version gantry's own control planes run (Helm's
		// .Capabilities.KubeVersion has no "v").
		KubeVersion: strings.TrimPrefix(kubebin.Version, "v"),
		NoHostApps:  p.opts.NoHostApps,
	}
	if err := rec.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the Application controller: %w", err)
	}
	// A second platform in one process (tests) keeps the first one's; harmless.
	_ = ctrlmetrics.Registry.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gantry_applications_parked",
		Help: "Steady apps waiting for a change (a commit, a watched object, a refresh) rather than a timer."},
		func() float64 { return float64(rec.Parked()) }))
	if err := (&cluster.Registrar{Client: mgr.GetClient(), Namespace: SystemNamespace}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the cluster registrar: %w", err)
	}
	appsets := appset.New(appset.Options{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Generator: &generate.Generator{
			Sources:  generate.CacheSources{Cache: srcs},
			Clusters: generate.RegistryClusters{Registry: registry},
		},
		Namespace: SystemNamespace,
		Clusters:  registry,
		Logger:    p.opts.Logger.WithName("applicationset"),
	})
	if err := appsets.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the ApplicationSet controller: %w", err)
	}
	// A push refreshes the apps tracking that branch and the ApplicationSets
	// generating from that repository (a new or deleted branch included).
	// A replica that does not lead (leader election) asks the leader
	// through the API (refresh annotations): its own controllers do not run.
	onPush := func(ctx context.Context, push *webhook.Push) {
		leading := p.leading()
		if leading {
			rec.OnPush(ctx, push)
		} else {
			rec.RequestRefresh(ctx, push)
		}
		seen := map[string]bool{}
		for _, u := range push.RepoURLs {
			if n := source.NormalizeURL(u); !seen[n] {
				seen[n] = true
				if leading {
					appsets.Refresh(u)
				} else {
					appsets.RequestRefresh(ctx, u)
				}
			}
		}
	}
	p.router.Public("/api/webhook", "a Git host's push: the handler checks its signature (gantry-webhook Secret) and bounds its body", webhook.NewHandler(func(ctx context.Context) (webhook.Secrets, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		s, err := webhook.ReadSecret(ctx, reader, types.NamespacedName{Namespace: SystemNamespace, Name: WebhookSecret})
		if err != nil {
			p.opts.Logger.Error(err, "webhook refused: its secrets cannot be read")
		}
		return s, err
	}, onPush), api.BodyLimit(0))
	(&appapi.API{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Engine: rec, DefaultNamespace: "p-default",
		// The stream (/api/v1/stream/applications) follows the manager's informer.
		Informers: mgr.GetCache()}).Register(p.router)
	(&appsetapi.API{Client: mgr.GetClient(), DefaultNamespace: "p-default"}).Register(p.router)
	return nil
}

// ensureSystem makes the objects gantry needs before its parts start: its
// namespace, the webhook Secret (random secrets on first start) and the
// default project, where virtual clusters and apps go unless told otherwise.
func ensureSystem(ctx context.Context, c client.Client) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: SystemNamespace}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", SystemNamespace, err)
	}
	if err := webhook.EnsureSecret(ctx, c, types.NamespacedName{Namespace: SystemNamespace, Name: WebhookSecret}); err != nil {
		return err
	}
	def := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: platformv1alpha1.ProjectSpec{DisplayName: "Default", Description: "created by gantry on first start"}}
	if _, err := crds.CreateIfMissing(ctx, c, def); err != nil {
		return fmt.Errorf("creating the default project: %w", err)
	}
	return nil
}

// Checked-out trees are kept on disk while they are read: one per commit
// any app renders. Those no reconcile used for treeKeep go, every
// treePruneInterval; a later reconcile at that commit (a render cache miss)
// extracts it again from the mirror, without network.
const (
	treePruneInterval = 10 * time.Minute
	treeKeep          = time.Hour
)

func pruneTrees(ctx context.Context, srcs *source.Cache, log logr.Logger) {
	t := time.NewTicker(treePruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cutoff := time.Now().Add(-treeKeep)
		if _, err := srcs.Prune(func(_ string, used time.Time) bool { return used.After(cutoff) }); err != nil {
			log.Error(err, "pruning Git trees")
		}
	}
}

// registerSourceMetrics exposes the Git cache's sizes on /metrics.
func registerSourceMetrics(c *source.Cache) {
	for _, m := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gantry_git_lsremote_answers",
			Help: "ls-remote answers kept (one per repository and credential, for the poll interval)."}, func() float64 { return float64(c.Stats().Answers) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gantry_git_verified_commits",
			Help: "Commits known to be in a mirror (bounded, least recently used out first)."}, func() float64 { return float64(c.Stats().Verified) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gantry_git_verified_commits_evictions_total",
			Help: "Verified commits forgotten to keep the bound."}, func() float64 { return float64(c.Stats().VerifiedEvictions) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gantry_git_trees",
			Help: "Checked-out trees on disk, as of the last prune."}, func() float64 { return float64(c.Stats().Trees) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gantry_git_trees_pruned_total",
			Help: "Checked-out trees deleted because no reconcile used them for an hour."}, func() float64 { return float64(c.Stats().TreesPruned) }),
	} {
		// A second platform in one process (tests) keeps the first one's; harmless.
		_ = ctrlmetrics.Registry.Register(m)
	}
}

// registerRenderMetrics exposes the render cache's counters on /metrics, where
// `make bench` reads the hit rate.
func registerRenderMetrics(c *render.Cache) {
	for _, m := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gantry_render_cache_hits_total",
			Help: "Renders answered from the render cache."}, func() float64 { return float64(c.Stats().Hits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gantry_render_cache_misses_total",
			Help: "Renders that ran kustomize, helm or read a directory."}, func() float64 { return float64(c.Stats().Misses) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gantry_render_cache_bytes",
			Help: "Size of the rendered manifests kept (their JSON; bounded by the cache's MaxBytes)."}, func() float64 { return float64(c.Stats().Bytes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gantry_render_cache_entries",
			Help: "Rendered results kept (bounded by the cache's MaxEntries)."}, func() float64 { return float64(c.Stats().Entries) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gantry_render_cache_evictions_total",
			Help: "Rendered results dropped, least recently used first, to stay within the bounds."}, func() float64 { return float64(c.Stats().Evictions) }),
	} {
		// A second platform in one process (tests) keeps the first one's; harmless.
		_ = ctrlmetrics.Registry.Register(m)
	}
}
