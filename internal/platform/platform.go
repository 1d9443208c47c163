// Package platform is gantry's composition root against one host cluster,
// whichever kind it is (embedded or external). New builds gantry's parts from
// the packages whose ideas they are (the reconcilers, identity, the REST APIs,
// the virtual-cluster proxy) and registers them: reconcilers and other
// runnables with one controller-runtime manager, routes with the one
// api.Router the HTTP server serves. Run installs the CRDs and the first
// objects, loads the signing keys and runs the manager. It holds no logic of
// its own; the process around it (the host, the server, their start and
// ordered stop) is package up's.
package platform

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/controlplanepods"
	"gantry.dev/gantry/internal/crds"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/oidcprovider"
	"gantry.dev/gantry/internal/identity/sessionapi"
	"gantry.dev/gantry/internal/identity/sso"
	"gantry.dev/gantry/internal/identity/users"
	"gantry.dev/gantry/internal/imageapi"
	"gantry.dev/gantry/internal/kubebin"
	"gantry.dev/gantry/internal/kubeletapi"
	"gantry.dev/gantry/internal/podsecurity"
	"gantry.dev/gantry/internal/project"
	"gantry.dev/gantry/internal/server"
	"gantry.dev/gantry/internal/settingsapi"
	"gantry.dev/gantry/internal/supervisor"
	"gantry.dev/gantry/internal/syncer"
	"gantry.dev/gantry/internal/vcapi"
	"gantry.dev/gantry/internal/vcluster"
	"gantry.dev/gantry/internal/vcproxy"
)

// Options configure the platform.
type Options struct {
	// Host is an admin client configuration for the host cluster.
	Host *rest.Config
	// Server is gantry's HTTP server; the platform adds its checks and routes.
	Server *server.Server
	// UI serves the web UI at / (webui.Handler); nil serves none.
	UI     http.Handler
	Logger logr.Logger
	// DataDir is gantry's data directory; virtual clusters live under DataDir/vclusters.
	DataDir string
	// Binaries run the virtual clusters' control planes.
	Binaries kubebin.Set
	// ShowInitialPassword is called once, on the first start, with the generated
	// admin password; the caller shows it to the user and keeps nothing.
	ShowInitialPassword func(password string)
	// InitialPasswordSecret keeps the generated admin password in Secret
	// InitialPasswordSecretName instead (a pod's output is its log, and no
	// secret goes to a log), as Argo CD's argocd-initial-admin-secret does.
	InitialPasswordSecret bool
	// PublishServerCA keeps ServerCA in ConfigMap ServerCAConfigMap, for
	// clients outside gantry's machine (gantry login --ca-file) when gantry
	// runs in a pod, where its data directory is out of reach.
	PublishServerCA bool
	// ExternalURL is how gantry is reached (the issuer of its tokens); default the
	// server's own URL.
	ExternalURL string
	// SimulatedNodes is how many of the host's nodes KWOK simulates (the
	// embedded host); 0 for an external host. The UI says so.
	SimulatedNodes int
	// RealNodes names the host's real nodes that are Ready (nil: none).
	RealNodes func() []string
	// RealNode is the Ready real node's image store, nil without one.
	RealNode func() imageapi.Store
	// Version is gantry's version, for /api/v1/settings.
	Version string
	// ServerCA verifies the server's certificate (gantry's own CA); nil when the
	// certificate was given (--tls-cert-file) and the system's roots verify it.
	ServerCA []byte
	// GitPollInterval is how often Applications' repositories are asked for new
	// commits (webhooks refresh at once). Default 60s.
	GitPollInterval time.Duration
	// GitOpsWorkers is how many Applications are compared and synced at
	// once (the Reconciler's default when 0).
	GitOpsWorkers int
	// NoHostApps refuses Applications with objects for the host cluster:
	// gantry may not write them there (the Helm chart's rbac.hostGitOps: false).
	NoHostApps bool
	// Placement, when set, is where the host runs virtual clusters' pods (the
	// embedded host's real nodes); nil lets the host's scheduler choose.
	Placement *syncer.Placement
	// ClusterDNS, when set, serves cluster DNS to virtual clusters' pods
	// and the host's own pods on the real node (clusterdns.go): where pods
	// really run. Nil leaves pods' DNS as their tenants wrote it.
	ClusterDNS *ClusterDNS
	// ControlPlanePods, when set, runs virtual clusters' control planes as
	// pods of the host (package controlplanepods); nil as gantry's children.
	ControlPlanePods *ControlPlanePods
	// InClusterAPI, when set with ClusterDNS, lets virtual clusters' pods
	// reach their own API server with their in-cluster configuration
	// (incluster.go). Nil leaves them the host's kubernetes Service.
	InClusterAPI *InClusterAPI
	// LeaderElection runs the controllers only while this gantry holds the
	// Lease LeaderLease in SystemNamespace (several replicas against one
	// host, leader.go); every replica serves HTTP. It needs
	// ControlPlanePods: a control plane that is a child process lives on
	// one replica's machine.
	LeaderElection bool
}

// ControlPlanePods place virtual clusters' control-plane pods (see
// controlplanepods.Options).
type ControlPlanePods struct {
	Image        string
	NodeSelector map[string]string
	Tolerations  []corev1.Toleration
	LocalVolumes string
	// KubeletAddress is where gantry's kubelet API listens so that the
	// API servers in those pods reach it for their pods' logs, exec, attach
	// and port-forward, and for gantry's OpenID Connect keys (direct SSO);
	// they cannot reach gantry's loopback: the real node's address on the
	// embedded host, gantry's pod IP in a cluster. They reach it through
	// the Service kubeletapi.ServiceName, which gantry (with
	// LeaderElection, the leader) points at its own: an address that
	// outlives the listener's port and gantry's pod. Empty leaves it on
	// 127.0.0.1, and those calls fail.
	KubeletAddress string
}

// controlPlanes is what the platform needs of a runtime of control planes:
// vcluster.Runtime (processes) or controlplanepods.Runtime (pods).
type controlPlanes interface {
	vcluster.ControlPlanes
	vcluster.Activity
	Components() map[types.NamespacedName][]supervisor.Status
}

// Scheme returns the types gantry's controllers use.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, platformv1alpha1.AddToScheme, gitopsv1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Platform is gantry's controllers and API, running against one host cluster.
type Platform struct {
	opts      Options
	mgr       manager.Manager
	started   chan struct{}
	vclusters controlPlanes
	kubelet   *kubeletapi.Server
	identity  *identity
	// router is every HTTP route; the server serves it.
	router     *api.Router
	sessionAPI *sessionapi.API
	sso        *sso.Service
	// direct reads and writes the host uncached, where a write must be seen
	// by the next read at once (OIDC clients).
	direct client.Client
	// dns is cluster DNS for the syncers; nil without Options.ClusterDNS.
	dns *syncer.DNS
	// apiServer is the Service of the in-cluster API relay for the
	// syncers; nil without Options.InClusterAPI. Set in Run before the
	// manager starts anything that reads it.
	apiServer *syncer.APIServer
	sleeper   *vcluster.Sleeper
	// ctx lives as long as Run; long-lived watches made outside the manager use it.
	ctx    context.Context
	cancel context.CancelFunc
}

// controlPlanes makes the runtime of virtual clusters' control planes.
func (p *Platform) controlPlanes() (controlPlanes, error) {
	// Virtual kube-apiservers accept tokens from gantry's issuer (gantry
	// vcluster connect --sso).
	trust := &vcluster.Trust{Issuer: p.issuer(), CA: p.opts.ServerCA}
	logger := p.opts.Logger.WithName("vcluster")
	if pods := p.opts.ControlPlanePods; pods != nil {
		return controlplanepods.New(controlplanepods.Options{
			Host: p.opts.Host, Image: pods.Image, NodeSelector: pods.NodeSelector, Tolerations: pods.Tolerations,
			LocalVolumes: pods.LocalVolumes, Kubelet: p.kubelet, Trust: p.podsTrust,
			WorkDir: p.opts.DataDir, Sync: p.runSyncer, Logger: logger, ExtraSANs: p.apiServerSANs,
		})
	}
	return vcluster.NewRuntime(vcluster.RuntimeOptions{
		DataDir:   filepath.Join(p.opts.DataDir, "vclusters"),
		Binaries:  p.opts.Binaries,
		Logger:    logger,
		Sync:      p.runSyncer,
		Trust:     trust,
		Kubelet:   p.kubelet,
		ExtraSANs: p.apiServerSANs,
	}), nil
}

// podsTrust is the issuer an API server in a pod trusts: gantry's, whose
// tokens name its external URL, but whose discovery document and keys it
// fetches from the kubelet API (at the Service every control plane already
// reaches, verified with the kubelet API's CA), as it reaches neither
// gantry's 127.0.0.1 nor, often, its external URL. Nil where the pods reach
// no kubelet API of gantry's (see kubeletapi.Server.IssuerDiscovery): a
// JWT authenticator that cannot fetch its keys accepts no token, and
// connect --sso then says so (directSSO).
func (p *Platform) podsTrust() *vcluster.Trust {
	url, ca, ok := p.kubelet.IssuerDiscovery()
	if !ok {
		return nil
	}
	return &vcluster.Trust{Issuer: p.issuer(), CA: ca, DiscoveryURL: url}
}

// directSSO says from where a virtual kube-apiserver's own address answers
// (connect --sso shows it), or why it would refuse every token gantry mints.
func (p *Platform) directSSO() (string, error) {
	if p.opts.ControlPlanePods == nil {
		return "the virtual kube-apiserver on gantry's machine (loopback): it answers there only; " +
			"from elsewhere connect through gantry's proxy (connect without --sso)", nil
	}
	if p.podsTrust() == nil {
		return "", errors.New("direct SSO is not available: the control planes run as pods, which reach no address of gantry's " +
			"to fetch its OpenID Connect keys from, so their API servers would refuse every token " +
			"(give gantry up --kubelet-address, an address of gantry's machine the host's pods reach; in a pod, GANTRY_POD_IP, as the Helm chart sets); " +
			"connect through gantry's proxy instead (connect without --sso)")
	}
	return "the control plane's Service (its ClusterIP): it answers on the host cluster's nodes and in its pods " +
		"(on the embedded host, on gantry's machine too), not from outside the host's network; " +
		"from elsewhere connect through gantry's proxy (connect without --sso)", nil
}

// serveIssuerMirror serves gantry's discovery document and keys on the
// kubelet API (kubeletapi.Options.Issuer), for podsTrust.
func (p *Platform) serveIssuerMirror(w http.ResponseWriter, r *http.Request) {
	var prov *oidcprovider.Provider
	if p.identity != nil {
		prov = p.identity.provider.Load()
	}
	base := p.kubelet.IssuerBase()
	if prov == nil || base == "" {
		http.Error(w, "gantry's OpenID Connect provider is starting: try again in a moment", http.StatusServiceUnavailable)
		return
	}
	prov.ServeMirror(w, r, base)
}

// VClusters reports the processes of every running virtual cluster.
func (p *Platform) VClusters() map[types.NamespacedName][]supervisor.Status {
	return p.vclusters.Components()
}

// New builds the manager; nothing runs until Run.
func New(opts Options) (*Platform, error) {
	scheme, err := Scheme()
	if err != nil {
		return nil, err
	}
	// client-go's default client-side limit (5 requests/s, bursts of 10) would
	// queue the controllers' writes behind each other: a thousand Applications
	// write their status at once. The host's API server does its own flow control.
	mgrCfg := rest.CopyConfig(opts.Host)
	if mgrCfg.QPS == 0 {
		mgrCfg.QPS, mgrCfg.Burst = 200, 400
	}
	if opts.LeaderElection && opts.ControlPlanePods == nil {
		return nil, errors.New("several replicas (leader election) need virtual clusters' control planes as pods (--control-planes pods): " +
			"a control plane run as a child process lives on one replica's machine and dies with it")
	}
	mgrOpts := ctrl.Options{
		Scheme: scheme,
		Logger: opts.Logger,
		// No reader of the cache needs managedFields, and every Get and List
		// from it copies them: with a thousand Applications, copies of
		// managedFields were a twentieth of gantry's CPU.
		Cache: cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
		// gantry's own server serves /metrics (from the same registry) and the probes.
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	}
	if opts.LeaderElection {
		if err := electLeader(&mgrOpts, mgrCfg); err != nil {
			return nil, fmt.Errorf("leader election: %w", err)
		}
	}
	mgr, err := ctrl.NewManager(mgrCfg, mgrOpts)
	if err != nil {
		return nil, fmt.Errorf("creating the controller manager: %w", err)
	}
	if opts.GitPollInterval == 0 {
		opts.GitPollInterval = 60 * time.Second
	}
	p := &Platform{opts: opts, mgr: mgr, started: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	// Virtual Nodes point their kubelet here: logs, exec, attach and
	// port-forward inside a virtual cluster reach its host pods.
	kubeletAddress := ""
	if opts.ControlPlanePods != nil {
		kubeletAddress = opts.ControlPlanePods.KubeletAddress
	}
	kubeletOpts := kubeletapi.Options{
		BindAddress: kubeletAddress,
		PKIDir:      filepath.Join(opts.DataDir, "pki"),
		Host:        opts.Host,
		HostNamespace: func(vc types.NamespacedName) string {
			return vcluster.HostNamespace(vc.Namespace, vc.Name)
		},
		Logger: opts.Logger.WithName("kubelet-api"),
	}
	if opts.LeaderElection || kubeletAddress != "" {
		// One kubelet API for all replicas (its CA in a Secret, its address
		// a Service the leader points at itself): a control plane's flags
		// and virtual Nodes name no replica, so a failover restarts none.
		// One gantry whose control planes are pods does the same: the
		// Service's address outlives its listener's port and pod IP, and
		// control planes name it for gantry's OpenID Connect keys.
		kubeletOpts.Shared = &kubeletapi.Shared{Namespace: SystemNamespace}
	}
	if opts.ControlPlanePods != nil {
		kubeletOpts.Issuer = http.HandlerFunc(p.serveIssuerMirror)
	}
	if p.kubelet, err = kubeletapi.New(kubeletOpts); err != nil {
		return nil, err
	}
	if err := mgr.Add(everyReplica{p.kubelet}); err != nil {
		return nil, err
	}
	if kubeletOpts.Shared != nil {
		if err := mgr.Add(manager.RunnableFunc(p.kubelet.Advertise)); err != nil { // on the leader only (without election: the one gantry)
			return nil, err
		}
	}
	if p.vclusters, err = p.controlPlanes(); err != nil {
		return nil, err
	}
	if err := (&vcluster.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Runtime:   p.vclusters,
		Recorder:  mgr.GetEventRecorderFor("gantry"),
		Cleanup: func(ctx context.Context, hostNamespace, vc string) error {
			return syncer.Cleanup(ctx, opts.Host, hostNamespace, vc)
		},
		SystemNamespace: SystemNamespace,
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the VirtualCluster controller: %w", err)
	}
	token, err := authn.LoadOrCreateAdminToken(opts.DataDir)
	if err != nil {
		return nil, err
	}
	id, err := p.setupIdentity(mgr, token)
	if err != nil {
		return nil, err
	}
	if err := (&project.Reconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the Project controller: %w", err)
	}
	// Activity a replica that does not lead sees goes into the cluster's
	// status, where the leader's sleeper reads it.
	sleeper := &vcluster.Sleeper{Client: mgr.GetClient(), Runtime: p.vclusters, Leading: p.leading}
	p.sleeper = sleeper
	if err := mgr.Add(sleeper); err != nil {
		return nil, err
	}
	(&vcproxy.Proxy{Backend: sleeper}).Register(p.router)
	(&vcproxy.Credentials{Backend: sleeper,
		Mint: func(ctx context.Context, user string, groups []string, audience string, ttl time.Duration) (string, time.Time, error) {
			prov := id.provider.Load()
			if prov == nil {
				return "", time.Time{}, errors.New("gantry's token issuer is starting: try again in a moment")
			}
			return prov.IssueIDToken(ctx, user, groups, audience, ttl)
		},
		Audience: func(projectName, name string) string {
			return vcluster.Audience(types.NamespacedName{Namespace: project.Namespace(projectName), Name: name})
		},
		Direct: p.directSSO,
	}).Register(p.router)
	(&vcapi.API{Client: mgr.GetClient(), Informers: mgr.GetCache(),
		ExternalURL: p.externalURL(), ServerCA: opts.ServerCA}).Register(p.router)
	if err := p.setupGitOps(mgr, id); err != nil {
		return nil, err
	}
	if err := p.setupArgoCD(mgr); err != nil {
		return nil, fmt.Errorf("setting up the Argo CD integration: %w", err)
	}
	(&imageapi.API{Node: opts.RealNode}).Register(p.router)
	(&settingsapi.API{Version: opts.Version, URL: p.externalURL(), SimulatedNodes: opts.SimulatedNodes, RealNodes: opts.RealNodes, OIDCIssuer: p.issuer()}).Register(p.router)
	if opts.UI != nil {
		p.router.Fallback("the web UI: static files and client-side routes; its API calls authenticate", opts.UI)
	}
	opts.Server.Route(p.router, ctrlmetrics.Registry)
	opts.Server.AddCheck("controllers", p.checkStarted)
	return p, nil
}

// Run installs the CRDs and the first objects, loads the signing keys (and
// makes the admin on the first start), then runs the manager until ctx ends.
func (p *Platform) Run(ctx context.Context) error {
	defer p.cancel()
	ictx, cancel := context.WithTimeout(ctx, 60*time.Second)
	err := crds.Install(ictx, p.opts.Host)
	cancel()
	if err != nil {
		return fmt.Errorf("installing gantry's CRDs into the host cluster: %w", err)
	}
	// Uncached: the manager's cache does not run yet. On the manager's
	// configuration, not throttled to client-go's default 5 requests/s, which
	// made every login wait for its refresh token's write.
	if err := ensureSystem(ctx, p.direct); err != nil {
		return err
	}
	// Before any control plane starts (the flags name the CA) and any
	// syncer (virtual Nodes carry the address).
	if err := p.kubelet.Join(ctx); err != nil {
		return err
	}
	if p.opts.ClusterDNS != nil {
		// Before any syncer starts: pods are created with their DNS settings.
		// Without it virtual clusters still work; their pods resolve only what
		// the node's resolver does, and the log says why.
		if err := p.startClusterDNS(ctx, p.direct); err != nil {
			p.opts.Logger.Error(err, "cluster DNS is off: pods of virtual clusters cannot resolve Service names")
		}
	}
	if p.opts.InClusterAPI != nil {
		// Before any control plane starts: its certificate names the
		// Service; before any syncer: pods are created with its address.
		if err := p.startInClusterAPI(ctx, p.direct); err != nil {
			p.opts.Logger.Error(err, "in-cluster API is off: pods of virtual clusters cannot use their in-cluster configuration")
		}
	}
	if err := p.startTokens(ctx, p.direct); err != nil {
		return err
	}
	password, err := users.Bootstrap(ctx, p.direct, SystemNamespace)
	if err != nil {
		return err
	}
	if p.opts.PublishServerCA && len(p.opts.ServerCA) > 0 {
		if err := publishServerCA(ctx, p.direct, p.opts.ServerCA); err != nil {
			return err
		}
	}
	switch {
	case password != "" && p.opts.InitialPasswordSecret:
		if err := writeInitialPassword(ctx, p.direct, password); err != nil {
			return err
		}
		p.opts.Logger.Info("the admin password is in a Secret: read it with kubectl -n " + SystemNamespace + " get secret " +
			InitialPasswordSecretName + " -o jsonpath={.data.password} | base64 -d; delete the Secret once you changed it")
	case password != "" && p.opts.ShowInitialPassword != nil:
		p.opts.ShowInitialPassword(password)
	}
	// On every replica: a replica that does not lead serves too, once its
	// caches are synced.
	if err := p.mgr.Add(everyReplica{manager.RunnableFunc(func(ctx context.Context) error {
		if p.mgr.GetCache().WaitForCacheSync(ctx) {
			close(p.started)
		}
		<-ctx.Done()
		return nil
	})}); err != nil {
		return err
	}
	return p.mgr.Start(ctx)
}

// Started is closed once CRDs are installed and the controllers' caches are synced.
func (p *Platform) Started() <-chan struct{} { return p.started }

func (p *Platform) checkStarted(context.Context) error {
	select {
	case <-p.started:
		return nil
	default:
		return errors.New("CRDs or controllers not started yet")
	}
}

// runSyncer runs the syncer of one ready virtual cluster with the sync settings of
// its spec, read fresh at each start so a changed spec applies at the next restart,
// and the Pod Security level its control plane was started with.
func (p *Platform) runSyncer(ctx context.Context, key types.NamespacedName, virtual *rest.Config, hostNamespace string, podSecurity podsecurity.Level) error {
	vc := &platformv1alpha1.VirtualCluster{}
	if err := p.mgr.GetAPIReader().Get(ctx, key, vc); err != nil {
		return fmt.Errorf("reading virtual cluster %s: %w", key, err)
	}
	o := syncer.Options{
		VCluster:      key.Name,
		Namespace:     key.Namespace,
		HostNamespace: hostNamespace,
		Virtual:       virtual,
		Host:          p.opts.Host,
		PodSecurity:   podSecurity,
		DNS:           p.dns,
		APIServer:     p.apiServer,
		Placement:     p.opts.Placement,
		Logger:        p.opts.Logger.WithName("syncer"),
	}
	addr, port := p.kubelet.Endpoint()
	o.Kubelet = &syncer.KubeletEndpoint{Address: addr, Port: port}
	if !o.FromSpec(vc.Spec.Sync) {
		// Nothing to sync: the cluster runs without a syncer until stopped.
		<-ctx.Done()
		return nil
	}
	return syncer.Run(ctx, o)
}

// InitialPasswordSecretName holds the first admin password when gantry runs
// in a pod (Options.InitialPasswordSecret).
const InitialPasswordSecretName = "gantry-initial-admin-password"

func writeInitialPassword(ctx context.Context, c client.Client, password string) error {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: InitialPasswordSecretName, Namespace: SystemNamespace,
			Labels: map[string]string{"app.kubernetes.io/part-of": "gantry"}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{"password": []byte(password)},
	}
	// Only the replica whose password it is writes it (users.Bootstrap); one
	// left from an earlier install, whose admin password Secret was
	// deleted since, is replaced rather than failing every start.
	err := c.Create(ctx, secret)
	if apierrors.IsAlreadyExists(err) {
		err = c.Update(ctx, secret)
	}
	if err != nil {
		return fmt.Errorf("keeping the initial admin password in Secret %s/%s: %w", SystemNamespace, InitialPasswordSecretName, err)
	}
	return nil
}

// ServerCAConfigMap holds gantry's CA certificate (ca.crt) when gantry runs
// in a pod (Options.PublishServerCA): public, as kube-root-ca.crt is.
const ServerCAConfigMap = "gantry-ca"

func publishServerCA(ctx context.Context, c client.Client, ca []byte) error {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ServerCAConfigMap, Namespace: SystemNamespace}}
	_, err := controllerutil.CreateOrUpdate(ctx, c, cm, func() error {
		if cm.Labels == nil {
			cm.Labels = map[string]string{}
		}
		cm.Labels["app.kubernetes.io/part-of"] = "gantry"
		cm.Data = map[string]string{"ca.crt": string(ca)}
		return nil
	})
	if err != nil {
		return fmt.Errorf("publishing gantry's CA in ConfigMap %s/%s: %w", SystemNamespace, ServerCAConfigMap, err)
	}
	return nil
}
