package oidcprovider

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/jsonapi"
)

// ClientsPrefix is where ClientsAPI is mounted.
const ClientsPrefix = "/api/v1/oidc-clients"

// ClientsAPI is the http.Handler of /api/v1/oidc-clients:
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
	Auth  interface {
		Authenticate(r *http.Request) (authn.Identity, error)
	}
	// Authorize says whether subjects may act on an object; an error means 403.
	Authorize func(subjects []string, resource, action, object string) error
}

// ClientView is a client as the API shows it.
type ClientView struct {
	RegisteredClient
	// Secret is the client secret, only in the answers of create and
	// rotate-secret.
	Secret string `json:"secret,omitempty"`
}

func (a *ClientsAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, err := a.Auth.Authenticate(r)
	if err != nil {
		jsonapi.Error(w, http.StatusUnauthorized, "Unauthorized: "+err.Error())
		return
	}
	sub := strings.Trim(strings.TrimPrefix(r.URL.Path, ClientsPrefix), "/")
	clientID, verb, _ := strings.Cut(sub, "/")
	var action string
	switch {
	case r.Method == http.MethodGet && verb == "":
		action = "get"
	case r.Method == http.MethodPost && sub == "":
		action = "create"
	case r.Method == http.MethodDelete && clientID != "" && verb == "":
		action = "delete"
	case r.Method == http.MethodPost && clientID != "" && verb == "rotate-secret":
		action = "update"
	default:
		jsonapi.Error(w, http.StatusNotFound, "no such API: "+r.Method+" "+r.URL.Path)
		return
	}
	if err := a.Authorize(id.Subjects(), "oidcclients", action, "*"); err != nil {
		jsonapi.Error(w, http.StatusForbidden, "permission denied: oidcclients, "+action+": ask an administrator for it")
		return
	}
	ctx := r.Context()
	switch {
	case action == "get" && clientID == "":
		list, err := a.Store.List(ctx)
		if err != nil {
			writeStoreError(w, err)
			return
		}
		out := make([]ClientView, 0, len(list))
		for _, c := range list {
			out = append(out, ClientView{RegisteredClient: c})
		}
		jsonapi.Write(w, http.StatusOK, map[string]any{"items": out})
	case action == "get":
		c, err := a.Store.Get(ctx, clientID)
		if err != nil {
			writeStoreError(w, err)
			return
		}
		jsonapi.Write(w, http.StatusOK, ClientView{RegisteredClient: c})
	case action == "create":
		var spec ClientSpec
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&spec); err != nil {
			jsonapi.Error(w, http.StatusBadRequest,
				`send {"id": …, "name": …, "redirectURIs": […], "postLogoutRedirectURIs": […], "public": false}`)
			return
		}
		secret, err := a.Store.Create(ctx, spec)
		if err != nil {
			writeStoreError(w, err)
			return
		}
		a.writeWithSecret(ctx, w, spec.ID, secret)
	case action == "delete":
		if err := a.Store.Delete(ctx, clientID); err != nil {
			writeStoreError(w, err)
			return
		}
		jsonapi.Write(w, http.StatusOK, map[string]any{})
	case action == "update":
		secret, err := a.Store.RotateSecret(ctx, clientID)
		if err != nil {
			writeStoreError(w, err)
			return
		}
		a.writeWithSecret(ctx, w, clientID, secret)
	}
}

func (a *ClientsAPI) writeWithSecret(ctx context.Context, w http.ResponseWriter, id, secret string) {
	c, err := a.Store.Get(ctx, id)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	jsonapi.Write(w, http.StatusOK, ClientView{RegisteredClient: c, Secret: secret})
}

func writeStoreError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrClientNotFound):
		jsonapi.Error(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrClientExists):
		jsonapi.Error(w, http.StatusConflict, err.Error())
	case errors.Is(err, ErrInvalidClientSpec):
		jsonapi.Error(w, http.StatusBadRequest, err.Error())
	default:
		jsonapi.Error(w, http.StatusInternalServerError, err.Error())
	}
}
