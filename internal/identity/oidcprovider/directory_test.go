package oidcprovider

import (
	"context"
	"os"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/identity/users"
	"gantry.dev/gantry/internal/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// The directory gives an application signing in at gantry the claims gantry
// itself would use: teams, project roles, gantry:admins for administrators
// only, and nothing for a disabled user.
func TestDirectory(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	ns := env.Namespace(t)
	ctx := context.Background()
	objs := []*platformv1alpha1.User{
		{ObjectMeta: metav1.ObjectMeta{Name: "dir-alice"}, Spec: platformv1alpha1.UserSpec{Email: "alice@example.com", DisplayName: "Alice A"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "dir-root"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "dir-dora"}, Spec: platformv1alpha1.UserSpec{Disabled: true}},
	}
	for _, u := range objs {
		if err := env.Client.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), u) })
	}
	team := &platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: "dir-ops"}, Spec: platformv1alpha1.TeamSpec{Users: []string{"dir-alice"}}}
	project := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "dir-shop"}, Spec: platformv1alpha1.ProjectSpec{
		Members: []platformv1alpha1.Member{{Kind: platformv1alpha1.MemberUser, Name: "dir-alice", Role: platformv1alpha1.RoleProjectAdmin}}}}
	if err := env.Client.Create(ctx, team); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), team) })
	if err := env.Client.Create(ctx, project); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), project) })
	if err := users.SetPassword(ctx, env.Client, ns, "dir-alice", "correct-horse-1"); err != nil {
		t.Fatal(err)
	}

	enforcer, err := rbac.New(rbac.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := enforcer.SetPolicy("g, dir-root, role:admin\n", "", ""); err != nil {
		t.Fatal(err)
	}
	auth := &authn.Authenticator{Users: env.Client}
	d := Directory{Passwords: users.Passwords{Reader: env.Client, Namespace: ns}, Groups: auth.Groups,
		Authorize: enforcer.Authorize, Reader: env.Client}

	p, err := d.Profile(ctx, "dir-alice")
	if err != nil {
		t.Fatal(err)
	}
	want := Profile{User: "dir-alice", Email: "alice@example.com", Name: "Alice A",
		Groups: []string{"gantry:project:dir-shop:project-admin", "team:dir-ops"}}
	if p.User != want.User || p.Email != want.Email || p.Name != want.Name || !slices.Equal(p.Groups, want.Groups) {
		t.Errorf("alice's profile: %+v, want %+v", p, want)
	}
	if p, err := d.Profile(ctx, "dir-root"); err != nil || !slices.Contains(p.Groups, authn.GroupAdmins) {
		t.Errorf("an administrator's profile: %+v, %v; want group %s", p, err, authn.GroupAdmins)
	}
	for _, user := range []string{"dir-dora", "dir-nobody"} {
		if p, err := d.Profile(ctx, user); err == nil {
			t.Errorf("profile of %s: %+v; want an error (disabled or missing users get no tokens)", user, p)
		}
	}
	if ok, err := d.CheckPassword(ctx, "dir-alice", "correct-horse-1"); !ok || err != nil {
		t.Errorf("alice's password: %v, %v", ok, err)
	}
	if ok, err := d.CheckPassword(ctx, "dir-alice", "correct-horse-2"); ok || err != nil {
		t.Errorf("a wrong password: %v, %v", ok, err)
	}
}
