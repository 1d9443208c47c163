package appset

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/gitops/appset/generate"
	"gantry.dev/gantry/internal/gitops/appset/template"
	"gantry.dev/gantry/internal/gitops/policy"
	"gantry.dev/gantry/internal/statuswrite"
)

// refreshAnnotation is Argo CD's refresh request on an Application, kept
// when the set updates it (the Application controller removes it).
const refreshAnnotation = "argocd.argoproj.io/refresh"

// Reconcile generates one ApplicationSet's elements and makes its
// VirtualClusters and Applications match them, then records status once.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	set := &gitopsv1alpha1.ApplicationSet{}
	if err := r.status.Get(ctx, req.NamespacedName, set); err != nil {
		// Deleted: its Applications (and VirtualClusters) go with it by
		// their owner references (garbage collection), as in Argo CD.
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !set.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, set)
	}
	if set.Spec.VirtualCluster != nil && !controllerutil.ContainsFinalizer(set, Finalizer) {
		patch := client.MergeFrom(set.DeepCopy())
		controllerutil.AddFinalizer(set, Finalizer)
		if err := r.opts.Client.Patch(ctx, set, patch); err != nil {
			return reconcile.Result{}, client.IgnoreNotFound(err)
		}
		r.status.Wrote(set)
	}
	refresh := r.refreshRequested(set)
	before := set.DeepCopy()
	result, err := r.reconcile(ctx, set)
	if refresh && err == nil {
		// Done: Argo CD takes its annotation away too.
		patch := []byte(`{"metadata":{"annotations":{"` + RefreshAnnotation + `":null}}}`)
		if perr := r.opts.Client.Patch(ctx, set.DeepCopy(), client.RawPatch(types.MergePatchType, patch)); client.IgnoreNotFound(perr) != nil {
			return reconcile.Result{}, perr
		}
	}
	sortConditions(set.Status.Conditions)
	if perr := statuswrite.Patch(ctx, r.status, before, set, func(server, desired *gitopsv1alpha1.ApplicationSet) bool {
		return !equality.Semantic.DeepEqual(server.Status, desired.Status)
	}); perr != nil {
		return reconcile.Result{}, errors.Join(err, perr)
	}
	return result, err
}

// Finalizer keeps an ApplicationSet with a virtualCluster template until
// its Applications are gone, and then deletes its VirtualClusters: garbage
// collection would delete both at once, and an Application whose cluster is
// gone cannot remove what it deployed (its resources finalizer would hold
// it forever).
const Finalizer = "gantry.dev/applicationset-virtualclusters"

// finalize deletes a deleted set's Applications, waits until they are
// gone, deletes its VirtualClusters and lets the set go.
func (r *Reconciler) finalize(ctx context.Context, set *gitopsv1alpha1.ApplicationSet) (reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(set, Finalizer) {
		return reconcile.Result{}, nil
	}
	apps, vcs, err := r.owned(ctx, set)
	if err != nil {
		return reconcile.Result{}, err
	}
	s := &state{set: set, apps: apps, vcs: map[string]*platformv1alpha1.VirtualCluster{}, policy: gitopsv1alpha1.ApplicationsSyncPolicySync}
	if err := r.prune(ctx, s, nil, nil); err != nil {
		return reconcile.Result{}, err
	}
	if len(s.apps) > 0 {
		// Their deletion brings the set back (Owns); this is a safety net.
		return reconcile.Result{RequeueAfter: 5 * time.Second}, nil
	}
	if live, err := r.liveVirtualClustersInUse(ctx, set); err != nil {
		return reconcile.Result{}, err
	} else if len(live) > 0 {
		return reconcile.Result{RequeueAfter: time.Second}, nil // the cache is behind
	}
	for name, vc := range vcs {
		if !vc.DeletionTimestamp.IsZero() {
			continue
		}
		uid := vc.UID
		if err := r.opts.Client.Delete(ctx, vc, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
			return reconcile.Result{}, fmt.Errorf("deleting VirtualCluster %s: %w", name, err)
		}
		r.opts.Logger.Info("deleted VirtualCluster", "applicationset", set.Name, "namespace", set.Namespace, "virtualcluster", name)
	}
	patch := client.MergeFrom(set.DeepCopy())
	controllerutil.RemoveFinalizer(set, Finalizer)
	return reconcile.Result{}, client.IgnoreNotFound(r.opts.Client.Patch(ctx, set, patch))
}

// reconcile does the work and fills set.Status; the caller writes it.
func (r *Reconciler) reconcile(ctx context.Context, set *gitopsv1alpha1.ApplicationSet) (reconcile.Result, error) {
	result := reconcile.Result{RequeueAfter: generate.RequeueAfter(&set.Spec)}

	// 1. Bad input changes nothing: every check comes before the first write.
	if bad, err := r.unsupported(ctx, set); err != nil {
		return reconcile.Result{}, err
	} else if len(bad) > 0 {
		r.fail(set, gitopsv1alpha1.ApplicationSetReasonApplicationValidationError,
			fmt.Sprintf("gantry does not support %s; remove them, or the Applications would differ from what Argo CD generates", strings.Join(bad, ", ")))
		return result, nil
	}
	pol, err := r.setPolicy(ctx, set)
	if policy.IsRefusal(err) {
		r.fail(set, gitopsv1alpha1.ApplicationSetReasonApplicationValidationError, err.Error())
		return result, nil
	} else if err != nil {
		return reconcile.Result{}, err
	}
	params, err := r.opts.Generator.Generate(ctx, set)
	if err != nil {
		r.fail(set, gitopsv1alpha1.ApplicationSetReasonApplicationParamsGenerationError, err.Error())
		if result.RequeueAfter == 0 {
			// Listing cluster Secrets can fail for a while; Git generators
			// retry at their poll period anyway.
			result.RequeueAfter = 30 * time.Second
		}
		return result, nil
	}
	var rendered []*template.Rendered
	var errs []error
	for i, p := range params {
		rd, err := template.Render(set, template.Element{Index: i, Params: p})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rendered = append(rendered, rd)
	}
	if len(errs) > 0 {
		r.fail(set, gitopsv1alpha1.ApplicationSetReasonRenderTemplateParamsError, errors.Join(errs...).Error())
		return result, nil
	}
	if err := validate(set, rendered); err != nil {
		r.fail(set, gitopsv1alpha1.ApplicationSetReasonApplicationValidationError, err.Error())
		return result, nil
	}
	if err := r.checkRendered(ctx, set, pol, rendered); policy.IsRefusal(err) {
		r.fail(set, gitopsv1alpha1.ApplicationSetReasonApplicationValidationError, err.Error())
		return result, nil
	} else if err != nil {
		return reconcile.Result{}, err
	}

	// 2. What exists: the Applications and VirtualClusters this set owns.
	apps, vcs, err := r.owned(ctx, set)
	if err != nil {
		return reconcile.Result{}, err
	}
	policy := applicationsSync(set)
	s := &state{set: set, apps: apps, vcs: vcs, policy: policy}

	// 3. Each element: its VirtualCluster, then (once that runs) its Application.
	wantApps := map[string]bool{}
	wantVCs := map[string]bool{}
	for _, rd := range rendered {
		wantApps[rd.Application.Name] = true
		vcName := ""
		if rd.VirtualCluster != nil {
			vcName = rd.VirtualCluster.Name
			wantVCs[vcName] = true
			vc, err := r.ensureVirtualCluster(ctx, s, rd.VirtualCluster)
			if err != nil {
				if apierrors.IsConflict(err) || errors.Is(err, errStale) {
					return reconcile.Result{RequeueAfter: time.Second}, nil
				}
				s.elementError(gitopsv1alpha1.ApplicationSetReasonCreateApplicationError, err)
				continue
			}
			_, exists := s.apps[rd.Application.Name]
			if !exists && (vc == nil || vc.Status.Phase != platformv1alpha1.PhaseRunning || !vc.DeletionTimestamp.IsZero()) {
				s.waiting = append(s.waiting, waitingApp{app: rd.Application, vc: vcName})
				continue
			}
		}
		if err := r.ensureApplication(ctx, s, rd.Application, vcName); err != nil {
			if apierrors.IsConflict(err) || errors.Is(err, errStale) {
				return reconcile.Result{RequeueAfter: time.Second}, nil
			}
			s.elementError(gitopsv1alpha1.ApplicationSetReasonCreateApplicationError, err)
		}
		s.generated = append(s.generated, rd.Application.Name)
	}

	// 4. What is no longer generated: Applications, then their VirtualClusters.
	if err := r.prune(ctx, s, wantApps, wantVCs); err != nil {
		return reconcile.Result{}, err
	}

	// 5. Status.
	r.record(set, s)
	if s.errReason != "" && result.RequeueAfter == 0 {
		result.RequeueAfter = 30 * time.Second
	}
	return result, nil
}

// state is one reconcile's view of the set's objects and outcome.
type state struct {
	set    *gitopsv1alpha1.ApplicationSet
	policy gitopsv1alpha1.ApplicationsSyncPolicy
	apps   map[string]*gitopsv1alpha1.Application      // owned, by name; updated as written
	vcs    map[string]*platformv1alpha1.VirtualCluster // owned, by name; updated as written

	generated []string     // Applications generated (existing or created), in element order
	waiting   []waitingApp // Applications waiting for their VirtualCluster
	errReason string
	errs      []string
}

type waitingApp struct {
	app *gitopsv1alpha1.Application
	vc  string
}

// updateError marks a failed update (Argo CD's UpdateApplicationError)
// rather than a failed create.
type updateError struct{ err error }

func (e *updateError) Error() string { return e.err.Error() }
func (e *updateError) Unwrap() error { return e.err }

func (s *state) elementError(reason string, err error) {
	var ue *updateError
	if errors.As(err, &ue) {
		reason = gitopsv1alpha1.ApplicationSetReasonUpdateApplicationError
	}
	if s.errReason == "" {
		s.errReason = reason
	}
	s.errs = append(s.errs, err.Error())
}

func applicationsSync(set *gitopsv1alpha1.ApplicationSet) gitopsv1alpha1.ApplicationsSyncPolicy {
	if set.Spec.SyncPolicy != nil && set.Spec.SyncPolicy.ApplicationsSync != nil {
		return *set.Spec.SyncPolicy.ApplicationsSync
	}
	return gitopsv1alpha1.ApplicationsSyncPolicySync
}

func preserveResources(set *gitopsv1alpha1.ApplicationSet) bool {
	return set.Spec.SyncPolicy != nil && set.Spec.SyncPolicy.PreserveResourcesOnDeletion
}

// validate checks the rendered elements as a whole: no two render one
// Application, shared VirtualClusters agree, and every Application is in
// the set's namespace (owner references do not cross namespaces, and a set
// must not write into namespaces its author may not).
func validate(set *gitopsv1alpha1.ApplicationSet, rendered []*template.Rendered) error {
	var errs []error
	for _, rd := range rendered {
		if rd.Application.Namespace != set.Namespace {
			errs = append(errs, fmt.Errorf("%s: Application %s/%s is not in the ApplicationSet's namespace %s: leave the template's metadata.namespace empty",
				rd.Element, rd.Application.Namespace, rd.Application.Name, set.Namespace))
		}
	}
	if err := template.Duplicates(rendered); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// owned lists the Applications and VirtualClusters the set controls.
func (r *Reconciler) owned(ctx context.Context, set *gitopsv1alpha1.ApplicationSet) (map[string]*gitopsv1alpha1.Application, map[string]*platformv1alpha1.VirtualCluster, error) {
	sel := []client.ListOption{client.InNamespace(set.Namespace), client.MatchingLabels{LabelApplicationSet: set.Name}}
	var appList gitopsv1alpha1.ApplicationList
	if err := r.opts.Client.List(ctx, &appList, sel...); err != nil {
		return nil, nil, fmt.Errorf("listing the Applications of ApplicationSet %s/%s: %w", set.Namespace, set.Name, err)
	}
	apps := map[string]*gitopsv1alpha1.Application{}
	for i := range appList.Items {
		if a := &appList.Items[i]; metav1.IsControlledBy(a, set) {
			apps[a.Name] = a
		}
	}
	var vcList platformv1alpha1.VirtualClusterList
	if err := r.opts.Client.List(ctx, &vcList, sel...); err != nil {
		return nil, nil, fmt.Errorf("listing the VirtualClusters of ApplicationSet %s/%s: %w", set.Namespace, set.Name, err)
	}
	vcs := map[string]*platformv1alpha1.VirtualCluster{}
	for i := range vcList.Items {
		if v := &vcList.Items[i]; metav1.IsControlledBy(v, set) {
			vcs[v.Name] = v
		}
	}
	return apps, vcs, nil
}

// ensureVirtualCluster creates the element's VirtualCluster or brings an
// existing one (owned by the set) up to date, as the policy allows. It
// returns the cluster as it is now.
func (r *Reconciler) ensureVirtualCluster(ctx context.Context, s *state, tmpl *gitopsv1alpha1.ApplicationSetVirtualClusterTemplate) (*platformv1alpha1.VirtualCluster, error) {
	var sleepAfter *metav1.Duration
	if tmpl.SleepAfter != "" {
		d, err := time.ParseDuration(tmpl.SleepAfter)
		if err != nil { // template.Render checked it
			return nil, fmt.Errorf("virtualCluster %s: sleepAfter %q: %w", tmpl.Name, tmpl.SleepAfter, err)
		}
		sleepAfter = &metav1.Duration{Duration: d}
	}
	labels := maps.Clone(tmpl.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelApplicationSet] = s.set.Name

	if vc, ok := s.vcs[tmpl.Name]; ok {
		if !s.policy.AllowUpdate() || !vc.DeletionTimestamp.IsZero() {
			return vc, nil
		}
		upd := vc.DeepCopy()
		if upd.Labels == nil {
			upd.Labels = map[string]string{}
		}
		maps.Copy(upd.Labels, labels)
		upd.Spec.Labels = maps.Clone(tmpl.Labels)
		upd.Spec.SleepAfter = sleepAfter
		if equality.Semantic.DeepEqual(upd.Labels, vc.Labels) && maps.Equal(upd.Spec.Labels, vc.Spec.Labels) &&
			equality.Semantic.DeepEqual(upd.Spec.SleepAfter, vc.Spec.SleepAfter) {
			return vc, nil
		}
		if err := r.opts.Client.Update(ctx, upd); err != nil {
			return nil, &updateError{fmt.Errorf("updating VirtualCluster %s: %w", tmpl.Name, err)}
		}
		r.opts.Logger.Info("updated VirtualCluster", "applicationset", s.set.Name, "namespace", s.set.Namespace, "virtualcluster", upd.Name)
		s.vcs[upd.Name] = upd
		return upd, nil
	}

	vc := &platformv1alpha1.VirtualCluster{
		ObjectMeta: metav1.ObjectMeta{Name: tmpl.Name, Namespace: s.set.Namespace, Labels: labels},
		Spec:       platformv1alpha1.VirtualClusterSpec{Labels: maps.Clone(tmpl.Labels), SleepAfter: sleepAfter},
	}
	if err := controllerutil.SetControllerReference(s.set, vc, r.opts.Client.Scheme()); err != nil {
		return nil, err
	}
	if err := r.opts.Client.Create(ctx, vc); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, r.existing(ctx, s.set, &platformv1alpha1.VirtualCluster{}, vc.Namespace, vc.Name, "VirtualCluster")
		}
		return nil, fmt.Errorf("creating VirtualCluster %s: %w", tmpl.Name, err)
	}
	r.opts.Logger.Info("created VirtualCluster", "applicationset", s.set.Name, "namespace", s.set.Namespace, "virtualcluster", vc.Name)
	s.vcs[vc.Name] = vc
	return vc, nil
}

// ensureApplication creates the element's Application or updates the
// existing one, as the policy allows.
func (r *Reconciler) ensureApplication(ctx context.Context, s *state, want *gitopsv1alpha1.Application, vcName string) error {
	want = want.DeepCopy()
	if want.Labels == nil {
		want.Labels = map[string]string{}
	}
	want.Labels[LabelApplicationSet] = s.set.Name
	if vcName != "" {
		if want.Annotations == nil {
			want.Annotations = map[string]string{}
		}
		want.Annotations[AnnotationVirtualCluster] = vcName
	}

	if cur, ok := s.apps[want.Name]; ok {
		if !s.policy.AllowUpdate() || !cur.DeletionTimestamp.IsZero() {
			return nil
		}
		upd := cur.DeepCopy()
		upd.Spec = want.Spec
		upd.Labels = want.Labels
		// Annotations and finalizers as rendered, keeping a pending refresh
		// request (Argo CD's preserved annotations).
		ann := maps.Clone(want.Annotations)
		if v, ok := cur.Annotations[refreshAnnotation]; ok {
			if ann == nil {
				ann = map[string]string{}
			}
			ann[refreshAnnotation] = v
		}
		upd.Annotations = ann
		upd.Finalizers = want.Finalizers
		if equality.Semantic.DeepEqual(upd.Spec, cur.Spec) && maps.Equal(upd.Labels, cur.Labels) &&
			maps.Equal(upd.Annotations, cur.Annotations) && equality.Semantic.DeepEqual(upd.Finalizers, cur.Finalizers) {
			return nil
		}
		if err := r.opts.Client.Update(ctx, upd); err != nil {
			return &updateError{fmt.Errorf("updating Application %s: %w", want.Name, err)}
		}
		r.opts.Logger.Info("updated Application", "applicationset", s.set.Name, "namespace", upd.Namespace, "application", upd.Name)
		s.apps[upd.Name] = upd
		return nil
	}

	if err := controllerutil.SetControllerReference(s.set, want, r.opts.Client.Scheme()); err != nil {
		return err
	}
	if err := r.opts.Client.Create(ctx, want); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return r.existing(ctx, s.set, &gitopsv1alpha1.Application{}, want.Namespace, want.Name, "Application")
		}
		return fmt.Errorf("creating Application %s: %w", want.Name, err)
	}
	r.opts.Logger.Info("created Application", "applicationset", s.set.Name, "namespace", want.Namespace, "application", want.Name)
	s.apps[want.Name] = want
	return nil
}

// prune deletes the Applications no element generates any more, and then
// the VirtualClusters no element renders and no Application of the set
// still names, when the policy allows deleting.
func (r *Reconciler) prune(ctx context.Context, s *state, wantApps, wantVCs map[string]bool) error {
	if !s.policy.AllowDelete() {
		return nil
	}
	for name, app := range s.apps {
		if wantApps[name] || !app.DeletionTimestamp.IsZero() {
			continue
		}
		if preserveResources(s.set) && hasCascadeFinalizer(app) {
			// As Argo CD: without its resources finalizer the Application
			// goes at once and what it deployed stays.
			patch := client.MergeFrom(app.DeepCopy())
			for _, f := range cascadeFinalizers {
				controllerutil.RemoveFinalizer(app, f)
			}
			if err := r.opts.Client.Patch(ctx, app, patch); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("removing the resources finalizer of Application %s: %w", name, err)
			}
		}
		uid := app.UID
		err := r.opts.Client.Delete(ctx, app, client.Preconditions{UID: &uid})
		if client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting Application %s: %w", name, err)
		}
		r.opts.Logger.Info("deleted Application", "applicationset", s.set.Name, "namespace", app.Namespace, "application", name)
		if len(app.Finalizers) == 0 {
			delete(s.apps, name) // gone at once
		} else {
			now := metav1.NewTime(r.opts.Now())
			app.DeletionTimestamp = &now
		}
	}
	inUse := map[string]bool{}
	for _, app := range s.apps {
		if vc := app.Annotations[AnnotationVirtualCluster]; vc != "" {
			inUse[vc] = true
		}
	}
	checked := false
	for name, vc := range s.vcs {
		if wantVCs[name] || inUse[name] || !vc.DeletionTimestamp.IsZero() {
			continue
		}
		if !checked {
			// The cache may not have seen an Application created moments
			// ago: ask the API server before deleting a cluster under it.
			live, err := r.liveVirtualClustersInUse(ctx, s.set)
			if err != nil {
				return err
			}
			maps.Copy(inUse, live)
			checked = true
			if inUse[name] {
				continue
			}
		}
		uid := vc.UID
		if err := r.opts.Client.Delete(ctx, vc, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting VirtualCluster %s: %w", name, err)
		}
		r.opts.Logger.Info("deleted VirtualCluster", "applicationset", s.set.Name, "namespace", vc.Namespace, "virtualcluster", name)
		now := metav1.NewTime(r.opts.Now())
		vc.DeletionTimestamp = &now
	}
	return nil
}

// errStale says the cache has not seen an object this set owns yet (it
// was created moments ago): the reconcile is retried.
var errStale = errors.New("the cache is behind")

// existing explains why a create found the object already there: not the
// set's (an error for the element), or the set's but not yet in the cache
// (errStale).
func (r *Reconciler) existing(ctx context.Context, set *gitopsv1alpha1.ApplicationSet, obj client.Object, ns, name, kind string) error {
	err := r.opts.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)
	switch {
	case apierrors.IsNotFound(err):
		return errStale
	case err != nil:
		return err
	case metav1.IsControlledBy(obj, set):
		return errStale
	}
	return fmt.Errorf("%s %s/%s already exists and is not owned by ApplicationSet %s: rename one of them", kind, ns, name, set.Name)
}

// liveVirtualClustersInUse reads the set's Applications from the API server
// and returns the VirtualClusters they name.
func (r *Reconciler) liveVirtualClustersInUse(ctx context.Context, set *gitopsv1alpha1.ApplicationSet) (map[string]bool, error) {
	var list gitopsv1alpha1.ApplicationList
	if err := r.opts.APIReader.List(ctx, &list, client.InNamespace(set.Namespace), client.MatchingLabels{LabelApplicationSet: set.Name}); err != nil {
		return nil, fmt.Errorf("listing the Applications of ApplicationSet %s/%s: %w", set.Namespace, set.Name, err)
	}
	out := map[string]bool{}
	for i := range list.Items {
		if vc := list.Items[i].Annotations[AnnotationVirtualCluster]; vc != "" && metav1.IsControlledBy(&list.Items[i], set) {
			out[vc] = true
		}
	}
	return out, nil
}

var cascadeFinalizers = []string{
	gitopsv1alpha1.ApplicationFinalizer,
	gitopsv1alpha1.ApplicationFinalizer + "/foreground",
	gitopsv1alpha1.ApplicationBackgroundFinalizer,
}

func hasCascadeFinalizer(app *gitopsv1alpha1.Application) bool {
	for _, f := range cascadeFinalizers {
		if controllerutil.ContainsFinalizer(app, f) {
			return true
		}
	}
	return false
}

// sortConditions keeps Argo CD's order whatever order they were set in.
func sortConditions(cs []gitopsv1alpha1.ApplicationSetCondition) {
	rank := map[gitopsv1alpha1.ApplicationSetConditionType]int{
		gitopsv1alpha1.ApplicationSetConditionErrorOccurred:       0,
		gitopsv1alpha1.ApplicationSetConditionParametersGenerated: 1,
		gitopsv1alpha1.ApplicationSetConditionResourcesUpToDate:   2,
	}
	sort.SliceStable(cs, func(i, j int) bool { return rank[cs[i].Type] < rank[cs[j].Type] })
}
