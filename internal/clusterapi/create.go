package clusterapi

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/jsonapi"
)

// CreateRequest is the body of POST /api/v1/clusters, Argo CD's cluster
// fields: name, server, project and config (bearerToken, tlsClientConfig
// with caData, certData, keyData, insecure, serverName; base64 in JSON).
type CreateRequest struct {
	Name   string `json:"name"`
	Server string `json:"server"`
	// Project, when set, makes the cluster the project's: only its apps
	// deploy there, and its admins may add and remove it.
	Project string         `json:"project,omitempty"`
	Config  cluster.Config `json:"config"`
}

// create is POST /api/v1/clusters. In order: the request is checked, the
// caller authorized on the cluster's object, the project must exist, name
// and server must be new, and gantry must reach the cluster with the
// credentials (as Argo CD checks). Then one Secret is written, owned by the
// project when there is one, so that deleting the project removes it.
func (a *API) create(r *http.Request, id *api.Caller) (any, error) {
	ctx := r.Context()
	var req CreateRequest
	if err := api.DecodeStrict(r, &req); err != nil {
		return nil, err
	}
	req.Server = strings.TrimRight(strings.TrimSpace(req.Server), "/")
	if err := validName(req.Name); err != nil {
		return nil, err
	}
	if err := validServer(req.Server); err != nil {
		return nil, err
	}
	if req.Project != "" {
		if msgs := validation.IsDNS1123Label("p-" + req.Project); len(msgs) > 0 {
			return nil, jsonapi.Errorf(http.StatusBadRequest, "project %q: %s", req.Project, msgs[0])
		}
	}
	e := entry{view: Cluster{Name: req.Name, Server: req.Server, Project: req.Project}}
	if err := id.Can(rbac.ResourceClusters, rbac.ActionCreate, e.object()); err != nil {
		return nil, err
	}
	var owner *platformv1alpha1.Project
	if req.Project != "" {
		owner = &platformv1alpha1.Project{}
		err := a.Client.Get(ctx, client.ObjectKey{Name: req.Project}, owner)
		switch {
		case apierrors.IsNotFound(err):
			return nil, jsonapi.Errorf(http.StatusNotFound, "project %s not found: create it first (gantry project create %s)", req.Project, req.Project)
		case err != nil:
			return nil, err
		case !owner.DeletionTimestamp.IsZero():
			return nil, jsonapi.Errorf(http.StatusConflict, "project %s is being deleted", req.Project)
		}
	}
	all, err := a.entries(ctx)
	if err != nil {
		return nil, err
	}
	for _, other := range all {
		// Destinations are resolved by name or server across every
		// project, so both must be unique, or one project's cluster could
		// stand in for another's. The other is not named: the caller may
		// not be allowed to see it.
		switch {
		case other.view.Name == req.Name:
			return nil, jsonapi.Errorf(http.StatusConflict, "a cluster named %q is registered already: %s, or remove that one first (gantry cluster rm %s)", req.Name, reservedNameInstruction, req.Name)
		case other.view.Server == req.Server:
			return nil, jsonapi.Errorf(http.StatusConflict, "server %s is registered already under another name: a server is registered once (gantry cluster list shows the clusters you may see)", req.Server)
		}
	}
	labels := map[string]string{LabelManagedBy: ManagedBy}
	sec, err := cluster.Secret(a.Namespace, secretName(req.Name), cluster.Cluster{Name: req.Name, Server: req.Server, Project: req.Project}, req.Config, labels)
	if err != nil {
		return nil, err
	}
	parsed, err := cluster.Parse(sec)
	if err != nil {
		// Parse names the Secret; the caller knows the request.
		return nil, jsonapi.Errorf(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "cluster Secret "+a.Namespace+"/"+sec.Name+": "))
	}
	state, version := a.cache.probe(ctx, parsed.REST)
	if state.Status != cluster.ConnectionSuccessful {
		return nil, jsonapi.Errorf(http.StatusBadRequest, "gantry cannot reach %s with these credentials: %s; check the server URL, the CA and the token", req.Server, state.Message)
	}
	sec.Annotations = map[string]string{AnnotationRegisteredBy: id.User}
	if owner != nil {
		sec.OwnerReferences = []metav1.OwnerReference{{APIVersion: platformv1alpha1.GroupVersion.String(), Kind: "Project",
			Name: owner.Name, UID: owner.UID}}
	}
	if err := a.Client.Create(ctx, sec); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, jsonapi.Errorf(http.StatusConflict, "a cluster named %q is registered already: %s", req.Name, reservedNameInstruction)
		}
		return nil, err
	}
	a.cache.put(sec.Name+"@"+sec.ResourceVersion, state, version)
	view := e.view
	view.Namespaces, view.RegisteredBy = parsed.Namespaces, id.User
	view.Info = Info{ConnectionState: state, ServerVersion: version}
	return view, nil
}

// validName accepts what a kubeconfig context may be called (argocd cluster
// add names clusters after them) but a slash, which virtual clusters' names
// (<project namespace>/<name>) have, so that no added cluster can take the
// name of a virtual cluster to come.
func validName(name string) error {
	switch {
	case name == "":
		return jsonapi.Errorf(http.StatusBadRequest, "name is empty: name the cluster (gantry cluster add CONTEXT --name NAME)")
	case strings.Contains(name, "/"):
		return jsonapi.Errorf(http.StatusBadRequest, "cluster name %q contains '/', which only virtual clusters' names (<project namespace>/<name>) have: %s", name, reservedNameInstruction)
	case name == cluster.HostName:
		return jsonapi.Errorf(http.StatusBadRequest, "cluster name %q is the host's: %s", name, reservedNameInstruction)
	case len(name) > 253 || strings.TrimSpace(name) != name || strings.IndexFunc(name, unicode.IsControl) >= 0:
		return jsonapi.Errorf(http.StatusBadRequest, "cluster name %q: use at most 253 characters, without surrounding space or control characters", name)
	}
	return nil
}

// validServer accepts an http(s) URL with a host and no query: the cluster's
// API server, as a kubeconfig names it.
func validServer(server string) error {
	u, err := url.Parse(server)
	switch {
	case server == "":
		return jsonapi.Errorf(http.StatusBadRequest, "server is empty: give the cluster's API server URL, e.g. https://10.0.0.1:6443")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return jsonapi.Errorf(http.StatusBadRequest, "server %q is not an API server URL: write it as https://host[:port][/path]", server)
	case server == cluster.HostServer:
		return jsonapi.Errorf(http.StatusBadRequest, "server %s is the host cluster, always registered as %s", server, cluster.HostName)
	}
	return nil
}

// secretName is the cluster Secret of a cluster name: readable, a valid
// object name whatever the cluster's name, and the same for the same name,
// so that two concurrent adds of one name cannot both succeed.
func secretName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	slug := strings.Trim(b.String(), "-")
	if len(slug) > 40 {
		slug = strings.Trim(slug[:40], "-")
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	if slug == "" {
		return fmt.Sprintf("cluster-%08x", h.Sum32())
	}
	return fmt.Sprintf("cluster-%s-%08x", slug, h.Sum32())
}
