package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"gantry.dev/gantry/internal/identity/accesskeys"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/jsonapi"
)

// tokens authenticates "Authorization: Bearer <token>" or the session
// cookie, as authn does.
type tokens map[string]authn.Identity

func (t tokens) Authenticate(r *http.Request) (authn.Identity, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		if c, err := r.Cookie(authn.CookieName); err == nil {
			tok = c.Value
		}
	}
	if tok == "" {
		return authn.Identity{}, authn.ErrNoCredentials
	}
	id, ok := t[tok]
	if !ok {
		return authn.Identity{}, errors.New("invalid token")
	}
	return id, nil
}

// allow grants exactly the decisions it lists: "user resource action object".
func allow(grants ...string) Authorize {
	return func(subjects []string, resource, action, object string) error {
		if slices.Contains(grants, strings.Join([]string{subjects[0], resource, action, object}, " ")) {
			return nil
		}
		return fmt.Errorf("permission denied: %s cannot %s %s %s", subjects[0], action, resource, object)
	}
}

type answer struct {
	code   int
	header http.Header
	body   string
	msg    string
}

func do(t *testing.T, h http.Handler, req *http.Request) answer {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var e struct{ Message string }
	_ = json.Unmarshal(rec.Body.Bytes(), &e)
	return answer{code: rec.Code, header: rec.Header(), body: rec.Body.String(), msg: e.Message}
}

func request(method, path, token, body string) *http.Request {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

func TestAuthenticatedByDefault(t *testing.T) {
	r := NewRouter(tokens{"a": {User: "alice"}}, allow())
	ran := 0
	r.Handle("GET /api/v1/things/{name}", func(w http.ResponseWriter, req *http.Request, c *Caller) error {
		ran++
		jsonapi.Write(w, http.StatusOK, map[string]string{"user": c.User, "name": req.PathValue("name")})
		return nil
	})
	for _, token := range []string{"", "wrong"} {
		a := do(t, r, request("GET", "/api/v1/things/x", token, ""))
		if a.code != http.StatusUnauthorized || !strings.HasPrefix(a.msg, "Unauthorized: ") {
			t.Errorf("token %q: %d %s", token, a.code, a.body)
		}
	}
	if ran != 0 {
		t.Fatalf("the handler ran %d times without credentials", ran)
	}
	if a := do(t, r, request("GET", "/api/v1/things/x", "a", "")); a.code != http.StatusOK || !strings.Contains(a.body, `{"name":"x","user":"alice"}`) {
		t.Fatalf("with credentials: %d %s", a.code, a.body)
	}
}

func TestBearerOnlyIgnoresCookies(t *testing.T) {
	r := NewRouter(tokens{"a": {User: "alice"}}, allow())
	ok := func(w http.ResponseWriter, _ *http.Request, _ *Caller) error {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	r.Handle("GET /api/v1/ui", ok)
	r.HandleBearer("GET /kubernetes/x", ok)
	withCookie := func(path string) *http.Request {
		req := request("GET", path, "", "")
		req.AddCookie(&http.Cookie{Name: authn.CookieName, Value: "a"})
		return req
	}
	if a := do(t, r, withCookie("/api/v1/ui")); a.code != http.StatusNoContent {
		t.Errorf("cookie on an authenticated route: %d %s", a.code, a.body)
	}
	if a := do(t, r, withCookie("/kubernetes/x")); a.code != http.StatusUnauthorized {
		t.Errorf("cookie on a bearer-only route: %d %s", a.code, a.body)
	}
	if a := do(t, r, request("GET", "/kubernetes/x", "a", "")); a.code != http.StatusNoContent {
		t.Errorf("bearer on a bearer-only route: %d %s", a.code, a.body)
	}
}

func TestPublicNeedsAReason(t *testing.T) {
	r := NewRouter(tokens{}, allow())
	defer func() {
		if recover() == nil {
			t.Fatal("a public route without a reason was registered")
		}
	}()
	r.Public("GET /open", " ", http.NotFoundHandler())
}

func TestRoutesListsEveryRoute(t *testing.T) {
	r := NewRouter(tokens{}, allow())
	nop := func(http.ResponseWriter, *http.Request, *Caller) error { return nil }
	r.Handle("GET /api/v1/a", nop)
	r.HandleBearer("/kubernetes/{rest...}", nop)
	r.Public("GET /healthz", "probe", http.NotFoundHandler())
	got := r.Routes()
	want := []Route{
		{Pattern: "GET /api/v1/a", Auth: Authenticated},
		{Pattern: "/kubernetes/{rest...}", Auth: BearerOnly},
		{Pattern: "GET /healthz", Auth: Public, Reason: "probe"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("routes %+v, want %+v", got, want)
	}
	if got[0].Method() != "GET" || got[0].Path() != "/api/v1/a" || got[1].Method() != "" || got[1].Path() != "/kubernetes/{rest...}" {
		t.Fatalf("method and path of %+v", got)
	}
}

// Unknown API paths and methods are JSON errors, as every API answer is; a
// trailing slash is ignored.
func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	r := NewRouter(tokens{"a": {User: "alice"}}, allow())
	list := func(w http.ResponseWriter, _ *http.Request, _ *Caller) error {
		jsonapi.Write(w, http.StatusOK, map[string]any{"items": []string{}})
		return nil
	}
	r.Handle("GET /api/v1/things", list)
	r.Handle("POST /api/v1/things", list)
	a := do(t, r, request("PUT", "/api/v1/things", "a", ""))
	if a.code != http.StatusMethodNotAllowed || a.header.Get("Allow") == "" || !strings.Contains(a.msg, "PUT /api/v1/things is not supported") {
		t.Errorf("PUT: %d %v %s", a.code, a.header, a.body)
	}
	if a := do(t, r, request("GET", "/api/v1/nothing", "a", "")); a.code != http.StatusNotFound || !strings.Contains(a.msg, "no such API path") {
		t.Errorf("unknown path: %d %s", a.code, a.body)
	}
	if a := do(t, r, request("GET", "/api/v1/things/", "a", "")); a.code != http.StatusOK {
		t.Errorf("trailing slash: %d %s", a.code, a.body)
	}
}

func TestCanAppliesScopeThenRBAC(t *testing.T) {
	authorize := allow(
		"alice applications get shop/web",
		"alice virtualclusters get shop/dev",
		"alice virtualclusters create shop/new",
		"alice projects get shop",
		"alice users get bob",
	)
	caller := func(scope accesskeys.Scope) *Caller {
		return &Caller{Identity: authn.Identity{User: "alice", Scope: scope}, authorize: authorize}
	}
	anyKey, shopKey, devKey, otherKey := accesskeys.Scope{}, accesskeys.Scope{Project: "shop"},
		accesskeys.Scope{Project: "shop", VirtualCluster: "dev"}, accesskeys.Scope{Project: "other"}
	for _, c := range []struct {
		scope            accesskeys.Scope
		resource, action string
		obj              Object
		want             string // "" allowed, else in the 403's message
	}{
		{anyKey, "applications", "get", InProject("shop", "web"), ""},
		{anyKey, "applications", "sync", InProject("shop", "web"), "permission denied: alice cannot sync applications shop/web"},
		{shopKey, "applications", "get", InProject("shop", "web"), ""},
		{otherKey, "applications", "get", InProject("shop", "web"), "this access key is scoped to project other: it cannot get applications shop/web"},
		// A key for one virtual cluster reaches that cluster, not the project's apps.
		{devKey, "virtualclusters", "get", VirtualCluster("shop", "dev"), ""},
		{devKey, "applications", "get", InProject("shop", "web"), "scoped to virtual cluster shop/dev"},
		{devKey, "virtualclusters", "create", InProject("shop", "new"), "scoped to virtual cluster shop/dev"},
		{shopKey, "virtualclusters", "create", InProject("shop", "new"), ""},
		{shopKey, "projects", "get", ProjectItself("shop"), ""},
		{otherKey, "projects", "get", ProjectItself("shop"), "scoped to project other"},
		// Outside every project: no scoped key, whatever RBAC says.
		{anyKey, "users", "get", Global("bob"), ""},
		{shopKey, "users", "get", Global("bob"), "which belong to no project"},
	} {
		err := caller(c.scope).Can(c.resource, c.action, c.obj)
		if c.want == "" {
			if err != nil {
				t.Errorf("%+v %s %s %s: %v", c.scope, c.action, c.resource, c.obj, err)
			}
			continue
		}
		code, msg := jsonapi.StatusOf(err)
		if err == nil || code != http.StatusForbidden || !strings.Contains(msg, c.want) {
			t.Errorf("%+v %s %s %s: %v (%d), want 403 %q", c.scope, c.action, c.resource, c.obj, err, code, c.want)
		}
	}
	if err := (&Caller{Identity: authn.Identity{User: "alice"}}).Can("applications", "get", InProject("shop", "web")); err == nil {
		t.Error("a caller without an authorizer was allowed")
	}
}

func TestHandlerErrorsAndBodies(t *testing.T) {
	r := NewRouter(tokens{"a": {User: "alice"}}, allow())
	type thing struct {
		Name string `json:"name"`
	}
	r.Handle("POST /api/v1/strict", func(w http.ResponseWriter, req *http.Request, _ *Caller) error {
		var v thing
		if err := DecodeStrict(req, &v); err != nil {
			return err
		}
		jsonapi.Write(w, http.StatusOK, v)
		return nil
	}, BodyLimit(64))
	r.Handle("POST /api/v1/lenient", func(w http.ResponseWriter, req *http.Request, _ *Caller) error {
		var v thing
		if err := Decode(req, &v); err != nil && !errors.Is(err, ErrEmptyBody) {
			return err
		}
		return &jsonapi.StatusError{Code: http.StatusTooManyRequests, Msg: "slow down " + v.Name, RetryAfter: 7}
	})
	for _, c := range []struct {
		path, body string
		code       int
		msg        string
	}{
		{"/api/v1/strict", `{"name": "x"}`, http.StatusOK, ""},
		{"/api/v1/strict", ``, http.StatusBadRequest, "request body is empty"},
		{"/api/v1/strict", `{"nmae": "x"}`, http.StatusBadRequest, `unknown field "nmae"`},
		{"/api/v1/strict", `{"name": 1}`, http.StatusBadRequest, "field name must be string"},
		{"/api/v1/strict", `{"name": "x"} {}`, http.StatusBadRequest, "more than one JSON value"},
		{"/api/v1/strict", `{"name": "` + strings.Repeat("x", 100) + `"}`, http.StatusRequestEntityTooLarge, "larger than"},
		{"/api/v1/lenient", `{"name": "x", "other": 1}`, http.StatusTooManyRequests, "slow down x"},
		{"/api/v1/lenient", ``, http.StatusTooManyRequests, "slow down"},
	} {
		a := do(t, r, request("POST", c.path, "a", c.body))
		if a.code != c.code || !strings.Contains(a.msg, c.msg) {
			t.Errorf("%s %q: %d %s, want %d %q", c.path, c.body, a.code, a.body, c.code, c.msg)
		}
		if a.code == http.StatusTooManyRequests && a.header.Get("Retry-After") != "7" {
			t.Errorf("Retry-After %q", a.header.Get("Retry-After"))
		}
	}
}

func TestDecodeObjectTellsWhatWasSent(t *testing.T) {
	var v struct {
		Name  *string `json:"name"`
		Email *string `json:"email"`
	}
	req := httptest.NewRequest("PATCH", "/", strings.NewReader(`{"name": null}`))
	present, err := DecodeObject(req, &v)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := present["name"]; !ok || len(present) != 1 || v.Name != nil {
		t.Fatalf("present %v, name %v", present, v.Name)
	}
	req = httptest.NewRequest("PATCH", "/", strings.NewReader(`{"Name": "x"}`))
	if _, err := DecodeObject(req, &v); err == nil || !strings.Contains(err.Error(), `unknown field "Name"`) {
		t.Fatalf("a field in another case: %v", err)
	}
	req = httptest.NewRequest("PATCH", "/", io.NopCloser(strings.NewReader("")))
	if _, err := DecodeObject(req, &v); err == nil || !strings.Contains(err.Error(), `"name": …`) {
		t.Fatalf("empty: %v", err)
	}
}

// The web UI answers what no route matches outside /api/, beside routes that
// take every method (the proxy, the OpenID Connect provider) and routes
// with a method; API paths stay JSON.
func TestFallback(t *testing.T) {
	r := NewRouter(tokens{"a": {User: "alice"}}, allow())
	text := func(s string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, s) })
	}
	r.Public("/oidc/", "provider", text("oidc"))
	r.Public("GET /api/v1/settings", "settings", text("settings"))
	r.Fallback("the UI", text("ui"))
	for _, c := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/", 200, "ui"},
		{"GET", "/applications/web", 200, "ui"},
		{"POST", "/oidc/token", 200, "oidc"},
		{"GET", "/api/v1/settings", 200, "settings"},
		{"GET", "/api/v1/nothing", 404, "no such API path"},
		{"POST", "/api/v1/settings", 405, "use GET"},
	} {
		a := do(t, r, request(c.method, c.path, "", ""))
		if a.code != c.code || !strings.Contains(a.body, c.body) {
			t.Errorf("%s %s: %d %s, want %d %q", c.method, c.path, a.code, a.body, c.code, c.body)
		}
	}
	if got := r.Routes(); got[len(got)-1] != (Route{Pattern: "/", Auth: Public, Reason: "the UI"}) {
		t.Errorf("the fallback is not listed: %+v", got)
	}
}
