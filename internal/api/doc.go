// Package api is gantry's HTTP layer: the one way in for every route the
// server has. A Router sits on Go's net/http ServeMux with its method-and-path
// patterns ("GET /api/v1/applications/{name}") and authenticates every route
// before its handler runs, unless the route was registered with Public, which
// takes the reason it needs no credentials (probes, a webhook that checks its
// own signature, the sign-in endpoints). The server's mux is not reachable
// otherwise, so a route cannot be added without authentication by mistake;
// Routes lists every route with how it is authenticated, and the platform's
// test walks that list.
//
// An authenticated handler receives the Caller: the authn.Identity and one
// check, Caller.Can, for "may this caller do this action on this object",
// which applies an access key's scope (a key for project a reaches nothing of
// project b, and nothing outside every project) and then RBAC, and refuses
// with 403 in one shape. Answers and errors keep the wire format of package
// jsonapi ({error, message, code}, Argo CD's), which the UI and the CLI
// parse; a handler returns an error and the router writes it. Decode and
// DecodeObject read request bodies with a size limit and say what is wrong
// with them.
//
// Package apitest holds the fixtures of API tests: a real API server, a
// router whose callers are named by token, and a client.
package api
