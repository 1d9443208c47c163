package actions

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func obj(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(y), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

var now = time.Date(2026, 11, 26, 14, 30, 0, 0, time.UTC)

func TestDeploymentActions(t *testing.T) {
	d := obj(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 1}\n")
	got := List(d)
	want := []Action{{"pause", false}, {"restart", false}, {"resume", true}}
	if len(got) != len(want) {
		t.Fatalf("actions %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("action %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	c, err := Run(d, "restart", now)
	if err != nil {
		t.Fatal(err)
	}
	ann := c.MergePatch["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)["annotations"].(map[string]any)
	if ann[RestartedAtAnnotation] != "2026-11-26T14:30:00Z" {
		t.Errorf("restart patch %v", c.MergePatch)
	}
	if _, err := Run(d, "resume", now); err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("resume of a running Deployment: %v", err)
	}
	c, err = Run(d, "pause", now)
	if err != nil || c.MergePatch["spec"].(map[string]any)["paused"] != true {
		t.Fatalf("pause: %v %v", c, err)
	}
	paused := obj(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {paused: true}\n")
	if c, err := Run(paused, "resume", now); err != nil || c.MergePatch["spec"].(map[string]any)["paused"] != false {
		t.Errorf("resume of a paused Deployment: %v %v", c, err)
	}
	if _, err := Run(d, "scale-to-zero", now); err == nil || !strings.Contains(err.Error(), "pause restart resume") {
		t.Errorf("unknown action: %v", err)
	}
}

func TestOtherKinds(t *testing.T) {
	for _, kind := range []string{"StatefulSet", "DaemonSet"} {
		if got := List(obj(t, "apiVersion: apps/v1\nkind: "+kind+"\nmetadata: {name: x}\n")); len(got) != 1 || got[0].Name != "restart" {
			t.Errorf("%s actions %v", kind, got)
		}
	}
	if got := List(obj(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")); got != nil {
		t.Errorf("ConfigMap actions %v", got)
	}
	if _, err := Run(obj(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"), "restart", now); err == nil {
		t.Error("a ConfigMap restarted")
	}
}

func TestCreateJob(t *testing.T) {
	cj := obj(t, `apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop, uid: "1234"}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    metadata: {labels: {app: report}}
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: r, image: busybox}]
`)
	c, err := Run(cj, "create-job", now)
	if err != nil {
		t.Fatal(err)
	}
	job := c.Create
	if job == nil || job.GetKind() != "Job" || job.GetNamespace() != "shop" || !strings.HasPrefix(job.GetName(), "report-") {
		t.Fatalf("job %v", job)
	}
	if job.GetLabels()["app"] != "report" || job.GetAnnotations()["cronjob.kubernetes.io/instantiate"] != "manual" {
		t.Errorf("job metadata %v %v", job.GetLabels(), job.GetAnnotations())
	}
	if refs := job.GetOwnerReferences(); len(refs) != 1 || refs[0].Name != "report" || string(refs[0].UID) != "1234" {
		t.Errorf("owner %v", refs)
	}
	if _, found, _ := unstructured.NestedSlice(job.Object, "spec", "template", "spec", "containers"); !found {
		t.Error("the job has no pod template")
	}
	long := obj(t, "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: "+strings.Repeat("a", 60)+"}\nspec: {jobTemplate: {spec: {}}}\n")
	if c, err := Run(long, "create-job", now); err != nil || len(c.Create.GetName()) > 63 {
		t.Errorf("long name: %v %v", c.Create.GetName(), err)
	}
}
