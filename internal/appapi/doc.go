// Package appapi serves gantry's Applications over REST at /api/v1/applications,
// with the paths and JSON shapes of Argo CD's API server (list, get, create,
// delete, sync, rollback, resource-tree, managed-resources, manifests), so that
// scripts written against Argo CD's REST API carry over. Applications are stored
// as CRDs; the answers that need the engine (tree, diff, manifests) come from an
// Engine interface the GitOps controller implements.
//
// GET /api/v1/applications/{name}?refresh=normal|hard asks the controller to
// compare the app again (annotation argocd.argoproj.io/refresh) and answers
// once it has. GET /api/v1/stream/applications is Argo CD's stream of changes
// as server-sent events ({"result": {"type": "ADDED"|"MODIFIED"|"DELETED",
// "application": {...}}}), fed by the manager's informer and filtered by RBAC
// like the list; optional ?projects=, ?name=, ?appNamespace=, ?selector=.
package appapi
