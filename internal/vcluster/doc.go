// Package vcluster runs virtual clusters: the VirtualCluster reconciler, and the
// runtime that keeps one control plane (package controlplane) and one syncer
// (package syncer) per virtual cluster inside gantry's process.
//
// The reconciler decides, the runtime does: Reconcile reads the VirtualCluster and
// the runtime's state, asks the runtime to start or stop, and writes status (the
// only writer of a VirtualCluster's status, through package statuswrite). The
// runtime tells the reconciler when a control plane becomes ready or fails, or its
// activity has moved on, through a channel the controller watches, so nothing
// polls. The reconciler sees the runtime through ControlPlanes, the sleeper
// through Activity; tests give both a fake.
package vcluster
