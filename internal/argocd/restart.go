package argocd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

// argocd-server builds the HTTP client that verifies SSO session tokens once,
// when it starts, with oidc.config's rootCA, and keeps the issuer's provider
// from the first sign-in on (Argo CD issue 9505): after gantry writes or
// changes them, sign-in through gantry ends in 401 until argocd-server
// restarts. So gantry restarts it the way `kubectl rollout restart` does, once
// per change, or says on the Project that someone must.
//
// What was changed when is kept on gantry's own Secret gantry-argocd-oidc,
// which every project signing in to that Argo CD shares (so each reports the
// same); what argocd-server was restarted for is kept on its pod template,
// so that a restart happens once per issuer and rootCA however many projects
// reconcile, and turning sign-in off and on again restarts nothing.

// ConditionServerUpToDate is the Project condition saying whether
// argocd-server runs with the OIDC settings gantry last wrote; absent when no
// restart was ever needed (or SSO is off).
const ConditionServerUpToDate = "ArgoCDServerUpToDate"

// Reasons of ConditionServerUpToDate.
const (
	// ReasonServerRestarted: gantry restarted argocd-server.
	ReasonServerRestarted = "ArgoCDServerRestarted"
	// ReasonRolloutRestarted: someone restarted it after the change.
	ReasonRolloutRestarted = "RolloutRestarted"
	// ReasonRestartDisabled: a project said not to (spec.argoCD.sso.restartServer).
	ReasonRestartDisabled = "RestartDisabled"
	// ReasonServerDeploymentNotFound: Argo CD does not run as that Deployment.
	ReasonServerDeploymentNotFound = "ServerDeploymentNotFound"
	// ReasonForbidden (shared with ConditionSynced): gantry may not restart it.
)

// Argo CD's and kubectl's names.
const (
	// LabelName names Argo CD's components in its install manifests.
	LabelName = "app.kubernetes.io/name"
	// ServerName is argocd-server's Deployment and its LabelName.
	ServerName = "argocd-server"
	// AnnotationRestartedAt is what `kubectl rollout restart` sets on the pod template.
	AnnotationRestartedAt = "kubectl.kubernetes.io/restartedAt"
	// AnnotationOIDCSettings is a hash of the issuer and rootCA written: on
	// gantry-argocd-oidc, those in oidc.config; on argocd-server's pod
	// template, those it was restarted for.
	AnnotationOIDCSettings = "gantry.dev/argocd-oidc-settings"
	// AnnotationOIDCChanged on gantry-argocd-oidc is when (RFC 3339) gantry
	// last changed the issuer or rootCA in a way argocd-server must restart for.
	AnnotationOIDCChanged = "gantry.dev/argocd-oidc-changed"
)

// oidcSettings is the hash of what argocd-server must start with.
func oidcSettings(issuer, rootCA string) string {
	sum := sha256.Sum256([]byte(issuer + "\x00" + rootCA))
	return hex.EncodeToString(sum[:])[:16]
}

// needsRestart says whether writing oidc.config with issuer and rootCA over
// what argocd-cm held (old, "" when none) needs argocd-server to restart: a
// changed issuer or rootCA, but not the first issuer with no rootCA (the
// system roots it started with verify a publicly trusted gantry).
func needsRestart(old, issuer, rootCA string) bool {
	var was oidcConfig
	if old != "" && yaml.Unmarshal([]byte(old), &was) != nil {
		was.Issuer = old // unreadable: surely not ours
	}
	if was.Issuer == issuer && was.RootCA == rootCA {
		return false
	}
	return was.Issuer != "" || was.RootCA != "" || rootCA != ""
}

// oidcAnnotations are gantry-argocd-oidc's annotations after a write: the
// change is remembered while the settings stay the same.
func oidcAnnotations(existing *corev1.Secret, clientID, settings string, changed bool, now time.Time) map[string]string {
	ann := map[string]string{AnnotationOIDCClient: clientID, AnnotationOIDCSettings: settings}
	switch {
	case changed:
		ann[AnnotationOIDCChanged] = now.UTC().Format(time.RFC3339)
	case existing != nil && existing.Annotations[AnnotationOIDCSettings] == settings && existing.Annotations[AnnotationOIDCChanged] != "":
		ann[AnnotationOIDCChanged] = existing.Annotations[AnnotationOIDCChanged]
	}
	return ann
}

// serverState brings argocd-server up to date with the OIDC settings of Secret
// sec (as written): nothing to say when they never needed a restart, else
// restarted (by gantry now or before, or by someone), or why it was not.
func (r *Reconciler) serverState(ctx context.Context, in *instance, p *platformv1alpha1.Project, sec *corev1.Secret) (*metav1.Condition, error) {
	changedAt := sec.Annotations[AnnotationOIDCChanged]
	changed, err := time.Parse(time.RFC3339, changedAt)
	if err != nil {
		return nil, nil
	}
	settings := sec.Annotations[AnnotationOIDCSettings]
	cond := &metav1.Condition{Type: ConditionServerUpToDate, Status: metav1.ConditionFalse, ObservedGeneration: p.Generation}
	where := fmt.Sprintf("namespace %s", in.Namespace)
	if in.Cluster != InCluster {
		where += " of cluster " + in.Cluster
	}
	why := fmt.Sprintf("argocd-server reads oidc.config's issuer and rootCA only when it starts, and gantry changed them at %s: until it restarts, signing in to Argo CD through gantry ends in 401.", changedAt)
	var deps appsv1.DeploymentList
	err = in.c.List(ctx, &deps, client.InNamespace(in.Namespace), client.MatchingLabels{LabelName: ServerName})
	if apierrors.IsForbidden(err) {
		cond.Reason = ReasonForbidden
		cond.Message = fmt.Sprintf("%s gantry may not list Deployments in %s (%s): restart argocd-server yourself (kubectl -n %s rollout restart deployment %s), or grant gantry's identity there list and patch on deployments",
			why, where, apiMessage(err), in.Namespace, ServerName)
		return cond, nil
	}
	if err != nil {
		return nil, classify(err, "Deployments", in)
	}
	if len(deps.Items) == 0 {
		cond.Reason = ReasonServerDeploymentNotFound
		cond.Message = fmt.Sprintf("%s gantry cannot restart it: no Deployment labelled %s=%s in %s (Argo CD runs another way). Restart the argocd-server process (or its pods) yourself.",
			why, LabelName, ServerName, where)
		return cond, nil
	}
	var todo []*appsv1.Deployment
	byGantry, restartedAt := true, ""
	for i := range deps.Items {
		d := &deps.Items[i]
		ann := d.Spec.Template.Annotations
		at, perr := time.Parse(time.RFC3339, ann[AnnotationRestartedAt])
		switch {
		case ann[AnnotationOIDCSettings] == settings:
			restartedAt = ann[AnnotationRestartedAt]
		case perr == nil && !at.Before(changed):
			byGantry, restartedAt = false, ann[AnnotationRestartedAt]
		default:
			todo = append(todo, d)
		}
	}
	if len(todo) == 0 {
		cond.Status, cond.Reason = metav1.ConditionTrue, ReasonServerRestarted
		cond.Message = fmt.Sprintf("gantry restarted Deployment %s at %s (as kubectl rollout restart does) after it changed oidc.config's issuer or rootCA at %s, which argocd-server reads only when it starts",
			deploymentNames(deps.Items), restartedAt, changedAt)
		if !byGantry {
			cond.Reason = ReasonRolloutRestarted
			cond.Message = fmt.Sprintf("Deployment %s was restarted at %s, after gantry changed oidc.config's issuer or rootCA at %s", deploymentNames(deps.Items), restartedAt, changedAt)
		}
		return cond, nil
	}
	command := fmt.Sprintf("kubectl -n %s rollout restart deployment %s", in.Namespace, todo[0].Name)
	if off, self, err := r.restartOff(ctx, p.Name, target{Cluster: in.Cluster, Namespace: in.Namespace}); err != nil {
		return nil, err
	} else if off {
		who := "another project signing in to this Argo CD"
		if self {
			who = "this project"
		}
		cond.Reason = ReasonRestartDisabled
		cond.Message = fmt.Sprintf("%s gantry does not restart it because %s sets spec.argoCD.sso.restartServer: false. Run: %s", why, who, command)
		return cond, nil
	}
	now := time.Now().UTC().Format(time.RFC3339)
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{AnnotationRestartedAt: now, AnnotationOIDCSettings: settings}}}}})
	for _, d := range todo {
		err := in.c.Patch(ctx, d, client.RawPatch(types.StrategicMergePatchType, patch), client.FieldOwner(ManagedBy))
		if apierrors.IsForbidden(err) {
			cond.Reason = ReasonForbidden
			cond.Message = fmt.Sprintf("%s gantry may not restart Deployment %s in %s (%s): run %s, or grant gantry's identity there patch on deployments",
				why, d.Name, where, apiMessage(err), command)
			return cond, nil
		}
		if err != nil {
			return nil, classify(err, "restarting Deployment "+d.Name, in)
		}
		r.log().Info("restarted argocd-server for its new OIDC settings", "project", p.Name, "cluster", in.Cluster, "namespace", in.Namespace, "deployment", d.Name)
	}
	cond.Status, cond.Reason = metav1.ConditionTrue, ReasonServerRestarted
	cond.Message = fmt.Sprintf("gantry restarted Deployment %s at %s (as kubectl rollout restart does) after it changed oidc.config's issuer or rootCA at %s, which argocd-server reads only when it starts",
		deploymentNames(deps.Items), now, changedAt)
	return cond, nil
}

func deploymentNames(ds []appsv1.Deployment) string {
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.Namespace + "/" + d.Name
	}
	return strings.Join(names, ", ")
}

// restartOff says whether a project signing in to the Argo CD at t says not
// to restart argocd-server (an opt-out wins: gantry never restarts a server
// someone asked it to leave alone), and whether proj is one of them.
func (r *Reconciler) restartOff(ctx context.Context, proj string, t target) (off, self bool, err error) {
	var list platformv1alpha1.ProjectList
	if err := r.Client.List(ctx, &list); err != nil {
		return false, false, fmt.Errorf("listing projects: %w", err)
	}
	for _, p := range list.Items {
		a := p.Spec.ArgoCD
		if !p.DeletionTimestamp.IsZero() || a == nil || !a.Enabled || a.SSO == nil || !a.SSO.Enabled || targetOf(a) != t {
			continue
		}
		if a.SSO.RestartServer != nil && !*a.SSO.RestartServer {
			off = true
			self = self || p.Name == proj
		}
	}
	return off, self, nil
}

// setServerCondition sets c, with a new transition time when its reason
// changes too: "since when" must say since which change or restart.
func setServerCondition(p *platformv1alpha1.Project, c metav1.Condition) {
	if old := meta.FindStatusCondition(p.Status.Conditions, c.Type); old != nil && old.Reason != c.Reason {
		meta.RemoveStatusCondition(&p.Status.Conditions, c.Type)
	}
	meta.SetStatusCondition(&p.Status.Conditions, c)
}
