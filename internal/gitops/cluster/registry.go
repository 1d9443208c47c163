package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Registry resolves an Application's destination to a cluster, from the host and
// the cluster Secrets in one namespace.
type Registry struct {
	// Reader lists Secrets (a cached client in the controller).
	Reader client.Reader
	// Namespace holds the cluster Secrets.
	Namespace string
	// Host is the host cluster's admin configuration.
	Host *rest.Config
}

// Destination is what an Application names: a server URL or a cluster name.
type Destination struct{ Server, Name string }

// Resolve finds the cluster of dest. An unknown destination is an error that says
// which clusters exist.
func (r *Registry) Resolve(ctx context.Context, dest Destination) (*Cluster, error) {
	server := strings.TrimRight(dest.Server, "/")
	if dest.Server != "" && dest.Name != "" {
		return nil, fmt.Errorf("destination sets both server %q and name %q: set only one", dest.Server, dest.Name)
	}
	if server == "" && dest.Name == "" {
		return nil, fmt.Errorf("destination has neither server nor name: set destination.server (e.g. %s) or destination.name", HostServer)
	}
	if server == HostServer || dest.Name == HostName {
		return r.host(), nil
	}
	secrets, err := r.secrets(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for i := range secrets {
		sec := &secrets[i]
		c, perr := Parse(sec)
		rawServer := strings.TrimRight(strings.TrimSpace(string(sec.Data["server"])), "/")
		rawName := strings.TrimSpace(string(sec.Data["name"]))
		if (server != "" && rawServer == server) || (dest.Name != "" && rawName == dest.Name) {
			if perr != nil {
				return nil, perr
			}
			return c, nil
		}
		names = append(names, rawName)
	}
	want := server
	if want == "" {
		want = "name " + dest.Name
	}
	return nil, fmt.Errorf("destination %s is not a known cluster (known: %s): register it with a Secret labelled %s=%s in namespace %s",
		want, strings.Join(names, ", "), SecretTypeLabel, SecretTypeValue, r.Namespace)
}

func (r *Registry) host() *Cluster {
	return &Cluster{Name: HostName, Server: HostServer, REST: rest.CopyConfig(r.Host)}
}

// List returns the host and every cluster Secret that parses.
func (r *Registry) List(ctx context.Context) ([]*Cluster, error) {
	secrets, err := r.secrets(ctx)
	if err != nil {
		return nil, err
	}
	out := []*Cluster{r.host()}
	for i := range secrets {
		if c, err := Parse(&secrets[i]); err == nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// Names lists the names of the host and of every cluster Secret that names a
// server, sorted after the host. It needs no Host configuration.
func (r *Registry) Names(ctx context.Context) ([]string, error) {
	secrets, err := r.secrets(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for i := range secrets {
		if c, err := Parse(&secrets[i]); err == nil {
			names = append(names, c.Name)
		}
	}
	slices.Sort(names)
	return append([]string{HostName}, names...), nil
}

func (r *Registry) secrets(ctx context.Context) ([]corev1.Secret, error) {
	if r.Namespace == "" {
		// An empty namespace would take cluster Secrets of every namespace.
		return nil, errors.New("gantry is set up wrong: cluster.Registry.Namespace is empty; it must be gantry's namespace (gantry-system)")
	}
	var list corev1.SecretList
	if err := r.Reader.List(ctx, &list, client.InNamespace(r.Namespace),
		client.MatchingLabels{SecretTypeLabel: SecretTypeValue}); err != nil {
		return nil, fmt.Errorf("listing cluster Secrets in %s: %w", r.Namespace, err)
	}
	return list.Items, nil
}
