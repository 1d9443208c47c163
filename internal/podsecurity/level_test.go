package podsecurity

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

const (
	privileged = platformv1alpha1.PodSecurityPrivileged
	baseline   = platformv1alpha1.PodSecurityBaseline
	restricted = platformv1alpha1.PodSecurityRestricted
)

func TestEffective(t *testing.T) {
	vc := func(l Level) *platformv1alpha1.VirtualCluster {
		return &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "v1", Namespace: "p-a"},
			Spec: platformv1alpha1.VirtualClusterSpec{PodSecurity: l}}
	}
	project := func(l Level) *platformv1alpha1.Project {
		return &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: platformv1alpha1.ProjectSpec{PodSecurity: l}}
	}
	for _, c := range []struct {
		name    string
		vc      *platformv1alpha1.VirtualCluster
		project *platformv1alpha1.Project
		want    Level
	}{
		{"nothing set: baseline", vc(""), project(""), baseline},
		{"no project: baseline", vc(""), nil, baseline},
		{"the project's", vc(""), project(restricted), restricted},
		{"the project's, looser", vc(""), project(privileged), privileged},
		{"the cluster's own over the project's", vc(restricted), project(baseline), restricted},
		{"the cluster's own, looser than the project's", vc(privileged), project(restricted), privileged},
		{"the cluster's own, no project", vc(restricted), nil, restricted},
		{"not a level: the project's", vc("root"), project(restricted), restricted},
		{"not a level anywhere: baseline", vc("root"), project("Privileged"), baseline},
	} {
		if got := Effective(c.vc, c.project); got != c.want {
			t.Errorf("%s: Effective = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestLooser(t *testing.T) {
	for _, c := range []struct {
		a, b Level
		want bool
	}{
		{privileged, baseline, true}, {privileged, restricted, true}, {baseline, restricted, true},
		{baseline, baseline, false}, {restricted, baseline, false}, {baseline, privileged, false}, {restricted, privileged, false},
	} {
		if got := Looser(c.a, c.b); got != c.want {
			t.Errorf("Looser(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

func TestParse(t *testing.T) {
	if l, err := Parse("restricted"); err != nil || l != restricted {
		t.Fatalf("Parse(restricted) = %q, %v", l, err)
	}
	for _, bad := range []string{"", "Baseline", "root", "privileged "} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestSetNamespaceLabels(t *testing.T) {
	var labels map[string]string
	if !SetNamespaceLabels(&labels, restricted) {
		t.Fatal("first set reported no change")
	}
	if labels["pod-security.kubernetes.io/enforce"] != "restricted" || labels["pod-security.kubernetes.io/enforce-version"] != "latest" {
		t.Fatalf("labels %v", labels)
	}
	if SetNamespaceLabels(&labels, restricted) {
		t.Fatal("setting the same level again reported a change")
	}
	labels["team"] = "x"
	if !SetNamespaceLabels(&labels, baseline) || labels["pod-security.kubernetes.io/enforce"] != "baseline" || labels["team"] != "x" {
		t.Fatalf("changing the level: %v", labels)
	}
}
