package projectapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/project"
)

// Cluster is a cluster that a project's Argo CD integration (argoCD.cluster)
// or an Application (destination.name or .server) may name: the host, or an
// Argo CD cluster Secret in gantry's namespace. Only its name and server are
// shown, never the Secret's config (credentials).
//
// A caller sees a cluster when RBAC lets them get it ("clusters get", object
// the cluster's name as rbac.Resources defines it, or its server URL, which
// Argo CD policies use), or when it is a virtual cluster they may get
// ("virtualclusters get <project>/<name>"). Project roles grant no "clusters"
// rights, so without the second rule a project's people would see nothing,
// not even their own virtual clusters. An access key scoped to a project or
// virtual cluster sees only the virtual clusters in its scope.
type Cluster struct {
	Name   string `json:"name"`
	Server string `json:"server"`
	// Project and VirtualCluster name the gantry virtual cluster behind the
	// cluster, when there is one.
	Project        string `json:"project,omitempty"`
	VirtualCluster string `json:"virtualCluster,omitempty"`
}

// clusters is GET /api/v1/clusters: the clusters the caller may see.
// Clusters are registered with Argo CD cluster Secrets, not through here.
func (a *API) clusters(r *http.Request, id *api.Caller) (any, error) {
	all, err := a.allClusters(r.Context())
	if err != nil {
		return nil, err
	}
	items := []Cluster{}
	for _, c := range all {
		if mayGetCluster(id, c) {
			items = append(items, c)
		}
	}
	return map[string]any{"items": items}, nil
}

func mayGetCluster(id *api.Caller, c Cluster) bool {
	if c.VirtualCluster != "" && id.May(rbac.ResourceVirtualClusters, rbac.ActionGet, api.VirtualCluster(c.Project, c.VirtualCluster)) {
		return true
	}
	return id.May(rbac.ResourceClusters, rbac.ActionGet, api.Global(c.Name)) ||
		id.May(rbac.ResourceClusters, rbac.ActionGet, api.Global(c.Server))
}

// allClusters is the host, then the cluster Secrets by name. A Secret that
// names no server is left out: nothing can deploy to it.
func (a *API) allClusters(ctx context.Context) ([]Cluster, error) {
	if a.Namespace == "" {
		// An empty namespace would list cluster Secrets of every namespace.
		return nil, errorf(http.StatusInternalServerError, "gantry is set up wrong: projectapi.API.Namespace is empty; it must be gantry's namespace (gantry-system)")
	}
	var list corev1.SecretList
	if err := a.Client.List(ctx, &list, client.InNamespace(a.Namespace),
		client.MatchingLabels{cluster.SecretTypeLabel: cluster.SecretTypeValue}); err != nil {
		return nil, fmt.Errorf("listing cluster Secrets in %s: %w", a.Namespace, err)
	}
	var out []Cluster
	for _, s := range list.Items {
		c := Cluster{Name: strings.TrimSpace(string(s.Data["name"])), Server: strings.TrimRight(strings.TrimSpace(string(s.Data["server"])), "/")}
		if c.Server == "" {
			continue
		}
		if c.Name == "" {
			c.Name = c.Server
		}
		if p, ok := project.FromNamespace(s.Labels[cluster.LabelVClusterNamespace]); ok && s.Labels[cluster.LabelVCluster] != "" {
			c.Project, c.VirtualCluster = p, s.Labels[cluster.LabelVCluster]
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(x, y Cluster) int { return strings.Compare(x.Name, y.Name) })
	return append([]Cluster{{Name: cluster.HostName, Server: cluster.HostServer}}, out...), nil
}
