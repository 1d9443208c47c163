package appapi

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"gantry.dev/gantry/internal/gitops/actions"
	"gantry.dev/gantry/internal/gitops/tree"
)

// Resource actions through Argo CD's paths, against a real API server:
// listed per kind, run as the body says (both of Argo CD's forms), refused
// without the action permission and outside the app's tree.
func TestResourceActions(t *testing.T) {
	f := newFixture(t)
	dest := testDestination(t)
	ns := "act-" + f.A
	f.MustCreate(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	labels := map[string]string{"app": "web"}
	podSpec := corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "nginx:1.27"}}}
	web := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec}}}
	web.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
	report := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "report", Namespace: ns}, Spec: batchv1.CronJobSpec{
		Schedule:    "0 * * * *",
		JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: podSpec}}}}}
	other := web.DeepCopy()
	other.Name = "other"
	for _, o := range []client.Object{web, report, other} {
		f.MustCreate(o)
	}
	f.api.Engine = &treeEngine{dest: dest, nodes: []tree.Node{
		{ResourceRef: tree.ResourceRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: ns, Name: "web"}},
		{ResourceRef: tree.ResourceRef{Group: "batch", Version: "v1", Kind: "CronJob", Namespace: ns, Name: "report"}},
	}}
	path := func(group, kind, name string) string {
		return "/api/v1/applications/one/resource/actions?" + url.Values{"namespace": {ns}, "resourceName": {name},
			"group": {group}, "kind": {kind}, "version": {"v1"}}.Encode()
	}
	post := func(token, path, body string) (int, string) {
		r := f.Do(token, http.MethodPost, path, body)
		return r.Code, r.Body
	}
	get := func(name string) *appsv1.Deployment {
		d := &appsv1.Deployment{}
		if err := f.Direct.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
			t.Fatal(err)
		}
		return d
	}

	f.expect("victor", "GET", path("apps", "Deployment", "web"), 200,
		`{"name":"pause","disabled":false}`, `{"name":"restart","disabled":false}`, `{"name":"resume","disabled":true}`)
	f.expect("victor", "GET", path("batch", "CronJob", "report"), 200, `"create-job"`)

	// A viewer may list but not run; a member of the project may (restart as Argo CD's v1 body).
	if code, body := post("victor", path("apps", "Deployment", "web"), `"restart"`); code != 403 {
		t.Fatalf("a viewer restarted: %d %s", code, body)
	}
	if get("web").Spec.Template.Annotations[actions.RestartedAtAnnotation] != "" {
		t.Fatal("refused, yet restarted")
	}
	if code, body := post("alice", path("apps", "Deployment", "web"), `"restart"`); code != 200 {
		t.Fatalf("restart: %d %s", code, body)
	}
	d := get("web")
	if d.Spec.Template.Annotations[actions.RestartedAtAnnotation] == "" {
		t.Fatalf("not restarted: %v", d.Spec.Template.Annotations)
	}
	if !slices.ContainsFunc(d.GetManagedFields(), func(m metav1.ManagedFieldsEntry) bool {
		return m.Manager == ActionFieldManager && m.Subresource == ""
	}) {
		t.Errorf("no field manager %q: %+v", ActionFieldManager, d.GetManagedFields())
	}
	// Argo CD's v2 body; then resume is enabled and pause is not.
	if code, body := post("alice", path("apps", "Deployment", "web"), `{"action":"pause"}`); code != 200 || !get("web").Spec.Paused {
		t.Fatalf("pause: %d %s", code, body)
	}
	f.expect("alice", "GET", path("apps", "Deployment", "web"), 200, `{"name":"pause","disabled":true}`, `{"name":"resume","disabled":false}`)
	if code, body := post("alice", path("apps", "Deployment", "web"), `"pause"`); code != 400 || !strings.Contains(body, "disabled") {
		t.Errorf("pausing a paused Deployment: %d %s", code, body)
	}
	// create-job makes a Job owned by the CronJob.
	if code, body := post("alice", path("batch", "CronJob", "report"), `"create-job"`); code != 200 || !strings.Contains(body, `"created":"report-`) {
		t.Fatalf("create-job: %d %s", code, body)
	}
	var jobs batchv1.JobList
	if err := f.Direct.List(context.Background(), &jobs, client.InNamespace(ns)); err != nil || len(jobs.Items) != 1 ||
		jobs.Items[0].OwnerReferences[0].Name != "report" {
		t.Fatalf("jobs: %v %+v", err, jobs.Items)
	}

	// Outside the tree, another project's member, an unknown action, a bad body.
	if code, body := post("root", path("apps", "Deployment", "other"), `"restart"`); code != 404 || get("other").Spec.Template.Annotations != nil {
		t.Errorf("an object outside the app: %d %s", code, body)
	}
	if code, _ := post("bob", path("apps", "Deployment", "web"), `"restart"`); code != 403 {
		t.Errorf("another project's member: %d", code)
	}
	if code, body := post("alice", path("apps", "Deployment", "web"), `"explode"`); code != 400 || !strings.Contains(body, "has no action") {
		t.Errorf("unknown action: %d %s", code, body)
	}
	if code, body := post("alice", path("apps", "Deployment", "web"), `restart`); code != 400 {
		t.Errorf("a body that is not JSON: %d %s", code, body)
	}
}
