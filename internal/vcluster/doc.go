// Package vcluster runs virtual clusters: the VirtualCluster reconciler, and the
// runtime that keeps one control plane (package controlplane) and one syncer
// (package syncer) per virtual cluster inside gantry's process.
//
// The reconciler decides, the runtime does: Reconcile reads the VirtualCluster and
// the runtime's state, asks the runtime to start or stop, and writes status. The
// runtime tells the reconciler when a control plane becomes ready or fails, through
// a channel the controller watches, so nothing polls.
package vcluster
