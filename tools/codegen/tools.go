//go:build tools

// Package codegen pins controller-gen. It is its own module so that
// controller-tools and its dependencies never enter gantry's go.mod.
package codegen

import (
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
