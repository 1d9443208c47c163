// Package nodetest is test support for tests on gantry's real node: images
// built locally (no registry), loaded with `gantry image load`.
package nodetest
