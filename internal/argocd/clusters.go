package argocd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/identity/accesskeys"
	"gantry.dev/gantry/internal/project"
)

// clusterPlan is the cluster Secrets one project should have in one Argo CD.
type clusterPlan struct {
	in      *instance
	project string
	want    []*wantCluster
	stale   []corev1.Secret // ours, no longer wanted
	// pending are virtual clusters switched on but not reachable yet (direct
	// mode before the virtual cluster has an endpoint or answers); held are
	// the Secrets of such clusters written before, kept as they are.
	pending int
	held    []*corev1.Secret
}

// wantCluster is one cluster Secret: everything but the bearer token, which
// apply fills in (reusing the one in existing when it still works).
type wantCluster struct {
	vc       *platformv1alpha1.VirtualCluster
	secret   *corev1.Secret
	cfg      cluster.Config
	existing *corev1.Secret
	direct   bool
}

// importOn says whether a virtual cluster goes to Argo CD: its own spec.argoCD
// when set (an explicit false wins over everything), else the label
// gantry.dev/import-argocd: "true", else the project's importVirtualClusters
// (default true).
func importOn(a *platformv1alpha1.ArgoCDIntegration, vc *platformv1alpha1.VirtualCluster) bool {
	if vc.Spec.ArgoCD != nil {
		return *vc.Spec.ArgoCD
	}
	if vc.Labels[LabelImport] == "true" {
		return true
	}
	return a.ImportVirtualClusters == nil || *a.ImportVirtualClusters
}

// planClusters works out the cluster Secrets of project p and checks that they
// can be written (dry run), without writing anything.
func (r *Reconciler) planClusters(ctx context.Context, p *platformv1alpha1.Project, in *instance, appProject string) (*clusterPlan, error) {
	a := p.Spec.ArgoCD
	plan := &clusterPlan{in: in, project: p.Name}
	var vcs platformv1alpha1.VirtualClusterList
	if err := r.Client.List(ctx, &vcs, client.InNamespace(project.Namespace(p.Name))); err != nil {
		return nil, fmt.Errorf("listing the virtual clusters of project %s: %w", p.Name, err)
	}
	wanted := map[string]bool{}
	for i := range vcs.Items {
		vc := &vcs.Items[i]
		if !vc.DeletionTimestamp.IsZero() || !importOn(a, vc) {
			continue
		}
		w := &wantCluster{vc: vc, direct: a.Direct}
		server := ""
		if a.Direct {
			var ca []byte
			err := errors.New("no endpoint")
			if vc.Status.Endpoint != "" {
				ca, err = r.virtualClusterCA(ctx, vc)
			}
			if err != nil {
				// Not deployed yet: its Secret, if any, stays as it is.
				name := ClusterSecretName(p.Name, vc.Name)
				wanted[name] = true
				if held := r.held(ctx, in, p.Name, name); held != nil {
					plan.held = append(plan.held, held)
				} else {
					plan.pending++
				}
				continue
			}
			server = vc.Status.Endpoint
			w.cfg = cluster.Config{TLSClientConfig: cluster.TLSClientConfig{CAData: ca}}
		} else {
			if r.ProxyURL == nil {
				return nil, problemf(ReasonError, "gantry was started without its proxy URL: this is a bug in how gantry is set up")
			}
			server = r.ProxyURL(p.Name, vc.Name)
			w.cfg = cluster.Config{TLSClientConfig: cluster.TLSClientConfig{CAData: r.ProxyCA}}
		}
		w.secret = clusterSecret(in.Namespace, p.Name, vc, server, appProject)
		existing := &corev1.Secret{}
		err := in.c.Get(ctx, client.ObjectKeyFromObject(w.secret), existing)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, classify(err, "Secret "+w.secret.Name, in)
		case !ownedBy(existing, p.Name):
			return nil, problemf(ReasonConflict, "Secret %s/%s in cluster %s exists and was not written by gantry for project %s: delete or rename it, or switch virtual cluster %s off (spec.argoCD: false)",
				in.Namespace, w.secret.Name, in.Cluster, p.Name, vc.Name)
		default:
			w.existing = existing
		}
		if err := w.dryRun(ctx, in); err != nil {
			return nil, err
		}
		wanted[w.secret.Name] = true
		plan.want = append(plan.want, w)
	}
	ours, err := ourClusterSecrets(ctx, in, p.Name)
	if err != nil {
		return nil, err
	}
	for _, s := range ours {
		if !wanted[s.Name] {
			plan.stale = append(plan.stale, s)
		}
	}
	return plan, nil
}

// held returns project's existing cluster Secret name, if there is one.
func (r *Reconciler) held(ctx context.Context, in *instance, proj, name string) *corev1.Secret {
	s := &corev1.Secret{}
	if err := in.c.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: name}, s); err != nil || !ownedBy(s, proj) {
		return nil
	}
	return s
}

// clusterSecret is the cluster Secret of vc in Argo CD's format
// (operator-manual/declarative-setup.md, "Clusters"), without its config.
// Its name in Argo CD is the one gantry's own engine gives the virtual cluster
// ("<project namespace>/<name>"), so an Application's destination.name means
// the same cluster to both.
func clusterSecret(namespace, proj string, vc *platformv1alpha1.VirtualCluster, server, appProject string) *corev1.Secret {
	labels := UserLabels(vc)
	maps.Copy(labels, map[string]string{
		cluster.SecretTypeLabel: cluster.SecretTypeValue,
		LabelManagedBy:          ManagedBy,
		LabelProject:            proj,
		LabelVCluster:           vc.Name,
	})
	data := map[string][]byte{
		"name":   []byte(cluster.ClusterName(vc.Namespace, vc.Name)),
		"server": []byte(server),
	}
	if appProject != "" {
		data["project"] = []byte(appProject)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: ClusterSecretName(proj, vc.Name), Namespace: namespace, Labels: labels},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
}

// UserLabels are the labels of vc that go on its cluster Secret, for Argo CD
// ApplicationSets' cluster generators to select: its own (kubectl label) and
// spec.labels, which win over them, less keys with a reserved prefix
// (cluster.UserLabel). Project members choose these labels, so they must not
// change what the Secret is to Argo CD or whose it is.
func UserLabels(vc *platformv1alpha1.VirtualCluster) map[string]string {
	out := map[string]string{}
	for _, m := range []map[string]string{vc.Labels, vc.Spec.Labels} {
		for k, v := range m {
			if _, ok := cluster.UserLabel(k); ok {
				out[k] = v
			}
		}
	}
	return out
}

// dryRun asks the API server whether the Secret may be written as planned;
// an existing Secret that already says the same (but for its credential,
// which only changes when it must) needs no asking.
func (w *wantCluster) dryRun(ctx context.Context, in *instance) error {
	if w.existing != nil && maps.Equal(w.existing.Labels, w.secret.Labels) &&
		string(w.existing.Data["name"]) == string(w.secret.Data["name"]) &&
		string(w.existing.Data["server"]) == string(w.secret.Data["server"]) &&
		string(w.existing.Data["project"]) == string(w.secret.Data["project"]) {
		return nil
	}
	s, err := w.render("dry-run", nil)
	if err != nil {
		return err
	}
	if w.existing == nil {
		err = in.c.Create(ctx, s, client.DryRunAll)
	} else {
		s.ResourceVersion = w.existing.ResourceVersion
		err = in.c.Update(ctx, s, client.DryRunAll)
	}
	return classify(err, "cluster Secret "+s.Name, in)
}

// render is the Secret with token as bearer token.
func (w *wantCluster) render(token string, annotations map[string]string) (*corev1.Secret, error) {
	cfg := w.cfg
	cfg.BearerToken = token
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	s := w.secret.DeepCopy()
	s.Data["config"] = raw
	s.Annotations = annotations
	return s, nil
}

// apply writes the planned Secrets, minting credentials where needed, and
// deletes the stale ones with their credentials. It returns how many clusters
// Argo CD has, and the servers.
func (plan *clusterPlan) apply(ctx context.Context, r *Reconciler) ([]string, error) {
	var servers []string
	keep := map[string]bool{}
	for _, w := range plan.want {
		var (
			token, oldKey string
			ann           map[string]string
			err           error
		)
		if w.direct {
			token, err = r.serviceAccountToken(ctx, w.vc)
			if err != nil {
				// Asleep, or the token is being issued: keep what is there.
				if !errors.Is(err, errTokenPending) {
					r.log().Info("Argo CD's virtual cluster does not answer", "project", plan.project, "vcluster", w.vc.Name, "error", err.Error())
				}
				if w.existing == nil {
					plan.pending++
				} else {
					plan.held = append(plan.held, w.existing)
				}
				continue
			}
			ann = map[string]string{AnnotationCredential: CredentialServiceAccount}
			oldKey = w.existingKey()
		} else {
			var id string
			token, id, err = r.accessKey(ctx, plan.project, w)
			if err != nil {
				return servers, err
			}
			ann = map[string]string{AnnotationCredential: CredentialAccessKey, AnnotationAccessKey: id}
			keep[id] = true
			if old := w.existingKey(); old != id {
				oldKey = old
			}
		}
		s, err := w.render(token, ann)
		if err != nil {
			return servers, err
		}
		if err := writeSecret(ctx, plan.in, s, w.existing); err != nil {
			return servers, classify(err, "cluster Secret "+s.Name, plan.in)
		}
		if oldKey != "" {
			if err := r.Keys.Delete(ctx, oldKey); err != nil {
				return servers, fmt.Errorf("deleting the replaced access key %s: %w", oldKey, err)
			}
		}
		if w.existing != nil && w.existing.Annotations[AnnotationCredential] == CredentialServiceAccount && !w.direct {
			r.removeServiceAccount(ctx, w.vc) // switched from direct to the proxy
		}
		servers = append(servers, string(s.Data["server"]))
	}
	for _, h := range plan.held {
		if id := h.Annotations[AnnotationAccessKey]; id != "" {
			keep[id] = true
		}
		servers = append(servers, string(h.Data["server"]))
	}
	for i := range plan.stale {
		if err := r.deleteClusterSecret(ctx, plan.in, &plan.stale[i]); err != nil {
			return servers, err
		}
	}
	// Keys minted for Secrets that were never written (a failed write) or
	// that someone deleted are no one's: remove them.
	if err := r.deleteKeys(ctx, plan.project, keep); err != nil {
		return servers, err
	}
	return servers, nil
}

func (w *wantCluster) existingKey() string {
	if w.existing == nil {
		return ""
	}
	return w.existing.Annotations[AnnotationAccessKey]
}

// accessKey returns the bearer token for w through gantry's proxy: the one in
// the existing Secret while it still verifies (not revoked, expired, deleted
// or edited), else a new system access key.
func (r *Reconciler) accessKey(ctx context.Context, proj string, w *wantCluster) (token, id string, err error) {
	scope := accesskeys.Scope{Project: proj, VirtualCluster: w.vc.Name}
	if w.existing != nil && w.existing.Annotations[AnnotationCredential] == CredentialAccessKey {
		old := bearerToken(w.existing)
		rec, err := accesskeys.Verify(old, func(id string) (accesskeys.Key, bool) { return r.Keys.Get(ctx, id) })
		if err == nil && rec.ID == w.existing.Annotations[AnnotationAccessKey] && rec.System && rec.Owner == KeyOwner(proj) && rec.Scope == scope {
			return old, rec.ID, nil
		}
	}
	groups := []string{projectGroup(proj, platformv1alpha1.RoleProjectAdmin)}
	token, rec, err := r.Keys.IssueSystem(ctx, KeyOwner(proj), "Argo CD: cluster "+cluster.ClusterName(w.vc.Namespace, w.vc.Name),
		groups, scope, true)
	if err != nil {
		return "", "", fmt.Errorf("issuing an access key for Argo CD's cluster %s: %w", w.vc.Name, err)
	}
	return token, rec.ID, nil
}

func bearerToken(s *corev1.Secret) string {
	var cfg cluster.Config
	_ = json.Unmarshal(s.Data["config"], &cfg)
	return cfg.BearerToken
}

// writeSecret creates want, or updates existing to it when they differ.
func writeSecret(ctx context.Context, in *instance, want, existing *corev1.Secret) error {
	if existing == nil {
		return in.c.Create(ctx, want)
	}
	if equality.Semantic.DeepEqual(existing.Data, want.Data) && equality.Semantic.DeepEqual(existing.Labels, want.Labels) &&
		equality.Semantic.DeepEqual(existing.Annotations, want.Annotations) && existing.Type == want.Type {
		return nil
	}
	upd := existing.DeepCopy()
	upd.Labels, upd.Annotations, upd.Data, upd.StringData = want.Labels, want.Annotations, want.Data, nil
	return in.c.Update(ctx, upd)
}

// ourClusterSecrets lists the cluster Secrets gantry wrote for project.
func ourClusterSecrets(ctx context.Context, in *instance, proj string) ([]corev1.Secret, error) {
	var list corev1.SecretList
	err := in.c.List(ctx, &list, client.InNamespace(in.Namespace), client.MatchingLabels{
		cluster.SecretTypeLabel: cluster.SecretTypeValue, LabelManagedBy: ManagedBy, LabelProject: proj})
	if err != nil {
		return nil, classify(err, "the cluster Secrets", in)
	}
	return list.Items, nil
}

func ownedBy(o metav1.Object, proj string) bool {
	return o.GetLabels()[LabelManagedBy] == ManagedBy && o.GetLabels()[LabelProject] == proj
}

// deleteClusterSecret removes one of project's cluster Secrets and its credential.
func (r *Reconciler) deleteClusterSecret(ctx context.Context, in *instance, s *corev1.Secret) error {
	if err := client.IgnoreNotFound(in.c.Delete(ctx, s, client.Preconditions{UID: &s.UID})); err != nil {
		return classify(err, "deleting cluster Secret "+s.Name, in)
	}
	if id := s.Annotations[AnnotationAccessKey]; id != "" {
		if err := r.Keys.Delete(ctx, id); err != nil {
			return fmt.Errorf("deleting access key %s of cluster Secret %s: %w", id, s.Name, err)
		}
	}
	if s.Annotations[AnnotationCredential] == CredentialServiceAccount {
		vc := &platformv1alpha1.VirtualCluster{}
		key := client.ObjectKey{Namespace: project.Namespace(s.Labels[LabelProject]), Name: s.Labels[LabelVCluster]}
		if err := r.Client.Get(ctx, key, vc); err == nil && vc.DeletionTimestamp.IsZero() {
			r.removeServiceAccount(ctx, vc)
		}
	}
	return nil
}

// removeClusters deletes every cluster Secret of project in Argo CD's
// namespace, with their credentials.
func (r *Reconciler) removeClusters(ctx context.Context, in *instance, proj string) error {
	ours, err := ourClusterSecrets(ctx, in, proj)
	if err != nil {
		return err
	}
	for i := range ours {
		if err := r.deleteClusterSecret(ctx, in, &ours[i]); err != nil {
			return err
		}
	}
	return nil
}

// deleteKeys deletes project's Argo CD access keys but those in keep.
func (r *Reconciler) deleteKeys(ctx context.Context, proj string, keep map[string]bool) error {
	keys, err := r.Keys.List(ctx, KeyOwner(proj))
	if err != nil {
		return err
	}
	for _, k := range keys {
		if !keep[k.ID] && k.System {
			if err := r.Keys.Delete(ctx, k.ID); err != nil {
				return fmt.Errorf("deleting unused access key %s: %w", k.ID, err)
			}
		}
	}
	return nil
}

// summary of the clusters for the condition.
func (plan *clusterPlan) summary(n int) string {
	s := fmt.Sprintf("%d cluster%s", n, plural(n))
	if plan.pending > 0 {
		s += fmt.Sprintf(" (%d more waiting for their virtual cluster to run)", plan.pending)
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
