package clusterapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/jsonapi"
	"gantry.dev/gantry/internal/project"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1/clusters"

// maxBody bounds a request: a name, a URL and a few PEM blocks.
const maxBody = 256 << 10

// API serves /api/v1/clusters on an api.Router (Register).
//
//	GET    /api/v1/clusters           list    (clusters get <object>, per cluster)
//	POST   /api/v1/clusters           add     (clusters create <object>)
//	GET    /api/v1/clusters/{name}    one     (clusters get <object>)
//	DELETE /api/v1/clusters/{name}    remove  (clusters delete <object>)
//
// <object> is the server URL, or <project>/<server> for a project's cluster.
// Virtual clusters' names hold a slash (p-<project>/<name>), so {name} takes
// the rest of the path.
type API struct {
	// Client reads and writes the cluster Secrets and reads Projects and
	// VirtualClusters; uncached, so an added cluster is listed at once.
	Client client.Client
	// Namespace is gantry's namespace (gantry-system), which holds the
	// cluster Secrets.
	Namespace string
	// Host is the host's configuration, to probe in-cluster.
	Host *rest.Config
	// Probe checks a cluster; nil is cluster.Probe.
	Probe func(ctx context.Context, cfg *rest.Config) (cluster.ConnectionState, string)
	// ProbeTTL is how long a probe's answer is kept; 0 is 30 seconds.
	ProbeTTL time.Duration

	once  sync.Once
	cache *probeCache
}

// Register mounts the API.
func (a *API) Register(r *api.Router) {
	a.once.Do(func() {
		probe, ttl := a.Probe, a.ProbeTTL
		if probe == nil {
			probe = cluster.Probe
		}
		if ttl <= 0 {
			ttl = 30 * time.Second
		}
		a.cache = newProbeCache(probe, ttl)
	})
	handle := func(pattern string, code int, fn func(r *http.Request, id *api.Caller) (any, error)) {
		r.Handle(pattern, api.Reply(code, fn), api.BodyLimit(maxBody))
	}
	one := Prefix + "/{name...}"
	handle("GET "+Prefix, http.StatusOK, a.list)
	handle("POST "+Prefix, http.StatusCreated, a.create)
	handle("GET "+one, http.StatusOK, func(r *http.Request, id *api.Caller) (any, error) {
		e, err := a.find(r.Context(), id, r.PathValue("name"))
		if err != nil {
			return nil, err
		}
		return a.views(r.Context(), []entry{e})[0], nil
	})
	handle("DELETE "+one, http.StatusOK, a.delete)
}

// Cluster is a cluster as the API shows it: never its credentials.
type Cluster struct {
	Name   string `json:"name"`
	Server string `json:"server"`
	// Project is set for a cluster that only that project's apps may use.
	Project string `json:"project,omitempty"`
	// VirtualCluster names the gantry virtual cluster behind the entry (in
	// Project), which gantry registered itself.
	VirtualCluster string   `json:"virtualCluster,omitempty"`
	Namespaces     []string `json:"namespaces,omitempty"`
	// RegisteredBy is who added the cluster through this API.
	RegisteredBy string `json:"registeredBy,omitempty"`
	Info         Info   `json:"info"`
}

// Info is what gantry knows of the cluster, in Argo CD's shape.
type Info struct {
	ConnectionState cluster.ConnectionState `json:"connectionState"`
	ServerVersion   string                  `json:"serverVersion,omitempty"`
}

// List is the answer of GET /api/v1/clusters.
type List struct {
	Items []Cluster `json:"items"`
}

// Names of what the API writes on a cluster Secret besides Argo CD's format.
const (
	LabelManagedBy          = "app.kubernetes.io/managed-by"
	ManagedBy               = "gantry"
	AnnotationRegisteredBy  = "platform.gantry.dev/registered-by"
	reservedNameInstruction = "choose another name (gantry cluster add --name)"
)

// entry is one cluster: the host, or a cluster Secret (parsed when it can be).
type entry struct {
	view   Cluster
	rest   *rest.Config
	secret *corev1.Secret
	// broken says why the Secret cannot be used.
	broken error
}

// object is the RBAC object of a cluster: its server, or <project>/<server>.
func (e entry) object() api.Object {
	if e.view.Project != "" {
		return api.InProject(e.view.Project, e.view.Server)
	}
	return api.Global(e.view.Server)
}

// may says whether the caller may act on e. A virtual cluster's entry is also
// visible to whoever may get that virtual cluster (a key scoped to it too).
func may(id *api.Caller, action string, e entry) bool {
	if action == rbac.ActionGet && e.view.VirtualCluster != "" &&
		id.May(rbac.ResourceVirtualClusters, rbac.ActionGet, api.VirtualCluster(e.view.Project, e.view.VirtualCluster)) {
		return true
	}
	return id.May(rbac.ResourceClusters, action, e.object())
}

// entries is the host, then the cluster Secrets by name. A Secret without a
// server is left out: nothing can deploy to it, nor can RBAC name it.
func (a *API) entries(ctx context.Context) ([]entry, error) {
	if a.Namespace == "" {
		return nil, jsonapi.Errorf(http.StatusInternalServerError, "gantry is set up wrong: clusterapi.API.Namespace is empty; it must be gantry's namespace (gantry-system)")
	}
	var list corev1.SecretList
	if err := a.Client.List(ctx, &list, client.InNamespace(a.Namespace),
		client.MatchingLabels{cluster.SecretTypeLabel: cluster.SecretTypeValue}); err != nil {
		return nil, fmt.Errorf("listing cluster Secrets in %s: %w", a.Namespace, err)
	}
	out := []entry{{view: Cluster{Name: cluster.HostName, Server: cluster.HostServer}, rest: a.Host}}
	var secrets []entry
	for i := range list.Items {
		s := &list.Items[i]
		e := entry{secret: s, view: Cluster{
			Name:    strings.TrimSpace(string(s.Data["name"])),
			Server:  strings.TrimRight(strings.TrimSpace(string(s.Data["server"])), "/"),
			Project: strings.TrimSpace(string(s.Data["project"])),
		}}
		if e.view.Server == "" {
			continue
		}
		if e.view.Name == "" {
			e.view.Name = e.view.Server
		}
		if c, err := cluster.Parse(s); err != nil {
			e.broken = err
		} else {
			e.rest, e.view.Namespaces = c.REST, c.Namespaces
		}
		if p, ok := project.FromNamespace(s.Labels[cluster.LabelVClusterNamespace]); ok && s.Labels[cluster.LabelVCluster] != "" {
			e.view.Project, e.view.VirtualCluster = p, s.Labels[cluster.LabelVCluster]
		}
		e.view.RegisteredBy = s.Annotations[AnnotationRegisteredBy]
		secrets = append(secrets, e)
	}
	slices.SortFunc(secrets, func(x, y entry) int { return strings.Compare(x.view.Name, y.view.Name) })
	return append(out, secrets...), nil
}

// list is GET /api/v1/clusters: the clusters the caller may get.
func (a *API) list(r *http.Request, id *api.Caller) (any, error) {
	all, err := a.entries(r.Context())
	if err != nil {
		return nil, err
	}
	var visible []entry
	for _, e := range all {
		if may(id, rbac.ActionGet, e) {
			visible = append(visible, e)
		}
	}
	return List{Items: a.views(r.Context(), visible)}, nil
}

// find is the cluster named name that the caller may get; one they may not
// get is not found, as one that does not exist.
func (a *API) find(ctx context.Context, id *api.Caller, name string) (entry, error) {
	all, err := a.entries(ctx)
	if err != nil {
		return entry{}, err
	}
	for _, e := range all {
		if e.view.Name == name && may(id, rbac.ActionGet, e) {
			return e, nil
		}
	}
	return entry{}, jsonapi.Errorf(http.StatusNotFound, "cluster %q not found (gantry cluster list shows the clusters you may see)", name)
}

// views are the entries with their connection state, probed at once where
// the last probe is stale.
func (a *API) views(ctx context.Context, es []entry) []Cluster {
	out := make([]Cluster, len(es))
	var wg sync.WaitGroup
	for i, e := range es {
		out[i] = e.view
		wg.Go(func() { out[i].Info = a.info(ctx, e) })
	}
	wg.Wait()
	return out
}

func (a *API) info(ctx context.Context, e entry) Info {
	if e.broken != nil {
		return Info{ConnectionState: cluster.ConnectionState{Status: cluster.ConnectionFailed, Message: e.broken.Error(),
			AttemptedAt: time.Now().UTC().Truncate(time.Second)}}
	}
	key := e.view.Name
	if e.secret != nil {
		key = e.secret.Name + "@" + e.secret.ResourceVersion
	}
	state, version := a.cache.get(ctx, key, e.rest)
	if state.Status == cluster.ConnectionFailed && e.view.VirtualCluster != "" && a.asleep(ctx, e) {
		state.Message = "virtual cluster " + e.view.VirtualCluster + " is asleep: a request through gantry's proxy wakes it (" + state.Message + ")"
	}
	return Info{ConnectionState: state, ServerVersion: version}
}

// asleep says whether a virtual cluster's entry fails because it sleeps.
func (a *API) asleep(ctx context.Context, e entry) bool {
	vc := &platformv1alpha1.VirtualCluster{}
	key := client.ObjectKey{Namespace: project.Namespace(e.view.Project), Name: e.view.VirtualCluster}
	if err := a.Client.Get(ctx, key, vc); err != nil {
		return false
	}
	return vc.Status.Phase == platformv1alpha1.PhaseSleeping
}

// delete is DELETE /api/v1/clusters/{name}: removes a cluster Secret. The host
// and virtual clusters' entries are gantry's own: refused with the way out.
func (a *API) delete(r *http.Request, id *api.Caller) (any, error) {
	ctx := r.Context()
	e, err := a.find(ctx, id, r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	if err := id.Can(rbac.ResourceClusters, rbac.ActionDelete, e.object()); err != nil {
		return nil, err
	}
	switch {
	case e.secret == nil:
		return nil, jsonapi.Errorf(http.StatusConflict, "%s is the host cluster gantry runs on: it is always registered and cannot be removed", e.view.Name)
	case e.view.VirtualCluster != "":
		return nil, jsonapi.Errorf(http.StatusConflict,
			"cluster %s is virtual cluster %s of project %s, registered by gantry while it exists: delete the virtual cluster instead (gantry vcluster delete %s --project %s)",
			e.view.Name, e.view.VirtualCluster, e.view.Project, e.view.VirtualCluster, e.view.Project)
	}
	err = a.Client.Delete(ctx, e.secret, client.Preconditions{UID: &e.secret.UID})
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, err
	}
	return e.view, nil
}
