package accesskeys

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/sessions"
	"gantry.dev/gantry/internal/jsonapi"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1/accesskeys"

// Authenticator checks a request's credentials.
type Authenticator interface {
	Authenticate(r *http.Request) (authn.Identity, error)
}

// Authorize says whether subjects may act on an object; an error means 403.
type Authorize func(subjects []string, resource, action, object string) error

// API is the http.Handler of /api/v1/accesskeys. Every user manages their own
// keys; listing or revoking others' needs "accesskeys" rights (admins).
type API struct {
	Store     Store
	Auth      Authenticator
	Authorize Authorize
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

func view(k sessions.AccessKey) View {
	v := View{ID: k.ID, Name: k.Name, Owner: k.Owner, Project: k.Scope.Project, VirtualCluster: k.Scope.VirtualCluster,
		Created: k.Created, Revoked: k.Revoked}
	if !k.Expires.IsZero() {
		e := k.Expires
		v.Expires = &e
	}
	return v
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, err := a.Auth.Authenticate(r)
	if err != nil {
		jsonapi.Error(w, http.StatusUnauthorized, "Unauthorized: "+err.Error())
		return
	}
	if id.Via == "accesskey" {
		// A key cannot mint or revoke keys: a leaked one must not outlive its revocation.
		jsonapi.Error(w, http.StatusForbidden, "access keys cannot manage access keys: log in")
		return
	}
	sub := strings.Trim(strings.TrimPrefix(r.URL.Path, Prefix), "/")
	admin := a.Authorize(id.Subjects(), "accesskeys", "delete", "*") == nil
	switch {
	case sub == "" && r.Method == http.MethodPost:
		a.create(w, r, id)
	case sub == "" && r.Method == http.MethodGet:
		owner := id.User
		if admin && r.URL.Query().Get("all") == "true" {
			owner = ""
		}
		keys, err := a.Store.List(r.Context(), owner)
		if err != nil {
			jsonapi.Error(w, http.StatusInternalServerError, err.Error())
			return
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i].Created.Before(keys[j].Created) })
		out := []View{}
		for _, k := range keys {
			out = append(out, view(k))
		}
		jsonapi.Write(w, http.StatusOK, map[string]any{"items": out})
	case sub != "" && r.Method == http.MethodDelete:
		k, ok := a.Store.Get(r.Context(), sub)
		if !ok || k.Owner != id.User && !admin {
			jsonapi.Error(w, http.StatusNotFound, "no access key "+sub)
			return
		}
		k.Revoked = true
		if err := a.Store.Save(r.Context(), k); err != nil {
			jsonapi.Error(w, http.StatusInternalServerError, err.Error())
			return
		}
		jsonapi.Write(w, http.StatusOK, view(k))
	default:
		jsonapi.Error(w, http.StatusNotFound, "no such API: "+r.Method+" "+r.URL.Path)
	}
}

type createRequest struct {
	Name           string `json:"name"`
	Project        string `json:"project"`
	VirtualCluster string `json:"virtualCluster"`
	// ExpiresIn is a Go duration ("720h"); default 30 days.
	ExpiresIn string `json:"expiresIn"`
}

func (a *API) create(w http.ResponseWriter, r *http.Request, id authn.Identity) {
	var req createRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil || req.Name == "" {
		jsonapi.Error(w, http.StatusBadRequest, `send {"name": …, "project": …, "virtualCluster": …, "expiresIn": "720h"}`)
		return
	}
	if req.VirtualCluster != "" && req.Project == "" {
		jsonapi.Error(w, http.StatusBadRequest, "a key scoped to a virtual cluster needs its project too")
		return
	}
	life := 30 * 24 * time.Hour
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			jsonapi.Error(w, http.StatusBadRequest, fmt.Sprintf("expiresIn %q is not a positive duration such as 720h", req.ExpiresIn))
			return
		}
		life = d
	}
	maxLife := a.MaxLifetime
	if maxLife == 0 {
		maxLife = 365 * 24 * time.Hour
	}
	if life > maxLife {
		jsonapi.Error(w, http.StatusBadRequest, fmt.Sprintf("expiresIn %s is longer than the allowed %s", life, maxLife))
		return
	}
	plain, rec := sessions.NewAccessKey(id.User, sessions.Scope{Project: req.Project, VirtualCluster: req.VirtualCluster},
		time.Now().Add(life), req.Name)
	if err := a.Store.Save(r.Context(), rec); err != nil {
		jsonapi.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	v := view(rec)
	v.Key = plain
	jsonapi.Write(w, http.StatusOK, v)
}
