// Package podsecurity is the Pod Security Standards as gantry applies them to
// the workloads of virtual clusters: which level a virtual cluster enforces
// (its own, else its project's, else baseline), how levels compare, the
// labels that make a host namespace enforce a level, the admission
// configuration that makes a virtual kube-apiserver enforce it, and the check
// of one pod against a level with Kubernetes' own policy library
// (k8s.io/pod-security-admission), so that gantry and Kubernetes never
// disagree about what a level allows.
package podsecurity
