package vcapi

import (
	"net/url"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/project"
	"gantry.dev/gantry/internal/vcluster"
	"gantry.dev/gantry/internal/vcproxy"
)

// View is a virtual cluster as the API shows it: what a list row or a
// detail page needs, and the object itself (credentials redacted) for the rest.
type View struct {
	Project string `json:"project"`
	Name    string `json:"name"`
	// Phase: Pending, Starting, Running, Sleeping, Failed or Deleting ("" before
	// the reconciler first saw it).
	Phase      platformv1alpha1.VirtualClusterPhase `json:"phase"`
	Conditions []metav1.Condition                   `json:"conditions"`
	// Message explains the phase: the Ready condition's message, or the
	// Deployed one's when that is False (a quota, a failed start).
	Message string `json:"message,omitempty"`
	// Labels are spec.labels, copied onto the cluster's registration.
	Labels map[string]string `json:"labels"`
	// SleepAfter is spec.sleepAfter as a Go duration ("15m0s"); "" never sleeps.
	SleepAfter            string   `json:"sleepAfter,omitempty"`
	SleepIgnoreUserAgents []string `json:"sleepIgnoreUserAgents,omitempty"`
	// Sleeping is true once sleep was asked (the annotation), before the
	// phase says Sleeping.
	Sleeping bool `json:"sleeping"`
	// Deleting is true once deletion was asked.
	Deleting bool `json:"deleting"`
	// ArgoCD is spec.argoCD: null follows the project's default.
	ArgoCD            *bool      `json:"argoCD"`
	KubernetesVersion string     `json:"kubernetesVersion,omitempty"`
	Created           time.Time  `json:"created"`
	LastActivity      *time.Time `json:"lastActivity,omitempty"`
	// Endpoint is the address through gantry's proxy, what kubeconfigs from
	// this API point at ("" when gantry has no external URL configured).
	Endpoint string `json:"endpoint"`
	// DirectEndpoint is the virtual kube-apiserver's own address
	// (status.endpoint), reached with credentials from the credential endpoint.
	DirectEndpoint string `json:"directEndpoint,omitempty"`
	// Object is the VirtualCluster, without managedFields and with any
	// password in spec.storage.dsn replaced by "xxxxx".
	Object *platformv1alpha1.VirtualCluster `json:"object"`
}

// List is the answer of the list calls.
type List struct {
	Items []View `json:"items"`
}

func (a *API) view(vc *platformv1alpha1.VirtualCluster) View {
	p, _ := project.FromNamespace(vc.Namespace)
	obj := redact(vc)
	v := View{
		Project:               p,
		Name:                  vc.Name,
		Phase:                 vc.Status.Phase,
		Conditions:            obj.Status.Conditions,
		Message:               phaseMessage(vc),
		Labels:                obj.Spec.Labels,
		SleepIgnoreUserAgents: obj.Spec.SleepIgnoreUserAgents,
		ArgoCD:                obj.Spec.ArgoCD,
		KubernetesVersion:     vc.Status.KubernetesVersion,
		Created:               vc.CreationTimestamp.UTC(),
		Endpoint:              a.proxyURL(p, vc.Name),
		DirectEndpoint:        vc.Status.Endpoint,
		Object:                obj,
	}
	if v.KubernetesVersion == "" {
		v.KubernetesVersion = vc.Spec.KubernetesVersion
	}
	if v.Conditions == nil {
		v.Conditions = []metav1.Condition{}
	}
	if v.Labels == nil {
		v.Labels = map[string]string{}
	}
	if d := vc.Spec.SleepAfter; d != nil && d.Duration > 0 {
		v.SleepAfter = d.Duration.String()
	}
	_, v.Sleeping = vc.Annotations[vcluster.SleepingAnnotation]
	v.Deleting = !vc.DeletionTimestamp.IsZero()
	if v.Deleting && v.Phase == "" {
		v.Phase = platformv1alpha1.PhaseDeleting
	}
	if t := vc.Status.LastActivityTime; t != nil {
		u := t.UTC()
		v.LastActivity = &u
	}
	return v
}

func phaseMessage(vc *platformv1alpha1.VirtualCluster) string {
	var ready, deployed string
	for _, c := range vc.Status.Conditions {
		switch {
		case c.Type == platformv1alpha1.ConditionReady:
			ready = c.Message
		case c.Type == platformv1alpha1.ConditionDeployed && c.Status == metav1.ConditionFalse:
			deployed = c.Message
		}
	}
	if deployed != "" {
		return deployed
	}
	return ready
}

// proxyURL is where gantry's proxy serves the virtual cluster.
func (a *API) proxyURL(p, name string) string {
	if a.ExternalURL == "" {
		return ""
	}
	return strings.TrimRight(a.ExternalURL, "/") + vcproxy.Prefix + p + "/virtualcluster/" + name
}

// lastApplied is kubectl's copy of what it applied: it may hold the DSN in clear.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// redact returns a copy of vc fit for any caller who may get it: no
// managedFields (noise), no kubectl last-applied copy and no password in
// spec.storage.dsn (the object is readable by viewers, the database is not).
func redact(vc *platformv1alpha1.VirtualCluster) *platformv1alpha1.VirtualCluster {
	out := vc.DeepCopy()
	out.ManagedFields = nil
	if _, ok := out.Annotations[lastApplied]; ok {
		delete(out.Annotations, lastApplied)
	}
	if s := out.Spec.Storage; s != nil && s.DSN != "" {
		s.DSN = RedactDSN(s.DSN)
	}
	if out.APIVersion == "" {
		out.APIVersion, out.Kind = platformv1alpha1.GroupVersion.String(), "VirtualCluster"
	}
	return out
}

// RedactDSN replaces the password of a postgres:// or mysql:// DSN, in its
// user info or in a query parameter, with "xxxxx". It works on the text
// rather than net/url alone because MySQL DSNs (user:pw@tcp(host:3306)/db)
// are not URLs net/url accepts.
func RedactDSN(dsn string) string {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return dsn
	}
	path, query, hasQuery := strings.Cut(rest, "?")
	if at := strings.LastIndex(path, "@"); at >= 0 {
		if user, _, hasPW := strings.Cut(path[:at], ":"); hasPW {
			path = user + ":xxxxx" + path[at:]
		}
	}
	if hasQuery {
		params := strings.Split(query, "&")
		for i, kv := range params {
			k, _, _ := strings.Cut(kv, "=")
			key, err := url.QueryUnescape(k)
			if err != nil {
				key = k
			}
			if sensitive(key) {
				params[i] = k + "=xxxxx"
			}
		}
		query = strings.Join(params, "&")
		return scheme + "://" + path + "?" + query
	}
	return scheme + "://" + path
}

func sensitive(key string) bool {
	k := strings.ToLower(key)
	for _, s := range []string{"pass", "secret", "token", "key"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}
