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

	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/jsonapi"
)

// Where the API is mounted: each prefix and prefix+"/". One API serves both.
const (
	UsersPrefix = "/api/v1/users"
	TeamsPrefix = "/api/v1/teams"
)

// Limiter slows down guessing of the current password when users change
// their own (sessions.Limiter, the one the login uses).
type Limiter interface {
	Allow(user, ip string) (bool, time.Duration)
	Failed(user, ip string)
	Succeeded(user, ip string)
}

// API serves /api/v1/users and /api/v1/teams on an api.Router (Register).
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
	Client client.Client
	// Namespace is gantry's namespace (gantry-system), which holds the
	// password Secrets.
	Namespace string
	// Limiter, when set, limits wrong currentPassword attempts as it limits
	// failed logins.
	Limiter Limiter
}

// maxBody bounds request bodies: a user or team is well under 1 KiB.
const maxBody = 64 << 10

// Register mounts the API. An empty Namespace would read the password
// Secrets of every namespace: that is a mistake in gantry's set-up (panic).
func (a *API) Register(r *api.Router) {
	if a.Namespace == "" {
		panic("userapi: API.Namespace is empty; it must be gantry's namespace (gantry-system)")
	}
	handle := func(pattern string, code int, fn func(r *http.Request, c *api.Caller) (any, error)) {
		r.Handle(pattern, api.Reply(code, fn), api.BodyLimit(maxBody))
	}
	name := func(fn func(r *http.Request, c *api.Caller, name string) (any, error)) func(*http.Request, *api.Caller) (any, error) {
		return func(r *http.Request, c *api.Caller) (any, error) { return fn(r, c, r.PathValue("name")) }
	}
	user, team := UsersPrefix+"/{name}", TeamsPrefix+"/{name}"
	handle("GET "+UsersPrefix, http.StatusOK, a.listUsers)
	handle("POST "+UsersPrefix, http.StatusCreated, a.createUser)
	handle("GET "+user, http.StatusOK, name(a.getUser))
	handle("PUT "+user, http.StatusOK, name(a.updateUser))
	handle("PATCH "+user, http.StatusOK, name(a.updateUser))
	handle("DELETE "+user, http.StatusOK, name(a.deleteUser))
	handle("POST "+user+"/password", http.StatusOK, name(a.setPassword))
	handle("GET "+TeamsPrefix, http.StatusOK, a.listTeams)
	handle("POST "+TeamsPrefix, http.StatusCreated, a.createTeam)
	handle("GET "+team, http.StatusOK, name(a.getTeam))
	handle("PUT "+team, http.StatusOK, name(a.updateTeam))
	handle("PATCH "+team, http.StatusOK, name(a.updateTeam))
	handle("DELETE "+team, http.StatusOK, name(a.deleteTeam))
}

// can checks an action on a user or team (resource "users" or "teams"),
// which belong to no project: refused outright for a scoped access key.
func can(c *api.Caller, resource, action, name string) error {
	return c.Can(resource, action, api.Global(name))
}

// validName: users and teams are Kubernetes objects, so their names are DNS
// subdomains. The message is the CLI's (gantry user create).
func validName(what, name string) error {
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return jsonapi.Errorf(http.StatusBadRequest, "%s name %q: %s", what, name, msgs[0])
	}
	return nil
}

// set checks a list stored as a set (listType=set, which the API server
// refuses with duplicates) and drops repeats, keeping the first.
func set(field string, in []string) ([]string, error) {
	var out []string
	for i, s := range in {
		if s == "" || strings.TrimSpace(s) != s {
			return nil, jsonapi.Errorf(http.StatusBadRequest, "%s[%d] %q is empty or has surrounding space", field, i, s)
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
