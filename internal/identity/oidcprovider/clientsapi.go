package oidcprovider

import (
	"context"
	"errors"
	"net/http"

	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/jsonapi"
)

// ClientsPrefix is where ClientsAPI is mounted.
const ClientsPrefix = "/api/v1/oidc-clients"

// ClientsAPI serves /api/v1/oidc-clients on an api.Router (Register):
//
//	GET    /api/v1/oidc-clients                      list         (oidcclients, get)
//	GET    /api/v1/oidc-clients/{id}                 one          (oidcclients, get)
//	POST   /api/v1/oidc-clients                      register     (oidcclients, create)
//	DELETE /api/v1/oidc-clients/{id}                 delete       (oidcclients, delete)
//	POST   /api/v1/oidc-clients/{id}/rotate-secret   new secret   (oidcclients, update)
//
// A client's secret is in the answer that makes it, and nowhere else.
type ClientsAPI struct {
	Store ClientStore
}

// ClientView is a client as the API shows it.
type ClientView struct {
	RegisteredClient
	// Secret is the client secret, only in the answers of create and
	// rotate-secret.
	Secret string `json:"secret,omitempty"`
}

// Register mounts the API. Clients belong to no project: the object of
// every check is "*", and no scoped access key reaches them.
func (a *ClientsAPI) Register(r *api.Router) {
	one := ClientsPrefix + "/{id}"
	r.Handle("GET "+ClientsPrefix, a.allowed(rbac.ActionGet, a.list))
	r.Handle("GET "+one, a.allowed(rbac.ActionGet, a.get))
	r.Handle("POST "+ClientsPrefix, a.allowed(rbac.ActionCreate, a.create), api.BodyLimit(64<<10))
	r.Handle("DELETE "+one, a.allowed(rbac.ActionDelete, a.delete))
	r.Handle("POST "+one+"/rotate-secret", a.allowed(rbac.ActionUpdate, a.rotate))
}

// allowed checks action on the clients before h runs.
func (a *ClientsAPI) allowed(action string, h func(w http.ResponseWriter, r *http.Request) error) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *api.Caller) error {
		if err := c.Can(rbac.ResourceOIDCClients, action, api.Global("*")); err != nil {
			return err
		}
		return h(w, r)
	}
}

func (a *ClientsAPI) list(w http.ResponseWriter, r *http.Request) error {
	list, err := a.Store.List(r.Context())
	if err != nil {
		return storeError(err)
	}
	out := make([]ClientView, 0, len(list))
	for _, c := range list {
		out = append(out, ClientView{RegisteredClient: c})
	}
	jsonapi.Write(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

func (a *ClientsAPI) get(w http.ResponseWriter, r *http.Request) error {
	c, err := a.Store.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return storeError(err)
	}
	jsonapi.Write(w, http.StatusOK, ClientView{RegisteredClient: c})
	return nil
}

func (a *ClientsAPI) create(w http.ResponseWriter, r *http.Request) error {
	var spec ClientSpec
	if err := api.Decode(r, &spec); err != nil {
		return jsonapi.Errorf(http.StatusBadRequest,
			`send {"id": …, "name": …, "redirectURIs": […], "postLogoutRedirectURIs": […], "public": false}`)
	}
	secret, err := a.Store.Create(r.Context(), spec)
	if err != nil {
		return storeError(err)
	}
	return a.writeWithSecret(r.Context(), w, spec.ID, secret)
}

func (a *ClientsAPI) delete(w http.ResponseWriter, r *http.Request) error {
	if err := a.Store.Delete(r.Context(), r.PathValue("id")); err != nil {
		return storeError(err)
	}
	jsonapi.Write(w, http.StatusOK, map[string]any{})
	return nil
}

func (a *ClientsAPI) rotate(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	secret, err := a.Store.RotateSecret(r.Context(), id)
	if err != nil {
		return storeError(err)
	}
	return a.writeWithSecret(r.Context(), w, id, secret)
}

func (a *ClientsAPI) writeWithSecret(ctx context.Context, w http.ResponseWriter, id, secret string) error {
	c, err := a.Store.Get(ctx, id)
	if err != nil {
		return storeError(err)
	}
	jsonapi.Write(w, http.StatusOK, ClientView{RegisteredClient: c, Secret: secret})
	return nil
}

// storeError is the answer to an error of the ClientStore.
func storeError(err error) error {
	switch {
	case errors.Is(err, ErrClientNotFound):
		return jsonapi.Errorf(http.StatusNotFound, "%v", err)
	case errors.Is(err, ErrClientExists):
		return jsonapi.Errorf(http.StatusConflict, "%v", err)
	case errors.Is(err, ErrInvalidClientSpec):
		return jsonapi.Errorf(http.StatusBadRequest, "%v", err)
	}
	return err
}
