// Package controlplanepods runs the control planes of virtual clusters as pods
// of the host cluster, as vCluster does: per virtual cluster, in its host
// namespace, a Secret with its keys and flags (gantry makes them and keeps the
// admin credentials), a Service, a StatefulSet of one `gantry controlplane`
// pod, and its storage. Runtime is the vcluster.ControlPlanes the reconciler
// drives; Serve is what runs inside the pod.
package controlplanepods
