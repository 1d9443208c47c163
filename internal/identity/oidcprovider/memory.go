package oidcprovider

import (
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

const (
	// authRequestLifetime bounds a sign-in, from the redirect to the
	// provider until the code is exchanged.
	authRequestLifetime = 10 * time.Minute
	// maxAuthRequests bounds memory: anyone may start a sign-in.
	maxAuthRequests = 10000
	// sweepEvery is how often expired entries are dropped.
	sweepEvery = time.Minute
)

// authRequest is one sign-in in progress. The memory store hands out copies,
// so op and the sign-in endpoints never share one.
type authRequest struct {
	id           string
	clientID     string
	redirectURI  string
	state, nonce string
	scopes       []string
	responseType oidc.ResponseType
	responseMode oidc.ResponseMode
	challenge    *oidc.CodeChallenge
	prompt       []string
	maxAge       *uint
	loginHint    string
	created      time.Time
	csrf         string // the sign-in page's token, bound to this request

	// Set when the user has signed in.
	done     bool
	user     string
	authTime time.Time
	amr      []string
	code     string // once issued; one code per request

	// Loaded at the code exchange: the claims of the tokens.
	profile *Profile
}

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return a.amr }
func (a *authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.user }
func (a *authRequest) Done() bool                            { return a.done }
func (a *authRequest) userProfile() *Profile                 { return a.profile }

// LogValue keeps op's logs to what identifies the request: no state, nonce,
// code or CSRF token.
func (a *authRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", a.id), slog.String("client_id", a.clientID),
		slog.String("redirect_uri", a.redirectURI), slog.Bool("done", a.done))
}

func (a *authRequest) wants(prompt string) bool { return slices.Contains(a.prompt, prompt) }

// accessToken is what gantry remembers of an access token it issued, by
// its jti: for userinfo (which scopes), introspection and revocation. The
// token itself is a JWT that resource servers verify on their own.
type accessToken struct {
	user, client string
	scopes       []string
	expires      time.Time
	revoked      bool
}

var (
	errAuthRequestUnknown = errors.New("sign-in request unknown or expired: go back to the application and sign in again")
	errTooManyRequests    = errors.New("too many sign-ins in progress: try again in a few minutes")
)

// memory holds what need not survive a restart: sign-ins in progress, codes
// and access token records (a restart costs a new sign-in or a refresh).
type memory struct {
	now func() time.Time

	mu        sync.Mutex
	requests  map[string]*authRequest
	codes     map[string]string // code → request id
	tokens    map[string]*accessToken
	lastSweep time.Time
}

func newMemory(now func() time.Time) *memory {
	return &memory{now: now, requests: map[string]*authRequest{}, codes: map[string]string{},
		tokens: map[string]*accessToken{}}
}

func (m *memory) addRequest(a *authRequest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(false)
	if len(m.requests) >= maxAuthRequests {
		return errTooManyRequests
	}
	a.created = m.now()
	c := *a
	m.requests[a.id] = &c
	return nil
}

// request returns a copy of live request id.
func (m *memory) request(id string) (*authRequest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.liveLocked(id)
	if !ok {
		return nil, errAuthRequestUnknown
	}
	c := *a
	return &c, nil
}

func (m *memory) liveLocked(id string) (*authRequest, bool) {
	a, ok := m.requests[id]
	if !ok || !m.now().Before(a.created.Add(authRequestLifetime)) {
		return nil, false
	}
	return a, true
}

// complete marks request id signed in by user.
func (m *memory) complete(id, user string, amr []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.liveLocked(id)
	if !ok {
		return errAuthRequestUnknown
	}
	if a.done && a.user != user {
		return errors.New("this sign-in request was completed already: start again from the application")
	}
	a.done, a.user, a.authTime, a.amr = true, user, m.now(), amr
	return nil
}

// saveCode attaches code to request id; a request gets one code only, so a
// replayed callback cannot mint a second.
func (m *memory) saveCode(id, code string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.liveLocked(id)
	if !ok {
		return errAuthRequestUnknown
	}
	if a.code != "" {
		return errors.New("a code was issued for this sign-in already: start again from the application")
	}
	a.code = code
	m.codes[code] = id
	return nil
}

// takeCode consumes code and returns a copy of its request: a code works
// once, even when the exchange then fails.
func (m *memory) takeCode(code string) (*authRequest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.codes[code]
	delete(m.codes, code)
	if !ok {
		return nil, errors.New("code unknown, expired or used")
	}
	a, ok := m.liveLocked(id)
	if !ok || !a.done {
		return nil, errors.New("code unknown, expired or used")
	}
	c := *a
	return &c, nil
}

func (m *memory) deleteRequest(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a, ok := m.requests[id]; ok {
		delete(m.codes, a.code)
		delete(m.requests, id)
	}
}

func (m *memory) addToken(jti string, t accessToken) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(false)
	m.tokens[jti] = &t
}

// token returns the record of a live access token.
func (m *memory) token(jti string) (accessToken, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[jti]
	if !ok || t.revoked || !m.now().Before(t.expires) {
		return accessToken{}, false
	}
	return *t, true
}

// revokeToken revokes access token jti if it was issued to clientID; known
// reports whether jti is an access token at all.
func (m *memory) revokeToken(jti, clientID string) (known, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, known := m.tokens[jti]
	if !known {
		return false, false
	}
	if t.client != clientID {
		return true, false
	}
	t.revoked = true
	return true, true
}

// sweep drops expired requests, codes and tokens; unless forced, at most
// once a minute, since it runs on the way of new sign-ins.
func (m *memory) sweep() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(true)
}

func (m *memory) sweepLocked(force bool) {
	now := m.now()
	if !force && now.Sub(m.lastSweep) < sweepEvery {
		return
	}
	m.lastSweep = now
	for id, a := range m.requests {
		if !now.Before(a.created.Add(authRequestLifetime)) {
			delete(m.codes, a.code)
			delete(m.requests, id)
		}
	}
	for jti, t := range m.tokens {
		if !now.Before(t.expires) {
			delete(m.tokens, jti)
		}
	}
}
