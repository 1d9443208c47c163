// Package crds installs gantry's CustomResourceDefinitions (embedded from
// config/crd) into a cluster and waits until the API server serves them, so
// callers can create gantry objects right after Install returns.
package crds
