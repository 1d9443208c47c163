// Package diff compares the desired state of one object (rendered from git) with
// its live state (read from the cluster) the way Argo CD does, and shows the
// difference as `argocd app diff` would: the live object and the live object as
// it would be after a sync, both normalised, and a unified diff between them.
//
// The comparison asks "would applying desired change live?", not "are they
// equal?": only the fields desired sets are compared, so what the API server
// and controllers add (status, uid, resourceVersion, managedFields, defaulted
// fields such as spec.strategy or dnsPolicy) is never a difference. Lists of
// objects merge by key where strategic merge patch does (containers by name,
// ports by containerPort...), read from the Go types of the built-in kinds;
// other lists compare by position.
//
// Removals need to know what was applied before. When live carries it (the
// managed fields of gantry's field manager, or kubectl's last-applied-
// configuration annotation) a field that was applied before and is gone from
// desired is a difference, as in kubectl's three-way merge. Without it the
// comparison is two-way, like gitops-engine's TwoWayDiff: map fields missing
// from desired are left alone, but a keyed list is taken as complete.
//
// Normalisation before comparing, as Argo CD does:
//   - the last-applied-configuration annotation, managedFields and status are
//     left out of both sides;
//   - desired is converted through its Go type when the kind is built in, so
//     "1000m" compares equal to "1" and 1.0 to 1 (fields the conversion would
//     add are dropped again, and an object with fields unknown to its type is
//     compared as written, so a typo shows as a difference);
//   - numbers compare by value, empty maps and lists equal absent ones;
//   - Options.IgnoreDifferences (JSON pointers), Options.JQPathExpressions
//     (run with gojq, as in Argo CD) and the fields owned by
//     Options.ManagedFieldsManagers are removed from both sides;
//   - Secret stringData is folded into data, and Secret values are masked in the
//     output (never in the comparison).
//
// RespectIgnored serves Argo CD's RespectIgnoreDifferences sync option: it
// gives desired the live values of the fields the rules ignore.
//
// The package knows nothing of the API server, the application or its sync
// options: the caller picks the objects and the ignore rules (IgnoreRule).
package diff
