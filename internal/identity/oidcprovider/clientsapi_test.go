package oidcprovider

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/identity/authn"
)

// headerAuth authenticates "X-User: name"; admins are in group "admins".
type headerAuth struct{}

func (headerAuth) Authenticate(r *http.Request) (authn.Identity, error) {
	u := r.Header.Get("X-User")
	if u == "" {
		return authn.Identity{}, errors.New("no credentials: log in")
	}
	id := authn.Identity{User: u, Via: "session"}
	if u == "root" {
		id.Groups = []string{"admins"}
	}
	return id, nil
}

func allowAdmins(subjects []string, resource, _, object string) error {
	if resource == "oidcclients" && object == "*" && slices.Contains(subjects, "admins") {
		return nil
	}
	return errors.New("denied")
}

func newAPI(t *testing.T) (http.Handler, client.Client) {
	t.Helper()
	kube := fake.NewClientBuilder().Build()
	r := api.NewRouter(headerAuth{}, allowAdmins)
	(&ClientsAPI{Store: ClientStore{Client: kube, Namespace: testNamespace}}).Register(r)
	return r, kube
}

func call(t *testing.T, api http.Handler, user, method, path, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if user != "" {
		req.Header.Set("X-User", user)
	}
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %s: not JSON: %s", method, path, rec.Body)
	}
	return rec.Code, out
}

func TestClientsAPI(t *testing.T) {
	api, kube := newAPI(t)
	const spec = `{"id": "argocd", "name": "Argo CD", "redirectURIs": ["https://argocd.example.com/auth/callback"],
		"postLogoutRedirectURIs": ["https://argocd.example.com/"]}`

	if code, _ := call(t, api, "", http.MethodGet, ClientsPrefix, ""); code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want 401", code)
	}
	for _, c := range []struct{ method, path, body string }{
		{http.MethodGet, ClientsPrefix, ""},
		{http.MethodPost, ClientsPrefix, spec},
		{http.MethodDelete, ClientsPrefix + "/argocd", ""},
		{http.MethodPost, ClientsPrefix + "/argocd/rotate-secret", ""},
	} {
		if code, _ := call(t, api, "mallory", c.method, c.path, c.body); code != http.StatusForbidden {
			t.Errorf("%s %s as a user: %d, want 403", c.method, c.path, code)
		}
	}

	code, created := call(t, api, "root", http.MethodPost, ClientsPrefix, spec)
	secret, _ := created["secret"].(string)
	if code != http.StatusOK || len(secret) < 40 || created["id"] != "argocd" || created["public"] != false {
		t.Fatalf("create: %d %v", code, created)
	}
	if code, _ := call(t, api, "root", http.MethodPost, ClientsPrefix, spec); code != http.StatusConflict {
		t.Errorf("second create: %d, want 409", code)
	}

	// The secret is in that answer only: not in reads, not in the Secret.
	code, got := call(t, api, "root", http.MethodGet, ClientsPrefix+"/argocd", "")
	if code != http.StatusOK || got["name"] != "Argo CD" || got["secret"] != nil {
		t.Errorf("get: %d %v", code, got)
	}
	code, list := call(t, api, "root", http.MethodGet, ClientsPrefix, "")
	if items, _ := list["items"].([]any); code != http.StatusOK || len(items) != 1 || strings.Contains(mustJSON(list), secret) {
		t.Errorf("list: %d %v", code, list)
	}
	var sec corev1.Secret
	if err := kube.Get(context.Background(), client.ObjectKey{Namespace: testNamespace, Name: ClientSecretName("argocd")}, &sec); err != nil {
		t.Fatal(err)
	}
	if sec.Labels[LabelClient] != "true" || sec.Type != ClientSecretType {
		t.Errorf("Secret labels %v type %s", sec.Labels, sec.Type)
	}
	for k, v := range sec.Data {
		if strings.Contains(string(v), secret) {
			t.Errorf("the client secret is stored in clear in %s", k)
		}
	}
	if string(sec.Data[keySecretHash]) != hashHex(secret) {
		t.Error("the stored hash is not the secret's SHA-256")
	}

	// Rotation: a new secret, the old one dead.
	code, rotated := call(t, api, "root", http.MethodPost, ClientsPrefix+"/argocd/rotate-secret", "")
	newSecret, _ := rotated["secret"].(string)
	if code != http.StatusOK || newSecret == "" || newSecret == secret {
		t.Fatalf("rotate: %d %v", code, rotated)
	}
	c, err := (ClientStore{Client: kube, Namespace: testNamespace}).Get(context.Background(), "argocd")
	if err != nil || c.checkSecret(secret) || !c.checkSecret(newSecret) {
		t.Errorf("after rotation: old works %v, new works %v (%v)", c.checkSecret(secret), c.checkSecret(newSecret), err)
	}

	for _, bad := range []string{
		`{"id": "Argo_CD", "redirectURIs": ["https://a.example.com/cb"]}`,
		`{"id": "a", "redirectURIs": []}`,
		`{"id": "a", "redirectURIs": ["http://a.example.com/cb"]}`,
		`{"id": "a", "redirectURIs": ["https://a.example.com/cb#frag"]}`,
		`{"id": "a", "redirectURIs": ["myapp://cb"]}`,
		`{"id": "a", "redirectURIs": ["/cb"]}`,
		`{"id": "a", "redirectURIs": ["https://a.example.com/cb"], "postLogoutRedirectURIs": ["http://a.example.com/"]}`,
		`not json`,
	} {
		if code, out := call(t, api, "root", http.MethodPost, ClientsPrefix, bad); code != http.StatusBadRequest {
			t.Errorf("create %s: %d %v, want 400", bad, code, out)
		}
	}

	code, pub := call(t, api, "root", http.MethodPost, ClientsPrefix,
		`{"id": "kubelogin", "redirectURIs": ["http://localhost:8000", "http://127.0.0.1:8000", "http://[::1]:8000"], "public": true}`)
	if code != http.StatusOK || pub["secret"] != nil || pub["public"] != true || pub["name"] != "kubelogin" {
		t.Errorf("public create: %d %v", code, pub)
	}
	if code, _ := call(t, api, "root", http.MethodPost, ClientsPrefix+"/kubelogin/rotate-secret", ""); code != http.StatusBadRequest {
		t.Errorf("rotating a public client's secret: %d, want 400", code)
	}

	if code, _ := call(t, api, "root", http.MethodDelete, ClientsPrefix+"/argocd", ""); code != http.StatusOK {
		t.Errorf("delete: %d", code)
	}
	if code, _ := call(t, api, "root", http.MethodGet, ClientsPrefix+"/argocd", ""); code != http.StatusNotFound {
		t.Errorf("get after delete: %d, want 404", code)
	}
	if code, _ := call(t, api, "root", http.MethodDelete, ClientsPrefix+"/argocd", ""); code != http.StatusNotFound {
		t.Errorf("second delete: %d, want 404", code)
	}
	if code, _ := call(t, api, "root", http.MethodPut, ClientsPrefix+"/kubelogin", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d, want 405", code)
	}
}

// Deleting a client deletes its refresh tokens and access token records,
// and only its.
func TestDeleteClientDeletesTokens(t *testing.T) {
	_, kube := newAPI(t)
	store := ClientStore{Client: kube, Namespace: testNamespace}
	for _, id := range []string{"a", "b"} {
		if _, err := store.Create(context.Background(), ClientSpec{ID: id, RedirectURIs: []string{"https://x.example.com/cb"}}); err != nil {
			t.Fatal(err)
		}
	}
	rs := refreshStore{client: kube, namespace: testNamespace, now: time.Now}
	for _, id := range []string{"a", "b"} {
		if _, err := rs.create(context.Background(), refreshRecord{user: "alice", client: id,
			authTime: time.Now(), expires: time.Now().Add(RefreshTokenLifetime), sessionExpires: time.Now().Add(SessionMaxLifetime)}); err != nil {
			t.Fatal(err)
		}
	}
	ats := accessTokenStore{client: kube, namespace: testNamespace, now: time.Now}
	for _, id := range []string{"a", "b"} {
		if err := ats.create(context.Background(), "jti-"+id, accessToken{user: "alice", client: id,
			expires: time.Now().Add(AccessTokenLifetime)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Delete(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	var list corev1.SecretList
	_ = kube.List(context.Background(), &list, client.MatchingLabels{LabelRefreshToken: "true"})
	if len(list.Items) != 1 || list.Items[0].Labels[labelRefreshClient] != "b" {
		t.Errorf("refresh tokens left: %v", list.Items)
	}
	if _, ok, _ := ats.get(context.Background(), "jti-a"); ok {
		t.Error("the access token of the deleted client is still active")
	}
	if _, ok, _ := ats.get(context.Background(), "jti-b"); !ok {
		t.Error("the access token of the other client is gone")
	}
	if got, _ := store.List(context.Background()); len(got) != 1 || got[0].ID != "b" {
		t.Errorf("clients left: %v", got)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
