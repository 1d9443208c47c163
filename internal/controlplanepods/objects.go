package controlplanepods

import (
	"maps"
	"path/filepath"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Names of the objects in a virtual cluster's host namespace. The syncer's
// objects there carry its own names (a virtual name, "x", its namespace):
// never one of these.
const (
	Name       = "gantry-controlplane"
	dataClaim  = Name + "-data"
	labelApp   = "app.kubernetes.io/name"
	labelOwner = "platform.gantry.dev/controlplane-of"
	// configAnnotation carries the vcluster.Config a StatefulSet runs, and
	// secretHash the hash of its Secret: a change of either rolls the pod.
	configAnnotation = "platform.gantry.dev/controlplane-config"
	secretHash       = "platform.gantry.dev/controlplane-secret-hash"
	// uid and gid of the image's user (hack/image).
	podUser = 65532
)

// labels mark every object made for the cluster named owner ("ns/name").
func labels(owner string) map[string]string {
	return map[string]string{labelApp: Name, labelOwner: labelValue(owner)}
}

// labelValue makes "p-a/dev" a valid label value.
func labelValue(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '/' {
			b[i] = '.'
		}
	}
	return string(b)
}

func service(ns, owner string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: ns, Labels: labels(owner)},
		Spec: corev1.ServiceSpec{
			Selector: labels(owner),
			Ports: []corev1.ServicePort{{Name: "https", Port: APIPort, TargetPort: intstr.FromInt32(APIPort),
				Protocol: corev1.ProtocolTCP}},
		},
	}
}

// serviceNames are the names the Service answers to, for the serving certificate.
func serviceNames(ns string) []string {
	return []string{Name, Name + "." + ns, Name + "." + ns + ".svc", Name + "." + ns + ".svc.cluster.local"}
}

// podTemplate is the control plane's pod: gantry's image running `gantry
// controlplane`, as little privilege as the restricted Pod Security level
// asks, a read-only root filesystem; writable are only its storage and an
// emptyDir for kine's socket and the log.
func (r *Runtime) podTemplate(owner string, dsn bool) corev1.PodTemplateSpec {
	data := corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: dataClaim}}}
	if dsn {
		// The state is in the external database; the directory holds only
		// keys copied from the Secret and kubeconfigs.
		data.VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	}
	env := []corev1.EnvVar{}
	if dsn {
		env = append(env, corev1.EnvVar{Name: storageEnv, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: Name}, Key: storageKey}}})
	}
	probe := &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			// /readyz is open to anonymous clients (system:public-info-viewer).
			// Every second: a wake waits for this before the Service routes.
			Path: "/readyz", Port: intstr.FromInt32(APIPort), Scheme: corev1.URISchemeHTTPS}},
		PeriodSeconds: 1, FailureThreshold: 3, TimeoutSeconds: 2,
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels(owner)},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false),
			EnableServiceLinks:           ptr.To(false),
			NodeSelector:                 r.opts.NodeSelector,
			Tolerations:                  r.opts.Tolerations,
			// kube-apiserver drains within 2 s (--shutdown-send-retry-after).
			TerminationGracePeriodSeconds: ptr.To[int64](15),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](podUser), RunAsGroup: ptr.To[int64](podUser),
				FSGroup:        ptr.To[int64](podUser),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:            "controlplane",
				Image:           r.opts.Image,
				ImagePullPolicy: r.opts.PullPolicy,
				Args:            []string{"controlplane", "--config-dir", ConfigDir, "--dir", DataDir},
				Env:             env,
				Ports:           []corev1.ContainerPort{{Name: "https", ContainerPort: APIPort}},
				ReadinessProbe:  probe,
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					ReadOnlyRootFilesystem:   ptr.To(true),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "config", MountPath: ConfigDir, ReadOnly: true},
					{Name: "data", MountPath: filepath.Dir(DataDir)},
					{Name: "run", MountPath: RunDir},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "config", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
					SecretName: Name, DefaultMode: ptr.To[int32](0o400)}}},
				data,
				{Name: "run", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
	}
}

func (r *Runtime) statefulSet(ns, owner string, dsn bool, cfgJSON, hash string) *appsv1.StatefulSet {
	tmpl := r.podTemplate(owner, dsn)
	tmpl.Annotations = map[string]string{secretHash: hash}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: ns, Labels: labels(owner),
			Annotations: map[string]string{configAnnotation: cfgJSON}},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To[int32](1),
			ServiceName: Name,
			Selector:    &metav1.LabelSelector{MatchLabels: labels(owner)},
			Template:    tmpl,
			// One pod: replace it at once rather than wait for readiness.
			PodManagementPolicy: appsv1.ParallelPodManagement,
		},
	}
}

// claim is the control plane's storage. volume names a PV gantry made
// (storage class ""), or is empty: the default StorageClass provisions one.
func claim(ns, owner, volume string) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: dataClaim, Namespace: ns, Labels: labels(owner)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if volume != "" {
		c.Spec.StorageClassName = ptr.To("")
		c.Spec.VolumeName = volume
	}
	return c
}

// localVolume is a hostPath PersistentVolume in dir on the node that nodes
// labels select (the embedded host's one real node), bound to the claim of
// namespace ns only.
func localVolume(name, ns, owner, dir string, nodes map[string]string) *corev1.PersistentVolume {
	var match []corev1.NodeSelectorRequirement
	for _, k := range slices.Sorted(maps.Keys(nodes)) {
		match = append(match, corev1.NodeSelectorRequirement{Key: k, Operator: corev1.NodeSelectorOpIn, Values: []string{nodes[k]}})
	}
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels(owner)},
		Spec: corev1.PersistentVolumeSpec{
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              "",
			ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: ns, Name: dataClaim},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: dir, Type: ptr.To(corev1.HostPathDirectory)}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: match}}}},
		},
	}
}
