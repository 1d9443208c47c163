package projectapi

import (
	"encoding/json"
	"net/http"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/gitops/policy"
	"gantry.dev/gantry/internal/podsecurity"
)

// Rules are what a project's apps and virtual clusters may do besides its
// allowedDestinations (Argo CD's AppProject fields, and Pod Security and
// network isolation for its virtual clusters). They bound the project, so
// only an administrator changes them (see UpdateRequest).
type Rules struct {
	SourceRepos                []string                          `json:"sourceRepos"`
	LocalRepositories          bool                              `json:"localRepositories"`
	ClusterResourceWhitelist   []metav1.GroupKind                `json:"clusterResourceWhitelist"`
	ClusterResourceBlacklist   []metav1.GroupKind                `json:"clusterResourceBlacklist"`
	NamespaceResourceWhitelist []metav1.GroupKind                `json:"namespaceResourceWhitelist"`
	NamespaceResourceBlacklist []metav1.GroupKind                `json:"namespaceResourceBlacklist"`
	PodSecurity                platformv1alpha1.PodSecurityLevel `json:"podSecurity"`
	Network                    platformv1alpha1.ProjectNetwork   `json:"network"`
	// VirtualClusterStorage: where the project's virtual clusters keep
	// their data (a Secret naming a database server); null for SQLite.
	VirtualClusterStorage *platformv1alpha1.ProjectStorage `json:"virtualClusterStorage"`
	// VirtualClusterOwnStorage: whether the project's virtual clusters may
	// name a datastore of their own, which gantry then connects to.
	VirtualClusterOwnStorage bool `json:"virtualClusterOwnStorage"`
}

// ruleFields are the JSON names of Rules: one sent in a PUT replaces that
// field only.
var ruleFields = []string{"sourceRepos", "localRepositories", "clusterResourceWhitelist", "clusterResourceBlacklist",
	"namespaceResourceWhitelist", "namespaceResourceBlacklist", "podSecurity", "network", "virtualClusterStorage",
	"virtualClusterOwnStorage"}

func rulesOf(s *platformv1alpha1.ProjectSpec) Rules {
	r := Rules{SourceRepos: s.SourceRepos, LocalRepositories: s.LocalRepositories,
		ClusterResourceWhitelist: s.ClusterResourceWhitelist, ClusterResourceBlacklist: s.ClusterResourceBlacklist,
		NamespaceResourceWhitelist: s.NamespaceResourceWhitelist, NamespaceResourceBlacklist: s.NamespaceResourceBlacklist,
		PodSecurity: podsecurity.ProjectLevel(&platformv1alpha1.Project{Spec: *s}), Network: s.Network,
		VirtualClusterStorage: s.VirtualClusterStorage, VirtualClusterOwnStorage: s.VirtualClusterOwnStorage}
	// [] for clients, as every list here. An empty list means unset: the
	// CRD does not store it apart from an absent one.
	for _, l := range []*[]metav1.GroupKind{&r.ClusterResourceWhitelist, &r.ClusterResourceBlacklist,
		&r.NamespaceResourceWhitelist, &r.NamespaceResourceBlacklist} {
		if *l == nil {
			*l = []metav1.GroupKind{}
		}
	}
	if r.SourceRepos == nil {
		r.SourceRepos = []string{}
	}
	return r
}

// setRules copies the rule fields present in a request into s.
func setRules(s *platformv1alpha1.ProjectSpec, r Rules, present map[string]json.RawMessage) {
	sent := func(k string) bool { _, ok := present[k]; return present == nil || ok }
	if sent("sourceRepos") {
		s.SourceRepos = r.SourceRepos
	}
	if sent("localRepositories") {
		s.LocalRepositories = r.LocalRepositories
	}
	if sent("clusterResourceWhitelist") {
		s.ClusterResourceWhitelist = r.ClusterResourceWhitelist
	}
	if sent("clusterResourceBlacklist") {
		s.ClusterResourceBlacklist = r.ClusterResourceBlacklist
	}
	if sent("namespaceResourceWhitelist") {
		s.NamespaceResourceWhitelist = r.NamespaceResourceWhitelist
	}
	if sent("namespaceResourceBlacklist") {
		s.NamespaceResourceBlacklist = r.NamespaceResourceBlacklist
	}
	if sent("podSecurity") {
		s.PodSecurity = r.PodSecurity
	}
	if sent("network") {
		s.Network = r.Network
	}
	if sent("virtualClusterStorage") {
		s.VirtualClusterStorage = r.VirtualClusterStorage
		if s.VirtualClusterStorage != nil && s.VirtualClusterStorage.SecretName == "" {
			s.VirtualClusterStorage = nil
		}
	}
	if sent("virtualClusterOwnStorage") {
		s.VirtualClusterOwnStorage = r.VirtualClusterOwnStorage
	}
}

// rulesChanged says whether next changes a rule of prev: that needs an
// administrator, whether it widens or narrows (narrowing can break the
// project's running apps, which is the administrator's call too).
func rulesChanged(prev, next *platformv1alpha1.ProjectSpec) bool {
	a, b := rulesOf(prev), rulesOf(next)
	return !equality.Semantic.DeepEqual(a, b)
}

// validRules checks the rules as the engine will compile them, so that a
// project never holds rules its apps would all be refused for.
func validRules(p *platformv1alpha1.Project) error {
	if p.Spec.PodSecurity != "" {
		if _, err := podsecurity.Parse(string(p.Spec.PodSecurity)); err != nil {
			return errorf(http.StatusBadRequest, "%v", err)
		}
	}
	if _, err := policy.New(p); err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	return nil
}
