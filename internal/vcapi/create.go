package vcapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/jsonapi"
	"gantry.dev/gantry/internal/podsecurity"
	"gantry.dev/gantry/internal/project"
	"gantry.dev/gantry/internal/vcluster"
)

// CreateRequest is the body of POST <Prefix>/<project>. Only name is required.
type CreateRequest struct {
	Name string `json:"name"`
	// Labels are copied onto the cluster's registration (GitOps selectors).
	Labels map[string]string `json:"labels,omitempty"`
	// SleepAfter is a Go duration ("15m", "1h30m"); "" or "0" never sleeps.
	SleepAfter            string   `json:"sleepAfter,omitempty"`
	SleepIgnoreUserAgents []string `json:"sleepIgnoreUserAgents,omitempty"`
	// ArgoCD adds the cluster to the project's Argo CD; null follows the project.
	ArgoCD *bool `json:"argoCD,omitempty"`
	// KubernetesVersion is a minor version such as "v1.37"; "" is gantry's own.
	KubernetesVersion string                        `json:"kubernetesVersion,omitempty"`
	Storage           *platformv1alpha1.StorageSpec `json:"storage,omitempty"`
	Sync              *platformv1alpha1.SyncSpec    `json:"sync,omitempty"`
	// PodSecurity is privileged, baseline or restricted; "" follows the
	// project. Looser than the project's takes an administrator (podsecurity.go).
	PodSecurity string `json:"podSecurity,omitempty"`
}

// UpdateRequest is the body of PATCH <Prefix>/<project>/<name>: the fields
// present are changed, the others kept.
type UpdateRequest struct {
	// Labels replaces spec.labels as a whole; {} removes them all.
	Labels *map[string]string `json:"labels,omitempty"`
	// SleepAfter: a duration, or "" / "0" to never sleep.
	SleepAfter            *string   `json:"sleepAfter,omitempty"`
	SleepIgnoreUserAgents *[]string `json:"sleepIgnoreUserAgents,omitempty"`
	// ArgoCD: true, false, or null to follow the project's default.
	ArgoCD json.RawMessage `json:"argoCD,omitempty"`
	// PodSecurity: a level, or null to follow the project's.
	PodSecurity json.RawMessage `json:"podSecurity,omitempty"`
}

// The CRD's patterns, checked here first so that a mistake is answered with
// the field's name and an example, not an OpenAPI pattern.
var (
	dsnPattern     = regexp.MustCompile(`^(postgres|postgresql|mysql)://.+`)
	versionPattern = regexp.MustCompile(`^v?[0-9]+\.[0-9]+(\.[0-9]+)?$`)
)

// validSyncKinds are the values of platformv1alpha1.SyncKind.
var validSyncKinds = []platformv1alpha1.SyncKind{
	platformv1alpha1.SyncPods, platformv1alpha1.SyncServices, platformv1alpha1.SyncEndpoints,
	platformv1alpha1.SyncConfigMaps, platformv1alpha1.SyncSecrets,
	platformv1alpha1.SyncPersistentVolumeClaims, platformv1alpha1.SyncServiceAccounts,
}

func validateName(name string) error {
	if name == "" {
		return fmt.Errorf(`name is required, e.g. {"name": "dev"}`)
	}
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return fmt.Errorf("invalid virtual cluster name %q: %s", name, strings.Join(errs, "; "))
	}
	return nil
}

func parseSleepAfter(s string) (*metav1.Duration, error) {
	if s == "" || s == "0" {
		return nil, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return nil, fmt.Errorf("sleepAfter %q is not a duration: write it like 15m, 2h or 1h30m", s)
	}
	if d < 0 {
		return nil, fmt.Errorf("sleepAfter %q is negative: use a positive duration, or 0 to never sleep", s)
	}
	return &metav1.Duration{Duration: d}, nil
}

func validateLabels(labels map[string]string) error {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fmt.Errorf("label key %q is invalid: %s", k, strings.Join(errs, "; "))
		}
		// They go on the cluster's registrations (Argo CD cluster Secrets),
		// where Argo CD's, Kubernetes' and gantry's own labels decide what the
		// Secret is and whose.
		if domain, ok := cluster.UserLabel(k); !ok {
			return fmt.Errorf("label key %q has the reserved prefix %s (Argo CD's, Kubernetes' and gantry's labels are set by them): choose a key of your own, e.g. env or example.com/tier", k, domain)
		}
		if errs := validation.IsValidLabelValue(labels[k]); len(errs) > 0 {
			return fmt.Errorf("label %s value %q is invalid: %s", k, labels[k], strings.Join(errs, "; "))
		}
	}
	return nil
}

func validateUserAgents(uas []string) error {
	if len(uas) > 64 {
		return fmt.Errorf("sleepIgnoreUserAgents has %d entries: at most 64", len(uas))
	}
	for _, ua := range uas {
		if ua == "" || len(ua) > 256 {
			return fmt.Errorf("sleepIgnoreUserAgents entry %q must be 1 to 256 characters", ua)
		}
	}
	return nil
}

// build checks everything that needs no lookup and makes the object.
func (req *CreateRequest) build(p string) (*platformv1alpha1.VirtualCluster, error) {
	if err := validateName(req.Name); err != nil {
		return nil, err
	}
	vc := &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: req.Name, Namespace: project.Namespace(p)}}
	var err error
	if vc.Spec.SleepAfter, err = parseSleepAfter(req.SleepAfter); err != nil {
		return nil, err
	}
	if err := validateLabels(req.Labels); err != nil {
		return nil, err
	}
	if err := validateUserAgents(req.SleepIgnoreUserAgents); err != nil {
		return nil, err
	}
	if v := req.KubernetesVersion; v != "" && !versionPattern.MatchString(v) {
		return nil, fmt.Errorf("kubernetesVersion %q is not a version: write a minor version like v1.37", v)
	}
	if s := req.Storage; s != nil && s.DSN != "" {
		if !dsnPattern.MatchString(s.DSN) || len(s.DSN) > 2048 {
			// The DSN may hold a password: never echo it.
			return nil, fmt.Errorf("storage.dsn must be a postgres://, postgresql:// or mysql:// URL of at most 2048 characters, or empty for embedded SQLite")
		}
	}
	if s := req.Storage; s != nil && s.SecretName != "" {
		if errs := validation.IsDNS1123Subdomain(s.SecretName); len(errs) > 0 {
			return nil, fmt.Errorf("storage.secretName %q is not a Secret's name (it names one in the project's namespace, no namespace of its own): %s", s.SecretName, strings.Join(errs, "; "))
		}
		if s.DSN != "" {
			return nil, fmt.Errorf("give storage.dsn or storage.secretName, not both")
		}
	}
	if req.PodSecurity != "" {
		if vc.Spec.PodSecurity, err = podsecurity.Parse(req.PodSecurity); err != nil {
			return nil, err
		}
	}
	if s := req.Sync; s != nil {
		for _, k := range s.ToHost {
			if !slices.Contains(validSyncKinds, k) {
				return nil, fmt.Errorf("sync.toHost has unknown kind %q: use %v", k, validSyncKinds)
			}
		}
	}
	vc.Spec.Labels = req.Labels
	vc.Spec.SleepIgnoreUserAgents = req.SleepIgnoreUserAgents
	vc.Spec.ArgoCD = req.ArgoCD
	vc.Spec.KubernetesVersion = req.KubernetesVersion
	vc.Spec.Storage = req.Storage
	vc.Spec.Sync = req.Sync
	return vc, nil
}

// create validates in the order that reveals least: the body (about nothing
// but itself), then the caller's right (403 before any lookup, so a project's
// existence is not told to strangers), then the project (404), its quota
// (409), and last the API server, which alone knows whether the name is taken.
func (c *call) create(p string) {
	var req CreateRequest
	if err := decode(c.r, &req); err != nil {
		c.error(http.StatusBadRequest, err.Error())
		return
	}
	vc, err := req.build(p)
	if err != nil {
		c.error(http.StatusBadRequest, err.Error())
		return
	}
	if !c.may(actionCreate, p, req.Name) {
		return
	}
	proj := &platformv1alpha1.Project{}
	if err := c.api.Client.Get(c.ctx(), client.ObjectKey{Name: p}, proj); err != nil {
		if apierrors.IsNotFound(err) {
			c.error(http.StatusNotFound, fmt.Sprintf("project %s does not exist: create it first (gantry project create %s) or pick another", p, p))
			return
		}
		c.error(http.StatusInternalServerError, fmt.Sprintf("reading project %s: %v", p, err))
		return
	}
	if !proj.DeletionTimestamp.IsZero() {
		c.error(http.StatusConflict, fmt.Sprintf("project %s is being deleted: it takes no new virtual clusters", p))
		return
	}
	if msg := podSecurityRefusal(c.caller.IsAdmin(), proj, vc.Spec.PodSecurity); msg != "" {
		c.error(http.StatusForbidden, msg)
		return
	}
	// For administrators too: the reconciler cannot tell who wrote a
	// cluster, so the project's setting is the one rule (it refuses again).
	if msg := vcluster.OwnStorageRefusal(vc, proj); msg != "" {
		c.error(http.StatusForbidden, msg)
		return
	}
	for _, kind := range []string{"virtualClusters", "runningVirtualClusters"} {
		if over, msg := project.Exceeds(proj, kind); over {
			c.error(http.StatusConflict, msg)
			return
		}
	}
	if err := c.api.Client.Create(c.ctx(), vc); err != nil {
		switch {
		case apierrors.IsAlreadyExists(err):
			c.error(http.StatusConflict, fmt.Sprintf("virtual cluster %s already exists in project %s: choose another name", req.Name, p))
		case apierrors.IsNotFound(err):
			// The project exists but the reconciler has not made its namespace yet.
			c.error(http.StatusServiceUnavailable, fmt.Sprintf("project %s has no namespace %s yet: try again in a moment", p, project.Namespace(p)))
		default:
			c.k8sError(err, p, req.Name)
		}
		return
	}
	c.w.Header().Set("Location", Prefix+"/"+p+"/"+vc.Name)
	jsonapi.Write(c.w, http.StatusCreated, c.api.view(vc))
}

// jsonPatchOp is one RFC 6902 operation. "add" replaces an existing member,
// and a null value of a CRD field without nullable is pruned: so "add" both
// sets and unsets, without reading the object first.
type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

func (c *call) update(p, name string) {
	var req UpdateRequest
	if err := decode(c.r, &req); err != nil {
		c.error(http.StatusBadRequest, err.Error())
		return
	}
	var ops []jsonPatchOp
	if req.Labels != nil {
		if err := validateLabels(*req.Labels); err != nil {
			c.error(http.StatusBadRequest, err.Error())
			return
		}
		ops = append(ops, jsonPatchOp{"add", "/spec/labels", *req.Labels})
	}
	if req.SleepAfter != nil {
		d, err := parseSleepAfter(*req.SleepAfter)
		if err != nil {
			c.error(http.StatusBadRequest, err.Error())
			return
		}
		var v any
		if d != nil {
			v = d.Duration.String()
		}
		ops = append(ops, jsonPatchOp{"add", "/spec/sleepAfter", v})
	}
	if req.SleepIgnoreUserAgents != nil {
		if err := validateUserAgents(*req.SleepIgnoreUserAgents); err != nil {
			c.error(http.StatusBadRequest, err.Error())
			return
		}
		ops = append(ops, jsonPatchOp{"add", "/spec/sleepIgnoreUserAgents", *req.SleepIgnoreUserAgents})
	}
	if len(req.ArgoCD) > 0 {
		var v *bool
		if err := json.Unmarshal(req.ArgoCD, &v); err != nil {
			c.error(http.StatusBadRequest, "argoCD must be true, false or null (follow the project)")
			return
		}
		ops = append(ops, jsonPatchOp{"add", "/spec/argoCD", v})
	}
	level, setLevel, err := parsePodSecurity(req.PodSecurity)
	if err != nil {
		c.error(http.StatusBadRequest, err.Error())
		return
	}
	if setLevel {
		var v any
		if level != "" {
			v = level
		}
		ops = append(ops, jsonPatchOp{"add", "/spec/podSecurity", v})
	}
	if len(ops) == 0 {
		c.error(http.StatusBadRequest, "nothing to change: send labels, sleepAfter, sleepIgnoreUserAgents, argoCD or podSecurity")
		return
	}
	if !c.may(actionUpdate, p, name) || !c.mayChoosePodSecurity(p, level) {
		return
	}
	patch, _ := json.Marshal(ops)
	vc := &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: project.Namespace(p)}}
	if err := c.api.Client.Patch(c.ctx(), vc, client.RawPatch(types.JSONPatchType, patch)); err != nil {
		c.k8sError(err, p, name)
		return
	}
	jsonapi.Write(c.w, http.StatusOK, c.api.view(vc))
}
