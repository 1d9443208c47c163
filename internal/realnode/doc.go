// Package realnode runs one real Kubernetes node beside gantry's simulated ones:
// containerd (with runc and a CNI bridge), a kubelet joined to the embedded
// host's API server, and kube-proxy for Services, each a child process under
// package supervisor, all state under the node's own directory.
//
// Preflight says, check by check, whether this machine can run one and what to
// do when it cannot; a machine-wide lock lets only one gantry run a real node,
// because kube-proxy's iptables chains are machine-global. Stop leaves nothing
// behind: containers and shims, mounts, the bridge, iptables rules, cgroups and
// ip_forward are put back as they were.
package realnode
