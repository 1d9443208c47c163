package settingsapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"gantry.dev/gantry/internal/api"
)

// The login page reads the settings without credentials; the host says
// whether its nodes are simulated.
func TestSettings(t *testing.T) {
	for _, c := range []struct {
		nodes int
		host  string
	}{{3, "embedded"}, {0, "external"}} {
		router := api.NewRouter(nil, nil)
		(&API{Version: "v9", URL: "https://gantry.example.com", SimulatedNodes: c.nodes, OIDCIssuer: "https://gantry.example.com/oidc"}).Register(router)
		srv := httptest.NewServer(router)
		resp, err := http.Get(srv.URL + Path)
		if err != nil {
			t.Fatal(err)
		}
		var got Settings
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		want := Settings{Version: "v9", URL: "https://gantry.example.com", Host: c.host, SimulatedNodes: c.nodes, OIDCIssuer: "https://gantry.example.com/oidc"}
		if err != nil || resp.StatusCode != http.StatusOK || got != want {
			t.Errorf("%d nodes: %d %+v, %v; want 200 %+v", c.nodes, resp.StatusCode, got, err, want)
		}
		resp, err = http.Post(srv.URL+Path, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST: %d, want 405", resp.StatusCode)
		}
		srv.Close()
	}
}
