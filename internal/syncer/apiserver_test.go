package syncer

import (
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Every container and init container is sent to the virtual cluster's API
// server, ahead of its own variables, which win; pods on the host's network
// and syncers without the option are left alone.
func TestAPIServerEnv(t *testing.T) {
	tr := translator{apiServer: &APIServer{Address: netip.MustParseAddr("10.96.7.7")}}
	spec := &corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init"}},
		Containers: []corev1.Container{
			{Name: "app", Env: []corev1.EnvVar{{Name: "URL", Value: "https://$(KUBERNETES_SERVICE_HOST)"}}},
			{Name: "own", Env: []corev1.EnvVar{{Name: "KUBERNETES_SERVICE_HOST", Value: "api.example"}}},
		},
	}
	tr.apiServerEnv(spec)
	get := func(c corev1.Container, name string) []string {
		var vs []string
		for _, e := range c.Env {
			if e.Name == name {
				vs = append(vs, e.Value)
			}
		}
		return vs
	}
	for _, c := range []corev1.Container{spec.InitContainers[0], spec.Containers[0]} {
		for name, want := range map[string]string{"KUBERNETES_SERVICE_HOST": "10.96.7.7", "KUBERNETES_SERVICE_PORT": "443",
			"KUBERNETES_PORT": "tcp://10.96.7.7:443", "KUBERNETES_PORT_443_TCP_ADDR": "10.96.7.7"} {
			if got := get(c, name); !slices.Equal(got, []string{want}) {
				t.Errorf("%s: %s = %v, want %s", c.Name, name, got, want)
			}
		}
	}
	if app := spec.Containers[0].Env; app[len(app)-1].Name != "URL" {
		t.Errorf("the tenant's own variable must come after the ones it may refer to: %v", app)
	}
	if got := get(spec.Containers[1], "KUBERNETES_SERVICE_HOST"); !slices.Equal(got, []string{"api.example"}) {
		t.Errorf("a tenant's own KUBERNETES_SERVICE_HOST: %v", got)
	}
	if got := get(spec.Containers[1], "KUBERNETES_SERVICE_PORT"); !slices.Equal(got, []string{"443"}) {
		t.Errorf("the variables the tenant did not set: KUBERNETES_SERVICE_PORT = %v", got)
	}

	hostNet := &corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{Name: "c"}}}
	tr.apiServerEnv(hostNet)
	off := &corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}
	translator{}.apiServerEnv(off)
	if len(hostNet.Containers[0].Env) != 0 || len(off.Containers[0].Env) != 0 {
		t.Errorf("host network or no option: %v, %v", hostNet.Containers[0].Env, off.Containers[0].Env)
	}
}
