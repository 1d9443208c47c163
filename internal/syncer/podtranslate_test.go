package syncer

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var testTranslator = translator{vcluster: "vc1", vclusterNamespace: "p-team", hostNamespace: "host-ns"}

// admittedPod is a pod as the virtual API server stores it after admission: default
// service account, the kube-api-access projected volume, tolerations and all.
func admittedPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-7d4b9-abcde", Namespace: "shop", UID: "uid-1",
			Labels:          map[string]string{"app": "web", "pod-template-hash": "7d4b9"},
			Annotations:     map[string]string{"note": "hi", "kubectl.kubernetes.io/last-applied-configuration": "{}"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7d4b9", UID: "rs"}},
			Finalizers:      []string{"example.com/keep"},
		},
		Spec: corev1.PodSpec{
			ServiceAccountName: "default", DeprecatedServiceAccount: "default",
			PriorityClassName: "high", Priority: ptr.To[int32](1000),
			PreemptionPolicy: ptr.To(corev1.PreemptLowerPriority),
			Containers: []corev1.Container{{
				Name: "web", Image: "nginx:1",
				Env: []corev1.EnvVar{
					{Name: "COLOR", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
						LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "color"}}},
					{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
						LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}},
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
				},
				EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "extra"}}}},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "kube-api-access-xyz", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true},
					{Name: "conf", MountPath: "/etc/conf"}, {Name: "data", MountPath: "/data"},
				},
			}},
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox",
				EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "init-env"}}}}}},
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "registry"}},
			Volumes: []corev1.Volume{
				{Name: "kube-api-access-xyz", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
					DefaultMode: ptr.To[int32](0o644),
					Sources: []corev1.VolumeProjection{
						{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr.To[int64](3607), Path: "token"}},
						{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
							Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
						{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
							{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
					}}}},
				{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "conf"}}}},
				{Name: "certs", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}},
				{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}},
				{Name: "vault", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Audience: "vault", Path: "vault-token"}}}}}},
			},
			Tolerations: []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists,
				Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)}},
		},
	}
}

func TestHostPodSpecTranslation(t *testing.T) {
	opts := podOptions{tokenSecret: "web-7d4b9-abcde-x-shop-x-vc1-sa-token"}
	name := func(n string) string { return HostName(n, "shop", "vc1") }
	tests := []struct {
		name   string
		modify func(*corev1.Pod)
		opts   podOptions
		check  func(t *testing.T, h *corev1.Pod)
	}{
		{"metadata marks origin and drops virtual owners", nil, opts, func(t *testing.T, h *corev1.Pod) {
			if h.Name != "web-7d4b9-abcde-x-shop-x-vc1" || h.Namespace != "host-ns" {
				t.Errorf("name %s/%s", h.Namespace, h.Name)
			}
			for k, v := range map[string]string{"app": "web", LabelManagedBy: ManagedBySyncer, LabelVCluster: "vc1", LabelNamespace: "shop", LabelVClusterNamespace: "p-team"} {
				if h.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, h.Labels[k], v)
				}
			}
			for k, v := range map[string]string{AnnotationName: "web-7d4b9-abcde", AnnotationNamespace: "shop", AnnotationUID: "uid-1",
				AnnotationServiceAccount: "default", "note": "hi"} {
				if h.Annotations[k] != v {
					t.Errorf("annotation %s = %q, want %q", k, h.Annotations[k], v)
				}
			}
			if _, ok := h.Annotations["kubectl.kubernetes.io/last-applied-configuration"]; ok {
				t.Error("last-applied-configuration copied")
			}
			if len(h.OwnerReferences) > 0 || len(h.Finalizers) > 0 || h.UID != "" {
				t.Errorf("virtual owner references, finalizers or UID copied: %v %v %q", h.OwnerReferences, h.Finalizers, h.UID)
			}
		}},
		{"service account token becomes the host secret at the same path", nil, opts, func(t *testing.T, h *corev1.Pod) {
			src := h.Spec.Volumes[0].Projected.Sources
			want := corev1.VolumeProjection{Secret: &corev1.SecretProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: opts.tokenSecret},
				Items:                []corev1.KeyToPath{{Key: "kube-api-access-xyz.0", Path: "token"}}}}
			if !equality.Semantic.DeepEqual(src[0], want) {
				t.Errorf("token source = %+v", src[0])
			}
			if src[1].ConfigMap.Name != name("kube-root-ca.crt") {
				t.Errorf("CA configmap = %s", src[1].ConfigMap.Name)
			}
			if fp := src[2].DownwardAPI.Items[0].FieldRef.FieldPath; fp != "metadata.annotations['"+AnnotationNamespace+"']" {
				t.Errorf("namespace file reads %s", fp)
			}
			vault := h.Spec.Volumes[4].Projected.Sources[0]
			if vault.Secret == nil || vault.Secret.Items[0].Key != "vault.0" || vault.Secret.Items[0].Path != "vault-token" {
				t.Errorf("second token source = %+v", vault)
			}
			if m := h.Spec.Containers[0].VolumeMounts[0]; m.MountPath != "/var/run/secrets/kubernetes.io/serviceaccount" {
				t.Errorf("mount moved: %+v", m)
			}
		}},
		{"volumes point at host copies", nil, opts, func(t *testing.T, h *corev1.Pod) {
			v := h.Spec.Volumes
			if v[1].ConfigMap.Name != name("conf") || v[2].Secret.SecretName != name("tls") || v[3].PersistentVolumeClaim.ClaimName != name("data") {
				t.Errorf("volumes: %s %s %s", v[1].ConfigMap.Name, v[2].Secret.SecretName, v[3].PersistentVolumeClaim.ClaimName)
			}
		}},
		{"environment references point at host copies", nil, opts, func(t *testing.T, h *corev1.Pod) {
			c := h.Spec.Containers[0]
			if c.Env[0].ValueFrom.ConfigMapKeyRef.Name != name("settings") || c.Env[0].ValueFrom.ConfigMapKeyRef.Key != "color" {
				t.Errorf("configMapKeyRef = %+v", c.Env[0].ValueFrom.ConfigMapKeyRef)
			}
			if c.Env[1].ValueFrom.SecretKeyRef.Name != name("db") {
				t.Errorf("secretKeyRef = %+v", c.Env[1].ValueFrom.SecretKeyRef)
			}
			if c.Env[2].ValueFrom.FieldRef.FieldPath != "metadata.annotations['"+AnnotationName+"']" {
				t.Errorf("metadata.name reads %s", c.Env[2].ValueFrom.FieldRef.FieldPath)
			}
			if c.Env[3].ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
				t.Errorf("spec.nodeName rewritten to %s (node names are the same on both sides)", c.Env[3].ValueFrom.FieldRef.FieldPath)
			}
			if c.EnvFrom[0].SecretRef.Name != name("extra") || h.Spec.InitContainers[0].EnvFrom[0].ConfigMapRef.Name != name("init-env") {
				t.Errorf("envFrom not translated")
			}
			if h.Spec.ImagePullSecrets[0].Name != name("registry") {
				t.Errorf("image pull secret %s", h.Spec.ImagePullSecrets[0].Name)
			}
		}},
		{"no service account on the host by default", nil, opts, func(t *testing.T, h *corev1.Pod) {
			if h.Spec.ServiceAccountName != "" || h.Spec.DeprecatedServiceAccount != "" {
				t.Errorf("service account %q/%q", h.Spec.ServiceAccountName, h.Spec.DeprecatedServiceAccount)
			}
			if ptr.Deref(h.Spec.AutomountServiceAccountToken, true) {
				t.Error("automountServiceAccountToken is not false")
			}
			if ptr.Deref(h.Spec.EnableServiceLinks, true) {
				t.Error("enableServiceLinks is not false")
			}
		}},
		{"host copy of the service account when those are synced", nil, podOptions{syncServiceAccounts: true, tokenSecret: "t"}, func(t *testing.T, h *corev1.Pod) {
			if h.Spec.ServiceAccountName != name("default") || ptr.Deref(h.Spec.AutomountServiceAccountToken, true) {
				t.Errorf("service account %q automount %v", h.Spec.ServiceAccountName, h.Spec.AutomountServiceAccountToken)
			}
		}},
		{"scheduling is the host's", nil, opts, func(t *testing.T, h *corev1.Pod) {
			if h.Spec.NodeName != "" || h.Spec.PriorityClassName != "" || h.Spec.Priority != nil || h.Spec.PreemptionPolicy != nil {
				t.Errorf("node %q class %q priority %v preemption %v", h.Spec.NodeName, h.Spec.PriorityClassName, h.Spec.Priority, h.Spec.PreemptionPolicy)
			}
			if len(h.Spec.Tolerations) != 1 {
				t.Errorf("tolerations %v", h.Spec.Tolerations)
			}
			if h.Spec.Hostname != "web-7d4b9-abcde" {
				t.Errorf("hostname %q, want the virtual pod name", h.Spec.Hostname)
			}
		}},
		{"a node chosen inside becomes a requirement the host scheduler checks", func(p *corev1.Pod) {
			p.Spec.NodeName = "control-plane-1"
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{
					{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}},
					{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"b"}}}},
				}}}}
		}, opts, func(t *testing.T, h *corev1.Pod) {
			if h.Spec.NodeName != "" {
				t.Errorf("nodeName %q reaches the host: the pod would skip the scheduler and every taint", h.Spec.NodeName)
			}
			want := corev1.NodeSelectorRequirement{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"control-plane-1"}}
			for i, term := range h.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
				if len(term.MatchFields) != 1 || !equality.Semantic.DeepEqual(term.MatchFields[0], want) || len(term.MatchExpressions) != 1 {
					t.Errorf("term %d = %+v, want its zone and the node", i, term)
				}
			}
		}},
		{"a node chosen without affinity", func(p *corev1.Pod) { p.Spec.NodeName = "sim-node-2" }, opts, func(t *testing.T, h *corev1.Pod) {
			terms := h.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
			if h.Spec.NodeName != "" || len(terms) != 1 || terms[0].MatchFields[0].Values[0] != "sim-node-2" {
				t.Errorf("nodeName %q, terms %+v", h.Spec.NodeName, terms)
			}
		}},
		{"tolerations reach only node-condition taints", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations,
				corev1.Toleration{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
				corev1.Toleration{Operator: corev1.TolerationOpExists},
				corev1.Toleration{Key: "dedicated", Value: "team-b", Effect: corev1.TaintEffectNoSchedule},
				corev1.Toleration{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists})
		}, opts, func(t *testing.T, h *corev1.Pod) {
			if len(h.Spec.Tolerations) != 1 || h.Spec.Tolerations[0].Key != corev1.TaintNodeNotReady {
				t.Errorf("tolerations %+v", h.Spec.Tolerations)
			}
		}},
		{"ephemeral containers and ephemeral claims", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox"}}}
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
				VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"},
						Annotations: map[string]string{"volume.beta.kubernetes.io/storage-class": "fast", "pv.kubernetes.io/bind-completed": "yes"}},
					Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-team-b",
						Selector:   &metav1.LabelSelector{MatchLabels: map[string]string{"team": "b"}},
						DataSource: &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "seed"}}}}}})
		}, opts, func(t *testing.T, h *corev1.Pod) {
			if h.Spec.EphemeralContainers != nil {
				t.Error("ephemeral containers on a new host pod (the host refuses them on create)")
			}
			tmpl := h.Spec.Volumes[len(h.Spec.Volumes)-1].Ephemeral.VolumeClaimTemplate
			if tmpl.Spec.VolumeName != "" || tmpl.Spec.Selector != nil || tmpl.Spec.DataSource.Name != name("seed") ||
				ptr.Deref(tmpl.Spec.StorageClassName, "") != "fast" {
				t.Errorf("ephemeral claim %+v", tmpl.Spec)
			}
			if _, ok := tmpl.Annotations["pv.kubernetes.io/bind-completed"]; ok || tmpl.Labels["app"] != "web" {
				t.Errorf("ephemeral claim metadata %+v", tmpl.ObjectMeta)
			}
		}},
		{"direct volumes take credentials from the tenant's Secret", func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "ceph", VolumeSource: corev1.VolumeSource{CephFS: &corev1.CephFSVolumeSource{
				Monitors: []string{"10.0.0.9:6789"}, SecretRef: &corev1.LocalObjectReference{Name: "ceph-key"}}}})
		}, opts, func(t *testing.T, h *corev1.Pod) {
			if got := h.Spec.Volumes[len(h.Spec.Volumes)-1].CephFS.SecretRef.Name; got != name("ceph-key") {
				t.Errorf("cephfs secret %q names a host Secret the tenant does not own", got)
			}
		}},
		{"hostname and subdomain", func(p *corev1.Pod) {
			p.Name = "db-0.x"
			p.Spec.Subdomain = "db"
		}, opts, func(t *testing.T, h *corev1.Pod) {
			if h.Spec.Hostname != "db-0-x" || h.Spec.Subdomain != name("db") {
				t.Errorf("hostname %q subdomain %q", h.Spec.Hostname, h.Spec.Subdomain)
			}
		}},
		{"pod affinity is narrowed to the vcluster's namespaces", func(p *corev1.Pod) {
			sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
			p.Spec.Affinity = &corev1.Affinity{
				PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
					{LabelSelector: sel, TopologyKey: "kubernetes.io/hostname"},
					{LabelSelector: sel, TopologyKey: "zone", Namespaces: []string{"a", "b"}},
				}},
			}
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", LabelSelector: sel}}
		}, opts, func(t *testing.T, h *corev1.Pod) {
			terms := h.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
			if l := terms[0].LabelSelector.MatchLabels; l["app"] != "web" || l[LabelNamespace] != "shop" || l[LabelVCluster] != "vc1" {
				t.Errorf("term 0 selector %v", terms[0].LabelSelector)
			}
			if e := terms[1].LabelSelector.MatchExpressions; len(e) != 1 || e[0].Key != LabelNamespace || len(e[0].Values) != 2 || terms[1].Namespaces != nil {
				t.Errorf("term 1 %+v", terms[1])
			}
			if l := h.Spec.TopologySpreadConstraints[0].LabelSelector.MatchLabels; l[LabelNamespace] != "shop" {
				t.Errorf("spread selector %v", l)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := admittedPod()
			if tt.modify != nil {
				tt.modify(v)
			}
			before := v.DeepCopy()
			h := testTranslator.hostPod(v, tt.opts)
			if !equality.Semantic.DeepEqual(v, before) {
				t.Fatal("hostPod changed the virtual pod (a cached object)")
			}
			tt.check(t, h)
		})
	}
}

func TestPodRefsAndTokenSources(t *testing.T) {
	p := admittedPod()
	want := map[refKind][]string{
		refConfigMap: {"kube-root-ca.crt", "conf", "init-env", "settings"},
		refSecret:    {"tls", "registry", "db", "extra"},
		refPVC:       {"data"},
	}
	for kind, names := range want {
		if got := podRefs(p, kind); !equality.Semantic.DeepEqual(got, names) {
			t.Errorf("refs of kind %d = %v, want %v", kind, got, names)
		}
	}
	got := tokenSources(p)
	if len(got) != 2 || got[0] != (tokenSource{key: "kube-api-access-xyz.0"}) || got[1] != (tokenSource{key: "vault.0", audience: "vault"}) {
		t.Errorf("token sources %+v", got)
	}
}

// TestHostPodGolden pins the whole translation of a typical pod: testdata/pod.virtual.yaml
// in, testdata/pod.host.yaml out (go test -run Golden -update rewrites it).
func TestHostPodGolden(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "pod.virtual.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v corev1.Pod
	if err := yaml.UnmarshalStrict(in, &v); err != nil {
		t.Fatal(err)
	}
	h := testTranslator.hostPod(&v, podOptions{tokenSecret: tokenSecretName(HostName(v.Name, v.Namespace, "vc1"))})
	got, err := yaml.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "pod.host.yaml")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("translation changed; if intended, run `go test ./internal/syncer -run Golden -update`\ngot:\n%s", got)
	}
}
