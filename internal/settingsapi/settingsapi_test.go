package settingsapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"gantry.dev/gantry/internal/api"
)

// The login page reads the settings without credentials; the host says
// whether its nodes are simulated and which are real.
func TestSettings(t *testing.T) {
	for _, c := range []struct {
		nodes int
		real  []string
		host  string
	}{{3, []string{}, "embedded"}, {0, []string{}, "external"}, {0, []string{"real-node-1"}, "embedded"}, {3, []string{"real-node-1"}, "embedded"}} {
		router := api.NewRouter(nil, nil)
		(&API{Version: "v9", URL: "https://gantry.example.com", SimulatedNodes: c.nodes, OIDCIssuer: "https://gantry.example.com/oidc",
			RealNodes: func() []string { return c.real }}).Register(router)
		srv := httptest.NewServer(router)
		resp, err := http.Get(srv.URL + Path)
		if err != nil {
			t.Fatal(err)
		}
		var got Settings
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		want := Settings{Version: "v9", URL: "https://gantry.example.com", Host: c.host, SimulatedNodes: c.nodes, RealNodes: c.real, OIDCIssuer: "https://gantry.example.com/oidc"}
		if err != nil || resp.StatusCode != http.StatusOK || !reflect.DeepEqual(got, want) {
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
