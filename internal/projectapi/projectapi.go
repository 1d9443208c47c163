package projectapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/project"
)

// Prefix is where the API is mounted: Prefix and Prefix+"/".
const Prefix = "/api/v1/projects"

// API serves /api/v1/projects on an api.Router (Register).
//
//	GET    /api/v1/projects                            list        (projects get <p>, per project)
//	POST   /api/v1/projects                            create      (projects create <p>)
//	GET    /api/v1/projects/{p}                        one         (projects get <p>)
//	PUT    /api/v1/projects/{p}   (or PATCH)           update      (projects update <p>; see Update)
//	DELETE /api/v1/projects/{p}                        delete      (projects delete <p>)
//	GET    /api/v1/projects/{p}/members                members     (projects get <p>)
//	POST   /api/v1/projects/{p}/members                add member  (projects update <p>)
//	DELETE /api/v1/projects/{p}/members/{kind}/{name}  remove      (projects update <p>)
type API struct {
	// Client reads and writes the host's Projects, Users and Teams, and
	// reads cluster Secrets (argoCD.cluster must name one).
	Client client.Client
	// Namespace is gantry's namespace (gantry-system), which holds the
	// cluster Secrets.
	Namespace string
}

// Project is a project as the API shows it.
type Project struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
	Description string `json:"description,omitempty"`
	// Namespace holds the project's virtual clusters and applications: p-<name>.
	Namespace           string                                `json:"namespace"`
	Members             []platformv1alpha1.Member             `json:"members"`
	Quotas              platformv1alpha1.ProjectQuotas        `json:"quotas"`
	Usage               platformv1alpha1.ProjectUsage         `json:"usage"`
	AllowedDestinations []platformv1alpha1.ProjectDestination `json:"allowedDestinations"`
	Rules
	ArgoCD *platformv1alpha1.ArgoCDIntegration `json:"argoCD,omitempty"`
	// Conditions: Ready, WithinQuota, ArgoIntegrationSynced, ...
	Conditions []metav1.Condition `json:"conditions"`
	Created    metav1.Time        `json:"created"`
	// Deleting is set once the project is being deleted (its finalizers run).
	Deleting        bool   `json:"deleting,omitempty"`
	ResourceVersion string `json:"resourceVersion"`
}

func view(p *platformv1alpha1.Project) Project {
	v := Project{
		Name: p.Name, DisplayName: p.Spec.DisplayName, Description: p.Spec.Description,
		Namespace: p.Status.Namespace, Members: p.Spec.Members, Quotas: p.Spec.Quotas, Usage: p.Status.Usage,
		AllowedDestinations: p.Spec.AllowedDestinations, Rules: rulesOf(&p.Spec), ArgoCD: p.Spec.ArgoCD, Conditions: p.Status.Conditions,
		Created: p.CreationTimestamp, Deleting: !p.DeletionTimestamp.IsZero(), ResourceVersion: p.ResourceVersion,
	}
	if v.Namespace == "" {
		v.Namespace = project.Namespace(p.Name) // before the reconciler's first pass
	}
	// Empty lists as [], not null, so that clients can iterate without a check.
	if v.Members == nil {
		v.Members = []platformv1alpha1.Member{}
	}
	if v.AllowedDestinations == nil {
		v.AllowedDestinations = []platformv1alpha1.ProjectDestination{}
	}
	if v.Conditions == nil {
		v.Conditions = []metav1.Condition{}
	}
	return v
}

// Register mounts the API.
func (a *API) Register(r *api.Router) {
	handle := func(pattern string, code int, fn func(r *http.Request, id *api.Caller) (any, error)) {
		r.Handle(pattern, api.Reply(code, fn), api.BodyLimit(maxBody))
	}
	one := Prefix + "/{name}"
	handle("GET "+Prefix, http.StatusOK, func(r *http.Request, id *api.Caller) (any, error) { return a.list(r.Context(), id) })
	handle("POST "+Prefix, http.StatusCreated, a.create)
	handle("GET "+one, http.StatusOK, func(r *http.Request, id *api.Caller) (any, error) {
		return a.get(r.Context(), id, r.PathValue("name"))
	})
	for _, method := range []string{http.MethodPut, http.MethodPatch} {
		handle(method+" "+one, http.StatusOK, func(r *http.Request, id *api.Caller) (any, error) {
			return a.update(r, id, r.PathValue("name"))
		})
	}
	handle("DELETE "+one, http.StatusOK, func(r *http.Request, id *api.Caller) (any, error) {
		return a.delete(r.Context(), id, r.PathValue("name"))
	})
	handle("GET "+one+"/members", http.StatusOK, func(r *http.Request, id *api.Caller) (any, error) {
		p, err := a.get(r.Context(), id, r.PathValue("name"))
		if err != nil {
			return nil, err
		}
		return map[string]any{"items": p.Members}, nil
	})
	handle("POST "+one+"/members", http.StatusOK, func(r *http.Request, id *api.Caller) (any, error) {
		return a.addMember(r, id, r.PathValue("name"))
	})
	handle("DELETE "+one+"/members/{kind}/{member}", http.StatusOK, func(r *http.Request, id *api.Caller) (any, error) {
		return a.removeMember(r.Context(), id, r.PathValue("name"), r.PathValue("kind"), r.PathValue("member"))
	})
}

// can checks one action on one project: the key's scope first, then RBAC.
// It needs only the name, so a refusal does not tell whether the project exists.
func (a *API) can(id *api.Caller, action, name string) error {
	return id.Can(rbac.ResourceProjects, action, api.ProjectItself(name))
}

// list answers the projects the caller may get; the others are left out, not refused.
func (a *API) list(ctx context.Context, id *api.Caller) (any, error) {
	var list platformv1alpha1.ProjectList
	if err := a.Client.List(ctx, &list); err != nil {
		return nil, err
	}
	items := []Project{}
	for i := range list.Items {
		p := &list.Items[i]
		if a.can(id, rbac.ActionGet, p.Name) == nil {
			items = append(items, view(p))
		}
	}
	slices.SortFunc(items, func(x, y Project) int { return strings.Compare(x.Name, y.Name) })
	return map[string]any{"items": items}, nil
}

func (a *API) get(ctx context.Context, id *api.Caller, name string) (Project, error) {
	if err := a.can(id, rbac.ActionGet, name); err != nil {
		return Project{}, err
	}
	p, err := a.fetch(ctx, name)
	if err != nil {
		return Project{}, err
	}
	return view(p), nil
}

func (a *API) fetch(ctx context.Context, name string) (*platformv1alpha1.Project, error) {
	p := &platformv1alpha1.Project{}
	if err := a.Client.Get(ctx, client.ObjectKey{Name: name}, p); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, errorf(http.StatusNotFound, "project %s not found (GET %s lists the projects you may see)", name, Prefix)
		}
		return nil, err
	}
	return p, nil
}

// CreateRequest is the body of POST /api/v1/projects.
type CreateRequest struct {
	Name                string                                `json:"name"`
	DisplayName         string                                `json:"displayName"`
	Description         string                                `json:"description"`
	Quotas              platformv1alpha1.ProjectQuotas        `json:"quotas"`
	Members             []platformv1alpha1.Member             `json:"members"`
	AllowedDestinations []platformv1alpha1.ProjectDestination `json:"allowedDestinations"`
	Rules
	ArgoCD *platformv1alpha1.ArgoCDIntegration `json:"argoCD"`
}

func (a *API) create(r *http.Request, id *api.Caller) (any, error) {
	var req CreateRequest
	if _, err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.Name == "" {
		return nil, errorf(http.StatusBadRequest, `request body has no "name": send {"name": "shop", "displayName": …, "description": …, "quotas": {…}}`)
	}
	if err := a.can(id, rbac.ActionCreate, req.Name); err != nil {
		return nil, err
	}
	if err := ValidName(req.Name); err != nil {
		return nil, errorf(http.StatusBadRequest, "%v", err)
	}
	ctx := r.Context()
	if err := validQuotas(req.Quotas); err != nil {
		return nil, err
	}
	members := []platformv1alpha1.Member{}
	for _, m := range req.Members {
		m, err := a.checkMember(ctx, m)
		if err != nil {
			return nil, err
		}
		members = putMember(members, m)
	}
	if err := validDestinations(req.AllowedDestinations); err != nil {
		return nil, err
	}
	if err := a.validArgoCD(ctx, nil, req.ArgoCD); err != nil {
		return nil, err
	}
	p := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: req.Name}, Spec: platformv1alpha1.ProjectSpec{
		DisplayName: req.DisplayName, Description: req.Description, Members: members, Quotas: req.Quotas,
		AllowedDestinations: req.AllowedDestinations, ArgoCD: req.ArgoCD,
	}}
	setRules(&p.Spec, req.Rules, nil)
	if err := validRules(p); err != nil {
		return nil, err
	}
	if err := a.Client.Create(ctx, p); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, errorf(http.StatusConflict, "project %s already exists: choose another name, or PUT %s/%s to change it", req.Name, Prefix, req.Name)
		}
		return nil, err
	}
	return view(p), nil
}

// UpdateRequest is the body of PUT and PATCH /api/v1/projects/{p}; both
// merge. A field left out stays as it is; a field sent replaces the whole
// field (quotas, allowedDestinations, each rule and argoCD included, so send
// all of them); null clears it. Members change through /members.
//
// Some fields bound what the project may do, and a project admin (who holds
// projects update on their project) must not lift them: changing quotas,
// allowedDestinations or the rules (Rules), or pointing an enabled Argo CD integration at a cluster
// and namespace (gantry writes there with its own credentials), also needs
// projects create on the project, which administrators hold and project roles
// do not. A project admin may still change the integration's other settings
// and turn it off.
type UpdateRequest struct {
	DisplayName         *string                               `json:"displayName"`
	Description         *string                               `json:"description"`
	Quotas              *platformv1alpha1.ProjectQuotas       `json:"quotas"`
	AllowedDestinations []platformv1alpha1.ProjectDestination `json:"allowedDestinations"`
	Rules
	ArgoCD *platformv1alpha1.ArgoCDIntegration `json:"argoCD"`
}

// argoGrants is what an integration grants in Argo CD, one string per grant:
// the roles assigned to the project's people and the AppProject's roles.
// Taking grants away needs no more than projects update.
func argoGrants(a *platformv1alpha1.ArgoCDIntegration) []string {
	var out []string
	if a != nil && a.SSO != nil && a.SSO.Enabled {
		for _, r := range a.SSO.AssignedRoles {
			out = append(out, "sso\x00"+string(r.ProjectRole)+"\x00"+r.Role)
		}
	}
	if a != nil && a.Project != nil && a.Project.Enabled {
		for _, r := range a.Project.Roles {
			out = append(out, fmt.Sprintf("role\x00%s\x00%q\x00%q\x00%q", r.Name, r.Policies, r.ProjectRoles, r.Groups))
		}
	}
	return out
}

// restartOff says whether a tells gantry not to restart argocd-server.
func restartOff(a *platformv1alpha1.ArgoCDIntegration) bool {
	return a != nil && a.SSO != nil && a.SSO.RestartServer != nil && !*a.SSO.RestartServer
}

// subset says whether every element of a is in b.
func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func (a *API) update(r *http.Request, id *api.Caller, name string) (any, error) {
	if err := a.can(id, rbac.ActionUpdate, name); err != nil {
		return nil, err
	}
	var req UpdateRequest
	present, err := decode(r, &req)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	return a.mutate(ctx, name, func(p *platformv1alpha1.Project) error {
		old := p.Spec.DeepCopy()
		if _, ok := present["displayName"]; ok {
			p.Spec.DisplayName = deref(req.DisplayName)
		}
		if _, ok := present["description"]; ok {
			p.Spec.Description = deref(req.Description)
		}
		if _, ok := present["quotas"]; ok {
			p.Spec.Quotas = platformv1alpha1.ProjectQuotas{}
			if req.Quotas != nil {
				p.Spec.Quotas = *req.Quotas
			}
		}
		if _, ok := present["allowedDestinations"]; ok {
			p.Spec.AllowedDestinations = req.AllowedDestinations
		}
		if _, ok := present["argoCD"]; ok {
			p.Spec.ArgoCD = req.ArgoCD
		}
		setRules(&p.Spec, req.Rules, present)
		// Rights first: the validation's messages name other clusters.
		var bounds []string
		if !equality.Semantic.DeepEqual(old.Quotas, p.Spec.Quotas) {
			bounds = append(bounds, "quotas")
		}
		if !equality.Semantic.DeepEqual(old.AllowedDestinations, p.Spec.AllowedDestinations) {
			bounds = append(bounds, "allowedDestinations")
		}
		if rulesChanged(old, &p.Spec) {
			bounds = append(bounds, "its rules (sourceRepos, localRepositories, resource lists, podSecurity, network, virtualClusterStorage, virtualClusterOwnStorage)")
		}
		if newArgoTarget(old.ArgoCD, p.Spec.ArgoCD) {
			bounds = append(bounds, "where Argo CD runs (argoCD enabled, cluster, namespace)")
		}
		// Argo CD roles are global in a shared Argo CD: role:admin given to a
		// project's people would reach every other project there.
		if !subset(argoGrants(p.Spec.ArgoCD), argoGrants(old.ArgoCD)) {
			bounds = append(bounds, "the Argo CD roles it grants (sso.assignedRoles, project.roles)")
		}
		// Telling gantry not to restart a shared argocd-server leaves every
		// project signing in there waiting for someone to restart it.
		if restartOff(p.Spec.ArgoCD) && !restartOff(old.ArgoCD) {
			bounds = append(bounds, "whether gantry restarts argocd-server (sso.restartServer)")
		}
		if len(bounds) > 0 {
			if err := a.can(id, rbac.ActionCreate, name); err != nil {
				return errorf(http.StatusForbidden, "changing %s of project %s needs the right to create it (projects create %s), which project roles do not give: ask an administrator",
					strings.Join(bounds, " and "), name, name)
			}
		}
		if err := validQuotas(p.Spec.Quotas); err != nil {
			return err
		}
		if err := validDestinations(p.Spec.AllowedDestinations); err != nil {
			return err
		}
		if err := validRules(p); err != nil {
			return err
		}
		if !equality.Semantic.DeepEqual(old.VirtualClusterStorage, p.Spec.VirtualClusterStorage) {
			if err := a.noVirtualClusters(ctx, p); err != nil {
				return err
			}
		}
		return a.validArgoCD(ctx, old.ArgoCD, p.Spec.ArgoCD)
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// mutate applies fn to the current project and writes it with an optimistic
// lock, again from a fresh read when someone else wrote in between, so that
// concurrent member changes are never lost (members are one atomic list).
func (a *API) mutate(ctx context.Context, name string, fn func(*platformv1alpha1.Project) error) (any, error) {
	var out *platformv1alpha1.Project
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := a.fetch(ctx, name)
		if err != nil {
			return err
		}
		if !p.DeletionTimestamp.IsZero() {
			return errorf(http.StatusConflict, "project %s is being deleted", name)
		}
		base := p.DeepCopy()
		if err := fn(p); err != nil {
			return err
		}
		if equality.Semantic.DeepEqual(base.Spec, p.Spec) {
			out = p
			return nil
		}
		if err := a.Client.Patch(ctx, p, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			return err
		}
		out = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return view(out), nil
}

func (a *API) delete(ctx context.Context, id *api.Caller, name string) (any, error) {
	if err := a.can(id, rbac.ActionDelete, name); err != nil {
		return nil, err
	}
	p := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := a.Client.Delete(ctx, p); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, errorf(http.StatusNotFound, "project %s not found (GET %s lists the projects you may see)", name, Prefix)
		}
		return nil, err
	}
	return map[string]any{}, nil
}

func (a *API) addMember(r *http.Request, id *api.Caller, name string) (any, error) {
	if err := a.can(id, rbac.ActionUpdate, name); err != nil {
		return nil, err
	}
	var m platformv1alpha1.Member
	if _, err := decode(r, &m); err != nil {
		return nil, err
	}
	ctx := r.Context()
	m, err := a.checkMember(ctx, m)
	if err != nil {
		return nil, err
	}
	return a.mutate(ctx, name, func(p *platformv1alpha1.Project) error {
		p.Spec.Members = putMember(p.Spec.Members, m)
		return nil
	})
}

func (a *API) removeMember(ctx context.Context, id *api.Caller, name, kind, member string) (any, error) {
	if err := a.can(id, rbac.ActionUpdate, name); err != nil {
		return nil, err
	}
	k, ok := memberKind(kind)
	if !ok {
		return nil, errorf(http.StatusBadRequest, "member kind %q: use User or Team, as in DELETE %s/%s/members/User/<name>", kind, Prefix, name)
	}
	return a.mutate(ctx, name, func(p *platformv1alpha1.Project) error {
		n := len(p.Spec.Members)
		p.Spec.Members = slices.DeleteFunc(p.Spec.Members, func(x platformv1alpha1.Member) bool { return x.Kind == k && x.Name == member })
		if len(p.Spec.Members) == n {
			return errorf(http.StatusNotFound, "%s %s is not a member of project %s", strings.ToLower(string(k)), member, name)
		}
		return nil
	})
}

// putMember adds m, replacing an earlier role of the same user or team.
func putMember(members []platformv1alpha1.Member, m platformv1alpha1.Member) []platformv1alpha1.Member {
	members = slices.DeleteFunc(members, func(x platformv1alpha1.Member) bool { return x.Kind == m.Kind && x.Name == m.Name })
	return append(members, m)
}
