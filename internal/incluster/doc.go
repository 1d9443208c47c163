// Package incluster lets the pods of virtual clusters use their in-cluster
// configuration (rest.InClusterConfig, kubectl in a pod, operators, agents):
// a pod's KUBERNETES_SERVICE_HOST and kubernetes.default.svc name a host
// Service whose endpoint is this server in gantry's process, which passes the
// connection on, still encrypted, to the API server of the virtual cluster the
// connecting pod belongs to, waking that cluster if it sleeps.
//
// Which virtual cluster is told by the connection's source address, the way
// cluster DNS tells it (clusterdns.Registry): an address that is no virtual
// cluster's pod is closed at once, and a pod reaches its own cluster's API
// server only.
//
// Why a TCP relay and not a reverse proxy that terminates TLS (what vCluster's
// syncer does with its own certificate): the virtual API server's serving
// certificate already names kubernetes.default.svc and the address of its own
// kubernetes Service, and gantry adds the host Service's ClusterIP to it
// (vcluster.RuntimeOptions.ExtraSANs), so a pod verifies its API server with
// the ca.crt it already mounts and its TLS session ends there. gantry then
// never sees a token or a header: it cannot log, leak or misuse them, there
// are no credentials of gantry's on this path (the API server authenticates
// the pod's own service account, or treats it as anonymous), no header to
// strip or smuggle, and exec, attach, port-forward, watches and HTTP/2 pass
// as they are. The cost: the API server sees gantry's loopback address, not
// the pod's, as the client.
package incluster
