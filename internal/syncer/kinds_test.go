package syncer

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestClaimsSecretsAndManualEndpoints covers the kinds the Deployment test does not:
// a claim (copied, status reported back), a Secret mounted by a pod (copied while
// used), and a selector-less Service with hand-written Endpoints pointing at a pod
// of the virtual cluster (copied, and mirrored into a host EndpointSlice by the host).
func TestClaimsSecretsAndManualEndpoints(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	ns := newNamespace(t, e, "kinds")
	v := e.vKube.CoreV1()
	h := e.hostKube.CoreV1()

	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, VolumeName: "not-yours",
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
	if _, err := v.PersistentVolumeClaims(ns).Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the host claim, its status reported back", func(ctx context.Context) (bool, error) {
		hc, err := h.PersistentVolumeClaims(testHostNS).Get(ctx, HostName("data", ns, testVCluster), metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if hc.Spec.VolumeName != "" {
			t.Fatalf("host claim names volume %q", hc.Spec.VolumeName)
		}
		vc, err := v.PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
		return err == nil && hc.Status.Phase != "" && vc.Status.Phase == hc.Status.Phase, err
	})
	if err := v.PersistentVolumeClaims(ns).Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the host claim to go", func(ctx context.Context) (bool, error) {
		_, err := h.PersistentVolumeClaims(testHostNS).Get(ctx, HostName("data", ns, testVCluster), metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls"}, StringData: map[string]string{"key": "s3cret"}}
	if _, err := v.Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "mounter", Labels: map[string]string{"app": "mounter"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Image: "busybox", VolumeMounts: []corev1.VolumeMount{{Name: "tls", MountPath: "/tls"}}}},
			Volumes:    []corev1.Volume{{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}}},
		}}
	if _, err := v.Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	secretName := HostName("tls", ns, testVCluster)
	eventually(t, 30*time.Second, "the pod running with its Secret on the host", func(ctx context.Context) (bool, error) {
		hs, err := h.Secrets(testHostNS).Get(ctx, secretName, metav1.GetOptions{})
		if err != nil || string(hs.Data["key"]) != "s3cret" {
			return false, err
		}
		hp, err := h.Pods(testHostNS).Get(ctx, HostName("mounter", ns, testVCluster), metav1.GetOptions{})
		return err == nil && hp.Status.Phase == corev1.PodRunning && hp.Spec.Volumes[0].Secret.SecretName == secretName, err
	})
	if err := v.Pods(ns).Delete(ctx, "mounter", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the Secret, no longer used, to go from the host", func(ctx context.Context) (bool, error) {
		_, err := h.Secrets(testHostNS).Get(ctx, secretName, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})

	// Hand-written endpoints pointing at a pod of the virtual cluster (addresses
	// elsewhere stay inside: TestAttackServicesAndEndpoints).
	target := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pg"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "pg", Image: "postgres"}}}}
	if _, err := v.Pods(ns).Create(ctx, target, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var targetIP string
	eventually(t, 60*time.Second, "pod pg to run", func(ctx context.Context) (bool, error) {
		p, err := v.Pods(ns).Get(ctx, "pg", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		targetIP = p.Status.PodIP
		return p.Status.Phase == corev1.PodRunning && targetIP != "", nil
	})
	external := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "external"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "pg", Port: 5432}}}}
	if _, err := v.Services(ns).Create(ctx, external, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eps := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "external"},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: targetIP}}, Ports: []corev1.EndpointPort{{Name: "pg", Port: 5432}}}}}
	if _, err := v.Endpoints(ns).Create(ctx, eps, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hostSvc := HostName("external", ns, testVCluster)
	eventually(t, 30*time.Second, "a host EndpointSlice with the hand-written address", func(ctx context.Context) (bool, error) {
		he, err := h.Endpoints(testHostNS).Get(ctx, hostSvc, metav1.GetOptions{})
		if err != nil || len(he.Subsets) != 1 || he.Subsets[0].Addresses[0].IP != targetIP {
			return false, err
		}
		if ref := he.Subsets[0].Addresses[0].TargetRef; ref == nil || ref.Name != HostName("pg", ns, testVCluster) {
			return false, fmt.Errorf("host address points at %+v, want the host pod", ref)
		}
		l, err := e.hostKube.DiscoveryV1().EndpointSlices(testHostNS).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + hostSvc})
		if err != nil || len(l.Items) == 0 {
			return false, err
		}
		return slices.Contains(l.Items[0].Endpoints[0].Addresses, targetIP), nil
	})
	if err := v.Services(ns).Delete(ctx, "external", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the host Service and Endpoints to go", func(ctx context.Context) (bool, error) {
		_, errS := h.Services(testHostNS).Get(ctx, hostSvc, metav1.GetOptions{})
		_, errE := h.Endpoints(testHostNS).Get(ctx, hostSvc, metav1.GetOptions{})
		return apierrors.IsNotFound(errS) && apierrors.IsNotFound(errE), nil
	})
}
