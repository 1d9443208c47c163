package rbacconfig

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/kubetest"
)

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	os.Exit(kubetest.Main(m))
}

// may says whether user may get the apps of project default.
func may(e *rbac.Enforcer, user string) bool {
	return e.Enforce([]string{user}, rbac.ResourceApplications, rbac.ActionGet, "default/web")
}

func configMap(ns, policy string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: rbac.ConfigMapName, Namespace: ns},
		Data: map[string]string{rbac.ConfigMapPolicyCSV: policy}}
}

func grant(user string) string { return "p, " + user + ", applications, get, default/*, allow\n" }

func newEnforcer(t *testing.T) *rbac.Enforcer {
	t.Helper()
	e, err := rbac.New(rbac.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 30s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The operator edits gantry-rbac-cm while gantry runs: the policy follows,
// and deleting the ConfigMap takes the user policy away.
func TestPolicyFollowsTheConfigMap(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{})
	ns := env.Namespace(t)
	e := newEnforcer(t)
	env.Manager(t, func(mgr ctrl.Manager) error {
		return (&Reconciler{Client: mgr.GetClient(), Enforcer: e, Namespace: ns}).SetupWithManager(mgr)
	})
	ctx := context.Background()
	if may(e, "alice") {
		t.Fatal("alice may get apps before any policy")
	}
	cm := configMap(ns, grant("alice"))
	if err := env.Client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the ConfigMap's grant takes effect", func() bool { return may(e, "alice") })

	cm.Data[rbac.ConfigMapPolicyCSV] = grant("bob")
	if err := env.Client.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "an edit replaces the policy", func() bool { return may(e, "bob") && !may(e, "alice") })

	if err := env.Client.Delete(ctx, cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a deleted ConfigMap clears the policy", func() bool { return !may(e, "bob") })
	if csv, _, _, _ := e.Policy(); csv != "" {
		t.Errorf("policy.csv after the delete: %q", csv)
	}
}

// A member of a project who can write ConfigMaps in their own namespace (an
// app deploying one, say) names theirs gantry-rbac-cm: it grants nothing.
func TestConfigMapElsewhereIgnored(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{})
	ns := env.Namespace(t)
	e := newEnforcer(t)
	env.Manager(t, func(mgr ctrl.Manager) error {
		return (&Reconciler{Client: mgr.GetClient(), Enforcer: e, Namespace: ns}).SetupWithManager(mgr)
	})
	ctx := context.Background()
	if err := env.Client.Create(ctx, configMap(ns, grant("alice"))); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the real ConfigMap's grant", func() bool { return may(e, "alice") })

	tenant := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "p-tenant-"}}
	if err := env.Client.Create(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), tenant) })
	if err := env.Client.Create(ctx, configMap(tenant.Name, "g, mallory, role:admin\n")); err != nil {
		t.Fatal(err)
	}
	// A reconcile of the tenant's ConfigMap would take milliseconds.
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if may(e, "mallory") || !may(e, "alice") {
			t.Fatalf("a gantry-rbac-cm in namespace %s changed the policy: mallory %v, alice %v", tenant.Name, may(e, "mallory"), may(e, "alice"))
		}
	}
}

// A broken edit is refused as a whole: the previous policy stays in force,
// neither nothing nor half of the new text.
func TestBrokenPolicyKeepsThePrevious(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{})
	ns := env.Namespace(t)
	e := newEnforcer(t)
	r := &Reconciler{Client: env.Client, Enforcer: e, Namespace: ns}
	ctx := context.Background()
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: rbac.ConfigMapName}}
	cm := configMap(ns, grant("alice"))
	if err := env.Client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if !may(e, "alice") {
		t.Fatal("alice's grant did not take effect")
	}

	for name, broken := range map[string]map[string]string{
		"a line with too few fields": {rbac.ConfigMapPolicyCSV: grant("bob") + "p, mallory, applications\n"},
		"an unknown effect":          {rbac.ConfigMapPolicyCSV: grant("bob") + "p, mallory, applications, get, default/*, maybe\n"},
		"an unknown match mode":      {rbac.ConfigMapPolicyCSV: grant("bob"), rbac.ConfigMapMatchMode: "fuzzy"},
	} {
		cm.Data = broken
		if err := env.Client.Update(ctx, cm); err != nil {
			t.Fatal(err)
		}
		// Not an error to retry: the same text would fail the same way.
		if _, err := r.Reconcile(ctx, req); err != nil {
			t.Errorf("%s: Reconcile returned %v", name, err)
		}
		if !may(e, "alice") || may(e, "bob") || may(e, "mallory") {
			t.Errorf("%s: alice %v, bob %v, mallory %v; want the previous policy (alice only)", name, may(e, "alice"), may(e, "bob"), may(e, "mallory"))
		}
	}
}

func TestSetProjects(t *testing.T) {
	e := newEnforcer(t)
	projects := []platformv1alpha1.Project{
		{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: platformv1alpha1.ProjectSpec{Members: []platformv1alpha1.Member{
			{Kind: platformv1alpha1.MemberUser, Name: "alice", Role: platformv1alpha1.RoleProjectViewer},
			{Kind: platformv1alpha1.MemberTeam, Name: "ops", Role: platformv1alpha1.RoleProjectAdmin},
		}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Spec: platformv1alpha1.ProjectSpec{Members: []platformv1alpha1.Member{
			{Kind: platformv1alpha1.MemberUser, Name: "bob", Role: platformv1alpha1.RoleProjectAdmin},
		}}},
		// Not a DNS label: refused, named, and no harm to the others.
		{ObjectMeta: metav1.ObjectMeta{Name: "Bad_Name"}, Spec: platformv1alpha1.ProjectSpec{Members: []platformv1alpha1.Member{
			{Kind: platformv1alpha1.MemberUser, Name: "mallory", Role: platformv1alpha1.RoleProjectAdmin},
		}}},
	}
	err := SetProjects(e, projects)
	if err == nil || !strings.Contains(err.Error(), "Bad_Name") {
		t.Errorf("SetProjects: %v; want an error naming project Bad_Name", err)
	}
	for _, c := range []struct {
		subjects []string
		action   string
		want     bool
	}{
		{[]string{"alice"}, rbac.ActionGet, true},
		{[]string{"alice"}, rbac.ActionDelete, false},
		{[]string{"carol", rbac.TeamSubject("ops")}, rbac.ActionDelete, true},
		{[]string{"bob"}, rbac.ActionGet, false},
		{[]string{"mallory"}, rbac.ActionGet, false},
	} {
		if got := e.Enforce(c.subjects, rbac.ResourceApplications, c.action, "default/web"); got != c.want {
			t.Errorf("%v %s default/web: %v, want %v", c.subjects, c.action, got, c.want)
		}
	}
	// Members change: the old grants go.
	if err := SetProjects(e, projects[1:2]); err != nil {
		t.Fatal(err)
	}
	if e.Enforce([]string{"alice"}, rbac.ResourceApplications, rbac.ActionGet, "default/web") {
		t.Error("alice keeps her grant after leaving the project")
	}
}
