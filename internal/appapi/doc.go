// Package appapi serves gantry's Applications over REST at /api/v1/applications,
// with the paths and JSON shapes of Argo CD's API server (list, get, create,
// delete, sync, rollback, resource-tree, managed-resources, manifests), so that
// scripts written against Argo CD's REST API carry over. Applications are stored
// as CRDs; the answers that need the engine (tree, diff, manifests) come from an
// Engine interface the GitOps controller implements.
//
// An app lives in its project's namespace, p-<project>, and is authorized as
// that project's ("applications <action> <project>/<name>"). POST puts a new
// app there: the namespace follows spec.project (empty: the namespace's
// project, or "default", which is then written into spec.project); Argo CD's
// namespace "argocd" in a manifest is taken as "wherever it belongs", and any
// other namespace than the project's is refused (400). ?upsert=true replaces
// an existing app's spec only for a caller who may update it, and never moves
// it to another project.
//
// POST /api/v1/applications/{name}/sync and .../rollback record the
// authenticated caller as operation.initiatedBy.username (never what the body
// says) and the request's "infos" ([{"name", "value"}], Argo CD's sync field,
// also taken on rollback) as operation.info.
//
// GET /api/v1/applications/{name}?refresh=normal|hard asks the controller to
// compare the app again (annotation argocd.argoproj.io/refresh) and answers
// once it has. GET /api/v1/stream/applications is Argo CD's stream of changes
// as server-sent events ({"result": {"type": "ADDED"|"MODIFIED"|"DELETED",
// "application": {...}}}), fed by the manager's informer and filtered by RBAC
// like the list; optional ?projects=, ?name=, ?appNamespace=, ?selector=.
//
// GET /api/v1/applications/{name}/resource?namespace=&resourceName=&version=&kind=&group=
// answers Argo CD's {"manifest": "<the live object as JSON>"} for any node of
// the app's resource tree (managed or a child: ReplicaSets, Pods,
// EndpointSlices), read live from the app's destination cluster; an object
// outside the tree is 404, so the endpoint cannot read arbitrary objects, and
// a Secret's values are masked ("++++++++") as Argo CD does. GET
// /api/v1/applications/{name}/events?resourceNamespace=&resourceName=&resourceUID=
// answers {"items": [core/v1 Event...]} for one node of the tree (from the
// destination), or for the Application itself without a resource. Both need
// applications get on the app.
//
// GET /api/v1/applications/{name}/resource/actions (the same query as
// /resource) lists a node's actions ({"actions": [{"name", "disabled"}]}:
// restart, pause, resume, create-job; internal/gitops/actions); POST runs
// one, named by the body ("restart", or {"action": "restart"}), and needs
// applications action/<group>/<kind>/<action>, as in Argo CD. The change is
// written under the field manager gantry-action, so syncs leave it be.
package appapi
