package syncer

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/podsecurity"
)

// Kinds the syncer can copy to the host, as named in Options.ToHost.
const (
	KindPods                   = "pods"
	KindServices               = "services"
	KindEndpoints              = "endpoints"
	KindConfigMaps             = "configmaps"
	KindSecrets                = "secrets"
	KindPersistentVolumeClaims = "persistentvolumeclaims"
	KindServiceAccounts        = "serviceaccounts"
)

// AllKinds lists every kind Options.ToHost accepts.
var AllKinds = []string{KindPods, KindServices, KindEndpoints, KindConfigMaps, KindSecrets,
	KindPersistentVolumeClaims, KindServiceAccounts}

// Options configure the syncer of one virtual cluster.
type Options struct {
	// VCluster is the virtual cluster's name; it is part of every host name and label.
	VCluster string
	// Namespace is the namespace of the VirtualCluster object (its project).
	Namespace string
	// HostNamespace receives everything synced; it must exist. Together with VCluster
	// it must be unique: Cleanup removes by these two.
	HostNamespace string
	// Virtual and Host are admin configurations of the two API servers.
	Virtual, Host *rest.Config
	// ToHost lists the kinds to copy (AllKinds' names); empty means all of them.
	ToHost []string
	// SyncNodes mirrors host nodes fully (labels, taints, whole status) instead of
	// minimal placeholder Nodes: vCluster's "real nodes" option.
	SyncNodes bool
	// SyncEvents copies host events about synced objects into the virtual cluster.
	SyncEvents bool
	// PodSecurity is the Pod Security Standard every host pod is checked against
	// before it is written (podsecurity.go); empty means podsecurity.Default.
	PodSecurity podsecurity.Level
	// TolerableTaints are taint keys that tenants' pods may tolerate on the host
	// besides the node-condition taints (node.kubernetes.io/not-ready, ...): an
	// administrator's choice, such as nvidia.com/gpu for a shared GPU pool. Other
	// tolerations are left out of host pods (hostpolicy.go).
	TolerableTaints []string
	// Kubelet, when set, is where the virtual cluster's API server finds the
	// kubelet of every virtual Node: gantry's kubelet API (package kubeletapi),
	// which forwards logs, exec, attach and port-forward to the host pods.
	Kubelet *KubeletEndpoint
	// Placement, when set, is where the host runs this virtual cluster's pods:
	// a node selector and tolerations added to every host pod (the embedded
	// host's real nodes, which are tainted so that nothing lands there by
	// chance). Tenants' own tolerations are still limited (TolerableTaints).
	Placement *Placement
	// DNS, when set, points pods at cluster DNS for this virtual cluster
	// (dns.go): needed where pods really run; nil leaves their DNS settings as
	// the tenant wrote them.
	DNS *DNS
	// APIServer, when set, sends host pods' in-cluster configuration
	// (KUBERNETES_SERVICE_HOST, kubernetes.default.svc) to this virtual
	// cluster's API server (apiserver.go); it needs DNS. Nil leaves them with
	// what the host's kubelet sets.
	APIServer *APIServer
	// Logger receives the syncer's log.
	Logger logr.Logger
}

// KubeletEndpoint is an address and port that serve the kubelet API.
type KubeletEndpoint struct {
	Address string
	Port    int32
}

// FromSpec sets what is synced from a VirtualCluster's spec.sync: the kinds
// copied to the host (all when unset), whether host nodes are mirrored
// (off unless asked) and host events copied back (on unless turned off). It
// reports false when the spec asks for nothing to be copied to the host: the
// syncer's empty ToHost means every kind, so the caller must not run it.
func (o *Options) FromSpec(s *platformv1alpha1.SyncSpec) bool {
	o.ToHost, o.SyncNodes, o.SyncEvents = nil, false, true
	if s == nil {
		return true
	}
	if s.ToHost != nil && len(s.ToHost) == 0 {
		return false
	}
	for _, k := range s.ToHost {
		o.ToHost = append(o.ToHost, string(k))
	}
	if f := s.FromHost; f != nil {
		o.SyncNodes = f.Nodes != nil && *f.Nodes
		o.SyncEvents = f.Events == nil || *f.Events
	}
	return true
}

func (o Options) validate() error {
	var errs []error
	for field, v := range map[string]string{"VCluster": o.VCluster, "Namespace": o.Namespace, "HostNamespace": o.HostNamespace} {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is empty", field))
			continue
		}
		// All three become label values or namespace names.
		if msgs := validation.IsDNS1123Label(v); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("%s %q: %s", field, v, strings.Join(msgs, "; ")))
		}
	}
	if o.PodSecurity != "" && !podsecurity.Valid(o.PodSecurity) {
		errs = append(errs, fmt.Errorf("PodSecurity %q is not privileged, baseline or restricted", o.PodSecurity))
	}
	for _, k := range o.TolerableTaints {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("TolerableTaints: taint key %q: %s", k, strings.Join(msgs, "; ")))
		}
	}
	if o.APIServer != nil && o.DNS == nil {
		errs = append(errs, errors.New("APIServer needs DNS: the pods it relays are told apart, and kubernetes.default.svc answered, by cluster DNS"))
	}
	if o.Virtual == nil || o.Host == nil {
		errs = append(errs, errors.New("the virtual and host REST configs are both required"))
	}
	for _, k := range o.ToHost {
		if !slices.Contains(AllKinds, k) {
			errs = append(errs, fmt.Errorf("unknown kind %q in ToHost (known: %s)", k, strings.Join(AllKinds, ", ")))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("syncer options: %w", errors.Join(errs...))
	}
	return nil
}

// syncs reports whether kind is copied to the host.
func (o Options) syncs(kind string) bool {
	return len(o.ToHost) == 0 || slices.Contains(o.ToHost, kind)
}
