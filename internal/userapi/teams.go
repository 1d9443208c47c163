package userapi

import (
	"context"
	"net/http"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/jsonapi"
)

// Team is a team as the API shows it.
type Team struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
	// Users in the team by name.
	Users []string `json:"users"`
	// Groups (from SSO) whose members are in the team too.
	Groups  []string    `json:"groups"`
	Created metav1.Time `json:"created"`
}

func teamView(t *platformv1alpha1.Team) Team {
	v := Team{Name: t.Name, DisplayName: t.Spec.DisplayName, Users: t.Spec.Users, Groups: t.Spec.Groups, Created: t.CreationTimestamp}
	if v.Users == nil {
		v.Users = []string{}
	}
	if v.Groups == nil {
		v.Groups = []string{}
	}
	return v
}

func (a *API) listTeams(r *http.Request, c *api.Caller) (any, error) {
	ctx := r.Context()
	var list platformv1alpha1.TeamList
	if err := a.Client.List(ctx, &list); err != nil {
		return nil, err
	}
	items := []Team{}
	for i := range list.Items {
		if can(c, rbac.ResourceTeams, rbac.ActionGet, list.Items[i].Name) == nil {
			items = append(items, teamView(&list.Items[i]))
		}
	}
	slices.SortFunc(items, func(x, y Team) int { return strings.Compare(x.Name, y.Name) })
	return map[string]any{"items": items}, nil
}

func (a *API) fetchTeam(ctx context.Context, name string) (*platformv1alpha1.Team, error) {
	t := &platformv1alpha1.Team{}
	if err := a.Client.Get(ctx, client.ObjectKey{Name: name}, t); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, jsonapi.Errorf(http.StatusNotFound, "team %s not found (GET %s lists teams)", name, TeamsPrefix)
		}
		return nil, err
	}
	return t, nil
}

func (a *API) getTeam(r *http.Request, c *api.Caller, name string) (any, error) {
	ctx := r.Context()
	if err := can(c, rbac.ResourceTeams, rbac.ActionGet, name); err != nil {
		return nil, err
	}
	t, err := a.fetchTeam(ctx, name)
	if err != nil {
		return nil, err
	}
	return teamView(t), nil
}

// CreateTeamRequest is the body of POST /api/v1/teams.
type CreateTeamRequest struct {
	Name        string   `json:"name"`
	DisplayName string   `json:"displayName"`
	Users       []string `json:"users"`
	Groups      []string `json:"groups"`
}

func (a *API) createTeam(r *http.Request, c *api.Caller) (any, error) {
	var req CreateTeamRequest
	if _, err := api.DecodeObject(r, &req); err != nil {
		return nil, err
	}
	if req.Name == "" {
		return nil, jsonapi.Errorf(http.StatusBadRequest, `request body has no "name": send {"name": "web", "users": […], "groups": […]}`)
	}
	if err := can(c, rbac.ResourceTeams, rbac.ActionCreate, req.Name); err != nil {
		return nil, err
	}
	if err := validName("team", req.Name); err != nil {
		return nil, err
	}
	ctx := r.Context()
	members, err := a.teamUsers(ctx, req.Users)
	if err != nil {
		return nil, err
	}
	groups, err := validGroups(req.Groups)
	if err != nil {
		return nil, err
	}
	t := &platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: req.Name},
		Spec: platformv1alpha1.TeamSpec{DisplayName: req.DisplayName, Users: members, Groups: groups}}
	if err := a.Client.Create(ctx, t); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, jsonapi.Errorf(http.StatusConflict, "team %s already exists (PUT %s/%s to change it)", req.Name, TeamsPrefix, req.Name)
		}
		return nil, err
	}
	return teamView(t), nil
}

// teamUsers checks that each user exists: a name that does not would put
// whoever later takes it in the team, with the team's project roles.
func (a *API) teamUsers(ctx context.Context, names []string) ([]string, error) {
	out, err := set("users", names)
	if err != nil {
		return nil, err
	}
	for _, n := range out {
		if err := validName("user", n); err != nil {
			return nil, jsonapi.Errorf(http.StatusNotFound, "user %q does not exist: it is not a valid user name", n)
		}
		if err := a.Client.Get(ctx, client.ObjectKey{Name: n}, &platformv1alpha1.User{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, jsonapi.Errorf(http.StatusNotFound, "user %s does not exist: create it first (POST %s), or map the team to their SSO group in \"groups\"", n, UsersPrefix)
			}
			return nil, err
		}
	}
	return out, nil
}

// UpdateTeamRequest is the body of PUT and PATCH /api/v1/teams/{t}; both
// merge: a field left out stays, a field sent replaces (lists as a whole),
// null clears.
type UpdateTeamRequest struct {
	DisplayName *string  `json:"displayName"`
	Users       []string `json:"users"`
	Groups      []string `json:"groups"`
}

func (a *API) updateTeam(r *http.Request, c *api.Caller, name string) (any, error) {
	if err := can(c, rbac.ResourceTeams, rbac.ActionUpdate, name); err != nil {
		return nil, err
	}
	var req UpdateTeamRequest
	present, err := api.DecodeObject(r, &req)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	var members []string
	if _, ok := present["users"]; ok {
		if members, err = a.teamUsers(ctx, req.Users); err != nil {
			return nil, err
		}
	}
	groups, err := validGroups(req.Groups)
	if err != nil {
		return nil, err
	}
	t, err := patch(ctx, a.Client, func() (*platformv1alpha1.Team, error) { return a.fetchTeam(ctx, name) }, func(t *platformv1alpha1.Team) error {
		if _, ok := present["displayName"]; ok {
			t.Spec.DisplayName = deref(req.DisplayName)
		}
		if _, ok := present["users"]; ok {
			t.Spec.Users = members
		}
		if _, ok := present["groups"]; ok {
			t.Spec.Groups = groups
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return teamView(t), nil
}

func (a *API) deleteTeam(r *http.Request, c *api.Caller, name string) (any, error) {
	ctx := r.Context()
	if err := can(c, rbac.ResourceTeams, rbac.ActionDelete, name); err != nil {
		return nil, err
	}
	if err := a.Client.Delete(ctx, &platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, jsonapi.Errorf(http.StatusNotFound, "team %s not found (GET %s lists teams)", name, TeamsPrefix)
		}
		return nil, err
	}
	return map[string]any{}, nil
}
