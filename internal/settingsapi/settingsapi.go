// Package settingsapi serves GET /api/v1/settings, as Argo CD's: what a
// client (the web UI's login page and shell) needs before and after signing
// in. The route is public, so nothing in it may be secret.
package settingsapi

import (
	"net/http"

	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/jsonapi"
)

// Path is where the settings are served.
const Path = "/api/v1/settings"

// API answers with this gantry's settings.
type API struct {
	Version string
	// URL is gantry's external URL.
	URL string
	// SimulatedNodes is how many of the host's nodes KWOK simulates: the
	// embedded host's; 0 for an external host.
	SimulatedNodes int
	// RealNodes names the host's nodes that run containers; nil for none.
	RealNodes func() []string
	// OIDCIssuer is the issuer of gantry's OpenID Connect provider.
	OIDCIssuer string
}

// Settings is the answer.
type Settings struct {
	Version string `json:"version"`
	URL     string `json:"url"`
	// Host is "embedded" or "external".
	Host string `json:"host"`
	// SimulatedNodes is said so that the UI is honest about simulation: pods
	// on these nodes are scheduled and reported Running, but no container runs.
	SimulatedNodes int `json:"simulatedNodes"`
	// RealNodes are the nodes where containers really run.
	RealNodes  []string `json:"realNodes"`
	OIDCIssuer string   `json:"oidcIssuer"`
}

// Register mounts the route, public: the login page asks before signing in.
func (a *API) Register(r *api.Router) {
	r.Public("GET "+Path, "what the login page needs before signing in; nothing secret", http.HandlerFunc(a.get))
}

func (a *API) get(w http.ResponseWriter, _ *http.Request) {
	real := []string{}
	if a.RealNodes != nil {
		real = append(real, a.RealNodes()...)
	}
	host := "external"
	if a.SimulatedNodes > 0 || len(real) > 0 {
		host = "embedded"
	}
	jsonapi.Write(w, http.StatusOK, Settings{Version: a.Version, URL: a.URL, Host: host,
		SimulatedNodes: a.SimulatedNodes, RealNodes: real, OIDCIssuer: a.OIDCIssuer})
}
