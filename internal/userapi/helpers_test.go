package userapi

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/api/apitest"
	"gantry.dev/gantry/internal/identity/accesskeys"
	"gantry.dev/gantry/internal/identity/authn"
)

func TestMain(m *testing.M) { os.Exit(apitest.Main(m)) }

// Tokens of the test identities. admin is role:admin (built-in policy);
// the others have no role.
const (
	tAdmin      = "t-admin"
	tAdminToken = "t-admin-token" // the local admin token
	tAdminKey   = "t-admin-key"   // the admin's key scoped to project shop
	tAlice      = "t-alice"
	tAliceKey   = "t-alice-key" // alice's key scoped to project shop
	tBob        = "t-bob"
	tErin       = "t-erin" // a user TestPassword makes
)

var fixtureOnce sync.Once

type fixture struct {
	*apitest.Env
	c       client.Client
	api     *API
	limiter *countLimiter
}

// countLimiter refuses after max failures.
type countLimiter struct {
	mu       sync.Mutex
	max      int
	failures map[string]int
}

func (l *countLimiter) Allow(user, ip string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failures[user] < l.max, 30 * time.Second
}

func (l *countLimiter) Failed(user, ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures[user]++
}

func (l *countLimiter) Succeeded(user, ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, user)
}

// setup starts the API over the shared control plane, with password Secrets
// in a namespace of the test's own; groups are worked out from the CRDs at
// each request, as authn does.
func setup(t *testing.T) *fixture {
	t.Helper()
	env := apitest.New(t, apitest.Options{GroupsFromCRDs: true})
	c := env.Direct
	fixtureOnce.Do(func() {
		for _, u := range []string{"admin", "alice", "bob"} {
			err := c.Create(context.Background(), &platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: u}})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
		}
	})
	shop := accesskeys.Scope{Project: "shop"}
	for tok, id := range map[string]authn.Identity{
		tAdmin: {User: "admin", Via: "session"}, tAdminToken: {User: "admin", Via: "admin-token"},
		tAdminKey: {User: "admin", Via: "accesskey", Scope: shop},
		tAlice:    {User: "alice", Via: "session"}, tAliceKey: {User: "alice", Via: "accesskey", Scope: shop},
		tBob: {User: "bob", Via: "session"}, tErin: {User: "u-erin", Via: "session"},
	} {
		env.Tokens.Set(tok, id)
	}
	limiter := &countLimiter{max: 3, failures: map[string]int{}}
	api := &API{Client: c, Namespace: env.Kube.Namespace(t), Limiter: limiter}
	api.Register(env.Router)
	return &fixture{Env: env, c: c, api: api, limiter: limiter}
}

// call sends body (a string as is, anything else as JSON) with token.
func (f *fixture) call(t *testing.T, method, path, token string, body any) apitest.Reply {
	t.Helper()
	return f.Do(token, method, path, body)
}

// exists says whether obj (a User or Team, by name) exists.
func (f *fixture) exists(t *testing.T, obj client.Object, name string) bool {
	t.Helper()
	err := f.c.Get(context.Background(), client.ObjectKey{Name: name}, obj)
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}
