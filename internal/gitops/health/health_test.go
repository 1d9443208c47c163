package health

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// want is the expected assessment of the fixture document named name; nilHealth
// means Assess must return no health at all.
type want struct {
	name      string
	status    Code
	message   string
	nilHealth bool
}

// loadFixtures reads a multi-document YAML file and indexes it by metadata.name.
func loadFixtures(t *testing.T, file string) map[string]*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]*unstructured.Unstructured{}
	for _, doc := range strings.Split(string(data), "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), u); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		objs[u.GetName()] = u
	}
	return objs
}

// assessAll checks every case of one fixture file, and that no document of the
// file is left untested.
func assessAll(t *testing.T, file string, cases []want) {
	t.Helper()
	objs := loadFixtures(t, file)
	if len(objs) != len(cases) {
		t.Errorf("%s has %d documents, the table %d cases", file, len(objs), len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj, ok := objs[tc.name]
			if !ok {
				t.Fatalf("no document named %q in %s", tc.name, file)
			}
			got, err := Assess(obj)
			if err != nil {
				t.Fatalf("Assess: %v", err)
			}
			if tc.nilHealth {
				if got != nil {
					t.Fatalf("got %+v, want no health", *got)
				}
				return
			}
			if got == nil {
				t.Fatalf("got no health, want %s", tc.status)
			}
			if got.Status != tc.status || got.Message != tc.message {
				t.Errorf("got {%s %q}\nwant {%s %q}", got.Status, got.Message, tc.status, tc.message)
			}
		})
	}
}

func TestDeployment(t *testing.T) {
	assessAll(t, "deployment.yaml", []want{
		{name: "healthy", status: Healthy},
		{name: "one-of-two-available", status: Progressing, message: "Waiting for rollout to finish: 1 of 2 updated replicas are available..."},
		{name: "rolling", status: Progressing, message: "Waiting for rollout to finish: 1 out of 3 new replicas have been updated..."},
		{name: "old-pending-termination", status: Progressing, message: "Waiting for rollout to finish: 1 old replicas are pending termination..."},
		{name: "not-observed", status: Progressing, message: "Waiting for rollout to finish: observed deployment generation less than desired generation"},
		{name: "paused", status: Suspended, message: "Deployment is paused"},
		{name: "deadline", status: Degraded, message: `Deployment "deadline" exceeded its progress deadline`},
		{name: "deleting", status: Progressing, message: "Pending deletion"},
	})
}

func TestStatefulSet(t *testing.T) {
	assessAll(t, "statefulset.yaml", []want{
		{name: "healthy", status: Healthy, message: "partitioned roll out complete: 3 new pods have been updated..."},
		{name: "not-ready", status: Progressing, message: "Waiting for 1 pods to be ready..."},
		{name: "partitioned", status: Progressing, message: "Waiting for partitioned roll out to finish: 1 out of 3 new pods have been updated..."},
		{name: "never-observed", status: Progressing, message: "Waiting for statefulset spec update to be observed..."},
		{name: "on-delete", status: Healthy, message: "statefulset has 2 ready pods"},
		{name: "rolling-no-partition", status: Progressing, message: "waiting for statefulset rolling update to complete 1 pods at revision rolling-no-partition-8a1f2e..."},
		{name: "rolled-no-partition", status: Healthy, message: "statefulset rolling update complete 2 pods at revision rolled-no-partition-8a1f2e..."},
	})
}

func TestDaemonSet(t *testing.T) {
	assessAll(t, "daemonset.yaml", []want{
		{name: "healthy", status: Healthy},
		{name: "updating", status: Progressing, message: `Waiting for daemon set "updating" rollout to finish: 1 out of 3 new pods have been updated...`},
		{name: "unavailable", status: Progressing, message: `Waiting for daemon set "unavailable" rollout to finish: 2 of 3 updated pods are available...`},
		{name: "on-delete", status: Healthy, message: "daemon set 1 out of 3 new pods have been updated"},
		{name: "not-observed", status: Progressing, message: "Waiting for rollout to finish: observed daemon set generation less than desired generation"},
	})
}

func TestReplicaSet(t *testing.T) {
	assessAll(t, "replicaset.yaml", []want{
		{name: "healthy", status: Healthy},
		{name: "scaling", status: Progressing, message: "Waiting for rollout to finish: 1 out of 3 new replicas are available..."},
		{name: "quota", status: Degraded, message: `pods "quota-x7k2p" is forbidden: exceeded quota: compute, requested: limits.cpu=2, used: limits.cpu=8, limited: limits.cpu=8`},
		{name: "not-observed", status: Progressing, message: "Waiting for rollout to finish: observed replica set generation less than desired generation"},
	})
}

func TestPod(t *testing.T) {
	assessAll(t, "pod.yaml", []want{
		{name: "running-ready", status: Healthy},
		{name: "crashloop", status: Degraded, message: "back-off 2m40s restarting failed container=web pod=crashloop_shop(0d6c0b3e-7f3a-4f7e-9a8e-5c2b1f0e9d11)"},
		{name: "image-pull", status: Degraded, message: `Back-off pulling image "example.com/web:missing"` + imagePullHint},
		// A hook Pod that cannot pull its image is still waiting, not failed.
		{name: "hook-image-pull", status: Progressing},
		{name: "pending-unschedulable", status: Progressing},
		{name: "succeeded", status: Healthy},
		{name: "failed-exit-code", status: Degraded, message: `container "main" failed with exit code 2`},
		{name: "failed-oom", status: Degraded, message: "OOMKilled"},
		{name: "evicted", status: Degraded, message: "The node was low on resource: memory. Threshold quantity: 100Mi, available: 91072Ki."},
		{name: "running-restarted-not-ready", status: Degraded},
		{name: "running-starting", status: Progressing},
		{name: "running-hook", status: Progressing},
		{name: "running-never-ignore-annotation", status: Healthy},
		{name: "deleting", status: Progressing, message: "Pending deletion"},
		{name: "unknown-phase", status: Unknown, message: "node is unreachable"},
	})
}

func TestService(t *testing.T) {
	assessAll(t, "service.yaml", []want{
		{name: "cluster-ip", status: Healthy},
		{name: "lb-pending", status: Progressing},
		{name: "lb-ready", status: Healthy},
	})
}

func TestIngress(t *testing.T) {
	assessAll(t, "ingress.yaml", []want{
		{name: "no-address", status: Progressing},
		{name: "addressed", status: Healthy},
	})
}

func TestPersistentVolumeClaim(t *testing.T) {
	assessAll(t, "pvc.yaml", []want{
		{name: "bound", status: Healthy},
		{name: "pending", status: Progressing},
		{name: "lost", status: Degraded},
	})
}

func TestJob(t *testing.T) {
	assessAll(t, "job.yaml", []want{
		{name: "running", status: Progressing},
		{name: "complete", status: Healthy, message: "Reached expected number of succeeded pods"},
		{name: "failed", status: Degraded, message: "Job has reached the specified backoff limit"},
		{name: "suspended", status: Suspended, message: "Job suspended"},
	})
}

func TestCronJob(t *testing.T) {
	assessAll(t, "cronjob.yaml", []want{
		{name: "succeeded-last", status: Healthy, message: "CronJob has completed its last execution successfully"},
		{name: "failed-last", status: Degraded, message: "CronJob has not completed its last execution successfully"},
		{name: "running", status: Healthy, message: "The job is running. Its last execution may not have been successful"},
		{name: "never-succeeded", status: Healthy, message: "The Cronjob never completed succesfully. It may not be healthy"},
		{name: "never-scheduled", status: Healthy, message: "CronJob has not been scheduled yet"},
		{name: "suspended", status: Suspended, message: "CronJob is Suspended"},
		{name: "no-status", status: Progressing, message: "Waiting for CronJob"},
	})
}

func TestHorizontalPodAutoscaler(t *testing.T) {
	assessAll(t, "hpa.yaml", []want{
		{name: "healthy", status: Healthy, message: "recommended size matches current size"},
		{name: "no-metrics", status: Degraded, message: "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API"},
		{name: "new", status: Progressing, message: "Waiting to Autoscale"},
		{name: "v1-healthy", status: Healthy, message: "the HPA controller was able to update the target scale to 3"},
		{name: "v1-no-annotation", status: Progressing, message: "Waiting to Autoscale"},
	})
}

func TestAPIService(t *testing.T) {
	assessAll(t, "apiservice.yaml", []want{
		{name: "v1beta1.metrics.k8s.io", status: Healthy, message: "Passed: all checks passed"},
		{name: "v1beta1.custom.metrics.k8s.io", status: Progressing, message: `MissingEndpoints: endpoints for service/prometheus-adapter in "monitoring" have no addresses with port name "https"`},
		{name: "v1alpha1.new.example.com", status: Progressing, message: "Waiting to be processed"},
	})
}

func TestArgoKinds(t *testing.T) {
	assessAll(t, "application.yaml", []want{
		{name: "healthy", status: Healthy},
		{name: "degraded", status: Degraded, message: `Deployment "web" exceeded its progress deadline`},
		{name: "new", status: Progressing, message: "Waiting for application to be reconciled"},
		{name: "wf-failed", status: Degraded, message: "child 'wf-failed-1234' failed"},
	})
}

// gantry's own kinds as children of an app of apps: an Application has no
// health there (Argo CD v3.3 assesses none), an ApplicationSet Argo CD's.
func TestGantryAppKinds(t *testing.T) {
	assessAll(t, "gantryapps.yaml", []want{
		{name: "child-degraded", nilHealth: true},
		{name: "set-up-to-date", status: Healthy, message: "All applications have been generated successfully"},
		{name: "set-error", status: Degraded, message: `metadata.name "" is empty`},
		{name: "set-new", status: Progressing, message: "Waiting for the status to be reported"},
	})
}

func TestKindsWithoutRule(t *testing.T) {
	assessAll(t, "generic.yaml", []want{
		{name: "configmap", nilHealth: true},
		{name: "secret", nilHealth: true},
		{name: "namespace", nilHealth: true},
		{name: "role", nilHealth: true},
		{name: "widgets.example.com", nilHealth: true},
		{name: "endpointslice", nilHealth: true},
		{name: "configmap-deleting", status: Progressing, message: "Pending deletion"},
		// Argo CD keeps hook objects until it has read them: not "Pending deletion".
		{name: "hook-deleting", nilHealth: true},
		{name: "cr-no-status", nilHealth: true},
		// kstatus would call this Current; nothing was measured, so no health.
		{name: "cr-phase-only", nilHealth: true},
		{name: "cr-ready", status: Healthy, message: "Resource is Ready"},
		{name: "cr-not-ready", status: Progressing, message: "waiting for 2 of 3 widgets"},
		{name: "cr-stalled", status: Degraded, message: "size must be even"},
		{name: "cr-behind", status: Progressing, message: "Widget generation is 3, but latest observed generation is 2"},
	})
}

func TestAssessNilIsMissing(t *testing.T) {
	got, err := Assess(nil)
	if err != nil || got == nil || got.Status != Missing {
		t.Fatalf("Assess(nil) = %v, %v; want Missing", got, err)
	}
}

func TestAssessUnreadableObject(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "shop"},
		"spec":     map[string]any{"replicas": "two"},
	}}
	got, err := Assess(obj)
	if err == nil {
		t.Fatal("want an error for a string replicas")
	}
	if got == nil || got.Status != Unknown || got.Message == "" {
		t.Fatalf("got %+v, want Unknown with the error as message", got)
	}
}

func TestIsWorse(t *testing.T) {
	order := []Code{Healthy, Suspended, Progressing, Missing, Degraded, Unknown}
	for i, a := range order {
		for j, b := range order {
			if got := IsWorse(a, b); got != (j > i) {
				t.Errorf("IsWorse(%s, %s) = %v", a, b, got)
			}
		}
	}
	if IsWorse(Healthy, "Bogus") || !IsWorse("Bogus", Suspended) {
		t.Error("an unknown code must rank like Healthy, as in Argo CD")
	}
}

func TestAggregate(t *testing.T) {
	st := func(c Code) *Status { return &Status{Status: c} }
	tests := []struct {
		name     string
		statuses []*Status
		want     Code
	}{
		{"no resources", nil, Healthy},
		{"only resources without health", []*Status{nil, nil}, Healthy},
		{"worst wins", []*Status{st(Healthy), st(Progressing), nil, st(Suspended)}, Progressing},
		{"degraded beats progressing", []*Status{st(Progressing), st(Degraded)}, Degraded},
		{"unknown is worst", []*Status{st(Degraded), st(Unknown)}, Unknown},
		{"missing ignored beside live ones", []*Status{st(Healthy), st(Missing)}, Healthy},
		{"missing ignored beside a configmap", []*Status{nil, st(Missing)}, Healthy},
		{"all missing", []*Status{st(Missing), st(Missing)}, Missing},
		{"suspended", []*Status{st(Healthy), st(Suspended)}, Suspended},
	}
	for _, tc := range tests {
		if got := Aggregate(tc.statuses); got != tc.want {
			t.Errorf("%s: Aggregate = %s, want %s", tc.name, got, tc.want)
		}
	}
}
