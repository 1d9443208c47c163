package projectapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/project"
)

// ValidName says whether name may name a project: its namespace p-<name> must
// be a DNS label. The message is the CLI's (gantry project create).
func ValidName(name string) error {
	if msgs := validation.IsDNS1123Label("p-" + name); len(msgs) > 0 {
		return fmt.Errorf("project name %q: %s (use at most 61 lower-case letters, digits and '-')", name, msgs[0])
	}
	return nil
}

var roles = []platformv1alpha1.ProjectRole{platformv1alpha1.RoleProjectAdmin, platformv1alpha1.RoleProjectMember, platformv1alpha1.RoleProjectViewer}

func validRole(r platformv1alpha1.ProjectRole) bool { return slices.Contains(roles, r) }

// memberKind reads a member kind, in any case: URLs are typed in lower case.
func memberKind(s string) (platformv1alpha1.MemberKind, bool) {
	switch strings.ToLower(s) {
	case "user":
		return platformv1alpha1.MemberUser, true
	case "team":
		return platformv1alpha1.MemberTeam, true
	}
	return "", false
}

// checkMember validates m and checks that its user or team exists: a member
// that does not exist yet would be granted the role by whoever later takes the
// name.
func (a *API) checkMember(ctx context.Context, m platformv1alpha1.Member) (platformv1alpha1.Member, error) {
	kind, ok := memberKind(string(m.Kind))
	if !ok {
		return m, errorf(http.StatusBadRequest, `member kind %q: use "User" or "Team"`, m.Kind)
	}
	m.Kind = kind
	if m.Name == "" {
		return m, errorf(http.StatusBadRequest, `member has no name: send {"kind": "User", "name": "alice", "role": "project-member"}`)
	}
	if !validRole(m.Role) {
		return m, errorf(http.StatusBadRequest, "member role %q: use project-admin, project-member or project-viewer", m.Role)
	}
	var obj client.Object = &platformv1alpha1.User{}
	what, fix := "user", "create it first (POST /api/v1/users)"
	if kind == platformv1alpha1.MemberTeam {
		obj, what, fix = &platformv1alpha1.Team{}, "team", "create it first (POST /api/v1/teams)"
	}
	if msgs := validation.IsDNS1123Subdomain(m.Name); len(msgs) > 0 {
		return m, errorf(http.StatusNotFound, "%s %q does not exist: it is not a valid %s name (%s)", what, m.Name, what, msgs[0])
	}
	if err := a.Client.Get(ctx, client.ObjectKey{Name: m.Name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return m, errorf(http.StatusNotFound, "%s %s does not exist: %s, then add it", what, m.Name, fix)
		}
		return m, err
	}
	return m, nil
}

func validQuotas(q platformv1alpha1.ProjectQuotas) error {
	for _, f := range []struct {
		name string
		v    *int32
	}{{"virtualClusters", q.VirtualClusters}, {"runningVirtualClusters", q.RunningVirtualClusters}, {"applications", q.Applications}} {
		if f.v != nil && *f.v < 0 {
			return errorf(http.StatusBadRequest, "quotas.%s is %d: use 0 or more, or leave it out for no limit", f.name, *f.v)
		}
	}
	return nil
}

func validDestinations(ds []platformv1alpha1.ProjectDestination) error {
	for i, d := range ds {
		if d.Server == "" && d.Name == "" {
			return errorf(http.StatusBadRequest, `allowedDestinations[%d] has neither server nor name: set one (globs allowed), e.g. {"server": "*", "namespace": "web-*"}`, i)
		}
	}
	return nil
}

// normCluster is where an integration's Argo CD runs, "" for the host.
func normCluster(a *platformv1alpha1.ArgoCDIntegration) string {
	if a == nil || a.Cluster == cluster.HostName {
		return ""
	}
	return a.Cluster
}

func normNamespace(a *platformv1alpha1.ArgoCDIntegration) string {
	if a == nil || a.Namespace == "" {
		return "argocd"
	}
	return a.Namespace
}

// newArgoTarget says whether next makes gantry write to an Argo CD it did not
// write to before: turned on, or moved to another cluster or namespace.
func newArgoTarget(prev, next *platformv1alpha1.ArgoCDIntegration) bool {
	if next == nil || !next.Enabled {
		return false
	}
	return prev == nil || !prev.Enabled || normCluster(prev) != normCluster(next) || normNamespace(prev) != normNamespace(next)
}

// validArgoCD checks what can be checked before the integration runs; the
// rest (Argo CD installed, roles known there) it reports on the Project's
// condition ArgoIntegrationSynced. The cluster is checked only when it
// changes, so that an edit elsewhere does not fail because a cluster went away.
func (a *API) validArgoCD(ctx context.Context, prev, next *platformv1alpha1.ArgoCDIntegration) error {
	if next == nil {
		return nil
	}
	if next.Namespace != "" {
		if msgs := validation.IsDNS1123Label(next.Namespace); len(msgs) > 0 {
			return errorf(http.StatusBadRequest, "argoCD.namespace %q: %s (Argo CD's namespace, default argocd)", next.Namespace, msgs[0])
		}
	}
	if c := normCluster(next); c != "" && (prev == nil || c != normCluster(prev)) {
		names, err := (&cluster.Registry{Reader: a.Client, Namespace: a.Namespace}).Names(ctx)
		if err != nil {
			return err
		}
		if !slices.Contains(names, c) {
			return errorf(http.StatusBadRequest, "argoCD.cluster %q is not a cluster registered with gantry (known: %s): leave it empty for the host, or name a virtual cluster as <project namespace>/<name>",
				c, strings.Join(names, ", "))
		}
	}
	if s := next.SSO; s != nil {
		if s.Enabled {
			u, err := url.Parse(s.Host)
			if s.Host == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return errorf(http.StatusBadRequest, "argoCD.sso.host %q is not Argo CD's external URL: write it as https://argocd.example.com", s.Host)
			}
		}
		for i, r := range s.AssignedRoles {
			if r.ProjectRole != "" && !validRole(r.ProjectRole) {
				return errorf(http.StatusBadRequest, "argoCD.sso.assignedRoles[%d].projectRole %q: use project-admin, project-member, project-viewer, or leave it empty for every member", i, r.ProjectRole)
			}
			if r.Role == "" {
				return errorf(http.StatusBadRequest, "argoCD.sso.assignedRoles[%d].role is empty: name an Argo CD role, e.g. role:readonly", i)
			}
		}
	}
	if p := next.Project; p != nil {
		seen := map[string]bool{}
		for i, r := range p.Roles {
			if r.Name == "" {
				return errorf(http.StatusBadRequest, "argoCD.project.roles[%d] has no name: give each AppProject role a name", i)
			}
			if seen[r.Name] {
				return errorf(http.StatusBadRequest, "argoCD.project.roles has %q twice: role names must be unique", r.Name)
			}
			seen[r.Name] = true
			for _, pr := range r.ProjectRoles {
				if !validRole(pr) {
					return errorf(http.StatusBadRequest, "argoCD.project.roles[%d].projectRoles: %q is not project-admin, project-member or project-viewer", i, pr)
				}
			}
		}
	}
	return nil
}

// noVirtualClusters refuses to change where a project's virtual clusters keep
// their data while it has any: theirs would not move, and each would start
// next on an empty database (or on SQLite without what it had).
func (a *API) noVirtualClusters(ctx context.Context, p *platformv1alpha1.Project) error {
	var vcs platformv1alpha1.VirtualClusterList
	if err := a.Client.List(ctx, &vcs, client.InNamespace(project.Namespace(p.Name))); err != nil {
		return err
	}
	if n := len(vcs.Items); n > 0 {
		return errorf(http.StatusConflict, "project %s has %d virtual cluster(s) (%s first): virtualClusterStorage changes only while it has none, because their data would not move with it; delete them, or give a new cluster its own storage (spec.storage)",
			p.Name, n, vcs.Items[0].Name)
	}
	return nil
}
