// Package sessionapi serves /api/v1/session as Argo CD's API server does: POST
// logs in with a user name and password and returns a token (also set as an
// HttpOnly cookie for the UI), DELETE logs out, GET /userinfo says who is logged
// in; POST /refresh trades a refresh token for new tokens. Failed logins are
// rate-limited per user and per client address.
package sessionapi
