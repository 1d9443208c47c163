package podsecurity

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// podSpec reads a pod spec written as a user writes it.
func podSpec(t *testing.T, spec string) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{}
	if err := yaml.UnmarshalStrict([]byte("metadata: {name: p}\nspec:\n"+spec), pod); err != nil {
		t.Fatal(err)
	}
	return pod
}

const restrictedSpec = `
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: nginx
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
`

// Each pod is checked at each level; want lists the levels it meets, and
// mention what the refusal must name.
func TestCheck(t *testing.T) {
	checker, err := NewChecker()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, spec string
		meets      []Level
		mention    string
	}{
		{"privileged container", `
  containers: [{name: c, image: busybox, securityContext: {privileged: true}}]`,
			[]Level{privileged}, `privileged (container "c" must not set securityContext.privileged=true)`},
		{"hostPID", `
  hostPID: true
  containers: [{name: c, image: busybox}]`,
			[]Level{privileged}, "host namespaces (hostPID=true)"},
		{"hostNetwork", `
  hostNetwork: true
  containers: [{name: c, image: busybox}]`,
			[]Level{privileged}, "host namespaces (hostNetwork=true)"},
		{"hostPath /", `
  volumes: [{name: root, hostPath: {path: /}}]
  containers: [{name: c, image: busybox, volumeMounts: [{name: root, mountPath: /host}]}]`,
			[]Level{privileged}, `hostPath volumes (volume "root")`},
		{"capability SYS_ADMIN", `
  containers: [{name: c, image: busybox, securityContext: {capabilities: {add: [SYS_ADMIN]}}}]`,
			[]Level{privileged}, `non-default capabilities (container "c" must not include "SYS_ADMIN" in securityContext.capabilities.add)`},
		{"all of it at once", `
  hostPID: true
  hostNetwork: true
  volumes: [{name: root, hostPath: {path: /}}]
  containers: [{name: c, image: busybox, securityContext: {privileged: true}, volumeMounts: [{name: root, mountPath: /host}]}]`,
			[]Level{privileged}, `host namespaces (hostNetwork=true, hostPID=true), hostPath volumes (volume "root"), privileged (container "c"`},
		{"a plain pod: baseline, not restricted", `
  containers: [{name: c, image: nginx}]`,
			[]Level{privileged, baseline}, `allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false)`},
		{"a restricted pod", restrictedSpec, []Level{privileged, baseline, restricted}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			pod := podSpec(t, c.spec)
			for _, level := range []Level{privileged, baseline, restricted} {
				v := checker.Check(level, pod)
				want := false
				for _, l := range c.meets {
					want = want || l == level
				}
				switch {
				case want && v != nil:
					t.Errorf("refused at %s: %v", level, v)
				case !want && v == nil:
					t.Errorf("allowed at %s", level)
				case v != nil && v.Level != level:
					t.Errorf("violation names level %s, checked %s", v.Level, level)
				}
			}
			if c.mention == "" {
				return
			}
			strictest := restricted
			if len(c.meets) == 1 {
				strictest = baseline
			}
			v := checker.Check(strictest, pod)
			if v == nil || !strings.Contains(v.Error(), c.mention) {
				t.Errorf("at %s: %v; want it to name %q", strictest, v, c.mention)
			}
			if v != nil && !strings.HasPrefix(v.Error(), `violates PodSecurity "`+string(strictest)+`:latest": `) {
				t.Errorf("message %q does not start as kube-apiserver's does", v.Error())
			}
		})
	}
}
