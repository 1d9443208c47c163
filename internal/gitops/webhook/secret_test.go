package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"gantry.dev/gantry/internal/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// The webhook fails closed: when its Secret is missing or cannot be read, an
// unsigned push is refused with 503 and a message naming the Secret and the
// fix, instead of being accepted as if no secret were configured.
func TestWebhookFailsClosed(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{})
	ns := env.Namespace(t)
	key := types.NamespacedName{Namespace: ns, Name: "gantry-webhook"}
	var reader client.Reader = env.Client
	pushes := 0
	srv := httptest.NewServer(NewHandler(func(ctx context.Context) (Secrets, error) { return ReadSecret(ctx, reader, key) },
		func(context.Context, *Push) { pushes++ }))
	defer srv.Close()
	body := fixture(t, "github-push.json")
	post := func(signature string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		if signature != "" {
			req.Header.Set("X-Hub-Signature-256", "sha256="+signature)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// Missing: refused, and the answer says which Secret and how to fix it.
	code, msg := post("")
	if code != http.StatusServiceUnavailable || !strings.Contains(msg, key.String()) || !strings.Contains(msg, "restart gantry") {
		t.Errorf("unsigned push without the Secret: %d %q, want 503 naming %s and the fix", code, msg, key)
	}

	// Present: verified as usual.
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: key.Name},
		Data: map[string][]byte{"webhook.github.secret": []byte("s3cret")}}
	if err := env.Client.Create(context.Background(), sec); err != nil {
		t.Fatal(err)
	}
	if code, msg := post(""); code != http.StatusUnauthorized {
		t.Errorf("unsigned push with the Secret: %d %q, want 401", code, msg)
	}
	if code, msg := post(hmacHex("s3cret", body)); code != http.StatusOK {
		t.Errorf("signed push: %d %q, want 200", code, msg)
	}

	// Unreadable (gantry lost its right to read Secrets): refused too.
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "nobody"}
	forbidden, err := client.New(cfg, client.Options{Scheme: kubetest.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	reader = forbidden
	code, msg = post("")
	if code != http.StatusServiceUnavailable || !strings.Contains(msg, key.String()) || !strings.Contains(msg, "forbidden") {
		t.Errorf("unsigned push with an unreadable Secret: %d %q, want 503 naming %s and why", code, msg, key)
	}
	if strings.Contains(msg, "s3cret") {
		t.Errorf("answer leaks the secret: %q", msg)
	}
	if pushes != 1 {
		t.Errorf("%d pushes reached the engine, want only the signed one", pushes)
	}
}

// On first start every provider gets its own random secret, so webhooks are
// verified by default; a later start keeps what is there (an admin's own
// secrets included).
func TestEnsureSecret(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{})
	key := types.NamespacedName{Namespace: env.Namespace(t), Name: "gantry-webhook"}
	ctx := context.Background()
	if err := EnsureSecret(ctx, env.Client, key); err != nil {
		t.Fatal(err)
	}
	first, err := ReadSecret(ctx, env.Client, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.GitHub) < 32 || len(first.GitLab) < 32 || len(first.Gitea) < 32 ||
		first.GitHub == first.GitLab || first.GitLab == first.Gitea {
		t.Errorf("secrets made on first start: %+v; want a long random one per provider", first)
	}
	sec := &corev1.Secret{}
	if err := env.Client.Get(ctx, key, sec); err != nil {
		t.Fatal(err)
	}
	sec.Data["webhook.github.secret"] = []byte("the-admins-own")
	if err := env.Client.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	if err := EnsureSecret(ctx, env.Client, key); err != nil {
		t.Fatal(err)
	}
	if again, err := ReadSecret(ctx, env.Client, key); err != nil || again.GitHub != "the-admins-own" || again.GitLab != first.GitLab {
		t.Errorf("after a restart: %+v, %v; want the Secret as it was", again, err)
	}
}
