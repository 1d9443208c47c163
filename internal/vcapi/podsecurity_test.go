package vcapi

import (
	"context"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

// A project member may make a virtual cluster as strict as they like, never
// looser than its project; project admins neither; a gantry administrator may.
// What is refused changes nothing.
func TestPodSecurityLooserThanProjectNeedsAnAdmin(t *testing.T) {
	f := newFixture(t)
	post := Prefix + "/" + f.A
	level := func(name string) platformv1alpha1.PodSecurityLevel {
		t.Helper()
		vc, err := f.vc(f.A, name)
		if err != nil {
			t.Fatal(err)
		}
		return vc.Spec.PodSecurity
	}

	// The project sets nothing: its level is baseline.
	f.expect("alice", "POST", post, `{"name":"priv","podSecurity":"privileged"}`, 403,
		"podSecurity privileged is looser than project "+f.A+"'s level, baseline: only a gantry administrator may set it")
	f.expect("paula", "POST", post, `{"name":"priv","podSecurity":"privileged"}`, 403, "only a gantry administrator")
	if _, err := f.vc(f.A, "priv"); err == nil {
		t.Fatal("a refused create made the virtual cluster")
	}
	f.expect("alice", "POST", post, `{"name":"strict","podSecurity":"restricted"}`, 201)
	f.expect("alice", "POST", post, `{"name":"same","podSecurity":"baseline"}`, 201)
	f.expect("root", "POST", post, `{"name":"priv","podSecurity":"privileged"}`, 201)
	if level("strict") != "restricted" || level("same") != "baseline" || level("priv") != "privileged" {
		t.Fatalf("levels %s %s %s", level("strict"), level("same"), level("priv"))
	}
	f.expect("alice", "POST", post, `{"name":"bad","podSecurity":"root"}`, 400, `podSecurity "root" is not a Pod Security Standard: use privileged, baseline or restricted`)

	// PATCH: loosening is refused, tightening and following the project are not.
	f.expect("alice", "PATCH", f.path(f.A, "one"), `{"podSecurity":"privileged"}`, 403, "only a gantry administrator")
	f.expect("alice", "PATCH", f.path(f.A, "one"), `{"podSecurity":"privileged","sleepAfter":"1h"}`, 403)
	if vc, _ := f.vc(f.A, "one"); vc.Spec.PodSecurity != "" || vc.Spec.SleepAfter != nil {
		t.Fatalf("a refused PATCH changed the cluster: %+v", vc.Spec)
	}
	f.expect("alice", "PATCH", f.path(f.A, "one"), `{"podSecurity":"restricted"}`, 200)
	if level("one") != "restricted" {
		t.Fatalf("level %q after PATCH restricted", level("one"))
	}
	f.expect("alice", "PATCH", f.path(f.A, "one"), `{"podSecurity":null}`, 200)
	if level("one") != "" {
		t.Fatalf("level %q after PATCH null", level("one"))
	}
	f.expect("alice", "PATCH", f.path(f.A, "one"), `{"podSecurity":7}`, 400, "podSecurity must be")
	f.expect("root", "PATCH", f.path(f.A, "one"), `{"podSecurity":"privileged"}`, 200)
	if level("one") != "privileged" {
		t.Fatalf("level %q after an administrator's PATCH", level("one"))
	}

	// A project an administrator made restricted: baseline is looser now.
	p := &platformv1alpha1.Project{}
	if err := f.Direct.Get(context.Background(), client.ObjectKey{Name: f.A}, p); err != nil {
		t.Fatal(err)
	}
	p.Spec.PodSecurity = platformv1alpha1.PodSecurityRestricted
	if err := f.Direct.Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	f.Eventually("the cache to see the project restricted", func() bool {
		code, body := f.do("alice", "PATCH", f.path(f.A, "two"), `{"podSecurity":"baseline"}`)
		return code == 403 && strings.Contains(body, "looser than project "+f.A+"'s level, restricted")
	})
	f.expect("alice", "PATCH", f.path(f.A, "two"), `{"podSecurity":"restricted"}`, 200)
}
