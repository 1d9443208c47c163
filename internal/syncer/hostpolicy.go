package syncer

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/podsecurity"
)

// What a tenant may not ask of the host, beyond Pod Security. A tenant is
// cluster-admin of their virtual cluster, so every field they write is theirs
// to choose; on the host, some fields reach beyond the virtual cluster: its
// storage, its credentials, its nodes. Each rule below either refuses the
// object (nothing of it is written on the host, and a Warning event with
// reason HostPolicy says why) or leaves the field out of the host copy (and a
// Warning event says what was left out), whichever keeps the tenant's intent
// honest: a pod is refused rather than run without the volume it asked for,
// while a toleration it may not have only narrows where it runs.

// directVolume names the volume types that reach storage directly, around the
// host's claims and storage classes: a server, a disk or a driver named in the
// pod, mounted by the node with the node's network and credentials. An nfs
// volume can name another team's export; gitRepo runs git on the node as root
// (CVE-2024-10220); flexVolume runs a driver binary there. Pod Security's
// baseline allows all of them; only the privileged level allows them here.
func directVolume(v *corev1.Volume) string {
	s := v.VolumeSource
	for _, t := range []struct {
		name string
		set  bool
	}{
		{"nfs", s.NFS != nil}, {"iscsi", s.ISCSI != nil}, {"rbd", s.RBD != nil}, {"cephfs", s.CephFS != nil},
		{"glusterfs", s.Glusterfs != nil}, {"flexVolume", s.FlexVolume != nil}, {"gitRepo", s.GitRepo != nil},
		{"fc", s.FC != nil}, {"cinder", s.Cinder != nil}, {"flocker", s.Flocker != nil},
		{"azureFile", s.AzureFile != nil}, {"azureDisk", s.AzureDisk != nil}, {"gcePersistentDisk", s.GCEPersistentDisk != nil},
		{"awsElasticBlockStore", s.AWSElasticBlockStore != nil}, {"vsphereVolume", s.VsphereVolume != nil},
		{"quobyte", s.Quobyte != nil}, {"photonPersistentDisk", s.PhotonPersistentDisk != nil},
		{"portworxVolume", s.PortworxVolume != nil}, {"scaleIO", s.ScaleIO != nil}, {"storageos", s.StorageOS != nil},
	} {
		if t.set {
			return t.name
		}
	}
	return ""
}

// podRefusals lists why the host must not run virtual pod v at Pod Security
// level level; none means it may.
func podRefusals(v *corev1.Pod, level podsecurity.Level) []string {
	var out []string
	privileged := level == platformv1alpha1.PodSecurityPrivileged
	for i := range v.Spec.Volumes {
		vol := &v.Spec.Volumes[i]
		switch {
		case directVolume(vol) != "" && !privileged:
			out = append(out, fmt.Sprintf("volume %q is a %s volume, which reaches storage directly, around the host's claims "+
				"and storage classes (use a PersistentVolumeClaim; only level privileged allows it)", vol.Name, directVolume(vol)))
		case vol.CSI != nil && !privileged:
			out = append(out, fmt.Sprintf("volume %q is an inline volume of CSI driver %q, which the driver fills with the host's "+
				"configuration and credentials (use a PersistentVolumeClaim; only level privileged allows it)", vol.Name, vol.CSI.Driver))
		case vol.Projected != nil:
			for _, src := range vol.Projected.Sources {
				if pc := src.PodCertificate; pc != nil {
					out = append(out, fmt.Sprintf("volume %q projects a certificate from signer %q, which the host would issue to "+
						"the host pod: a credential of the host cluster, never given to a virtual cluster's pods", vol.Name, pc.SignerName))
				}
			}
		case vol.Ephemeral != nil && vol.Ephemeral.VolumeClaimTemplate != nil:
			if why := claimSourceRefusal(&vol.Ephemeral.VolumeClaimTemplate.Spec, v.Namespace); why != "" {
				out = append(out, fmt.Sprintf("ephemeral volume %q: %s", vol.Name, why))
			}
		}
	}
	return out
}

// conditionTaints are the taints node lifecycle puts on unhealthy nodes; every
// pod tolerates some of them (admission adds not-ready and unreachable), and
// tolerating them reaches no node that is set apart.
var conditionTaints = []string{
	corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable, corev1.TaintNodeMemoryPressure,
	corev1.TaintNodeDiskPressure, corev1.TaintNodePIDPressure, corev1.TaintNodeNetworkUnavailable,
}

// hostTolerations splits a virtual pod's tolerations into those its host copy
// keeps and descriptions of those it leaves out. Taints set nodes apart on the
// host (control-plane nodes, a team's dedicated or GPU pool), so a tenant may
// tolerate only node-condition taints and the taint keys an administrator
// lets tenants tolerate (Options.TolerableTaints). Without its toleration a
// pod only runs in fewer places; the host scheduler says why it waits.
func (t translator) hostTolerations(in []corev1.Toleration) (kept []corev1.Toleration, left []string) {
	for _, tol := range in {
		switch {
		case tol.Key == "":
			left = append(left, "the toleration of every taint")
		case slices.Contains(conditionTaints, tol.Key) || slices.Contains(t.tolerable, tol.Key):
			kept = append(kept, tol)
		default:
			left = append(left, fmt.Sprintf("the toleration of taint %q", tol.Key))
		}
	}
	return kept, left
}

// requireNode turns a node chosen in the pod (spec.nodeName, which skips the
// scheduler and with it every taint) into a required node affinity for that
// node: the host scheduler still puts the pod there, if the node admits it.
func requireNode(spec *corev1.PodSpec) {
	node := spec.NodeName
	if node == "" {
		return
	}
	spec.NodeName = ""
	req := corev1.NodeSelectorRequirement{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}
	if spec.Affinity == nil {
		spec.Affinity = &corev1.Affinity{}
	}
	if spec.Affinity.NodeAffinity == nil {
		spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	sel := spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	if sel == nil || len(sel.NodeSelectorTerms) == 0 {
		spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{req}}}}
		return
	}
	// Terms are alternatives: the node is required in each.
	for i := range sel.NodeSelectorTerms {
		sel.NodeSelectorTerms[i].MatchFields = append(sel.NodeSelectorTerms[i].MatchFields, req)
	}
}

// claimSourceRefusal is why a claim spec (of a PersistentVolumeClaim or a pod's
// ephemeral volume) in virtual namespace namespace may not reach the host, or "".
// The syncer copies claims only, so a data source of another kind would name a
// host object the virtual cluster does not own; and nothing checks
// ReferenceGrants inside, so a claim clones only claims of its own namespace.
func claimSourceRefusal(spec *corev1.PersistentVolumeClaimSpec, namespace string) string {
	type source struct {
		group     *string
		kind      string
		name      string
		namespace *string
	}
	var sources []source
	if ds := spec.DataSource; ds != nil {
		sources = append(sources, source{ds.APIGroup, ds.Kind, ds.Name, nil})
	}
	if ds := spec.DataSourceRef; ds != nil {
		sources = append(sources, source{ds.APIGroup, ds.Kind, ds.Name, ds.Namespace})
	}
	for _, src := range sources {
		group := ""
		if src.group != nil {
			group = *src.group
		}
		if group != "" || src.kind != "PersistentVolumeClaim" {
			return fmt.Sprintf("its data source %s %q is not a PersistentVolumeClaim: the syncer copies only claims to the host, "+
				"where that name would be an object the virtual cluster does not own", strings.TrimPrefix(group+"/"+src.kind, "/"), src.name)
		}
		if src.namespace != nil && *src.namespace != "" && *src.namespace != namespace {
			return fmt.Sprintf("its data source is claim %q of namespace %q: a claim may clone only claims of its own namespace", src.name, *src.namespace)
		}
	}
	return ""
}

// storageClassAnnotation is the deprecated way to choose a claim's class, which
// host components still read first. It is a reserved key (hostkeys.go), so the
// host copy carries the class in spec.storageClassName instead.
const storageClassAnnotation = "volume.beta.kubernetes.io/storage-class"

// hostClaimSpec makes a claim spec of virtual namespace namespace fit for the
// host, in place: data-source claims become their host copies, and what would
// pick a host PersistentVolume by itself is left out (described in the result).
// annotations are the claim's own, for the deprecated storage-class annotation.
func (t translator) hostClaimSpec(spec *corev1.PersistentVolumeClaimSpec, annotations map[string]string, namespace string) (left []string) {
	if spec.StorageClassName == nil {
		if class, ok := annotations[storageClassAnnotation]; ok {
			spec.StorageClassName = &class
		}
	}
	// A tenant must not claim a host volume by name or by labels (another
	// team's, or one an administrator set aside); the host binds the claim.
	if spec.VolumeName != "" {
		left = append(left, fmt.Sprintf("volumeName %q (the host binds a volume of its own choosing)", spec.VolumeName))
		spec.VolumeName = ""
	}
	if spec.Selector != nil {
		left = append(left, "the volume selector (it would pick among the host's PersistentVolumes)")
		spec.Selector = nil
	}
	isClaim := func(group *string, kind string) bool {
		return kind == "PersistentVolumeClaim" && (group == nil || *group == "")
	}
	if ds := spec.DataSource; ds != nil && isClaim(ds.APIGroup, ds.Kind) {
		ds.Name = t.name(ds.Name, namespace)
	}
	if ds := spec.DataSourceRef; ds != nil && isClaim(ds.APIGroup, ds.Kind) {
		ds.Name, ds.Namespace = t.name(ds.Name, namespace), nil
	}
	return left
}

// Placement is where the host runs a virtual cluster's pods (Options.Placement).
type Placement struct {
	NodeSelector map[string]string
	Tolerations  []corev1.Toleration
}

// place adds the placement to a host pod's spec: its node selector over the
// tenant's (a tenant's selector on the same key would only make the pod
// unschedulable) and its tolerations beside those the tenant may keep.
func (p *Placement) place(spec *corev1.PodSpec) {
	if p == nil {
		return
	}
	if len(p.NodeSelector) > 0 && spec.NodeSelector == nil {
		spec.NodeSelector = map[string]string{}
	}
	for k, v := range p.NodeSelector {
		spec.NodeSelector[k] = v
	}
	for _, tol := range p.Tolerations {
		if !slices.ContainsFunc(spec.Tolerations, func(t corev1.Toleration) bool { return t.MatchToleration(&tol) }) {
			spec.Tolerations = append(spec.Tolerations, tol)
		}
	}
}
