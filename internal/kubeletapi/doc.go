// Package kubeletapi is the kubelet API that gantry serves for the pods of
// virtual clusters, as vCluster's syncer does. A virtual cluster's pods run on
// the host; its own kube-apiserver knows only the virtual Nodes the syncer
// makes, whose kubelet endpoint (address and port) is this server. When a
// user runs kubectl logs, exec, attach or port-forward inside the virtual
// cluster, its kube-apiserver calls /containerLogs, /exec, /attach or
// /portForward here, as it would call a kubelet; the server translates the
// virtual pod to its host pod and forwards the call to the host API server's
// pod subresource (log, exec, attach, portforward), which reaches the real
// kubelet. Upgraded streams (SPDY, WebSocket) pass through byte for byte
// (apimachinery's UpgradeAwareHandler); no stream protocol is spoken here.
//
// Who calls is decided by TLS alone: each virtual kube-apiserver gets a client
// certificate (--kubelet-client-certificate) from the server's own CA naming
// its virtual cluster, and the server's certificate is from that CA too
// (--kubelet-certificate-authority), so a virtual API server talks to nothing
// else when a tenant points a virtual Node elsewhere. A call only ever reaches
// a host pod that the calling cluster's syncer made (its labels and the
// annotations pointing back at the virtual pod must match); anything else is
// refused, whatever the names in the path.
//
// One gantry keeps the CA in its data directory and gives virtual Nodes its
// own address. Several replicas (leader election) are one kubelet API
// (shared.go): the CA in a Secret, virtual Nodes at a Service's ClusterIP
// that the leader points at itself, so that a failover changes nothing in
// any control plane's configuration. One gantry whose control planes are
// pods is shared the same way, so that its restart changes nothing either.
//
// To those control planes it also serves gantry's OpenID Connect discovery
// document and keys (Options.Issuer, under IssuerPath, the one route that
// wants no client certificate: what every issuer publishes), which an API
// server in a pod cannot fetch from gantry's own address; IssuerDiscovery
// is the discoveryURL and CA its authentication configuration names.
package kubeletapi
