package syncer

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

// Which of a tenant's keys reach the host: instructions to host components and
// gantry's bookkeeping do not; what workloads select or read does.
func TestHostKey(t *testing.T) {
	for key, want := range map[string]bool{
		"app":                    true,
		"pod-template-hash":      true,
		"example.com/team":       true,
		"prometheus.io/scrape":   true,
		"notkubernetes.io/x":     true,
		"app.kubernetes.io/name": true,
		"kubectl.kubernetes.io/default-container":               true,
		"statefulset.kubernetes.io/pod-name":                    true,
		"apps.kubernetes.io/pod-index":                          true,
		"batch.kubernetes.io/job-completion-index":              true,
		"kubectl.kubernetes.io/last-applied-configuration":      false,
		"kubernetes.io/service-account.name":                    false,
		"kubernetes.io/service-account.uid":                     false,
		"pv.kubernetes.io/bind-completed":                       false,
		"volume.beta.kubernetes.io/storage-provisioner":         false,
		"volume.kubernetes.io/selected-node":                    false,
		"service.kubernetes.io/service-proxy-name":              false,
		"service.beta.kubernetes.io/aws-load-balancer-internal": false,
		"endpointslice.kubernetes.io/skip-mirror":               false,
		"endpointslice.kubernetes.io/managed-by":                false,
		"node.kubernetes.io/instance-type":                      false,
		"cluster-autoscaler.kubernetes.io/safe-to-evict":        false,
		"kubernetes.io/config.mirror":                           false,
		"k8s.io/anything":                                       false,
		"sigs.k8s.io/x":                                         false,
		"Node.Kubernetes.IO/x":                                  false,
		LabelManagedBy:                                          false,
		AnnotationPodToken:                                      false,
		"platform.gantry.dev/sleeping":                          false,
	} {
		if got := hostKey(key); got != want {
			t.Errorf("hostKey(%q) = %v, want %v", key, got, want)
		}
	}
}

// A tenant's Secret of type service-account-token, with the annotations that
// make a token controller mint a token for a service account, reaches the host
// as plain data: no host controller acts on it. Gantry's own annotations cannot
// be forged either.
func TestHostMetaLeavesReservedKeysInside(t *testing.T) {
	v := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tok", Namespace: "shop", UID: "u",
		Labels: map[string]string{"app": "web", "node.kubernetes.io/exclude-from-external-load-balancers": "", LabelVCluster: "other"},
		Annotations: map[string]string{"kubernetes.io/service-account.name": "default", "kubernetes.io/service-account.uid": "x",
			AnnotationPodToken: "true", annotationTokenRenew: "2999-01-01T00:00:00Z", "note": "hi"}},
		Type: corev1.SecretTypeServiceAccountToken}
	m := testTranslator.hostMeta(v)
	for _, k := range []string{"kubernetes.io/service-account.name", "kubernetes.io/service-account.uid", AnnotationPodToken, annotationTokenRenew} {
		if _, ok := m.Annotations[k]; ok {
			t.Errorf("annotation %s reached the host", k)
		}
	}
	if _, ok := m.Labels["node.kubernetes.io/exclude-from-external-load-balancers"]; ok || m.Labels[LabelVCluster] != "vc1" || m.Labels["app"] != "web" {
		t.Errorf("labels %v", m.Labels)
	}
	if m.Annotations["note"] != "hi" || m.Annotations[annotationManagedAnnotations] != "note" || m.Annotations[annotationManagedLabels] != "app" {
		t.Errorf("annotations %v", m.Annotations)
	}
	if hostSecretType(v.Type) != corev1.SecretTypeOpaque {
		t.Error("a service-account-token Secret keeps its type on the host")
	}
}

func TestPodRefusals(t *testing.T) {
	const (
		baseline   = platformv1alpha1.PodSecurityBaseline
		privileged = platformv1alpha1.PodSecurityPrivileged
		restricted = platformv1alpha1.PodSecurityRestricted
	)
	vol := func(name string, src corev1.VolumeSource) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: src})
		}
	}
	nfs := vol("data", corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "10.0.0.5", Path: "/exports/team-b"}})
	gitRepo := vol("src", corev1.VolumeSource{GitRepo: &corev1.GitRepoVolumeSource{Repository: "https://example.com/x.git"}})
	flex := vol("flex", corev1.VolumeSource{FlexVolume: &corev1.FlexVolumeSource{Driver: "example/driver"}})
	csi := vol("certs", corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "csi.cert-manager.io",
		VolumeAttributes: map[string]string{"csi.cert-manager.io/issuer-kind": "ClusterIssuer", "csi.cert-manager.io/dns-names": "api.internal"}}})
	podCert := vol("id", corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
		{PodCertificate: &corev1.PodCertificateProjection{SignerName: "kubernetes.io/kube-apiserver-client-pod", KeyType: "ED25519", CredentialBundlePath: "c"}}}}})
	snapshot := vol("scratch", corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{
		Spec: corev1.PersistentVolumeClaimSpec{DataSourceRef: &corev1.TypedObjectReference{APIGroup: ptr.To("snapshot.storage.k8s.io"),
			Kind: "VolumeSnapshot", Name: "nightly", Namespace: ptr.To("vc-p-b-v1")}}}}})
	for _, c := range []struct {
		name   string
		modify func(*corev1.Pod)
		level  platformv1alpha1.PodSecurityLevel
		want   string // in the refusal; "" when allowed
	}{
		{"an admitted pod", nil, restricted, ""},
		{"nfs, baseline", nfs, baseline, `volume "data" is a nfs volume, which reaches storage directly`},
		{"nfs, restricted", nfs, restricted, `volume "data" is a nfs volume`},
		{"nfs, privileged", nfs, privileged, ""},
		{"gitRepo, baseline", gitRepo, baseline, `volume "src" is a gitRepo volume`},
		{"flexVolume, baseline", flex, baseline, `volume "flex" is a flexVolume volume`},
		{"inline CSI, baseline", csi, baseline, `volume "certs" is an inline volume of CSI driver "csi.cert-manager.io"`},
		{"inline CSI, restricted", csi, restricted, `inline volume of CSI driver`},
		{"inline CSI, privileged", csi, privileged, ""},
		{"pod certificate, privileged", podCert, privileged, `volume "id" projects a certificate from signer "kubernetes.io/kube-apiserver-client-pod"`},
		{"ephemeral claim from a snapshot", snapshot, privileged, `ephemeral volume "scratch": its data source snapshot.storage.k8s.io/VolumeSnapshot "nightly"`},
		{"hostPath is Pod Security's to judge", vol("root", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}), baseline, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := admittedPod()
			if c.modify != nil {
				c.modify(p)
			}
			got := strings.Join(podRefusals(p, c.level), "; ")
			if (got == "") != (c.want == "") || !strings.Contains(got, c.want) {
				t.Errorf("refusals %q, want one saying %q", got, c.want)
			}
		})
	}
}

func TestHostTolerationsAndNotes(t *testing.T) {
	tr := testTranslator
	tr.tolerable = []string{"nvidia.com/gpu"}
	p := admittedPod()
	p.Spec.Tolerations = append(p.Spec.Tolerations,
		corev1.Toleration{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists},
		corev1.Toleration{Operator: corev1.TolerationOpExists},
		corev1.Toleration{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists})
	p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
		VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-team-b"}}}}})
	h := tr.hostPod(p, podOptions{tokenSecret: "t"})
	if len(h.Spec.Tolerations) != 2 || h.Spec.Tolerations[1].Key != "nvidia.com/gpu" {
		t.Errorf("tolerations %+v, want not-ready and the administrator's gpu", h.Spec.Tolerations)
	}
	notes := strings.Join(tr.podNotes(p), "; ")
	for _, want := range []string{`the toleration of taint "node-role.kubernetes.io/control-plane"`, "the toleration of every taint",
		`ephemeral volume "scratch": volumeName "pv-team-b"`} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes %q do not say %q", notes, want)
		}
	}
	if strings.Contains(notes, "gpu") || strings.Contains(notes, "not-ready") {
		t.Errorf("notes %q name an allowed toleration", notes)
	}
	if len(p.Spec.Tolerations) != 4 || p.Spec.Volumes[len(p.Spec.Volumes)-1].Ephemeral.VolumeClaimTemplate.Spec.VolumeName == "" {
		t.Error("the virtual pod was modified")
	}
}

// A placement puts every host pod on the nodes it names (the real nodes),
// over a tenant's selector of the same key, without dropping what the tenant
// may keep.
func TestPlacement(t *testing.T) {
	real := corev1.Toleration{Key: "gantry.dev/real", Operator: corev1.TolerationOpEqual, Value: "true", Effect: corev1.TaintEffectNoSchedule}
	tr := translator{vcluster: "vc", hostNamespace: "h",
		placement: &Placement{NodeSelector: map[string]string{"gantry.dev/real": "true"}, Tolerations: []corev1.Toleration{real}}}
	v := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop"}, Spec: corev1.PodSpec{
		NodeSelector: map[string]string{"gantry.dev/real": "false", "disk": "ssd"},
		Tolerations: []corev1.Toleration{
			{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
			{Key: "dedicated", Operator: corev1.TolerationOpExists},
		},
		Containers: []corev1.Container{{Name: "c", Image: "i"}}}}
	h := tr.hostPod(v, podOptions{})
	if h.Spec.NodeSelector["gantry.dev/real"] != "true" || h.Spec.NodeSelector["disk"] != "ssd" {
		t.Errorf("node selector %v; want gantry.dev/real=true over the tenant's, disk=ssd kept", h.Spec.NodeSelector)
	}
	var keys []string
	for _, tol := range h.Spec.Tolerations {
		keys = append(keys, tol.Key)
	}
	if !slices.Equal(keys, []string{"node.kubernetes.io/not-ready", "gantry.dev/real"}) {
		t.Errorf("tolerations %v; want the condition taint kept, the tenant's own left out, the real node's added", keys)
	}
	if h := (translator{vcluster: "vc", hostNamespace: "h"}).hostPod(v, podOptions{}); h.Spec.NodeSelector["gantry.dev/real"] != "false" {
		t.Errorf("without a placement the tenant's selector changed: %v", h.Spec.NodeSelector)
	}
}
