// Package accesskeyapi serves /api/v1/accesskeys: create an access key (the
// key is shown once, in that answer), list and revoke them. Every user
// manages their own keys; listing or revoking others' needs "accesskeys"
// rights (administrators). An access key cannot manage access keys.
package accesskeyapi

import (
	"fmt"
	"net/http"
	"sort"
	"time"

	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/identity/accesskeys"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/jsonapi"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1/accesskeys"

// API serves Prefix on an api.Router (Register).
type API struct {
	Store accesskeys.Store
	// MaxLifetime caps expiry (default one year); keys never live forever.
	MaxLifetime time.Duration
}

// View is a key as the API shows it: never its secret or hash.
type View struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	Owner          string     `json:"owner"`
	Project        string     `json:"project,omitempty"`
	VirtualCluster string     `json:"virtualCluster,omitempty"`
	Created        time.Time  `json:"created"`
	Expires        *time.Time `json:"expires,omitempty"`
	Revoked        bool       `json:"revoked"`
	// Key is the whole key, only in the answer that creates it.
	Key string `json:"key,omitempty"`
}

func view(k accesskeys.Key) View {
	v := View{ID: k.ID, Name: k.Name, Owner: k.Owner, Project: k.Scope.Project, VirtualCluster: k.Scope.VirtualCluster,
		Created: k.Created, Revoked: k.Revoked}
	if !k.Expires.IsZero() {
		e := k.Expires
		v.Expires = &e
	}
	return v
}

// maxBody bounds request bodies: a create request is a few dozen bytes.
const maxBody = 64 << 10

// Register mounts the API.
func (a *API) Register(r *api.Router) {
	r.Handle("POST "+Prefix, notByKey(api.Reply(http.StatusOK, a.create)), api.BodyLimit(maxBody))
	r.Handle("GET "+Prefix, notByKey(api.Reply(http.StatusOK, a.list)))
	r.Handle("DELETE "+Prefix+"/{id}", notByKey(api.Reply(http.StatusOK, a.revoke)))
}

// notByKey refuses callers who come with an access key: a leaked key must
// not mint keys that outlive its revocation.
func notByKey(h api.HandlerFunc) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *api.Caller) error {
		if c.Via == "accesskey" {
			return jsonapi.Errorf(http.StatusForbidden, "access keys cannot manage access keys: log in")
		}
		return h(w, r, c)
	}
}

// admin says whether the caller may see and revoke every user's keys.
func admin(c *api.Caller) bool {
	return c.May(rbac.ResourceAccessKeys, rbac.ActionDelete, api.Global("*"))
}

func (a *API) list(r *http.Request, c *api.Caller) (any, error) {
	owner := c.User
	if r.URL.Query().Get("all") == "true" && admin(c) {
		owner = ""
	}
	keys, err := a.Store.List(r.Context(), owner)
	if err != nil {
		return nil, err
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Created.Before(keys[j].Created) })
	out := []View{}
	for _, k := range keys {
		out = append(out, view(k))
	}
	return map[string]any{"items": out}, nil
}

// revoke marks a key revoked; someone else's key is "not found" to all but
// administrators, so ids cannot be probed.
func (a *API) revoke(r *http.Request, c *api.Caller) (any, error) {
	id := r.PathValue("id")
	k, ok := a.Store.Get(r.Context(), id)
	if !ok || k.Owner != c.User && !admin(c) {
		return nil, jsonapi.Errorf(http.StatusNotFound, "no access key %s", id)
	}
	k.Revoked = true
	if err := a.Store.Save(r.Context(), k); err != nil {
		return nil, err
	}
	return view(k), nil
}

type createRequest struct {
	Name           string `json:"name"`
	Project        string `json:"project"`
	VirtualCluster string `json:"virtualCluster"`
	// ExpiresIn is a Go duration ("720h"); default 30 days.
	ExpiresIn string `json:"expiresIn"`
}

func (a *API) create(r *http.Request, c *api.Caller) (any, error) {
	var req createRequest
	if err := api.Decode(r, &req); err != nil || req.Name == "" {
		return nil, jsonapi.Errorf(http.StatusBadRequest, `send {"name": …, "project": …, "virtualCluster": …, "expiresIn": "720h"}`)
	}
	if req.VirtualCluster != "" && req.Project == "" {
		return nil, jsonapi.Errorf(http.StatusBadRequest, "a key scoped to a virtual cluster needs its project too")
	}
	life := 30 * 24 * time.Hour
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			return nil, jsonapi.Errorf(http.StatusBadRequest, "expiresIn %q is not a positive duration such as 720h", req.ExpiresIn)
		}
		life = d
	}
	maxLife := a.MaxLifetime
	if maxLife == 0 {
		maxLife = 365 * 24 * time.Hour
	}
	if life > maxLife {
		return nil, jsonapi.Errorf(http.StatusBadRequest, "expiresIn %s is longer than the allowed %s", life, maxLife)
	}
	plain, rec := accesskeys.New(c.User, accesskeys.Scope{Project: req.Project, VirtualCluster: req.VirtualCluster},
		time.Now().Add(life), req.Name)
	if err := a.Store.Save(r.Context(), rec); err != nil {
		return nil, fmt.Errorf("storing the access key: %w", err)
	}
	v := view(rec)
	v.Key = plain
	return v, nil
}
