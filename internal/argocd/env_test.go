package argocd

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/controlplane"
	"gantry.dev/gantry/internal/identity/accesskeys"
	"gantry.dev/gantry/internal/identity/oidcprovider"
	"gantry.dev/gantry/internal/kubetest"
	"gantry.dev/gantry/internal/project"
)

// The tests share one real control plane (kube-apiserver on kine, and the
// tenant controllers: the token controller fills ServiceAccount token Secrets
// for direct mode), with gantry's CRDs and Argo CD's AppProject CRD. Each test
// makes its own Argo CD namespace holding Argo CD's stock ConfigMaps.
type testEnv struct {
	cp  *controlplane.ControlPlane
	cfg *rest.Config
	c   client.Client
}

const (
	gantryNS  = "gantry-system"
	testProxy = "https://gantry.test:8443"
	issuer    = testProxy + "/oidc"
)

var (
	envOnce   sync.Once
	sharedEnv *testEnv
	envErr    error
	// Any PEM does for the CA fields: the integration copies them.
	proxyCA  = []byte("-----BEGIN CERTIFICATE-----\nMIIBproxy\n-----END CERTIFICATE-----\n")
	issuerCA = []byte("-----BEGIN CERTIFICATE-----\nMIIBissuer\n-----END CERTIFICATE-----\n")
)

func TestMain(m *testing.M) {
	flag.Parse()
	// client.New logs through controller-runtime's root logger.
	ctrllog.SetLogger(logr.Discard())
	os.Exit(kubetest.Main(m))
}

// env returns the package's control plane (kubetest's, shared) with the
// AppProject CRD and gantry's namespace added once.
func env(t *testing.T) *testEnv {
	t.Helper()
	k := kubetest.Shared(t, kubetest.Options{CRDs: true})
	envOnce.Do(func() { sharedEnv, envErr = setupEnv(k) })
	if envErr != nil {
		t.Fatal(envErr)
	}
	return sharedEnv
}

func setupEnv(k *kubetest.Env) (*testEnv, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := readYAML("appproject-crd.yaml", crd); err != nil {
		return nil, err
	}
	if err := k.Client.Create(ctx, crd); err != nil {
		return nil, err
	}
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		got := &apiextensionsv1.CustomResourceDefinition{}
		if err := k.Client.Get(ctx, client.ObjectKeyFromObject(crd), got); err != nil {
			return false, nil
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("AppProject CRD not established: %w", err)
	}
	// A fresh client: its REST mapper must see the AppProject kind.
	c, err := client.New(k.Config, client.Options{Scheme: kubetest.Scheme()})
	if err != nil {
		return nil, err
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gantryNS}}); err != nil {
		return nil, err
	}
	return &testEnv{cp: k.CP, cfg: k.Config, c: c}, nil
}

func readYAML(name string, into any) error {
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		return err
	}
	return yaml.Unmarshal(raw, into)
}

// reconciler is the integration as the platform would set it up, reaching
// Argo CD on the same API server.
func (e *testEnv) reconciler() *Reconciler {
	return &Reconciler{Options: Options{
		Client:    e.c,
		Namespace: gantryNS,
		ArgoCDCluster: func(_ context.Context, name string) (*rest.Config, error) {
			if name != InCluster {
				return nil, fmt.Errorf("no cluster %q", name)
			}
			return e.cfg, nil
		},
		ProxyURL: func(p, n string) string {
			return testProxy + "/kubernetes/project/" + p + "/virtualcluster/" + n
		},
		ProxyCA:     proxyCA,
		Keys:        accesskeys.Store{Client: e.c, Namespace: gantryNS},
		OIDCClients: oidcprovider.ClientStore{Client: e.c, Namespace: gantryNS},
		Issuer:      issuer,
		IssuerCA:    issuerCA,
		Logger:      logr.Discard(),
	}}
}

// argoNamespace makes an Argo CD namespace with the stock argocd-cm and
// argocd-rbac-cm, changed by edit when given (as an operator would).
func (e *testEnv) argoNamespace(t *testing.T, edit func(cm, rbac *corev1.ConfigMap)) string {
	t.Helper()
	return e.argoNamespaceNamed(t, "", edit)
}

// argoNamespaceNamed is argoNamespace for a test that needs more than one:
// suffix tells them apart.
func (e *testEnv) argoNamespaceNamed(t *testing.T, suffix string, edit func(cm, rbac *corev1.ConfigMap)) string {
	t.Helper()
	name := "argocd-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	if len(name) > 60-len(suffix) {
		name = name[:60-len(suffix)]
	}
	name = strings.TrimRight(name, "-") + suffix
	ctx := context.Background()
	mustDo(t, e.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}))
	t.Cleanup(func() { e.c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}) })
	cm, rbac := &corev1.ConfigMap{}, &corev1.ConfigMap{}
	mustDo(t, readYAML("argocd-cm.yaml", cm))
	mustDo(t, readYAML("argocd-rbac-cm.yaml", rbac))
	if edit != nil {
		edit(cm, rbac)
	}
	for _, o := range []*corev1.ConfigMap{cm, rbac} {
		o.Namespace = name
		// As `kubectl apply` of Argo CD's install manifests would.
		mustDo(t, e.c.Create(ctx, o, client.FieldOwner("kubectl-client-side-apply")))
	}
	return name
}

// newProject creates a Project and its namespace.
func (e *testEnv) newProject(t *testing.T, name string, a *platformv1alpha1.ArgoCDIntegration) *platformv1alpha1.Project {
	t.Helper()
	ctx := context.Background()
	p := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: platformv1alpha1.ProjectSpec{ArgoCD: a}}
	mustDo(t, e.c.Create(ctx, p))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: project.Namespace(name)}}
	mustDo(t, e.c.Create(ctx, ns))
	t.Cleanup(func() {
		got := &platformv1alpha1.Project{}
		if e.c.Get(ctx, client.ObjectKey{Name: name}, got) == nil {
			got.Finalizers = nil
			e.c.Update(ctx, got)
			e.c.Delete(ctx, got)
		}
		e.c.Delete(ctx, ns)
	})
	return p
}

// newVCluster creates a virtual cluster of project as running, with endpoint.
func (e *testEnv) newVCluster(t *testing.T, proj, name string, edit func(*platformv1alpha1.VirtualCluster)) *platformv1alpha1.VirtualCluster {
	t.Helper()
	ctx := context.Background()
	vc := &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: project.Namespace(proj)}}
	if edit != nil {
		edit(vc)
	}
	mustDo(t, e.c.Create(ctx, vc))
	vc.Status.Phase = platformv1alpha1.PhaseRunning
	vc.Status.Endpoint = "https://127.0.0.1:1/" + name
	vc.Status.KubeconfigSecret = "vc-" + name
	mustDo(t, e.c.Status().Update(ctx, vc))
	return vc
}

// update changes an object, retrying on conflicts.
func update[T client.Object](t *testing.T, e *testEnv, obj T, change func(T)) {
	t.Helper()
	ctx := context.Background()
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := e.c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, err
		}
		change(obj)
		err := e.c.Update(ctx, obj)
		if apierrors.IsConflict(err) {
			return false, nil
		}
		return err == nil, err
	})
	mustDo(t, err)
}

// reconcile runs one reconcile of project and returns its condition (nil
// when there is none).
func (e *testEnv) reconcile(t *testing.T, r *Reconciler, proj string) *metav1.Condition {
	t.Helper()
	_, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Name: proj}})
	if err != nil {
		t.Fatalf("reconcile %s: %v", proj, err)
	}
	p := &platformv1alpha1.Project{}
	if err := e.c.Get(context.Background(), client.ObjectKey{Name: proj}, p); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		t.Fatal(err)
	}
	return meta.FindStatusCondition(p.Status.Conditions, ConditionSynced)
}

// synced reconciles and requires the condition to be True.
func (e *testEnv) synced(t *testing.T, r *Reconciler, proj string) *metav1.Condition {
	t.Helper()
	c := e.reconcile(t, r, proj)
	if c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("project %s not synced: %+v", proj, c)
	}
	return c
}

// failing reconciles and requires the condition False with reason.
func (e *testEnv) failing(t *testing.T, r *Reconciler, proj, reason string) *metav1.Condition {
	t.Helper()
	c := e.reconcile(t, r, proj)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != reason {
		t.Fatalf("project %s: want condition False/%s, got %+v", proj, reason, c)
	}
	return c
}

func (e *testEnv) secret(t *testing.T, ns, name string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	err := e.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s)
	if apierrors.IsNotFound(err) {
		return nil
	}
	mustDo(t, err)
	return s
}

func (e *testEnv) configMap(t *testing.T, ns, name string) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{}
	mustDo(t, e.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, cm))
	return cm
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }
