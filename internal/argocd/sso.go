package argocd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/identity/oidcprovider"
)

// The names gantry gives the OIDC clients it registers for Argo CD, shown on
// gantry's sign-in page; they also tell the integration's clients from ones an
// administrator registered under the same id, which it never touches.
const (
	oidcClientName    = "Argo CD (managed by gantry)"
	oidcCLIClientName = "Argo CD CLI (managed by gantry)"
)

// oidcConfig is argocd-cm's oidc.config (operator-manual/user-management,
// "Existing OIDC Provider"). Every project that enables SSO against one Argo CD
// renders the same text, so they share ownership of the key.
type oidcConfig struct {
	Name            string   `json:"name"`
	Issuer          string   `json:"issuer"`
	ClientID        string   `json:"clientID"`
	CLIClientID     string   `json:"cliClientID"`
	ClientSecret    string   `json:"clientSecret"`
	RequestedScopes []string `json:"requestedScopes"`
	RootCA          string   `json:"rootCA,omitempty"`
}

// ssoPlan is what SSO writes for one project.
type ssoPlan struct {
	in       *instance
	project  string
	host     string
	clientID string
	cm, rbac *unstructured.Unstructured
	// settings is the hash of the issuer and rootCA written; restart says
	// whether writing them over argocd-cm's oidc.config needs argocd-server
	// to restart.
	settings string
	restart  bool
	// server is what argocd-server needs after apply (nil: nothing to say).
	server *metav1.Condition
}

// planSSO renders project p's SSO and checks it can be written: Argo CD's
// ConfigMaps exist, assigned roles exist, nothing is in the way (dry run).
func (r *Reconciler) planSSO(ctx context.Context, p *platformv1alpha1.Project, in *instance) (*ssoPlan, error) {
	sso := p.Spec.ArgoCD.SSO
	host := strings.TrimRight(sso.Host, "/")
	if host == "" {
		return nil, problemf(ReasonInvalidSpec, "spec.argoCD.sso.host is empty: set it to Argo CD's external URL, e.g. https://argocd.example.com")
	}
	if err := validURL("spec.argoCD.sso.host", host); err != nil {
		return nil, err
	}
	if u, _ := url.Parse(host); u.Scheme == "http" && u.Hostname() != "localhost" && !net.ParseIP(u.Hostname()).IsLoopback() {
		// gantry's OIDC provider sends codes over https only (but to loopback).
		return nil, problemf(ReasonInvalidSpec, "spec.argoCD.sso.host %q is http: serve Argo CD over https and set the https URL", host)
	}
	if r.Issuer == "" {
		return nil, problemf(ReasonInvalidSpec, "gantry has no external URL, so Argo CD cannot reach its OIDC issuer: start gantry with its external URL set, or turn spec.argoCD.sso off")
	}
	plan := &ssoPlan{in: in, project: p.Name, host: host, clientID: OIDCClientID(in.Cluster, in.Namespace)}
	rbacCM, err := in.configMap(ctx, ConfigMapRBAC)
	if err != nil {
		return nil, err
	}
	argoCM, err := in.configMap(ctx, ConfigMapCM)
	if err != nil {
		return nil, err
	}
	policy, err := policyCSV(p.Name, sso.AssignedRoles, rbacCM)
	if err != nil {
		return nil, err
	}
	cfg, err := yaml.Marshal(oidcConfig{
		Name: "gantry", Issuer: r.Issuer, ClientID: plan.clientID, CLIClientID: CLIClientID(plan.clientID),
		ClientSecret:    "$" + OIDCSecretName + ":" + OIDCSecretKey,
		RequestedScopes: []string{"openid", "profile", "email", "groups"},
		RootCA:          string(r.IssuerCA),
	})
	if err != nil {
		return nil, err
	}
	plan.cm = configMapApply(argoCM, map[string]string{"url": host, "oidc.config": string(cfg)})
	plan.settings = oidcSettings(r.Issuer, string(r.IssuerCA))
	plan.restart = needsRestart(argoCM.Data["oidc.config"], r.Issuer, string(r.IssuerCA))
	plan.rbac = configMapApply(rbacCM, map[string]string{PolicyKey(p.Name): policy})

	for _, c := range []struct{ id, name string }{{plan.clientID, oidcClientName}, {CLIClientID(plan.clientID), oidcCLIClientName}} {
		got, err := r.OIDCClients.Get(ctx, c.id)
		if err == nil && got.Name != c.name {
			return nil, problemf(ReasonConflict, "OIDC client %q exists and was not registered by the Argo CD integration (its name is %q): if nothing uses it, delete it (gantry oidc-client delete %s) and gantry registers its own; else turn spec.argoCD.sso off and configure Argo CD by hand",
				c.id, got.Name, c.id)
		}
		if err != nil && !errors.Is(err, oidcprovider.ErrClientNotFound) {
			return nil, err
		}
	}
	sec, err := in.oidcSecret(ctx)
	if err != nil {
		return nil, err
	}
	want := oidcSecret(in.Namespace, "dry-run", oidcAnnotations(sec, plan.clientID, plan.settings, plan.restart, time.Now()))
	if sec == nil {
		err = in.c.Create(ctx, want, client.DryRunAll)
	} else {
		want.ResourceVersion = sec.ResourceVersion
		err = in.c.Update(ctx, want, client.DryRunAll)
	}
	if err := classify(err, "Secret "+OIDCSecretName, in); err != nil {
		return nil, err
	}
	for _, u := range []*unstructured.Unstructured{plan.cm, plan.rbac} {
		if err := in.apply(ctx, u, p.Name, true); err != nil {
			return nil, err
		}
	}
	return plan, nil
}

// apply registers the OIDC clients, writes their secret for Argo CD, then
// argocd-cm and argocd-rbac-cm, and last brings argocd-server up to date
// with them (plan.server).
func (plan *ssoPlan) apply(ctx context.Context, r *Reconciler, p *platformv1alpha1.Project) error {
	in := plan.in
	sec, err := in.oidcSecret(ctx)
	if err != nil {
		return err
	}
	secret := ""
	if sec != nil {
		secret = string(sec.Data[OIDCSecretKey])
	}
	redirects := []string{plan.host + "/auth/callback", CLIRedirectURI}
	spec := oidcprovider.ClientSpec{ID: plan.clientID, Name: oidcClientName, RedirectURIs: redirects}
	c, err := r.OIDCClients.Get(ctx, plan.clientID)
	switch {
	case errors.Is(err, oidcprovider.ErrClientNotFound):
		secret, err = r.OIDCClients.Create(ctx, spec)
	case err != nil:
	case !sameSet(c.RedirectURIs, redirects):
		// The store has no update: a new host means a new client (and secret).
		if err = r.OIDCClients.Delete(ctx, plan.clientID); err == nil {
			secret, err = r.OIDCClients.Create(ctx, spec)
		}
	case secret == "":
		// Only its hash is kept: a lost secret can only be replaced.
		secret, err = r.OIDCClients.RotateSecret(ctx, plan.clientID)
	}
	if err != nil {
		return fmt.Errorf("registering Argo CD's OIDC client %s: %w", plan.clientID, err)
	}
	cli := CLIClientID(plan.clientID)
	if _, err := r.OIDCClients.Get(ctx, cli); errors.Is(err, oidcprovider.ErrClientNotFound) {
		_, err = r.OIDCClients.Create(ctx, oidcprovider.ClientSpec{ID: cli, Name: oidcCLIClientName, RedirectURIs: []string{CLIRedirectURI}, Public: true})
		if err != nil {
			return fmt.Errorf("registering Argo CD's CLI OIDC client %s: %w", cli, err)
		}
	} else if err != nil {
		return err
	}
	want := oidcSecret(in.Namespace, secret, oidcAnnotations(sec, plan.clientID, plan.settings, plan.restart, time.Now()))
	if err := writeSecret(ctx, in, want, sec); err != nil {
		return classify(err, "Secret "+OIDCSecretName, in)
	}
	for _, u := range []*unstructured.Unstructured{plan.cm, plan.rbac} {
		if err := in.apply(ctx, u, plan.project, false); err != nil {
			return err
		}
	}
	plan.server, err = r.serverState(ctx, in, p, want)
	return err
}

// releaseSSO removes what project's SSO wrote: its keys in Argo CD's
// ConfigMaps (shared ones stay while another project still applies them), and
// the OIDC clients and their Secret once no project uses this Argo CD's SSO.
func (r *Reconciler) releaseSSO(ctx context.Context, in *instance, proj string) error {
	for _, name := range []string{ConfigMapCM, ConfigMapRBAC} {
		cm := &corev1.ConfigMap{}
		if err := in.c.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: name}, cm); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return classify(err, "ConfigMap "+name, in)
		}
		if !slices.ContainsFunc(cm.ManagedFields, func(m metav1.ManagedFieldsEntry) bool {
			return m.Manager == FieldManager(proj) && m.Operation == metav1.ManagedFieldsOperationApply
		}) {
			continue
		}
		// Applying nothing gives up every key this project applied; keys
		// another manager also holds stay.
		if err := in.apply(ctx, configMapApply(cm, nil), proj, false); err != nil {
			return err
		}
	}
	used, err := r.othersUseSSO(ctx, target{Cluster: in.Cluster, Namespace: in.Namespace}, proj)
	if err != nil || used {
		return err
	}
	id := OIDCClientID(in.Cluster, in.Namespace)
	for _, c := range []struct{ id, name string }{{id, oidcClientName}, {CLIClientID(id), oidcCLIClientName}} {
		got, err := r.OIDCClients.Get(ctx, c.id)
		if err == nil && got.Name == c.name {
			err = r.OIDCClients.Delete(ctx, c.id)
		}
		if err != nil && !errors.Is(err, oidcprovider.ErrClientNotFound) {
			return fmt.Errorf("deleting Argo CD's OIDC client %s: %w", c.id, err)
		}
	}
	sec, err := in.oidcSecret(ctx)
	if err != nil || sec == nil {
		return err
	}
	return classify(client.IgnoreNotFound(in.c.Delete(ctx, sec, client.Preconditions{UID: &sec.UID})), "Secret "+OIDCSecretName, in)
}

// othersUseSSO says whether a project other than except has SSO on against t.
func (r *Reconciler) othersUseSSO(ctx context.Context, t target, except string) (bool, error) {
	var list platformv1alpha1.ProjectList
	if err := r.Client.List(ctx, &list); err != nil {
		return false, fmt.Errorf("listing projects: %w", err)
	}
	for _, p := range list.Items {
		a := p.Spec.ArgoCD
		if p.Name != except && p.DeletionTimestamp.IsZero() && a != nil && a.Enabled && a.SSO != nil && a.SSO.Enabled && targetOf(a) == t {
			return true, nil
		}
	}
	return false, nil
}

// policyCSV renders project's role assignments as Argo CD policy lines,
// checking that every role they name exists.
func policyCSV(proj string, assigned []platformv1alpha1.ArgoCDRoleAssignment, rbacCM *corev1.ConfigMap) (string, error) {
	defined := definedRoles(rbacCM)
	var lines []string
	for _, a := range assigned {
		role := strings.TrimSpace(a.Role)
		if role == "" || strings.ContainsAny(role, ",\r\n#") {
			return "", problemf(ReasonInvalidSpec, "spec.argoCD.sso.assignedRoles: role %q is not an Argo CD role name: use role:admin, role:readonly or a role of argocd-rbac-cm", a.Role)
		}
		if !defined[role] {
			return "", problemf(ReasonRoleNotFound, "Argo CD role %q is not defined: add its policy lines (p, %s, …) to argocd-rbac-cm's policy.csv, or assign role:admin or role:readonly", role, role)
		}
		roles := allProjectRoles
		if a.ProjectRole != "" {
			roles = []platformv1alpha1.ProjectRole{a.ProjectRole}
		}
		for _, pr := range roles {
			if l := "g, " + projectGroup(proj, pr) + ", " + role; !slices.Contains(lines, l) {
				lines = append(lines, l)
			}
		}
	}
	return "# Written by gantry for project " + proj + " (spec.argoCD.sso.assignedRoles): change the Project, not this key.\n" +
		strings.Join(lines, "\n") + "\n", nil
}

// definedRoles are Argo CD's built-in roles and every subject of argocd-rbac-cm's
// policy.csv and policy.*.csv (Argo CD concatenates them).
func definedRoles(cm *corev1.ConfigMap) map[string]bool {
	roles := map[string]bool{"role:admin": true, "role:readonly": true}
	for k, v := range cm.Data {
		if k != "policy.csv" && !(strings.HasPrefix(k, "policy.") && strings.HasSuffix(k, ".csv")) {
			continue
		}
		for line := range strings.SplitSeq(v, "\n") {
			f := strings.Split(line, ",")
			if len(f) >= 3 && (strings.TrimSpace(f[0]) == "p" || strings.TrimSpace(f[0]) == "g") {
				roles[strings.TrimSpace(f[1])] = true
			}
		}
	}
	return roles
}

// configMapApply is an apply configuration of the given keys of Argo CD's
// ConfigMap cm, as read. Its uid makes the API server refuse it when cm was
// deleted (or replaced) since: an apply would otherwise create the ConfigMap
// with gantry's keys alone, and gantry never makes Argo CD's configuration.
func configMapApply(cm *corev1.ConfigMap, data map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": cm.Name, "namespace": cm.Namespace, "uid": string(cm.UID)},
	}}
	if len(data) > 0 {
		d := map[string]any{}
		for k, v := range data {
			d[k] = v
		}
		u.Object["data"] = d
	}
	return u
}

// oidcSecret is the Secret Argo CD reads the client secret from; the label is
// what lets Argo CD resolve "$gantry-argocd-oidc:clientSecret". Its
// annotations name the client and what argocd-server must start with
// (oidcAnnotations).
func oidcSecret(namespace, secret string, annotations map[string]string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: OIDCSecretName, Namespace: namespace,
			Labels:      map[string]string{LabelPartOf: "argocd", LabelManagedBy: ManagedBy},
			Annotations: annotations},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{OIDCSecretKey: []byte(secret)},
	}
}

// oidcSecret returns gantry's OIDC Secret in Argo CD's namespace, nil when
// missing, and a conflict when someone else's has its name.
func (in *instance) oidcSecret(ctx context.Context) (*corev1.Secret, error) {
	sec := &corev1.Secret{}
	err := in.c.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: OIDCSecretName}, sec)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, classify(err, "Secret "+OIDCSecretName, in)
	case sec.Labels[LabelManagedBy] != ManagedBy:
		return nil, problemf(ReasonConflict, "Secret %s/%s in cluster %s was not written by gantry: delete or rename it, or turn spec.argoCD.sso off",
			in.Namespace, OIDCSecretName, in.Cluster)
	}
	return sec, nil
}

// configMap reads one of Argo CD's ConfigMaps, which must exist: the
// integration adds to an installed Argo CD and never creates its configuration.
func (in *instance) configMap(ctx context.Context, name string) (*corev1.ConfigMap, error) {
	cm := &corev1.ConfigMap{}
	err := in.c.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: name}, cm)
	if apierrors.IsNotFound(err) {
		return nil, problemf(ReasonArgoCDNotInstalled, "ConfigMap %s is missing in namespace %s of cluster %s: install Argo CD there (its stock manifests make it), or set spec.argoCD.namespace to where Argo CD runs",
			name, in.Namespace, in.Cluster)
	}
	if err != nil {
		return nil, classify(err, "ConfigMap "+name, in)
	}
	return cm, nil
}

// apply applies u with project's field manager, never forcing: a key another
// manager holds with another value is a conflict for the user to resolve.
func (in *instance) apply(ctx context.Context, u *unstructured.Unstructured, proj string, dryRun bool) error {
	opts := []client.ApplyOption{client.FieldOwner(FieldManager(proj))}
	if dryRun {
		opts = append(opts, client.DryRunAll)
	}
	err := in.c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), opts...)
	if apierrors.IsConflict(err) && onlyProjectsOIDCConfig(err) {
		// gantry's own configuration changed (issuer, its CA): the projects
		// still holding the old oidc.config take the new one at their next
		// reconcile, so taking it over from them is safe, and the only way
		// out (each would block the other).
		err = in.c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), append(opts, client.ForceOwnership)...)
	}
	if apierrors.IsConflict(err) && !fieldConflict(err) {
		// The uid precondition: the ConfigMap went or was replaced since it
		// was read; the next reconcile reads it again.
		return fmt.Errorf("%s %s in namespace %s changed while gantry wrote it: %w", u.GetKind(), u.GetName(), in.Namespace, err)
	}
	if apierrors.IsConflict(err) {
		return problemf(ReasonConflict, "%s %s in namespace %s: %s: gantry does not take over what others wrote: remove those keys (gantry then writes its own), make them equal to what gantry writes, or turn this part of spec.argoCD off",
			u.GetKind(), u.GetName(), in.Namespace, apiMessage(err))
	}
	return classify(err, u.GetKind()+" "+u.GetName(), in)
}

// fieldConflict says whether a conflict is server-side apply's, about fields
// other managers hold.
func fieldConflict(err error) bool {
	var st apierrors.APIStatus
	if !errors.As(err, &st) || st.Status().Details == nil {
		return false
	}
	return slices.ContainsFunc(st.Status().Details.Causes, func(c metav1.StatusCause) bool {
		return c.Type == metav1.CauseTypeFieldManagerConflict
	})
}

// onlyProjectsOIDCConfig says whether a server-side apply conflict is only
// about oidc.config held by other projects' field managers.
func onlyProjectsOIDCConfig(err error) bool {
	var st apierrors.APIStatus
	if !errors.As(err, &st) || st.Status().Details == nil || len(st.Status().Details.Causes) == 0 {
		return false
	}
	for _, c := range st.Status().Details.Causes {
		manager, ok := strings.CutPrefix(c.Message, "conflict with ")
		if c.Type != metav1.CauseTypeFieldManagerConflict || !ok ||
			!strings.HasPrefix(manager, `"`+FieldManager("")) || strings.Contains(manager, " ") ||
			!strings.Contains(c.Field, "oidc.config") {
			return false
		}
	}
	return true
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
