package cluster

import "strings"

// reservedLabelDomains are the label prefixes whose labels decide how Argo CD,
// Kubernetes tools and gantry treat a cluster Secret, and whose it is:
// argocd.argoproj.io/secret-type (what the Secret is), argocd.argoproj.io/instance
// and app.kubernetes.io/instance (which Application tracks it, and may prune
// it), app.kubernetes.io/managed-by and gantry.dev/project (who wrote it, for
// whom). Each also covers its subdomains.
var reservedLabelDomains = []string{"argoproj.io", "kubernetes.io", "k8s.io", "gantry.dev"}

// UserLabel says whether a label chosen by a user (a virtual cluster's labels)
// may be copied onto a cluster Secret: any key but those with a reserved
// prefix. It returns the reserved domain when not.
func UserLabel(key string) (reserved string, ok bool) {
	prefix, _, found := strings.Cut(key, "/")
	if !found {
		return "", true
	}
	prefix = strings.ToLower(prefix)
	for _, d := range reservedLabelDomains {
		if prefix == d || strings.HasSuffix(prefix, "."+d) {
			return d, false
		}
	}
	return "", true
}
