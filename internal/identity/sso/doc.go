// Package sso logs users in to gantry through an upstream OpenID Connect
// identity provider (Dex, Keycloak, Okta, Entra ID, GitLab…), as Argo CD's
// oidc.config does.
//
// The flow is the authorization code flow with PKCE (S256), a state and a
// nonce. Between the redirect to the provider and its callback, gantry keeps
// nothing server-side: state, nonce, PKCE verifier and the page to return to
// travel in one short-lived cookie sealed with AES-GCM under a key made at
// start. A forged or replayed cookie does not open; a restart of gantry in
// those ten minutes only means the user clicks "Sign in" again.
//
// A verified upstream login becomes a gantry User (see [Provision]): its
// upstream groups are recorded on User.Spec.Groups, which is how Teams map SSO
// groups (Team.Spec.Groups ∩ User.Spec.Groups). The user is bound to the
// upstream account (issuer and subject annotations) on first login, so
// another upstream account with the same name cannot take it over, and a
// local user with a password is never taken over by SSO.
//
// [Handler] serves one configuration. [Service] is how gantry runs it: a
// reconciler rebuilds the Handler whenever the Secret gantry-sso changes,
// and the routes under Prefix serve the current one; a verified login
// starts gantry's session and moves on to where the sign-in was going:
//
//	s := &sso.Service{Client: c, Namespace: ns, ExternalURL: ext,
//		StartSession: sessionAPI.StartSession, Continue: provider.ContinueUpstream}
//	s.Register(router)
//	err := s.SetupWithManager(mgr)
//
// The provider need not be reachable when gantry starts: discovery is retried
// on the next login, and until it succeeds the login page says so.
package sso
