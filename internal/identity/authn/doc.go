// Package authn answers "who is calling?" for every gantry endpoint: a session
// token (JWT from /api/v1/session, in the Authorization header or the UI's
// cookie), or the local admin token in the data directory. It also works out
// a user's groups — their own, their teams', and the project-role groups
// gantry:project:<p>:<role> — which both RBAC and the virtual clusters'
// impersonation use.
package authn
