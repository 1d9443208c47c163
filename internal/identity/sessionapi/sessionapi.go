package sessionapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/sessions"
	"gantry.dev/gantry/internal/jsonapi"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1/session"

// RefreshCookie carries the UI's refresh token, only to this API's path.
const RefreshCookie = "gantry.refresh"

// Passwords checks a user's password.
type Passwords interface {
	Check(ctx context.Context, user, password string) (bool, error)
}

// Tokens issues, refreshes and revokes sessions (sessions.Manager).
type Tokens interface {
	Issue(ctx context.Context, sub sessions.Subject) (sessions.TokenPair, error)
	Refresh(ctx context.Context, refreshToken string) (sessions.TokenPair, error)
	Revoke(ctx context.Context, refreshToken string) error
}

// Limiter slows down guessing (sessions.Limiter).
type Limiter interface {
	Allow(user, ip string) (bool, time.Duration)
	Failed(user, ip string)
	Succeeded(user, ip string)
}

// API serves /api/v1/session on an api.Router (Register).
type API struct {
	Passwords Passwords
	Tokens    Tokens
	Limiter   Limiter
	Auth      *authn.Authenticator
	// Secure marks cookies Secure (gantry serves HTTPS).
	Secure bool
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Response is Argo CD's SessionResponse plus the refresh token and expiry.
type Response struct {
	Token        string    `json:"token"`
	RefreshToken string    `json:"refreshToken,omitempty"`
	ExpiresAt    time.Time `json:"expiresAt"`
}

// Register mounts the API. Its routes are public: they are how a caller
// gets credentials, or says whether it has any.
func (a *API) Register(r *api.Router) {
	r.Public("POST "+Prefix, "signs in: the username and password are the credentials", http.HandlerFunc(a.login))
	r.Public("DELETE "+Prefix, "signs out: revokes the refresh token sent and clears the cookies", http.HandlerFunc(a.logout))
	r.Public("POST "+Prefix+"/refresh", "swaps a refresh token (body or cookie) for new tokens", http.HandlerFunc(a.refresh))
	r.Public("GET "+Prefix+"/userinfo", "says whether the caller is signed in: {loggedIn: false} without credentials", http.HandlerFunc(a.userinfo))
}

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil || req.Username == "" {
		jsonapi.Error(w, http.StatusBadRequest, "send {\"username\": …, \"password\": …}")
		return
	}
	ip := sessions.SourceAddress(r)
	if ok, wait := a.Limiter.Allow(req.Username, ip); !ok {
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(wait.Seconds()))))
		jsonapi.Error(w, http.StatusTooManyRequests, fmt.Sprintf("too many failed logins: try again in %s", wait.Round(time.Second)))
		return
	}
	ok, err := a.Passwords.Check(r.Context(), req.Username, req.Password)
	if err != nil {
		jsonapi.Error(w, http.StatusInternalServerError, "checking the password failed")
		return
	}
	if !ok {
		a.Limiter.Failed(req.Username, ip)
		// One message for unknown users and wrong passwords: no user enumeration.
		jsonapi.Error(w, http.StatusUnauthorized, "invalid username or password")
		return
	}
	groups, err := a.Auth.Groups(r.Context(), req.Username)
	if err != nil {
		a.Limiter.Failed(req.Username, ip)
		jsonapi.Error(w, http.StatusUnauthorized, "invalid username or password")
		return
	}
	a.Limiter.Succeeded(req.Username, ip)
	pair, err := a.Tokens.Issue(r.Context(), sessions.Subject{User: req.Username, Groups: groups})
	if err != nil {
		jsonapi.Error(w, http.StatusInternalServerError, "issuing the session failed")
		return
	}
	a.SetCookies(w, pair)
	jsonapi.Write(w, http.StatusOK, Response{Token: pair.AccessToken, RefreshToken: pair.RefreshToken, ExpiresAt: pair.ExpiresAt})
}

func (a *API) refresh(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RefreshToken string `json:"refreshToken"`
	}
	_ = json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req)
	if req.RefreshToken == "" {
		if c, err := r.Cookie(RefreshCookie); err == nil {
			req.RefreshToken = c.Value
		}
	}
	if req.RefreshToken == "" {
		jsonapi.Error(w, http.StatusBadRequest, "send {\"refreshToken\": …} or the refresh cookie")
		return
	}
	pair, err := a.Tokens.Refresh(r.Context(), req.RefreshToken)
	if err != nil {
		jsonapi.Error(w, http.StatusUnauthorized, "refresh refused: log in again")
		return
	}
	a.SetCookies(w, pair)
	jsonapi.Write(w, http.StatusOK, Response{Token: pair.AccessToken, RefreshToken: pair.RefreshToken, ExpiresAt: pair.ExpiresAt})
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RefreshToken string `json:"refreshToken"`
	}
	_ = json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req)
	if c, err := r.Cookie(RefreshCookie); err == nil && req.RefreshToken == "" {
		req.RefreshToken = c.Value
	}
	if req.RefreshToken != "" {
		_ = a.Tokens.Revoke(r.Context(), req.RefreshToken)
	}
	for _, name := range []string{authn.CookieName, RefreshCookie} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: a.Secure, SameSite: http.SameSiteStrictMode})
	}
	jsonapi.Write(w, http.StatusOK, map[string]any{})
}

func (a *API) userinfo(w http.ResponseWriter, r *http.Request) {
	id, err := a.Auth.Authenticate(r)
	if err != nil {
		jsonapi.Write(w, http.StatusOK, map[string]any{"loggedIn": false})
		return
	}
	jsonapi.Write(w, http.StatusOK, map[string]any{"loggedIn": true, "username": id.User, "groups": id.Groups})
}

// StartSession gives the browser a gantry session for user, as a password
// login here does, in cookies only: for sign-ins that end elsewhere (the
// OpenID Connect provider's page, upstream SSO). The user's groups are read
// now; a disabled or deleted user gets none.
func (a *API) StartSession(w http.ResponseWriter, r *http.Request, user string) error {
	if a.Tokens == nil {
		return errors.New("gantry is still starting: try again in a moment")
	}
	groups, err := a.Auth.Groups(r.Context(), user)
	if err != nil {
		return err
	}
	pair, err := a.Tokens.Issue(r.Context(), sessions.Subject{User: user, Groups: groups})
	if err != nil {
		return fmt.Errorf("issuing the session: %w", err)
	}
	a.SetCookies(w, pair)
	return nil
}

// SetCookies gives the browser the session as HttpOnly cookies (also after an SSO login).
// The access token's cookie is SameSite=Lax, not Strict: an application sending
// the browser to gantry's OpenID Connect provider is another site, and with
// Strict the provider would not see that the user is signed in (no single
// sign-on). Lax still withholds it from cross-site POST, PUT, DELETE and from
// cross-site subrequests (fetch, WebSocket), so no other site can act with it;
// gantry's GET endpoints change nothing. The refresh cookie, sent only to the
// session API, stays Strict.
func (a *API) SetCookies(w http.ResponseWriter, p sessions.TokenPair) {
	http.SetCookie(w, &http.Cookie{Name: authn.CookieName, Value: p.AccessToken, Path: "/", Expires: p.ExpiresAt,
		HttpOnly: true, Secure: a.Secure, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: RefreshCookie, Value: p.RefreshToken, Path: Prefix, Expires: p.RefreshExpiresAt,
		HttpOnly: true, Secure: a.Secure, SameSite: http.SameSiteStrictMode})
}
