// Package controlplane runs one Kubernetes control plane: kine on SQLite (or a SQL
// DSN) inside gantry's process, and kube-apiserver, kube-controller-manager and
// optionally kube-scheduler as supervised child processes. The embedded host cluster
// and every virtual cluster use it alike, so nothing here is global: each control
// plane has its own data directory, CA, keys, ports and kine instance.
//
// Start-up reads top to bottom: certificates → ports → kine → components → readiness.
// Component flags are data (defaults, then overrides) rendered in one place (flags.go).
package controlplane
