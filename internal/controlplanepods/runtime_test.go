package controlplanepods

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"gantry.dev/gantry/internal/controlplane"
	"gantry.dev/gantry/internal/kubebin"
	"gantry.dev/gantry/internal/kubetest"
	"gantry.dev/gantry/internal/vcluster"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// Ensure writes the Secret, Service, storage and StatefulSet a control-plane
// pod needs; the pod's control plane, given the Secret's files, issues no
// certificate of its own; Stop scales to zero; Remove leaves nothing.
func TestEnsureWrites(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{})
	ctx := context.Background()
	key := types.NamespacedName{Namespace: "p-" + strings.ToLower(t.Name()), Name: "dev"}
	ns := vcluster.HostNamespace(key.Namespace, key.Name)
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}) })

	// No default StorageClass and no local volumes: refused, naming the fix.
	r, err := New(Options{Host: env.Config, Image: "gantry.local/gantry:test", WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := r.Ensure(key, vcluster.Config{}); st != vcluster.StateFailed || err == nil || !strings.Contains(err.Error(), "default StorageClass") {
		t.Fatalf("Ensure without storage: %s %v", st, err)
	}

	volumes := t.TempDir()
	r, err = New(Options{Host: env.Config, Image: "gantry.local/gantry:test", WorkDir: t.TempDir(),
		LocalVolumes: volumes, NodeSelector: map[string]string{"gantry.dev/real": "true"}, ReadyTimeout: 1})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := r.Ensure(key, vcluster.Config{}); st != vcluster.StateStarting || err != nil {
		t.Fatalf("Ensure: %s %v", st, err)
	}
	svc := &corev1.Service{}
	get(t, env.Client, ns, Name, svc)
	secret := &corev1.Secret{}
	get(t, env.Client, ns, Name, secret)
	for _, k := range []string{"ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "sa.key", "sa.pub", "front-proxy-ca.crt",
		"controller-manager.kubeconfig", "scheduler.kubeconfig", specKey, flagFilePrefix + "admission-control-config-file"} {
		if len(secret.Data[k]) == 0 {
			t.Errorf("the Secret lacks %s", k)
		}
	}
	block, _ := pem.Decode(secret.Data["apiserver.crt"])
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(cert.DNSNames, Name+"."+ns+".svc") || !slices.ContainsFunc(cert.IPAddresses, func(ip net.IP) bool {
		return ip.Equal(net.ParseIP(svc.Spec.ClusterIP))
	}) {
		t.Errorf("serving certificate names %v %v, want the Service's name and ClusterIP %s", cert.DNSNames, cert.IPAddresses, svc.Spec.ClusterIP)
	}
	var spec Spec
	if err := json.Unmarshal(secret.Data[specKey], &spec); err != nil {
		t.Fatal(err)
	}
	if got := spec.APIServerFlags["admission-control-config-file"]; got != filepath.Join(DataDir, "pki", flagFilePrefix+"admission-control-config-file") {
		t.Errorf("the admission flag names %q, not the copy in the pod", got)
	}
	if admin, ok := r.Admin(key); !ok || admin.Server != "https://"+svc.Spec.ClusterIP+":6443" {
		t.Errorf("admin kubeconfig server %q", admin.Server)
	}

	// Another replica of gantry (leader election), which ensured nothing,
	// makes the same admin configuration from the host and writes nothing.
	other, err := New(Options{Host: env.Config, Image: "gantry.local/gantry:test", WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	mine, _ := r.Admin(key)
	theirs, err := other.adminFromHost(ctx, key)
	if err != nil || theirs.Server != mine.Server || !bytes.Equal(theirs.CA, mine.CA) || len(theirs.CertPEM) == 0 {
		t.Errorf("another replica's admin configuration: %v, server %q (want %q), same CA %v", err, theirs.Server, mine.Server, bytes.Equal(theirs.CA, mine.CA))
	}
	unchanged := &corev1.Secret{}
	get(t, env.Client, ns, Name, unchanged)
	if unchanged.ResourceVersion != secret.ResourceVersion {
		t.Error("another replica wrote the control plane's Secret")
	}

	sts := &appsv1.StatefulSet{}
	get(t, env.Client, ns, Name, sts)
	c := sts.Spec.Template.Spec.Containers[0]
	if *sts.Spec.Replicas != 1 || c.Image != "gantry.local/gantry:test" || c.Args[0] != "controlplane" ||
		!*c.SecurityContext.ReadOnlyRootFilesystem || !*sts.Spec.Template.Spec.SecurityContext.RunAsNonRoot ||
		c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("StatefulSet: replicas %d, container %+v", *sts.Spec.Replicas, c)
	}
	pv := &corev1.PersistentVolume{}
	get(t, env.Client, "", volumeName(ns), pv)
	if pv.Spec.HostPath.Path != filepath.Join(volumes, ns) || pv.Spec.ClaimRef.Namespace != ns {
		t.Errorf("volume %+v", pv.Spec)
	}
	get(t, env.Client, ns, dataClaim, &corev1.PersistentVolumeClaim{})

	// What the pod does with the Secret: its control plane finds every
	// certificate good and issues none (it would lack the Service's names).
	conf := t.TempDir()
	for k, v := range secret.Data {
		if err := os.WriteFile(filepath.Join(conf, k), v, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	if err := copyKeys(conf, filepath.Join(dir, "pki")); err != nil {
		t.Fatal(err)
	}
	opts := spec.options(dir)
	opts.Binaries = kubebin.Set{kubebin.ControlPlane: "/bin/true"}
	if _, err := controlplane.New(opts); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "pki", "apiserver.crt")); !bytes.Equal(got, secret.Data["apiserver.crt"]) {
		t.Error("the pod's control plane issued itself another serving certificate")
	}

	// A second Ensure (after a Stop) keeps the keys.
	r.Stop(key)
	get(t, env.Client, ns, Name, sts)
	if *sts.Spec.Replicas != 0 {
		t.Errorf("after Stop: %d replicas", *sts.Spec.Replicas)
	}
	if _, err := r.Ensure(key, vcluster.Config{}); err != nil {
		t.Fatal(err)
	}
	again := &corev1.Secret{}
	get(t, env.Client, ns, Name, again)
	if !bytes.Equal(again.Data["ca.key"], secret.Data["ca.key"]) {
		t.Error("a restart changed the cluster's CA")
	}
	get(t, env.Client, ns, Name, sts)
	if *sts.Spec.Replicas != 1 {
		t.Errorf("after a wake: %d replicas", *sts.Spec.Replicas)
	}

	if err := r.Remove(key); err != nil {
		t.Fatal(err)
	}
	for _, o := range []client.Object{&corev1.Secret{}, &corev1.Service{}, &corev1.PersistentVolumeClaim{}} {
		name := Name
		if _, ok := o.(*corev1.PersistentVolumeClaim); ok {
			name = dataClaim
		}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, o); err == nil {
			if o.GetDeletionTimestamp().IsZero() {
				t.Errorf("%T left after Remove", o)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(volumes, ns)); !os.IsNotExist(err) {
		t.Errorf("the volume's directory is left: %v", err)
	}
}

func get(t *testing.T, c client.Client, ns, name string, obj client.Object) {
	t.Helper()
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			t.Fatalf("%T %s/%s not written", obj, ns, name)
		}
		t.Fatal(err)
	}
}

// A cluster with an external database gets its DSN from the Secret as an
// environment variable (never in the spec or a flag), and no claim.
func TestEnsureExternalStorage(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{})
	ctx := context.Background()
	key := types.NamespacedName{Namespace: "p-" + strings.ToLower(t.Name()), Name: "db"}
	ns := vcluster.HostNamespace(key.Namespace, key.Name)
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}) })
	r, err := New(Options{Host: env.Config, Image: "gantry.local/gantry:test", WorkDir: t.TempDir(), ReadyTimeout: 1})
	if err != nil {
		t.Fatal(err)
	}
	const dsn = "postgres://kine:s3cret@db.example:5432/kine"
	if st, err := r.Ensure(key, vcluster.Config{Storage: dsn}); st != vcluster.StateStarting || err != nil {
		t.Fatalf("Ensure: %s %v", st, err)
	}
	secret := &corev1.Secret{}
	get(t, env.Client, ns, Name, secret)
	if string(secret.Data[storageKey]) != dsn || bytes.Contains(secret.Data[specKey], []byte("s3cret")) {
		t.Errorf("DSN in the Secret: %q; spec: %s", secret.Data[storageKey], secret.Data[specKey])
	}
	// Another replica of gantry (leader election), which ensured nothing,
	// makes the same admin configuration from the host and writes nothing.
	other, err := New(Options{Host: env.Config, Image: "gantry.local/gantry:test", WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	mine, _ := r.Admin(key)
	theirs, err := other.adminFromHost(ctx, key)
	if err != nil || theirs.Server != mine.Server || !bytes.Equal(theirs.CA, mine.CA) || len(theirs.CertPEM) == 0 {
		t.Errorf("another replica's admin configuration: %v, server %q (want %q), same CA %v", err, theirs.Server, mine.Server, bytes.Equal(theirs.CA, mine.CA))
	}
	unchanged := &corev1.Secret{}
	get(t, env.Client, ns, Name, unchanged)
	if unchanged.ResourceVersion != secret.ResourceVersion {
		t.Error("another replica wrote the control plane's Secret")
	}

	sts := &appsv1.StatefulSet{}
	get(t, env.Client, ns, Name, sts)
	c := sts.Spec.Template.Spec.Containers[0]
	if len(c.Env) != 1 || c.Env[0].Name != storageEnv || c.Env[0].ValueFrom.SecretKeyRef.Key != storageKey {
		t.Errorf("container env %+v", c.Env)
	}
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			t.Errorf("a claim for a cluster whose state is in a database: %+v", v)
		}
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: dataClaim}, &corev1.PersistentVolumeClaim{}); !apierrors.IsNotFound(err) {
		t.Errorf("claim: %v", err)
	}
}
