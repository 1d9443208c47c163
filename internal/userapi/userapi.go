package userapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/jsonapi"
)

// Where the API is mounted: each prefix and prefix+"/". One API serves both.
const (
	UsersPrefix = "/api/v1/users"
	TeamsPrefix = "/api/v1/teams"
)

// Authenticator checks a request's credentials (authn.Authenticator).
type Authenticator interface {
	Authenticate(r *http.Request) (authn.Identity, error)
}

// Authorize says whether subjects may act on an object; an error means 403
// (rbac.Enforcer.Authorize).
type Authorize func(subjects []string, resource, action, object string) error

// Limiter slows down guessing of the current password when users change
// their own (sessions.Limiter, the one the login uses).
type Limiter interface {
	Allow(user, ip string) (bool, time.Duration)
	Failed(user, ip string)
	Succeeded(user, ip string)
}

// API is the http.Handler of /api/v1/users and /api/v1/teams.
//
//	GET       /api/v1/users                  list          (users get <u>, per user; everyone sees themselves)
//	POST      /api/v1/users                  create        (users create <u>)
//	GET       /api/v1/users/{u}              one           (users get <u>, or themselves)
//	PUT|PATCH /api/v1/users/{u}              update        (users update <u>)
//	DELETE    /api/v1/users/{u}              delete        (users delete <u>), with the password Secret
//	POST      /api/v1/users/{u}/password     set password  (themselves with currentPassword, or users update <u>)
//	GET       /api/v1/teams                  list          (teams get <t>, per team)
//	POST      /api/v1/teams                  create        (teams create <t>)
//	GET       /api/v1/teams/{t}              one           (teams get <t>)
//	PUT|PATCH /api/v1/teams/{t}              update        (teams update <t>)
//	DELETE    /api/v1/teams/{t}              delete        (teams delete <t>)
//
// Passwords go in and never come out: answers say only whether one is set.
// An access key scoped to a project or virtual cluster reaches nothing here
// but its own user, read-only: users and teams are outside every project.
type API struct {
	// Client reads and writes the host's Users, Teams and password Secrets.
	Client    client.Client
	Auth      Authenticator
	Authorize Authorize
	// Namespace is gantry's namespace (gantry-system), which holds the
	// password Secrets.
	Namespace string
	// Limiter, when set, limits wrong currentPassword attempts as it limits
	// failed logins.
	Limiter Limiter
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, err := a.Auth.Authenticate(r)
	if err != nil {
		jsonapi.Error(w, http.StatusUnauthorized, "Unauthorized: "+err.Error())
		return
	}
	if a.Namespace == "" {
		// An empty namespace would read password Secrets of every namespace.
		jsonapi.Error(w, http.StatusInternalServerError, "gantry is set up wrong: userapi.API.Namespace is empty; it must be gantry's namespace (gantry-system)")
		return
	}
	teams := r.URL.Path == TeamsPrefix || strings.HasPrefix(r.URL.Path, TeamsPrefix+"/")
	prefix := UsersPrefix
	if teams {
		prefix = TeamsPrefix
	}
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, prefix), "/")
	var parts []string
	if rest != "" {
		parts = strings.Split(rest, "/")
	}
	code, out, err := http.StatusOK, any(nil), error(nil)
	if r.Method == http.MethodPost && len(parts) == 0 {
		code = http.StatusCreated
	}
	switch {
	case teams:
		out, err = a.serveTeams(w, r, id, parts)
	default:
		out, err = a.serveUsers(w, r, id, parts)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	jsonapi.Write(w, code, out)
}

func (a *API) serveUsers(w http.ResponseWriter, r *http.Request, id authn.Identity, parts []string) (any, error) {
	ctx := r.Context()
	switch {
	case len(parts) == 0 && r.Method == http.MethodGet:
		return a.listUsers(ctx, id)
	case len(parts) == 0 && r.Method == http.MethodPost:
		return a.createUser(w, r, id)
	case len(parts) == 1 && r.Method == http.MethodGet:
		return a.getUser(ctx, id, parts[0])
	case len(parts) == 1 && (r.Method == http.MethodPut || r.Method == http.MethodPatch):
		return a.updateUser(w, r, id, parts[0])
	case len(parts) == 1 && r.Method == http.MethodDelete:
		return a.deleteUser(ctx, id, parts[0])
	case len(parts) == 2 && parts[1] == "password" && r.Method == http.MethodPost:
		return a.setPassword(w, r, id, parts[0])
	case len(parts) == 1 || len(parts) == 2 && parts[1] == "password" || len(parts) == 0:
		return nil, errorf(http.StatusMethodNotAllowed, "%s %s is not supported", r.Method, r.URL.Path)
	}
	return nil, errorf(http.StatusNotFound, "no such API path: %s", r.URL.Path)
}

func (a *API) serveTeams(w http.ResponseWriter, r *http.Request, id authn.Identity, parts []string) (any, error) {
	ctx := r.Context()
	switch {
	case len(parts) == 0 && r.Method == http.MethodGet:
		return a.listTeams(ctx, id)
	case len(parts) == 0 && r.Method == http.MethodPost:
		return a.createTeam(w, r, id)
	case len(parts) == 1 && r.Method == http.MethodGet:
		return a.getTeam(ctx, id, parts[0])
	case len(parts) == 1 && (r.Method == http.MethodPut || r.Method == http.MethodPatch):
		return a.updateTeam(w, r, id, parts[0])
	case len(parts) == 1 && r.Method == http.MethodDelete:
		return a.deleteTeam(ctx, id, parts[0])
	case len(parts) <= 1:
		return nil, errorf(http.StatusMethodNotAllowed, "%s %s is not supported", r.Method, r.URL.Path)
	}
	return nil, errorf(http.StatusNotFound, "no such API path: %s", r.URL.Path)
}

// can checks an action on a user or team (resource "users" or "teams"):
// refused outright for a scoped access key.
func (a *API) can(id authn.Identity, resource, action, name string) error {
	if id.Scope.Project != "" {
		return errorf(http.StatusForbidden, "this access key is scoped to %s: it cannot %s %s, which belong to no project (use a key without a scope, or log in)",
			scope(id), action, resource)
	}
	if err := a.Authorize(id.Subjects(), resource, action, name); err != nil {
		return errorf(http.StatusForbidden, "%v", err)
	}
	return nil
}

func scope(id authn.Identity) string {
	if id.Scope.VirtualCluster != "" {
		return "virtual cluster " + id.Scope.Project + "/" + id.Scope.VirtualCluster
	}
	return "project " + id.Scope.Project
}

// validName: users and teams are Kubernetes objects, so their names are DNS
// subdomains. The message is the CLI's (gantry user create).
func validName(what, name string) error {
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return errorf(http.StatusBadRequest, "%s name %q: %s", what, name, msgs[0])
	}
	return nil
}

// set checks a list stored as a set (listType=set, which the API server
// refuses with duplicates) and drops repeats, keeping the first.
func set(field string, in []string) ([]string, error) {
	var out []string
	for i, s := range in {
		if s == "" || strings.TrimSpace(s) != s {
			return nil, errorf(http.StatusBadRequest, "%s[%d] %q is empty or has surrounding space", field, i, s)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// patch applies fn to the current object and writes it with an optimistic
// lock, from a fresh read when someone else wrote in between.
func patch[T client.Object](ctx context.Context, c client.Client, fetch func() (T, error), fn func(T) error) (T, error) {
	var out T
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		obj, err := fetch()
		if err != nil {
			return err
		}
		base := obj.DeepCopyObject().(client.Object)
		if err := fn(obj); err != nil {
			return err
		}
		out = obj
		if equality.Semantic.DeepEqual(base, client.Object(obj)) {
			return nil
		}
		return c.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
	})
	return out, err
}
