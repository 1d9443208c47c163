package apply

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
)

const hookedApp = `
apiVersion: batch/v1
kind: Job
metadata:
  generateName: migrate-
  annotations: {argocd.argoproj.io/hook: PreSync}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: busybox}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: smoke-test
  annotations: {helm.sh/hook: post-install, helm.sh/hook-delete-policy: hook-succeeded}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: test, image: busybox}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: never, annotations: {argocd.argoproj.io/hook: Skip}}
`

func TestHooksRunAroundTheSyncPhase(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	opts := options("hooks", ns)
	opts.Revision = "0123456789abcdef"
	done, progress := background(e.cluster(), objects(t, hookedApp), nil, opts)

	eventually(t, "the PreSync hook to run", func() bool { return strings.HasPrefix(progress(), "waiting for completion of hook batch/Job/migrate-") })
	jobs := e.live(t, "hooks", gvrJob)
	if len(jobs) != 1 || !strings.HasPrefix(jobs[0].GetName(), "migrate-0123456-presync-") {
		t.Fatalf("PreSync job: %v", jobs)
	}
	if !slices.Contains(jobs[0].GetFinalizers(), HookFinalizer) {
		t.Errorf("a running hook carries the hook finalizer: %v", jobs[0].GetFinalizers())
	}
	if e.get(t, gvrConfigMap, ns, "app-config") != nil {
		t.Fatal("the Sync phase started before the PreSync hook completed")
	}
	e.finishJob(t, ns, jobs[0].GetName(), true)

	eventually(t, "the PostSync hook to run", func() bool { return progress() == "waiting for completion of hook batch/Job/smoke-test" })
	if e.get(t, gvrConfigMap, ns, "app-config") == nil {
		t.Fatal("the PostSync hook runs before the Sync phase was applied")
	}
	e.finishJob(t, ns, "smoke-test", true)
	r := <-done
	mustSucceed(t, r)

	pre := result(t, r, "Job", jobs[0].GetName())
	if pre.HookType != HookPreSync || pre.HookPhase != OperationSucceeded || pre.SyncPhase != PhasePreSync || pre.Message != "job completed" {
		t.Errorf("PreSync result %+v", pre)
	}
	if post := result(t, r, "Job", "smoke-test"); post.HookType != HookPostSync || post.HookPhase != OperationSucceeded {
		t.Errorf("PostSync result %+v", post)
	}
	if e.get(t, gvrConfigMap, ns, "never") != nil {
		t.Error("a Skip resource was applied")
	}
	job := e.get(t, gvrJob, ns, jobs[0].GetName())
	if job == nil || slices.Contains(job.GetFinalizers(), HookFinalizer) {
		t.Errorf("a completed hook stays (BeforeHookCreation) without the finalizer: %v", job)
	}
	eventually(t, "the HookSucceeded hook to be deleted", func() bool {
		j := e.get(t, gvrJob, ns, "smoke-test")
		return j == nil || j.GetDeletionTimestamp() != nil
	})
}

func TestBeforeHookCreationReplacesThePreviousHook(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	manifest := `
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {argocd.argoproj.io/hook: PreSync}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: busybox}]
`
	sync := func() (Result, string) {
		done, progress := background(e.cluster(), objects(t, manifest), nil, options("bhc", ns))
		eventually(t, "the hook to run", func() bool { return progress() == "waiting for completion of hook batch/Job/migrate" })
		job := e.get(t, gvrJob, ns, "migrate")
		e.finishJob(t, ns, "migrate", true)
		return <-done, string(job.GetUID())
	}
	r, first := sync()
	mustSucceed(t, r)
	r, second := sync()
	mustSucceed(t, r)
	if first == second {
		t.Fatal("the hook was not recreated")
	}
	if got := result(t, r, "Job", "migrate").Message; got != "job completed" {
		t.Errorf("%q", got)
	}
}

func TestFailedHookRunsSyncFailHooks(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	manifest := `
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {argocd.argoproj.io/hook: PreSync, argocd.argoproj.io/hook-delete-policy: HookFailed}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: busybox}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
---
apiVersion: v1
kind: ConfigMap
metadata:
  generateName: cleanup-
  annotations: {argocd.argoproj.io/hook: SyncFail}
`
	done, progress := background(e.cluster(), objects(t, manifest), nil, options("failhook", ns))
	eventually(t, "the hook to run", func() bool { return progress() == "waiting for completion of hook batch/Job/migrate" })
	e.finishJob(t, ns, "migrate", false)
	r := <-done
	if r.Phase != OperationFailed || !strings.Contains(r.Message, "completed unsuccessfully") ||
		!strings.Contains(r.Message, "batch/Job migrate in namespace "+ns+": job failed: BackoffLimitExceeded") {
		t.Fatalf("%s: %s", r.Phase, r.Message)
	}
	if h := result(t, r, "Job", "migrate"); h.HookPhase != OperationFailed {
		t.Errorf("%+v", h)
	}
	var syncFail *ResourceResult
	for i, rr := range r.Resources {
		if rr.SyncPhase == PhaseSyncFail {
			syncFail = &r.Resources[i]
		}
	}
	if syncFail == nil || syncFail.HookPhase != OperationSucceeded || !strings.HasPrefix(syncFail.Name, "cleanup-syncfail-") {
		t.Fatalf("SyncFail hook result: %+v", r.Resources)
	}
	if e.get(t, gvrConfigMap, ns, syncFail.Name) == nil {
		t.Error("SyncFail hook not created")
	}
	if e.get(t, gvrConfigMap, ns, "app-config") != nil {
		t.Error("the Sync phase ran after its PreSync hook failed")
	}
	eventually(t, "the HookFailed hook to be deleted", func() bool {
		j := e.get(t, gvrJob, ns, "migrate")
		return j == nil || j.GetDeletionTimestamp() != nil
	})
}

func TestSelectiveSyncRunsNoHooks(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	opts := options("selective", ns)
	opts.Resources = []ResourceKey{{Kind: "ConfigMap", Namespace: ns, Name: "app-config"}}
	r := Sync(context.Background(), e.cluster(), objects(t, hookedApp+"\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n"), nil, opts)
	mustSucceed(t, r)
	if len(r.Resources) != 1 || r.Resources[0].Name != "app-config" {
		t.Fatalf("%+v", r.Resources)
	}
	if len(e.live(t, "selective", gvrJob)) != 0 || e.get(t, gvrConfigMap, ns, "other") != nil {
		t.Fatal("a hook or an unselected resource was applied")
	}
}

func TestTerminatedSyncReleasesItsHooks(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	manifest := `
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {argocd.argoproj.io/hook: PreSync}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: busybox}]
`
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := options("terminate", ns)
	running := make(chan struct{})
	var once sync.Once
	opts.Progress = func(r Result) {
		if r.Message == "waiting for completion of hook batch/Job/migrate" {
			once.Do(func() { close(running) })
		}
	}
	done := make(chan Result, 1)
	go func() { done <- Sync(ctx, e.cluster(), objects(t, manifest), nil, opts) }()
	<-running
	cancel()
	r := <-done
	if r.Phase != OperationFailed || r.Message != "operation terminated: context canceled" {
		t.Fatalf("%s: %s", r.Phase, r.Message)
	}
	job := e.get(t, gvrJob, ns, "migrate")
	if job == nil || slices.Contains(job.GetFinalizers(), HookFinalizer) {
		t.Fatalf("the running hook should stay, without the finalizer: %v", job)
	}
}
