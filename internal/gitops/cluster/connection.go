package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// Connection states, Argo CD's words (connectionState.status).
const (
	ConnectionSuccessful = "Successful"
	ConnectionFailed     = "Failed"
	ConnectionUnknown    = "Unknown"
)

// ProbeTimeout bounds one probe: a cluster that does not answer /version in
// that time counts as unreachable.
const ProbeTimeout = 3 * time.Second

// ConnectionState is whether gantry reaches a cluster, in Argo CD's shape.
type ConnectionState struct {
	Status      string    `json:"status"`
	Message     string    `json:"message,omitempty"`
	AttemptedAt time.Time `json:"attemptedAt"`
}

// Probe asks the cluster's /version with its credentials, as Argo CD checks a
// cluster, and returns the state and the server's version (major.minor).
// Only the status code of an answer other than the version is reported, never
// its body: the server URL is the caller's, and gantry must not become a way
// to read whatever answers there.
func Probe(ctx context.Context, cfg *rest.Config) (ConnectionState, string) {
	state := ConnectionState{Status: ConnectionFailed, AttemptedAt: time.Now().UTC().Truncate(time.Second)}
	if cfg == nil {
		state.Status, state.Message = ConnectionUnknown, "no client configuration"
		return state, ""
	}
	c := rest.CopyConfig(cfg)
	c.Timeout = ProbeTimeout
	hc, err := rest.HTTPClientFor(c)
	if err != nil {
		state.Message = "client configuration: " + err.Error()
		return state, ""
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.Host, "/")+"/version", nil)
	if err != nil {
		state.Message = err.Error()
		return state, ""
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			state.Message = fmt.Sprintf("no answer from %s within %s", c.Host, ProbeTimeout)
		} else {
			state.Message = err.Error()
		}
		return state, ""
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		state.Message = fmt.Sprintf("GET %s/version answered %s", strings.TrimRight(c.Host, "/"), resp.Status)
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			state.Message += ": the credentials are not accepted"
		case http.StatusForbidden:
			state.Message += ": the credentials may not read /version"
		}
		return state, ""
	}
	var v struct{ Major, Minor, GitVersion string }
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&v); err != nil || v.GitVersion == "" {
		state.Message = fmt.Sprintf("%s/version did not answer as a Kubernetes API server", strings.TrimRight(c.Host, "/"))
		return state, ""
	}
	state.Status = ConnectionSuccessful
	return state, serverVersion(v.Major, v.Minor, v.GitVersion)
}

// serverVersion is "major.minor" as Argo CD shows it, from the version's
// fields or, when a distribution leaves them empty or decorated ("28+"), its
// gitVersion.
func serverVersion(major, minor, git string) string {
	minor = strings.TrimSuffix(minor, "+")
	if major != "" && minor != "" {
		return major + "." + minor
	}
	parts := strings.SplitN(strings.TrimPrefix(git, "v"), ".", 3)
	if len(parts) >= 2 {
		return parts[0] + "." + parts[1]
	}
	return git
}
