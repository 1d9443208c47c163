package syncer

import (
	"net"
	"net/netip"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"gantry.dev/gantry/internal/clusterdns"
)

// APIServer is where a virtual cluster's host pods reach their own API server
// with their in-cluster configuration (Options.APIServer): a host Service
// whose endpoint relays each pod to its cluster's API server (package
// incluster), told apart by the pod's address as cluster DNS does, so it
// needs Options.DNS too.
type APIServer struct {
	// Address is the Service's ClusterIP; its port is APIServerPort.
	Address netip.Addr
}

// APIServerPort is the port of the Service, as of the kubernetes Service.
const APIServerPort = 443

// apiServerEnv points the variables that rest.InClusterConfig and kubectl
// read at the virtual cluster's API server. The host's kubelet sets them in
// every container for the host's own kubernetes Service; a container's
// explicit env wins over them, so the virtual cluster's come first in the
// list: a variable the tenant set stays theirs, and the tenant's later
// variables can refer to these ($(KUBERNETES_SERVICE_HOST)). Pods on the
// host's network connect from the node's address, which is no pod's, and are
// left as the kubelet makes them.
func (t translator) apiServerEnv(spec *corev1.PodSpec) {
	if t.apiServer == nil || spec.HostNetwork {
		return
	}
	ip := t.apiServer.Address.String()
	port := strconv.Itoa(APIServerPort)
	url := "tcp://" + net.JoinHostPort(ip, port)
	env := []corev1.EnvVar{
		{Name: "KUBERNETES_SERVICE_HOST", Value: ip},
		{Name: "KUBERNETES_SERVICE_PORT", Value: port},
		{Name: "KUBERNETES_SERVICE_PORT_HTTPS", Value: port},
		{Name: "KUBERNETES_PORT", Value: url},
		{Name: "KUBERNETES_PORT_" + port + "_TCP", Value: url},
		{Name: "KUBERNETES_PORT_" + port + "_TCP_PROTO", Value: "tcp"},
		{Name: "KUBERNETES_PORT_" + port + "_TCP_PORT", Value: port},
		{Name: "KUBERNETES_PORT_" + port + "_TCP_ADDR", Value: ip},
	}
	set := func(c *corev1.Container) {
		own := map[string]bool{}
		for _, e := range c.Env {
			own[e.Name] = true
		}
		out := make([]corev1.EnvVar, 0, len(env)+len(c.Env))
		for _, e := range env {
			if !own[e.Name] {
				out = append(out, e)
			}
		}
		c.Env = append(out, c.Env...)
	}
	for i := range spec.InitContainers {
		set(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		set(&spec.Containers[i])
	}
}

// kubernetesService is what cluster DNS answers for kubernetes.default: the
// Service that relays to this virtual cluster's API server (the virtual
// cluster's own kubernetes Service is not copied to the host).
func (a *APIServer) kubernetesService() clusterdns.Service {
	return clusterdns.Service{ClusterIPs: []netip.Addr{a.Address},
		Ports: []clusterdns.Port{{Name: "https", Protocol: string(corev1.ProtocolTCP), Port: APIServerPort}}}
}
