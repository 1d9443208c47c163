// Package userapi serves local users and teams over REST at /api/v1/users and
// /api/v1/teams, for the web UI and for the CLI of users without a host
// kubeconfig: list, get, create, update and delete them, and set passwords.
//
// Every call is authenticated, then authorized with RBAC's "users" and
// "teams" resources (object: the name): 401 without credentials, 403 when
// refused, and lists leave out what the caller may not get. Everyone may read
// their own user and change their own password (with the current one). Users
// and Teams are CRDs on the host; a password is stored only as the bcrypt
// hash in Secret gantry-user-<name> of gantry's namespace (package users) and
// never appears in an answer.
package userapi
