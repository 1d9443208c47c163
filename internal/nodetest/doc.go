// Package nodetest is test support: a real node (containerd and a kubelet,
// run as processes) joined to a given host cluster, and images built locally
// (no registry) for it. Everything it starts lives under the test's own
// directory (containerd's root, state and socket, the kubelet's root and pod
// logs, a CNI bridge of its own name and subnet, a cgroup root of its own),
// on free ports, and is stopped and removed when the test ends.
//
// gantry up is to start a real node itself; tests that need one then take
// that node's name and the host's kubeconfig instead of Start.
package nodetest
