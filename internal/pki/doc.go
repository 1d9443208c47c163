// Package pki makes and loads the keys and certificates of one Kubernetes control
// plane: its CA, the API server's serving certificate, client certificates for the
// admin and the components, and the service-account signing key.
//
// Keys are ECDSA P-256: generating them takes microseconds where RSA-2048 takes tens
// of milliseconds, which matters when a virtual cluster must be ready in about a second.
package pki
