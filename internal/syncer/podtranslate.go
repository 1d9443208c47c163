package syncer

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// refKind is the kind of object a pod spec field names.
type refKind int

const (
	refConfigMap refKind = iota
	refSecret
	refPVC
)

// visitPodRefs calls fn with a pointer to every field of spec that names a ConfigMap,
// Secret or PersistentVolumeClaim of the pod's namespace. Translating names and
// finding which objects pods use are the same walk, so they cannot disagree.
func visitPodRefs(spec *corev1.PodSpec, fn func(kind refKind, name *string)) {
	visit := func(kind refKind, name *string) {
		if *name != "" {
			fn(kind, name)
		}
	}
	for i := range spec.Volumes {
		v := &spec.Volumes[i]
		switch {
		case v.ConfigMap != nil:
			visit(refConfigMap, &v.ConfigMap.Name)
		case v.Secret != nil:
			visit(refSecret, &v.Secret.SecretName)
		case v.PersistentVolumeClaim != nil:
			visit(refPVC, &v.PersistentVolumeClaim.ClaimName)
		case v.CSI != nil && v.CSI.NodePublishSecretRef != nil:
			visit(refSecret, &v.CSI.NodePublishSecretRef.Name)
		case directVolumeSecret(v) != nil:
			// Only level privileged lets these volumes through (hostpolicy.go);
			// their credentials then come from the tenant's own Secret.
			visit(refSecret, directVolumeSecret(v))
		case v.Projected != nil:
			for j := range v.Projected.Sources {
				s := &v.Projected.Sources[j]
				if s.ConfigMap != nil {
					visit(refConfigMap, &s.ConfigMap.Name)
				}
				if s.Secret != nil {
					visit(refSecret, &s.Secret.Name)
				}
			}
		}
	}
	for i := range spec.ImagePullSecrets {
		visit(refSecret, &spec.ImagePullSecrets[i].Name)
	}
	visitEnv(spec, func(env []corev1.EnvVar, envFrom []corev1.EnvFromSource) {
		for i := range env {
			if from := env[i].ValueFrom; from != nil {
				if from.ConfigMapKeyRef != nil {
					visit(refConfigMap, &from.ConfigMapKeyRef.Name)
				}
				if from.SecretKeyRef != nil {
					visit(refSecret, &from.SecretKeyRef.Name)
				}
			}
		}
		for i := range envFrom {
			if envFrom[i].ConfigMapRef != nil {
				visit(refConfigMap, &envFrom[i].ConfigMapRef.Name)
			}
			if envFrom[i].SecretRef != nil {
				visit(refSecret, &envFrom[i].SecretRef.Name)
			}
		}
	})
}

// directVolumeSecret points at the name of the Secret a direct storage volume
// takes its credentials from, or is nil.
func directVolumeSecret(v *corev1.Volume) *string {
	s := v.VolumeSource
	var ref *corev1.LocalObjectReference
	switch {
	case s.ISCSI != nil:
		ref = s.ISCSI.SecretRef
	case s.RBD != nil:
		ref = s.RBD.SecretRef
	case s.CephFS != nil:
		ref = s.CephFS.SecretRef
	case s.FlexVolume != nil:
		ref = s.FlexVolume.SecretRef
	case s.Cinder != nil:
		ref = s.Cinder.SecretRef
	case s.ScaleIO != nil:
		ref = s.ScaleIO.SecretRef
	case s.StorageOS != nil:
		ref = s.StorageOS.SecretRef
	case s.AzureFile != nil && s.AzureFile.SecretName != "":
		return &s.AzureFile.SecretName
	}
	if ref == nil {
		return nil
	}
	return &ref.Name
}

// visitEnv calls fn with the environment of every container: regular, init, ephemeral.
func visitEnv(spec *corev1.PodSpec, fn func(env []corev1.EnvVar, envFrom []corev1.EnvFromSource)) {
	for i := range spec.InitContainers {
		fn(spec.InitContainers[i].Env, spec.InitContainers[i].EnvFrom)
	}
	for i := range spec.Containers {
		fn(spec.Containers[i].Env, spec.Containers[i].EnvFrom)
	}
	for i := range spec.EphemeralContainers {
		fn(spec.EphemeralContainers[i].Env, spec.EphemeralContainers[i].EnvFrom)
	}
}

// podRefs returns the names of the objects of kind that pod uses.
func podRefs(pod *corev1.Pod, kind refKind) []string {
	var out []string
	// visitPodRefs only reads through the pointers here, so the cached pod is safe.
	visitPodRefs(&pod.Spec, func(k refKind, name *string) {
		if k == kind {
			out = append(out, *name)
		}
	})
	return out
}

// serviceAccountOf is the pod's service account; admission defaults it to "default".
func serviceAccountOf(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName != "" {
		return pod.Spec.ServiceAccountName
	}
	if pod.Spec.DeprecatedServiceAccount != "" {
		return pod.Spec.DeprecatedServiceAccount
	}
	return "default"
}

// tokenSource is one service-account token a pod mounts through a projected volume:
// the key of the host Secret that holds it and what the TokenRequest asks for.
type tokenSource struct {
	key      string
	audience string // empty: the virtual API server's own audiences
}

// visitTokenSources calls fn for every projected service-account token of spec, with
// the Secret key that replaces it.
func visitTokenSources(spec *corev1.PodSpec, fn func(src *corev1.VolumeProjection, key string)) {
	for i := range spec.Volumes {
		v := &spec.Volumes[i]
		if v.Projected == nil {
			continue
		}
		for j := range v.Projected.Sources {
			if v.Projected.Sources[j].ServiceAccountToken != nil {
				fn(&v.Projected.Sources[j], fmt.Sprintf("%s.%d", v.Name, j))
			}
		}
	}
}

// tokenSources lists the tokens pod needs, in a stable order.
func tokenSources(pod *corev1.Pod) []tokenSource {
	var out []tokenSource
	spec := pod.Spec.DeepCopy()
	visitTokenSources(spec, func(src *corev1.VolumeProjection, key string) {
		out = append(out, tokenSource{key: key, audience: src.ServiceAccountToken.Audience})
	})
	return out
}

// podOptions are the parts of a pod's translation that depend on the syncer's state.
type podOptions struct {
	// syncServiceAccounts: the pod runs as the host copy of its service account
	// (vCluster with serviceAccounts sync); otherwise as the namespace default.
	syncServiceAccounts bool
	// tokenSecret is the host Secret holding the pod's tokens (tokenSecretName).
	tokenSecret string
}

// hostPod is the host copy of virtual pod v.
func (t translator) hostPod(v *corev1.Pod, o podOptions) *corev1.Pod {
	h := &corev1.Pod{ObjectMeta: t.hostMeta(v)}
	h.Annotations[AnnotationServiceAccount] = serviceAccountOf(v)
	spec := v.Spec.DeepCopy()

	visitPodRefs(spec, func(_ refKind, name *string) { *name = t.name(*name, v.Namespace) })
	visitFieldRefs(spec, translateFieldRef)
	// The virtual service-account token cannot be issued by the host: the syncer asks
	// the virtual API server for it and mounts it from a host Secret at the same path.
	visitTokenSources(spec, func(src *corev1.VolumeProjection, key string) {
		path := src.ServiceAccountToken.Path
		*src = corev1.VolumeProjection{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: o.tokenSecret},
			Items:                []corev1.KeyToPath{{Key: key, Path: path}},
		}}
	})

	// Ephemeral containers cannot be set when a pod is created, and the syncer
	// does not add them later: `kubectl debug` reaches only the virtual pod.
	spec.EphemeralContainers = nil
	t.translateEphemeralVolumes(spec, v.Namespace)

	spec.ServiceAccountName, spec.DeprecatedServiceAccount = "", ""
	if o.syncServiceAccounts {
		spec.ServiceAccountName = t.name(serviceAccountOf(v), v.Namespace)
	}
	// The host must not mount a host token into a tenant's pod.
	spec.AutomountServiceAccountToken = ptr.To(false)
	// Service links would describe host Services, not the tenant's.
	spec.EnableServiceLinks = ptr.To(false)
	// Priority classes of the virtual cluster do not exist on the host, and the
	// host's Priority admission rejects a priority without its class.
	spec.PriorityClassName, spec.Priority, spec.PreemptionPolicy = "", nil, nil
	// The container's hostname stays the virtual pod's name, not the host name.
	if spec.Hostname == "" {
		spec.Hostname = hostnameOf(v.Name)
	}
	// The subdomain names a headless Service, which has a host name too.
	if spec.Subdomain != "" {
		spec.Subdomain = t.name(spec.Subdomain, v.Namespace)
	}
	// A node chosen inside (virtual node names are host node names) is kept, as a
	// scheduling requirement: the host scheduler checks its taints.
	requireNode(spec)
	t.podDNS(spec, v.Namespace)
	t.apiServerEnv(spec)
	spec.Tolerations, _ = t.hostTolerations(spec.Tolerations)
	t.placement.place(spec)
	t.translateAffinity(spec, v.Namespace)
	for i := range spec.TopologySpreadConstraints {
		c := &spec.TopologySpreadConstraints[i]
		c.LabelSelector = t.narrowSelector(c.LabelSelector, v.Namespace)
	}
	h.Spec = *spec
	return h
}

// translateEphemeralVolumes gives the claims of ephemeral volumes, which the
// host's ephemeral-volume controller creates from the pod, the metadata and spec
// rules of the syncer's own claim copies (hostClaimSpec). Their data sources
// were checked before (podRefusals).
func (t translator) translateEphemeralVolumes(spec *corev1.PodSpec, namespace string) {
	for i := range spec.Volumes {
		e := spec.Volumes[i].Ephemeral
		if e == nil || e.VolumeClaimTemplate == nil {
			continue
		}
		tmpl := e.VolumeClaimTemplate
		t.hostClaimSpec(&tmpl.Spec, tmpl.Annotations, namespace)
		tmpl.Labels, _ = hostKeys(tmpl.Labels)
		tmpl.Annotations, _ = hostKeys(tmpl.Annotations)
	}
}

// podNotes describes what the host copy of virtual pod v leaves out of what its
// tenant asked for (a Warning event tells them).
func (t translator) podNotes(v *corev1.Pod) []string {
	_, left := t.hostTolerations(v.Spec.Tolerations)
	for _, vol := range v.Spec.Volumes {
		if e := vol.Ephemeral; e != nil && e.VolumeClaimTemplate != nil {
			spec := e.VolumeClaimTemplate.Spec.DeepCopy()
			for _, l := range t.hostClaimSpec(spec, nil, v.Namespace) {
				left = append(left, fmt.Sprintf("ephemeral volume %q: %s", vol.Name, l))
			}
		}
	}
	return left
}

// hostnameOf turns a pod name (a DNS subdomain) into a hostname (a DNS label).
func hostnameOf(name string) string {
	h := strings.ReplaceAll(name, ".", "-")
	if len(h) > maxNameLength {
		h = h[:maxNameLength]
	}
	return strings.TrimRight(h, "-")
}

// translateAffinity narrows inter-pod (anti-)affinity terms to this virtual cluster's
// pods: on the host, every virtual namespace shares one namespace, so namespaces
// become a label requirement.
func (t translator) translateAffinity(spec *corev1.PodSpec, namespace string) {
	a := spec.Affinity
	if a == nil {
		return
	}
	term := func(in *corev1.PodAffinityTerm) {
		var nss []string
		switch {
		case len(in.Namespaces) > 0:
			nss = in.Namespaces
		case in.NamespaceSelector != nil:
			// Virtual namespaces' labels are not on the host; a namespace selector is
			// widened to every namespace of the virtual cluster.
		default:
			nss = []string{namespace}
		}
		in.LabelSelector = t.narrowSelector(in.LabelSelector, nss...)
		in.Namespaces, in.NamespaceSelector = nil, nil
	}
	if p := a.PodAffinity; p != nil {
		for i := range p.RequiredDuringSchedulingIgnoredDuringExecution {
			term(&p.RequiredDuringSchedulingIgnoredDuringExecution[i])
		}
		for i := range p.PreferredDuringSchedulingIgnoredDuringExecution {
			term(&p.PreferredDuringSchedulingIgnoredDuringExecution[i].PodAffinityTerm)
		}
	}
	if p := a.PodAntiAffinity; p != nil {
		for i := range p.RequiredDuringSchedulingIgnoredDuringExecution {
			term(&p.RequiredDuringSchedulingIgnoredDuringExecution[i])
		}
		for i := range p.PreferredDuringSchedulingIgnoredDuringExecution {
			term(&p.PreferredDuringSchedulingIgnoredDuringExecution[i].PodAffinityTerm)
		}
	}
}

// visitFieldRefs calls fn with every downward-API field reference in spec.
func visitFieldRefs(spec *corev1.PodSpec, fn func(*corev1.ObjectFieldSelector)) {
	items := func(files []corev1.DownwardAPIVolumeFile) {
		for i := range files {
			if files[i].FieldRef != nil {
				fn(files[i].FieldRef)
			}
		}
	}
	for i := range spec.Volumes {
		v := &spec.Volumes[i]
		if v.DownwardAPI != nil {
			items(v.DownwardAPI.Items)
		}
		if v.Projected != nil {
			for j := range v.Projected.Sources {
				if d := v.Projected.Sources[j].DownwardAPI; d != nil {
					items(d.Items)
				}
			}
		}
	}
	visitEnv(spec, func(env []corev1.EnvVar, _ []corev1.EnvFromSource) {
		for i := range env {
			if env[i].ValueFrom != nil && env[i].ValueFrom.FieldRef != nil {
				fn(env[i].ValueFrom.FieldRef)
			}
		}
	})
}

// translateFieldRef points downward-API references to the pod's own identity at the
// annotations that keep the virtual values: on the host, metadata.name is the long
// translated name and metadata.namespace the host namespace.
func translateFieldRef(f *corev1.ObjectFieldSelector) {
	byAnnotation := func(key string) { f.FieldPath = "metadata.annotations['" + key + "']" }
	switch f.FieldPath {
	case "metadata.name":
		byAnnotation(AnnotationName)
	case "metadata.namespace":
		byAnnotation(AnnotationNamespace)
	case "metadata.uid":
		byAnnotation(AnnotationUID)
	case "spec.serviceAccountName":
		byAnnotation(AnnotationServiceAccount)
	}
	// metadata.labels and metadata.annotations['…'] need nothing: the host pod carries
	// the user's labels and annotations (plus gantry's own).
}
