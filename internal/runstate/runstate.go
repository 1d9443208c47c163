// Package runstate is the small file through which a running `gantry up` tells other
// gantry commands (status, logs, stop) what it runs: its pid, its address and each
// component's pid and readiness. The file lives in the data directory, which only its
// owner can read.
package runstate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"gantry.dev/gantry/internal/supervisor"
)

const fileName = "run.json"

// State is what `gantry up` publishes.
type State struct {
	Pid       int       `json:"pid"`
	StartedAt time.Time `json:"startedAt"`
	DataDir   string    `json:"dataDir"`
	HTTPAddr  string    `json:"httpAddr"`
	// ExternalURL is how gantry is reached from outside (--external-url); every URL
	// gantry hands out starts with it.
	ExternalURL string `json:"externalURL,omitempty"`
	Host        string `json:"host"` // "embedded" or the external kubeconfig's path
	Kubeconfig  string `json:"kubeconfig"`
	APIServer   string `json:"apiServer"`
	Nodes       int    `json:"simulatedNodes,omitempty"`
	// HostOnly: the embedded host runs without gantry's platform (gantry up
	// --host-only): no API, UI or virtual clusters, only the cluster.
	HostOnly bool `json:"hostOnly,omitempty"`
	// RealNodes names the nodes that run containers (package realnode).
	RealNodes  []string            `json:"realNodes,omitempty"`
	Ready      bool                `json:"ready"`
	Components []supervisor.Status `json:"components"`
	// Controllers says whether this gantry runs the controllers: "" without
	// leader election (it always does), else "leading" or "standby" (another
	// replica holds the Lease gantry-system/gantry-leader).
	Controllers string `json:"controllers,omitempty"`
	// VClusters maps "<namespace>/<name>" to the processes of each running virtual cluster.
	VClusters map[string][]supervisor.Status `json:"vclusters,omitempty"`
}

// Write replaces the state file atomically.
func Write(dataDir string, s State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dataDir, fileName+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dataDir, fileName))
}

// Read returns the last published state.
func Read(dataDir string) (State, error) {
	var s State
	data, err := os.ReadFile(filepath.Join(dataDir, fileName))
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(data, &s)
}

// Remove deletes the state file (on a clean stop).
func Remove(dataDir string) { os.Remove(filepath.Join(dataDir, fileName)) }
