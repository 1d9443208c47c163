package generate

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/gitops/source"
)

// CacheSources reads Git through the process's source cache: Tree resolves
// the revision (from the shared ls-remote) and checks the commit out once;
// Branches reads the same ls-remote.
type CacheSources struct {
	Cache *source.Cache
}

var _ Sources = CacheSources{}

// Tree implements Sources.
func (s CacheSources) Tree(ctx context.Context, repo source.Repo, revision string) (fs.FS, string, error) {
	sha, err := s.Cache.Resolve(ctx, repo, revision)
	if err != nil {
		return nil, "", err
	}
	dir, err := s.Cache.Checkout(ctx, repo, sha)
	if err != nil {
		return nil, "", err
	}
	// The checkout has no symlink leaving the tree (Checkout refuses them).
	return os.DirFS(dir), sha, nil
}

// Branches implements Sources.
func (s CacheSources) Branches(ctx context.Context, repo source.Repo) (map[string]string, error) {
	return s.Cache.Branches(ctx, repo)
}

// RegistryClusters lists the clusters of a cluster.Registry with their
// Secrets' labels and annotations, which the registry's List leaves out:
// the host first (as a Local cluster unless a Secret registers
// https://kubernetes.default.svc), then every cluster Secret with a server,
// by name.
type RegistryClusters struct {
	Registry *cluster.Registry
}

var _ Clusters = RegistryClusters{}

// List implements Clusters.
func (r RegistryClusters) List(ctx context.Context) ([]Cluster, error) {
	var list corev1.SecretList
	if err := r.Registry.Reader.List(ctx, &list, client.InNamespace(r.Registry.Namespace),
		client.MatchingLabels{cluster.SecretTypeLabel: cluster.SecretTypeValue}); err != nil {
		return nil, fmt.Errorf("listing cluster Secrets in %s: %w", r.Registry.Namespace, err)
	}
	var out []Cluster
	hostHasSecret := false
	for i := range list.Items {
		sec := &list.Items[i]
		// Name and server only, as Argo CD's generator reads them: a Secret
		// whose credentials gantry cannot use still generates, and its
		// Applications report the problem.
		get := func(k string) string { return strings.TrimSpace(string(sec.Data[k])) }
		c := Cluster{Name: get("name"), Server: strings.TrimRight(get("server"), "/"), Project: get("project"),
			Labels: sec.Labels, Annotations: sec.Annotations}
		if c.Server == "" {
			continue
		}
		if c.Name == "" {
			c.Name = c.Server
		}
		if c.Server == cluster.HostServer {
			hostHasSecret = true
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if !hostHasSecret {
		out = append([]Cluster{{Name: cluster.HostName, Server: cluster.HostServer, Local: true}}, out...)
	}
	return out, nil
}
