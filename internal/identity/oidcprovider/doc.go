// Package oidcprovider makes gantry an OpenID Connect provider, so Argo CD,
// kubelogin, the virtual clusters' kube-apiservers and any other relying
// party can sign users in with their gantry account.
//
// The protocol is zitadel's op package; this package supplies what op leaves
// to its user: storage, the server side of the sign-in page and client
// registration. The page itself is the web UI's login page
// (/login?oidc=<auth request id>), so that there is one sign-in to gantry.
//
//   - Clients are Secrets gantry-oidc-client-<id> in gantry's namespace,
//     managed through [ClientStore] and /api/v1/oidc-clients ([ClientsAPI]).
//     Confidential clients get a generated secret, shown once and stored only
//     as its SHA-256; public clients have none and must use PKCE (S256).
//   - Sign-ins in progress (auth requests, then their codes) are Secrets for
//     ten minutes at most, named after the SHA-256 of the request id, then
//     of the code (never the code), so any replica of gantry answers any
//     step; a code is redeemed by deleting its Secret on the version read,
//     so it works once across replicas. Each replica bounds the sign-ins it
//     starts and deletes its abandoned ones; [Provider.Sweep] deletes every
//     expired one.
//   - Refresh tokens survive restarts: one Secret each, named after the
//     token's SHA-256 (never the token), rotated on every use, 24 hours each
//     and at most seven days after the password was typed.
//   - Access and ID tokens are ES256 JWTs signed with the session keys of
//     [sessions.Signer]; its rotation shows in the JWKS at once, and the
//     keys it still keeps stay published there. Each access token has a
//     record, a Secret named after the SHA-256 of its jti, for userinfo,
//     introspection and revocation (which deletes it) on any replica.
//   - Claims are read from [Users] whenever a token is made, so a refresh
//     carries the user's current groups and a disabled user cannot refresh.
//
// A sign-in takes the browser's gantry session when there is one (single
// sign-on, unless the application asks prompt=login), and otherwise sends the
// browser to the page, which reads the sign-in from …/login/request and posts
// the username and password as JSON to …/login: rate limited like every other
// gantry login, and answered with where the browser goes next. Passwords, client secrets and tokens
// never appear in logs, errors or answers other than the one that issues them.
package oidcprovider
