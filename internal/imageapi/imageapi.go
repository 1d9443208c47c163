// Package imageapi is /api/v1/images: container images loaded into the real
// node's containerd without a registry (`gantry image load`, `docker save`
// and OCI archives) and listed (`gantry image list`). RBAC resource images:
// create to load (role:admin), get to list (role:readonly too). The object is
// the node's name.
package imageapi

import (
	"context"
	"errors"
	"io"
	"net/http"

	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/jsonapi"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1/images"

// MaxArchive bounds one upload: images are large, but not without end.
const MaxArchive = 8 << 30

// Image is one image the node holds.
type Image struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
	Size   string `json:"size"`
}

// List is GET's answer.
type List struct {
	Node  string  `json:"node"`
	Items []Image `json:"items"`
}

// Loaded is POST's answer: the names the archive held.
type Loaded struct {
	Node   string   `json:"node"`
	Images []string `json:"images"`
}

// Store is a real node's image store (realnode.Node).
type Store interface {
	Name() string
	LoadImages(ctx context.Context, archive io.Reader) ([]string, error)
	ListImages(ctx context.Context) ([]Image, error)
}

// ErrNoRealNode is the answer where no real node runs.
var ErrNoRealNode = jsonapi.Errorf(http.StatusConflict,
	"no real node runs in this gantry, so there is nowhere to load images: start gantry where the machine can run one (gantry up says why it could not; see `gantry status`), or use an image a registry serves")

// API serves the routes; Node returns the Ready real node, nil without one.
type API struct {
	Node func() Store
}

// Register mounts the API.
func (a *API) Register(r *api.Router) {
	r.Handle("GET "+Prefix, api.Reply(http.StatusOK, a.list))
	r.Handle("POST "+Prefix, api.Reply(http.StatusCreated, a.load), api.BodyLimit(MaxArchive))
}

func (a *API) node() (Store, error) {
	if a.Node == nil {
		return nil, ErrNoRealNode
	}
	n := a.Node()
	if n == nil {
		return nil, ErrNoRealNode
	}
	return n, nil
}

func (a *API) list(r *http.Request, c *api.Caller) (any, error) {
	n, err := a.node()
	if err != nil {
		return nil, err
	}
	if err := c.Can(rbac.ResourceImages, rbac.ActionGet, api.Global(n.Name())); err != nil {
		return nil, err
	}
	items, err := n.ListImages(r.Context())
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []Image{}
	}
	return List{Node: n.Name(), Items: items}, nil
}

func (a *API) load(r *http.Request, c *api.Caller) (any, error) {
	n, err := a.node()
	if err != nil {
		return nil, err
	}
	if err := c.Can(rbac.ResourceImages, rbac.ActionCreate, api.Global(n.Name())); err != nil {
		return nil, err
	}
	names, err := n.LoadImages(r.Context(), r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, jsonapi.Errorf(http.StatusRequestEntityTooLarge, "the archive is larger than %d GiB", MaxArchive>>30)
	case err != nil:
		return nil, jsonapi.Errorf(http.StatusBadRequest, "loading the archive: %v; send a `docker save` or OCI image archive (tar)", err)
	case len(names) == 0:
		return nil, jsonapi.Errorf(http.StatusBadRequest, "the archive holds no named image; tag it before `docker save` (docker save NAME:TAG)")
	}
	return Loaded{Node: n.Name(), Images: names}, nil
}
