package vcproxy

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/sessions"
)

// sessionOf accepts any three-part token as a session of user.
type sessionOf string

func (u sessionOf) Verify(context.Context, string) (*sessions.Claims, error) {
	return &sessions.Claims{User: string(u)}, nil
}

// A User whose stored groups hold system:masters (written by hand, or by an
// older gantry) is never impersonated with it: not through the proxy, not in a
// token minted for a direct connection.
func TestStoredSystemGroupNeverImpersonated(t *testing.T) {
	s := runtime.NewScheme()
	_ = platformv1alpha1.AddToScheme(s)
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(&platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "mallory"},
		Spec: platformv1alpha1.UserSpec{Groups: []string{"system:masters", "system:authenticated", "gantry:admins", "devs"}}}).Build()
	auth := &authn.Authenticator{Tokens: sessionOf("mallory"), Users: c}
	r, _ := http.NewRequest("GET", "https://gantry/kubernetes/project/p/virtualcluster/v/api/v1/secrets", nil)
	r.Header.Set("Authorization", "Bearer a.b.c")
	id, err := auth.Authenticate(r)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(id.Groups, []string{"devs"}) {
		t.Errorf("Identity.Groups %v, want [devs]", id.Groups)
	}
	impersonate(r, id, false)
	for _, g := range r.Header.Values("Impersonate-Group") {
		if strings.HasPrefix(g, "system:") || strings.HasPrefix(g, "gantry:") {
			t.Errorf("impersonated with reserved group %q (all: %v)", g, r.Header.Values("Impersonate-Group"))
		}
	}
	if g := authn.ForwardedGroups(id.Groups, false); !slices.Equal(g, []string{"devs"}) {
		t.Errorf("groups of a minted token %v, want [devs]", g)
	}
}
