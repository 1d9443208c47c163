package argocdtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// Client calls Argo CD's REST API (/api/v1, what the UI and `argocd` use)
// with a session token: Argo CD's own (Login) or one an SSO sign-in set in
// the argocd.token cookie.
type Client struct {
	URL   string
	Token string
	http  *http.Client
}

// Client is a client of a with token ("" for none).
func (a *ArgoCD) Client(token string) *Client {
	return &Client{URL: a.URL, Token: token, http: &http.Client{Timeout: 30 * time.Second}}
}

// AdminToken signs in as Argo CD's local admin.
func (a *ArgoCD) AdminToken(t testing.TB) string {
	t.Helper()
	tok, err := a.Client("").Login(context.Background(), "admin", a.AdminPassword)
	if err != nil {
		t.Fatalf("signing in to Argo CD as admin: %v", err)
	}
	return tok
}

// APIError is an answer other than 2xx.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("Argo CD answered %d: %s", e.Status, e.Message) }

// ConnectionState is what Argo CD knows of its connection to a cluster.
type ConnectionState struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// Cluster is one of /api/v1/clusters.
type Cluster struct {
	Name    string `json:"name"`
	Server  string `json:"server"`
	Project string `json:"project"`
	Info    struct {
		ConnectionState ConnectionState `json:"connectionState"`
	} `json:"info"`
}

// Application is what the tests read of an Argo CD Application.
type Application struct {
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Project     string `json:"project"`
		Destination struct {
			Server    string `json:"server"`
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"destination"`
	} `json:"spec"`
	Status struct {
		Sync struct {
			Status   string `json:"status"`
			Revision string `json:"revision"`
		} `json:"sync"`
		Health struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"health"`
		OperationState *struct {
			Phase   string `json:"phase"`
			Message string `json:"message"`
		} `json:"operationState"`
		Conditions []struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"conditions"`
	} `json:"status"`
}

// UserInfo is /api/v1/session/userinfo.
type UserInfo struct {
	LoggedIn bool     `json:"loggedIn"`
	Username string   `json:"username"`
	Iss      string   `json:"iss"`
	Groups   []string `json:"groups"`
}

// Login creates a session for a local account and returns its token.
func (c *Client) Login(ctx context.Context, user, password string) (string, error) {
	var out struct{ Token string }
	err := c.do(ctx, http.MethodPost, "/api/v1/session", map[string]string{"username": user, "password": password}, &out)
	return out.Token, err
}

// UserInfo says who the token is.
func (c *Client) UserInfo(ctx context.Context) (UserInfo, error) {
	var out UserInfo
	return out, c.do(ctx, http.MethodGet, "/api/v1/session/userinfo", nil, &out)
}

// Clusters lists the clusters the token may see.
func (c *Client) Clusters(ctx context.Context) ([]Cluster, error) {
	var out struct{ Items []Cluster }
	return out.Items, c.do(ctx, http.MethodGet, "/api/v1/clusters", nil, &out)
}

// Applications lists the Applications the token may see.
func (c *Client) Applications(ctx context.Context) ([]Application, error) {
	var out struct{ Items []Application }
	return out.Items, c.do(ctx, http.MethodGet, "/api/v1/applications", nil, &out)
}

// Application reads one Application.
func (c *Client) Application(ctx context.Context, name string) (Application, error) {
	var out Application
	return out, c.do(ctx, http.MethodGet, "/api/v1/applications/"+url.PathEscape(name), nil, &out)
}

// CreateApplication creates an Application from its manifest (Argo CD's
// JSON form: metadata and spec).
func (c *Client) CreateApplication(ctx context.Context, app map[string]any) (Application, error) {
	var out Application
	return out, c.do(ctx, http.MethodPost, "/api/v1/applications", app, &out)
}

// Sync starts a sync of an Application, as the UI's Sync button does.
func (c *Client) Sync(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, "/api/v1/applications/"+url.PathEscape(name)+"/sync", map[string]any{}, nil)
}

// DeleteApplication deletes an Application and what it deployed.
func (c *Client) DeleteApplication(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/applications/"+url.PathEscape(name)+"?cascade=true", nil, nil)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Message, Error string }
		if json.Unmarshal(data, &e) != nil || e.Message == "" {
			e.Message = string(data)
		}
		return &APIError{Status: resp.StatusCode, Message: e.Message}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not JSON: %w: %s", method, path, err, data)
	}
	return nil
}
