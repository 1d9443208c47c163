package syncer

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Labels the syncer puts on every host object it makes (and on the virtual Nodes it
// makes). Their keys are gantry's own, not app.kubernetes.io/managed-by: host pods
// keep the user's labels, and a user may well label pods managed-by=Helm.
const (
	// LabelManagedBy marks objects made by a syncer; its value is ManagedBySyncer.
	LabelManagedBy = "gantry.dev/managed-by"
	// ManagedBySyncer is the value of LabelManagedBy.
	ManagedBySyncer = "gantry-syncer"
	// LabelVCluster names the virtual cluster an object belongs to.
	LabelVCluster = "gantry.dev/vcluster"
	// LabelVClusterNamespace is the namespace (project) of the VirtualCluster object.
	LabelVClusterNamespace = "gantry.dev/vcluster-namespace"
	// LabelNamespace is the namespace of the virtual object. It is a label, not only
	// an annotation, because host Service selectors and pod affinities select on it.
	LabelNamespace = "gantry.dev/namespace"
)

// Annotations on host objects that point back at the virtual object.
const (
	AnnotationName      = "gantry.dev/object-name"
	AnnotationNamespace = "gantry.dev/object-namespace"
	AnnotationUID       = "gantry.dev/object-uid"
	// AnnotationServiceAccount is the virtual pod's service account; downward-API
	// references to spec.serviceAccountName read it.
	AnnotationServiceAccount = "gantry.dev/service-account-name"
	// AnnotationPodToken marks the host Secret holding a pod's service-account token.
	AnnotationPodToken = "gantry.dev/pod-token"

	// The keys copied from the virtual object at the last write, so that keys the
	// user removed are removed on the host while keys host components added stay.
	annotationManagedLabels      = "gantry.dev/managed-labels"
	annotationManagedAnnotations = "gantry.dev/managed-annotations"
)

// maxNameLength is the longest name HostName returns: a DNS label, so the result is
// valid for every kind, Services and pod hostnames included.
const maxNameLength = 63

// HostName is the name in the host namespace of the virtual object namespace/name of
// virtual cluster vcluster: "<name>-x-<namespace>-x-<vcluster>". Longer than 63
// characters, it is cut to 52 and a dash and 10 hex digits of the SHA-256 of the full
// name are appended (vCluster's scheme), so distinct objects keep distinct names.
func HostName(name, namespace, vcluster string) string {
	return concatName(name, "x", namespace, "x", vcluster)
}

// concatName joins parts with dashes, hashed down to maxNameLength when longer.
func concatName(parts ...string) string {
	full := strings.Join(parts, "-")
	if len(full) <= maxNameLength {
		return full
	}
	sum := sha256.Sum256([]byte(full))
	short := full[:maxNameLength-11] + "-" + hex.EncodeToString(sum[:])[:10]
	// A dot just before the dash ("a.-b") is not a valid DNS subdomain.
	return strings.ReplaceAll(short, ".-", "-")
}

// tokenSecretName is the host Secret that holds a pod's service-account tokens.
func tokenSecretName(hostPodName string) string { return concatName(hostPodName, "sa-token") }
