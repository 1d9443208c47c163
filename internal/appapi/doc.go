// Package appapi serves gantry's Applications over REST at /api/v1/applications,
// with the paths and JSON shapes of Argo CD's API server (list, get, create,
// delete, sync, rollback, resource-tree, managed-resources, manifests), so that
// scripts written against Argo CD's REST API carry over. Applications are stored
// as CRDs; the answers that need the engine (tree, diff, manifests) come from an
// Engine interface the GitOps controller implements.
package appapi
