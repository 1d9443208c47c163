// Package crd holds the generated CustomResourceDefinition manifests
// (regenerate with hack/generate.sh) and embeds them so gantry can install
// them without reading files at run time.
package crd

import "embed"

// FS holds every CRD manifest in this directory, one CRD per file.
//
//go:embed *.yaml
var FS embed.FS
