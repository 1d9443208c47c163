// Package sessions holds the credentials side of gantry's identity: password
// hashing and policy, the ES256 signing keys and their rotation, session
// tokens (a short-lived JWT access token plus a rotating opaque refresh
// token), access keys for the CLI and CI, and the login rate limiter.
//
// It is a leaf package on purpose: it knows nothing of HTTP routing, CRDs or
// the UI, so the API server, the OIDC provider and the CLI login can all use
// it, and it can be tested without an API server. Persistence goes through
// two narrow interfaces, [KeyStore] and [RefreshStore]; this package ships an
// in-memory implementation of each and a Secret-backed [SecretKeyStore].
//
// Secrets never leave through errors or String methods: error messages name
// the problem and the fix, and types holding secret material redact
// themselves when printed.
//
// The pieces and how the caller wires them:
//
//	signer, err := sessions.NewSigner(ctx, keyStore, sessions.SignerOptions{})
//	mgr, err := sessions.NewManager(signer, sessions.NewMemoryRefreshStore(nil),
//		sessions.Config{Issuer: "https://gantry.example.com"})
//	pair, err := mgr.Issue(ctx, sessions.Subject{User: "alice", Groups: groups})
//	claims, err := mgr.Verify(ctx, pair.AccessToken)
//
// and, while gantry runs, an [Upkeep] (a controller-runtime Runnable) that
// rotates the keys when due and collects expired refresh tokens hourly.
package sessions
