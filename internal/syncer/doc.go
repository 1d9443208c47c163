// Package syncer copies the workloads of one virtual cluster into its host cluster,
// where they are really scheduled, and reports what happens there back inside, the
// way vCluster's syncer does.
//
// A virtual cluster is a kube-apiserver and a kube-controller-manager without a
// scheduler or nodes: Deployments become ReplicaSets become Pods inside it, and the
// syncer takes it from there.
//
//   - Virtual → host: Pods, the ConfigMaps, Secrets and ServiceAccounts they use,
//     PersistentVolumeClaims, Services and the Endpoints of selector-less Services are
//     written into one host namespace under translated names (HostName) and labels
//     that say which virtual cluster they belong to.
//   - Host → virtual: pod status, node binding (with a virtual Node mirroring the
//     host node), PVC and load-balancer status, and optionally events.
//
// A tenant is cluster-admin of their virtual cluster, so everything the syncer
// copies is attacker-controlled. Each host copy is checked where it is made:
// pods against Pod Security (podsecurity.go) and the host's own rules
// (hostpolicy.go: no direct storage, inline CSI or host certificates; a node
// chosen by name goes through the host scheduler; only node-condition
// tolerations); Services without addresses or ports the tenant chose; Endpoints
// only towards the virtual cluster's own pods; claims without a chosen volume or
// a foreign data source; no label or annotation in Kubernetes' or gantry's
// domains (hostkeys.go); and no host object that is another virtual object's copy
// (HostName can map two names to one). What is refused or left out is told to
// the tenant in a Warning event on the virtual object (warnings.go).
//
// Everything is level-based: each kind has a work queue fed by informers on both
// clusters, and its reconcile function compares the two sides and writes the
// difference. Restarting Run therefore converges without duplicates, and nothing
// polls: the only timers are token renewal and the slow retry of a key blocked by a
// foreign host object. The syncer only ever writes host objects that carry its labels; a foreign
// object in the way is reported and left alone. Nothing here is global, so one
// process can run a syncer per virtual cluster.
//
// Files, roughly in reading order:
//
//	syncer.go        Run: clients, informers, the table of per-kind controllers
//	options.go       Options and the kinds ToHost accepts
//	names.go         HostName and the labels and annotations on host objects
//	translate.go     metadata and selectors (pure)
//	hostkeys.go      which label and annotation keys reach the host (pure)
//	podtranslate.go  pod specs (pure)
//	hostpolicy.go    what a tenant may not ask of the host: volumes, nodes,
//	                 tolerations, claim sources (pure)
//	hostwrite.go     the guards every host write goes through: ownership, origin
//	warnings.go      Warning events and held pods: what was refused, and why
//	podsecurity.go   Pod Security and host-policy refusals of pods
//	queue.go         work queues and retry policy
//	pods.go          pod lifecycle, both directions
//	podstatus.go     host -> virtual: binding and pod status
//	tokens.go        service-account tokens from the virtual API server
//	nodes.go         virtual Nodes mirroring host nodes
//	configmaps.go, secrets.go, serviceaccounts.go, pvcs.go, services.go,
//	endpoints.go, events.go   one kind each
//	cleanup.go       Cleanup
package syncer
