package syncer

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Builders and checks shared by the real-API-server tests.

var namespaces atomic.Int32

// newNamespace creates a virtual namespace named prefix-N, unique in the shared
// environment (so tests can run again with -count), and deletes it after the test,
// which also exercises deletion through the syncer.
func newNamespace(t *testing.T, e *testEnv, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, namespaces.Add(1))
	_, err := e.vKube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		err := e.vKube.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
		}
	})
	return name
}

// deployment is app=name, replicas replicas of a container whose environment reads
// key "greeting" of ConfigMap configMap (none if empty).
func deployment(name string, replicas int32, configMap string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	c := corev1.Container{Name: "main", Image: "registry.example/" + name + ":1", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}
	if configMap != "" {
		c.Env = []corev1.EnvVar{{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: configMap}, Key: "greeting"}}}}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{c}},
			},
		},
	}
}

func service(name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
}

func configMap(name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data}
}

// available reports whether the virtual Deployment has want available replicas and
// no others.
func available(ctx context.Context, e *testEnv, ns, name string, want int32) (bool, error) {
	d, err := e.vKube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
			return d.Status.AvailableReplicas == want && d.Status.Replicas == want && d.Status.UpdatedReplicas == want, nil
		}
	}
	return false, nil
}

func virtualPods(ctx context.Context, e *testEnv, ns, app string) ([]corev1.Pod, error) {
	l, err := e.vKube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func hostPods(ctx context.Context, e *testEnv, ns, app string) ([]corev1.Pod, error) {
	l, err := e.hostKube.CoreV1().Pods(testHostNS).List(ctx, metav1.ListOptions{
		LabelSelector: LabelVCluster + "=" + testVCluster + "," + LabelNamespace + "=" + ns + ",app=" + app})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
