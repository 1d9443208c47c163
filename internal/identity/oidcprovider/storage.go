package oidcprovider

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"gantry.dev/gantry/internal/identity/sessions"
)

const (
	// AccessTokenLifetime and IDTokenLifetime are short: refresh tokens
	// carry sessions, and claims are re-read at every refresh.
	AccessTokenLifetime = 15 * time.Minute
	IDTokenLifetime     = 15 * time.Minute

	// ScopeGroups asks for the groups claim (teams, project roles).
	ScopeGroups = "groups"
)

// storage is op's Storage: the glue between the protocol and gantry's users,
// clients, keys and tokens.
type storage struct {
	issuer  string
	signer  *sessions.Signer
	users   Users
	clients ClientStore
	refresh refreshStore
	auth    authStore
	access  accessTokenStore
	now     func() time.Time
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*storage)(nil)
)

// profiled is a token request that carries the claims loaded for it.
type profiled interface{ userProfile() *Profile }

// --- clients

func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.clients.Get(ctx, id)
	if err != nil {
		if errors.Is(err, ErrClientNotFound) {
			return nil, err
		}
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return &opClient{c: c, issuer: s.issuer}, nil
}

func (s *storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	c, err := s.clients.Get(ctx, id)
	if err != nil {
		if errors.Is(err, ErrClientNotFound) {
			return err
		}
		return oidc.ErrServerError().WithParent(err)
	}
	if !c.checkSecret(secret) {
		return errors.New("wrong client secret")
	}
	return nil
}

// --- auth requests and codes

func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	c, err := s.clients.Get(ctx, req.ClientID)
	if err != nil {
		return nil, err
	}
	// op requires PKCE of public clients only at the token endpoint; refusing
	// here tells the developer at once, on their redirect URI.
	if c.Public && req.CodeChallenge == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription(
			"PKCE required: public clients must send code_challenge with code_challenge_method=S256")
	}
	if req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	a := &authRequest{authRecord: authRecord{
		ID: randomString(18), ClientID: req.ClientID, RedirectURI: req.RedirectURI,
		State: req.State, Nonce: req.Nonce, Scopes: slices.Clone(req.Scopes),
		ResponseType: req.ResponseType, ResponseMode: req.ResponseMode,
		Prompt: slices.Clone(req.Prompt), MaxAge: req.MaxAge, LoginHint: req.LoginHint,
		CSRF: randomString(32),
	}}
	if req.CodeChallenge != "" {
		a.Challenge = &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod}
	}
	if err := s.auth.create(ctx, a); err != nil {
		if errors.Is(err, errTooManyRequests) {
			return nil, oidc.ErrServerError().WithDescription("%s", err.Error())
		}
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return a, nil
}

func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	return s.auth.request(ctx, id)
}

// AuthRequestByCode consumes the code and loads the user's claims, refusing a
// user disabled since they signed in.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	a, err := s.auth.takeCode(ctx, code)
	if err != nil {
		return nil, err
	}
	p, err := s.users.Profile(ctx, a.User)
	if err != nil {
		return nil, fmt.Errorf("user %q cannot sign in: %w", a.User, err)
	}
	a.profile = &p
	return a, nil
}

func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	return s.auth.saveCode(ctx, id, code)
}

// DeleteAuthRequest has nothing left to delete: op calls it after a code
// exchange, and the request's Secret went when its code was issued
// (SaveAuthCode), the code's when it was redeemed (AuthRequestByCode).
// Requests that never get that far expire and are swept.
func (s *storage) DeleteAuthRequest(context.Context, string) error { return nil }

// --- tokens

func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	jti, exp, err := s.newAccessToken(ctx, req)
	if err != nil {
		return "", time.Time{}, oidc.ErrServerError().WithParent(err)
	}
	return jti, exp, nil
}

// newAccessToken records a new access token (its jti) for userinfo,
// introspection and revocation on any replica.
func (s *storage) newAccessToken(ctx context.Context, req op.TokenRequest) (jti string, exp time.Time, err error) {
	jti, exp = randomString(18), s.now().Add(AccessTokenLifetime)
	var clientID string
	if c, ok := req.(interface{ GetClientID() string }); ok {
		clientID = c.GetClientID()
	}
	err = s.access.create(ctx, jti, accessToken{user: req.GetSubject(), client: clientID, scopes: req.GetScopes(), expires: exp})
	return jti, exp, err
}

// CreateAccessAndRefreshTokens issues a refresh token after a code exchange
// (offline_access) or a refresh. A used refresh token is deleted first: if
// two requests race with the same token, the second finds it gone and fails.
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	now := s.now()
	var rec refreshRecord
	switch r := req.(type) {
	case *authRequest:
		rec = refreshRecord{user: r.User, client: r.ClientID, scopes: r.Scopes, amr: r.AMR,
			authTime: r.AuthTime, sessionExpires: r.AuthTime.Add(SessionMaxLifetime)}
	case *refreshRequest:
		rec = r.refreshRecord
		if err := s.refresh.delete(ctx, r.name); err != nil {
			if errors.Is(err, errRefreshNotFound) {
				return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("%s", err.Error())
			}
			return "", "", time.Time{}, oidc.ErrServerError().WithParent(err)
		}
	default:
		return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	rec.expires = now.Add(RefreshTokenLifetime)
	if rec.sessionExpires.Before(rec.expires) {
		rec.expires = rec.sessionExpires
	}
	token, err := s.refresh.create(ctx, rec)
	if err != nil {
		return "", "", time.Time{}, oidc.ErrServerError().WithParent(err)
	}
	jti, exp, err := s.newAccessToken(ctx, req)
	if err != nil {
		return "", "", time.Time{}, oidc.ErrServerError().WithParent(err)
	}
	return jti, token, exp, nil
}

// refreshRequest is a refresh token in use, with the user's current claims.
type refreshRequest struct {
	refreshRecord
	profile Profile
}

func (r *refreshRequest) GetAMR() []string                 { return r.amr }
func (r *refreshRequest) GetAudience() []string            { return []string{r.client} }
func (r *refreshRequest) GetAuthTime() time.Time           { return r.authTime }
func (r *refreshRequest) GetClientID() string              { return r.client }
func (r *refreshRequest) GetScopes() []string              { return r.scopes }
func (r *refreshRequest) GetSubject() string               { return r.user }
func (r *refreshRequest) SetCurrentScopes(scopes []string) { r.scopes = scopes }
func (r *refreshRequest) userProfile() *Profile            { return &r.profile }

// TokenRequestByRefreshToken refuses expired tokens and users who are
// disabled or deleted now, and reads the claims the new tokens carry.
func (s *storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	rec, err := s.refresh.get(ctx, token)
	if err != nil {
		return nil, err
	}
	p, err := s.users.Profile(ctx, rec.user)
	if err != nil {
		return nil, fmt.Errorf("user %q may not refresh: %w", rec.user, err)
	}
	return &refreshRequest{refreshRecord: rec, profile: p}, nil
}

// TerminateSession (end_session with an id_token_hint) ends the client's
// offline sessions of the user. The browser's gantry session is gantry's,
// not this client's, and stays.
func (s *storage) TerminateSession(ctx context.Context, user, clientID string) error {
	if user == "" || clientID == "" {
		return nil
	}
	_, err := s.refresh.deleteWhere(ctx, clientID, func(r refreshRecord) bool { return r.user == user })
	return err
}

func (s *storage) GetRefreshTokenInfo(ctx context.Context, _ string, token string) (string, string, error) {
	rec, err := s.refresh.get(ctx, token)
	if errors.Is(err, errRefreshNotFound) {
		return "", "", op.ErrInvalidRefreshToken
	}
	if err != nil {
		return "", "", err
	}
	return rec.user, rec.name, nil
}

// RevokeToken revokes an access token (by jti) or a refresh token (by the
// name GetRefreshTokenInfo returned), if it was issued to clientID. Unknown
// tokens are fine (RFC 7009 section 2.2).
func (s *storage) RevokeToken(ctx context.Context, tokenOrID, user, clientID string) *oidc.Error {
	switch known, err := s.access.revoke(ctx, tokenOrID, clientID); {
	case errors.Is(err, errOtherClient):
		return oidc.ErrInvalidClient().WithDescription("%s", err.Error())
	case err != nil:
		return oidc.ErrServerError().WithParent(err)
	case known:
		return nil
	}
	// op resolved a refresh token to its name through GetRefreshTokenInfo,
	// and then passes the user; otherwise (a wrong token_type_hint) this may
	// be the token itself.
	name := refreshSecretName(tokenOrID)
	if user != "" {
		name = tokenOrID
	}
	if !strings.HasPrefix(name, refreshSecretPrefix) {
		return nil // an access token whose record expired and was swept
	}
	rec, err := s.refresh.getByName(ctx, name)
	if errors.Is(err, errRefreshNotFound) {
		return nil
	}
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	if rec.client != clientID {
		return oidc.ErrInvalidClient().WithDescription("the token was issued to another client")
	}
	if err := s.refresh.delete(ctx, rec.name); err != nil && !errors.Is(err, errRefreshNotFound) {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

// --- claims

// profileFor returns the claims loaded with the request, or reads them.
func (s *storage) profileFor(ctx context.Context, req any, user string) (Profile, error) {
	if pr, ok := req.(profiled); ok && pr.userProfile() != nil {
		return *pr.userProfile(), nil
	}
	return s.users.Profile(ctx, user)
}

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest does it.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's claims.
func (s *storage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	p, err := s.profileFor(ctx, req, req.GetSubject())
	if err != nil {
		return err
	}
	setUserinfo(info, req.GetSubject(), p, scopes)
	return nil
}

// SetUserinfoFromToken answers /userinfo with the scopes the token was
// issued with and the user's current claims.
func (s *storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, jti, subject, _ string) error {
	t, ok, err := s.access.get(ctx, jti)
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	if !ok || t.user != subject {
		return oidc.ErrAccessDenied().WithDescription("access token unknown, expired or revoked: refresh it")
	}
	p, err := s.users.Profile(ctx, subject)
	if err != nil {
		return oidc.ErrAccessDenied().WithDescription("user disabled or deleted")
	}
	setUserinfo(info, subject, p, t.scopes)
	return nil
}

func setUserinfo(info *oidc.UserInfo, user string, p Profile, scopes []string) {
	info.Subject = user
	for _, scope := range scopes {
		switch scope {
		case oidc.ScopeProfile:
			info.PreferredUsername = user
			info.Name = p.Name
		case oidc.ScopeEmail:
			// No email_verified: gantry never checks that an address is
			// the user's, so relying parties must not match accounts on it.
			info.Email = p.Email
		case ScopeGroups:
			info.AppendClaims("groups", groupsOf(p))
		}
	}
	if info.PreferredUsername == "" {
		// Every gantry token names its user; relying parties show this one.
		info.PreferredUsername = user
	}
}

func groupsOf(p Profile) []string {
	if p.Groups == nil {
		return []string{}
	}
	return p.Groups
}

// SetIntrospectionFromToken answers introspection for the client the access
// token was issued to; to others the token is inactive.
func (s *storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, jti, subject, clientID string) error {
	t, ok, err := s.access.get(ctx, jti)
	if err != nil {
		return err
	}
	if !ok || t.user != subject || t.client != clientID {
		return errors.New("token inactive")
	}
	p, err := s.users.Profile(ctx, subject)
	if err != nil {
		return err
	}
	info := new(oidc.UserInfo)
	setUserinfo(info, subject, p, t.scopes)
	resp.SetUserInfo(info)
	resp.Scope, resp.ClientID, resp.Audience = t.scopes, t.client, []string{t.client}
	resp.TokenType, resp.Expiration, resp.Issuer = oidc.BearerToken, oidc.FromTime(t.expires), s.issuer
	resp.Username = subject
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetPrivateClaimsFromRequest fills the access token (a JWT resource servers
// read): the username, the scopes, and groups and email when asked for.
func (s *storage) GetPrivateClaimsFromRequest(ctx context.Context, req op.TokenRequest, _ []string) (map[string]any, error) {
	p, err := s.profileFor(ctx, req, req.GetSubject())
	if err != nil {
		return nil, err
	}
	claims := map[string]any{"preferred_username": req.GetSubject(), "scope": strings.Join(req.GetScopes(), " ")}
	if slices.Contains(req.GetScopes(), ScopeGroups) {
		claims["groups"] = groupsOf(p)
	}
	if slices.Contains(req.GetScopes(), oidc.ScopeEmail) && p.Email != "" {
		claims["email"] = p.Email
	}
	return claims, nil
}

// JWT profile grants and client assertions are not offered.
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("private_key_jwt is not supported: authenticate with the client secret")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("the JWT profile grant is not supported")
}

// --- keys

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	id, key := s.signer.SigningKey()
	return signingKey{id: id, key: key}, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.ES256}, nil
}

// KeySet publishes every key the Signer keeps, so tokens signed before a
// rotation keep verifying until they expire.
func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	pubs := s.signer.PublicKeys()
	keys := make([]op.Key, 0, len(pubs))
	for _, k := range pubs {
		keys = append(keys, publicKey{id: k.ID, key: k.Key})
	}
	return keys, nil
}

func (s *storage) Health(context.Context) error { return nil }

type signingKey struct {
	id  string
	key any
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.id }

type publicKey struct {
	id  string
	key any
}

func (k publicKey) ID() string                         { return k.id }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return k.key }

// --- op.Client

// opClient is a registered client as op sees it.
type opClient struct {
	c      RegisteredClient
	issuer string
}

func (c *opClient) GetID() string                    { return c.c.ID }
func (c *opClient) RedirectURIs() []string           { return c.c.RedirectURIs }
func (c *opClient) PostLogoutRedirectURIs() []string { return c.c.PostLogoutRedirectURIs }

// ApplicationType is "web" for every client: op then matches redirect URIs
// exactly (for "native" it would ignore loopback ports) and accepts http for
// the code flow, which registration allows only to loopback addresses.
func (c *opClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }

func (c *opClient) AuthMethod() oidc.AuthMethod {
	if c.c.Public {
		return oidc.AuthMethodNone // op then insists on PKCE
	}
	return oidc.AuthMethodBasic // client_secret_post works too (Config.AuthMethodPost)
}

func (c *opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *opClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *opClient) LoginURL(id string) string {
	return c.issuer + "/login?authRequestID=" + url.QueryEscape(id)
}
func (c *opClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (c *opClient) IDTokenLifetime() time.Duration      { return IDTokenLifetime }
func (c *opClient) DevMode() bool                       { return false }
func (c *opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *opClient) IsScopeAllowed(scope string) bool { return scope == ScopeGroups }

// IDTokenUserinfoClaimsAssertion puts profile and email claims in the ID
// token too: Argo CD and kube-apiserver read the ID token, not /userinfo.
func (c *opClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *opClient) ClockSkew() time.Duration             { return 0 }
