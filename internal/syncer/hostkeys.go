package syncer

import (
	"slices"
	"strings"
)

// Which of a tenant's label and annotation keys reach the host.
//
// Keys in Kubernetes' own domains are instructions to host components: a
// Secret's kubernetes.io/service-account.name, a claim's
// volume.kubernetes.io/storage-provisioner or pv.kubernetes.io/bind-completed,
// a Service's service.kubernetes.io/service-proxy-name or a cloud's
// service.beta.kubernetes.io/* load-balancer settings, an Endpoints'
// endpointslice.kubernetes.io/skip-mirror, a pod's
// cluster-autoscaler.kubernetes.io/safe-to-evict. Keys in gantry's domain are
// the syncer's own bookkeeping. A tenant writes none of these on the host:
// they are left out of every host copy. A few keys in those domains only
// describe the workload and are what Services and downward-API files select
// or read; they pass.

// reservedDomains, with their subdomains, hold the keys that do not reach the host.
var reservedDomains = []string{"kubernetes.io", "k8s.io", "gantry.dev"}

// passingPrefixes and passingKeys are the exceptions: the recommended app
// labels, kubectl's hints, and the labels and annotations the virtual
// cluster's controllers put on their pods (StatefulSet pod names and
// indexes, Job names and completion indexes).
var (
	passingPrefixes = []string{"app.kubernetes.io/", "kubectl.kubernetes.io/"}
	passingKeys     = []string{
		"statefulset.kubernetes.io/pod-name",
		"apps.kubernetes.io/pod-index",
		"batch.kubernetes.io/job-name",
		"batch.kubernetes.io/controller-uid",
		"batch.kubernetes.io/job-completion-index",
	}
)

// hostKey reports whether a tenant's label or annotation key is copied to the host.
func hostKey(key string) bool {
	if slices.Contains(skippedAnnotations, key) {
		return false
	}
	domain, _, prefixed := strings.Cut(key, "/")
	if !prefixed {
		return true
	}
	if slices.Contains(passingKeys, key) || slices.ContainsFunc(passingPrefixes, func(p string) bool { return strings.HasPrefix(key, p) }) {
		return true
	}
	domain = strings.ToLower(domain)
	for _, d := range reservedDomains {
		if domain == d || strings.HasSuffix(domain, "."+d) {
			return false
		}
	}
	return true
}

// hostKeys returns the entries of m whose keys reach the host (never nil), and
// the keys left out, sorted.
func hostKeys(m map[string]string) (kept map[string]string, left []string) {
	kept = make(map[string]string, len(m))
	for k, v := range m {
		if hostKey(k) {
			kept[k] = v
		} else {
			left = append(left, k)
		}
	}
	slices.Sort(left)
	return kept, left
}
