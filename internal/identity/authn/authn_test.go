package authn

import (
	"context"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

func TestGroups(t *testing.T) {
	s := runtime.NewScheme()
	_ = platformv1alpha1.AddToScheme(s)
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(
		&platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "alice"}, Spec: platformv1alpha1.UserSpec{Groups: []string{"sso:devs",
			// From an identity provider that lets anyone name a group: grants nothing.
			"gantry:project:prod:project-admin", "role:admin", "team:ops", "proj:prod:project-admin",
			// Kubernetes' own groups: system:masters is cluster-admin wherever the user is impersonated.
			"system:masters", "system:nodes", "system:authenticated"}}},
		&platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "bob"}, Spec: platformv1alpha1.UserSpec{Disabled: true}},
		&platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: platformv1alpha1.TeamSpec{Groups: []string{"sso:devs"}}},
		&platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: "ops"}, Spec: platformv1alpha1.TeamSpec{Users: []string{"carol"}}},
		&platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "shop"}, Spec: platformv1alpha1.ProjectSpec{Members: []platformv1alpha1.Member{
			{Kind: platformv1alpha1.MemberTeam, Name: "web", Role: platformv1alpha1.RoleProjectMember},
			{Kind: platformv1alpha1.MemberUser, Name: "alice", Role: platformv1alpha1.RoleProjectViewer},
			{Kind: platformv1alpha1.MemberTeam, Name: "ops", Role: platformv1alpha1.RoleProjectAdmin},
		}}},
	).Build()
	a := &Authenticator{Users: c}
	got, err := a.Groups(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"gantry:project:shop:project-member", "gantry:project:shop:project-viewer", "sso:devs", "team:web"}
	if !slices.Equal(got, want) {
		t.Errorf("alice's groups %v, want %v", got, want)
	}
	if _, err := a.Groups(context.Background(), "bob"); err == nil {
		t.Error("a disabled user must have no groups (and so no valid session)")
	}
	if _, err := a.Groups(context.Background(), "nobody"); err == nil {
		t.Error("a deleted user must have no groups")
	}
}
