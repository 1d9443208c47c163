package oidcprovider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Sign-ins in progress are Secrets, so that every replica of gantry can
// answer every step of one: the browser's steps and the application's code
// exchange may each reach another replica (a server-side relying party such
// as Argo CD calls from its own address, which no session affinity ties to
// the browser's).
//
//   - gantry-oidc-ar-<SHA-256 of the request id>: from the authorization
//     request until the code is issued; the sign-in marks it signed in.
//   - gantry-oidc-code-<SHA-256 of the code>: the same request once its code
//     is issued. Issuing the code deletes the first Secret, conditionally on
//     the version read, so a request yields one code; the exchange deletes
//     this one, conditionally on its UID and version, so of two replicas
//     redeeming one code concurrently exactly one succeeds. The code itself
//     is stored nowhere.
//
// Both hold the request as JSON under key "request" and expire
// authRequestLifetime after the authorization request.
const (
	// LabelAuthRequest marks sign-in Secrets ("true"), before and after the
	// code is issued; the sweep lists them by it.
	LabelAuthRequest = "gantry.dev/oidc-auth-request"
	// AuthRequestSecretType and AuthCodeSecretType are their types.
	AuthRequestSecretType corev1.SecretType = "gantry.dev/oidc-auth-request"
	AuthCodeSecretType    corev1.SecretType = "gantry.dev/oidc-code"

	authRequestSecretPrefix = "gantry-oidc-ar-"
	authCodeSecretPrefix    = "gantry-oidc-code-"
	keyRequest              = "request"

	// authRequestLifetime bounds a sign-in, from the redirect to the
	// provider until the code is exchanged.
	authRequestLifetime = 10 * time.Minute
	// maxAuthRequests bounds the sign-ins one replica has started and whose
	// Secrets may still exist: anyone may start a sign-in.
	maxAuthRequests = 10000
	// tidyEvery is how often a replica deletes the abandoned sign-ins it
	// started.
	tidyEvery = time.Minute
)

func authRequestSecretName(id string) string { return authRequestSecretPrefix + hashHex(id) }
func authCodeSecretName(code string) string  { return authCodeSecretPrefix + hashHex(code) }

// authRecord is what a Secret keeps of a sign-in: the request as the
// application sent it and, once the user has signed in, who and how.
type authRecord struct {
	ID           string              `json:"id"`
	ClientID     string              `json:"clientID"`
	RedirectURI  string              `json:"redirectURI"`
	State        string              `json:"state,omitempty"`
	Nonce        string              `json:"nonce,omitempty"`
	Scopes       []string            `json:"scopes,omitempty"`
	ResponseType oidc.ResponseType   `json:"responseType"`
	ResponseMode oidc.ResponseMode   `json:"responseMode,omitempty"`
	Challenge    *oidc.CodeChallenge `json:"challenge,omitempty"`
	Prompt       []string            `json:"prompt,omitempty"`
	MaxAge       *uint               `json:"maxAge,omitempty"`
	LoginHint    string              `json:"loginHint,omitempty"`
	Created      time.Time           `json:"created"`
	// CSRF is the sign-in page's token, bound to this request.
	CSRF string `json:"csrf"`

	// Set when the user has signed in.
	SignedIn bool      `json:"signedIn,omitempty"`
	User     string    `json:"user,omitempty"`
	AuthTime time.Time `json:"authTime,omitzero"`
	AMR      []string  `json:"amr,omitempty"`
}

func (r *authRecord) expires() time.Time { return r.Created.Add(authRequestLifetime) }

// authRequest is one sign-in in progress as read from its Secret; every read
// is a new value, so op and the sign-in endpoints never share one.
type authRequest struct {
	authRecord
	// secret is the object read, whose version guards the next write.
	secret *corev1.Secret
	// Loaded at the code exchange: the claims of the tokens.
	profile *Profile
}

func (a *authRequest) GetID() string                         { return a.ID }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return a.AMR }
func (a *authRequest) GetAudience() []string                 { return []string{a.ClientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.AuthTime }
func (a *authRequest) GetClientID() string                   { return a.ClientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.Challenge }
func (a *authRequest) GetNonce() string                      { return a.Nonce }
func (a *authRequest) GetRedirectURI() string                { return a.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.ResponseMode }
func (a *authRequest) GetScopes() []string                   { return a.Scopes }
func (a *authRequest) GetState() string                      { return a.State }
func (a *authRequest) GetSubject() string                    { return a.User }
func (a *authRequest) Done() bool                            { return a.SignedIn }
func (a *authRequest) userProfile() *Profile                 { return a.profile }

// LogValue keeps op's logs to what identifies the request: no state, nonce,
// code or CSRF token.
func (a *authRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", a.ID), slog.String("client_id", a.ClientID),
		slog.String("redirect_uri", a.RedirectURI), slog.Bool("done", a.SignedIn))
}

func (a *authRequest) wants(prompt string) bool { return slices.Contains(a.Prompt, prompt) }

var (
	errAuthRequestUnknown = errors.New("sign-in request unknown or expired: go back to the application and sign in again")
	errTooManyRequests    = errors.New("too many sign-ins in progress: try again in a few minutes")
	errCodeUnknown        = errors.New("code unknown, expired or used")
)

// authStore keeps sign-ins in progress as Secrets in namespace.
type authStore struct {
	client    client.Client
	namespace string
	now       func() time.Time
	started   *startedHere
}

func newAuthStore(c client.Client, namespace string, now func() time.Time) authStore {
	return authStore{client: c, namespace: namespace, now: now, started: &startedHere{ids: map[string]time.Time{}}}
}

// create stores a new sign-in; a.Created is set here.
func (s authStore) create(ctx context.Context, a *authRequest) error {
	a.Created = s.now()
	if !s.started.add(a.ID, a.expires()) {
		s.tidySoon(ctx, true)
		return errTooManyRequests
	}
	s.tidySoon(ctx, false)
	sec, err := s.secret(authRequestSecretName(a.ID), AuthRequestSecretType, &a.authRecord)
	if err == nil {
		err = s.client.Create(ctx, sec)
	}
	if err != nil {
		s.started.forget(a.ID)
		return fmt.Errorf("storing the sign-in: %w", err)
	}
	return nil
}

func (s authStore) secret(name string, typ corev1.SecretType, rec *authRecord) (*corev1.Secret, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.namespace, Labels: map[string]string{LabelAuthRequest: "true"}},
		Type:       typ,
		Data:       map[string][]byte{keyRequest: data},
	}, nil
}

// request returns live sign-in id; errAuthRequestUnknown when it is unknown,
// expired or has its code already.
func (s authStore) request(ctx context.Context, id string) (*authRequest, error) {
	if id == "" {
		return nil, errAuthRequestUnknown
	}
	a, err := s.read(ctx, authRequestSecretName(id), AuthRequestSecretType)
	if errors.Is(err, errNotStored) || err == nil && a.ID != id {
		return nil, errAuthRequestUnknown
	}
	if err != nil {
		return nil, fmt.Errorf("reading the sign-in: %w", err)
	}
	if !s.now().Before(a.expires()) {
		return nil, errAuthRequestUnknown
	}
	return a, nil
}

// errNotStored is a Secret that is not there, or not one of this store's.
var errNotStored = errors.New("not stored")

func (s authStore) read(ctx context.Context, name string, typ corev1.SecretType) (*authRequest, error) {
	sec := &corev1.Secret{}
	if err := s.client.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: name}, sec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, errNotStored
		}
		return nil, err
	}
	a := &authRequest{secret: sec}
	if sec.Type != typ || sec.Labels[LabelAuthRequest] != "true" || json.Unmarshal(sec.Data[keyRequest], &a.authRecord) != nil {
		return nil, errNotStored
	}
	return a, nil
}

// complete marks sign-in a signed in by user. The update carries the version
// read, so two replicas completing one sign-in at once do not both win: the
// second reads it again and is refused if another user signed in.
func (s authStore) complete(ctx context.Context, a *authRequest, user string, amr []string) error {
	first := true
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			fresh, err := s.request(ctx, a.ID)
			if err != nil {
				return err
			}
			*a = *fresh
		}
		first = false
		if a.SignedIn && a.User != user {
			return errors.New("this sign-in request was completed already: start again from the application")
		}
		a.SignedIn, a.User, a.AuthTime, a.AMR = true, user, s.now(), amr
		data, err := json.Marshal(&a.authRecord)
		if err != nil {
			return err
		}
		sec := a.secret.DeepCopy()
		sec.Data = map[string][]byte{keyRequest: data}
		if err := s.client.Update(ctx, sec); err != nil {
			if apierrors.IsNotFound(err) {
				return errAuthRequestUnknown
			}
			return err
		}
		a.secret = sec
		return nil
	})
}

// saveCode moves sign-in id to the Secret of its code. Deleting the request
// first, on the version read, makes one code per request: a replayed
// callback, on any replica, finds the request gone.
func (s authStore) saveCode(ctx context.Context, id, code string) error {
	a, err := s.request(ctx, id)
	if err != nil {
		return err
	}
	if !a.SignedIn {
		return errors.New("the user has not signed in yet: finish the sign-in first")
	}
	if err := s.client.Delete(ctx, a.secret, preconditions(a.secret)); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return errors.New("a code was issued for this sign-in already: start again from the application")
		}
		return fmt.Errorf("issuing the code: %w", err)
	}
	s.started.forget(id)
	sec, err := s.secret(authCodeSecretName(code), AuthCodeSecretType, &a.authRecord)
	if err == nil {
		err = s.client.Create(ctx, sec)
	}
	if err != nil {
		return fmt.Errorf("storing the code: %w", err)
	}
	return nil
}

// takeCode consumes code and returns its sign-in: a code works once, even
// when the exchange then fails, and on one replica only.
func (s authStore) takeCode(ctx context.Context, code string) (*authRequest, error) {
	if code == "" {
		return nil, errCodeUnknown
	}
	a, err := s.read(ctx, authCodeSecretName(code), AuthCodeSecretType)
	if errors.Is(err, errNotStored) {
		return nil, errCodeUnknown
	}
	if err != nil {
		return nil, fmt.Errorf("reading the code: %w", err)
	}
	if err := s.client.Delete(ctx, a.secret, preconditions(a.secret)); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil, errCodeUnknown // redeemed meanwhile, here or on another replica
		}
		return nil, fmt.Errorf("redeeming the code: %w", err)
	}
	if !a.SignedIn || !s.now().Before(a.expires()) {
		return nil, errCodeUnknown
	}
	return a, nil
}

// preconditions make a delete apply to exactly the object read: not to one
// made again under its name, nor to one changed since.
func preconditions(sec *corev1.Secret) client.Preconditions {
	var p client.Preconditions
	if sec.UID != "" {
		p.UID = &sec.UID
	}
	if sec.ResourceVersion != "" {
		p.ResourceVersion = &sec.ResourceVersion
	}
	return p
}

// sweep deletes expired sign-ins and codes, whichever replica started them;
// idempotent, so any replica may run it at any time.
func (s authStore) sweep(ctx context.Context) (int, error) {
	var list corev1.SecretList
	if err := s.client.List(ctx, &list, client.InNamespace(s.namespace), client.MatchingLabels{LabelAuthRequest: "true"}); err != nil {
		return 0, fmt.Errorf("listing sign-ins: %w", err)
	}
	now, n := s.now(), 0
	for i := range list.Items {
		sec := &list.Items[i]
		var rec authRecord
		if json.Unmarshal(sec.Data[keyRequest], &rec) == nil && now.Before(rec.expires()) {
			continue
		}
		if err := s.client.Delete(ctx, sec, preconditions(sec)); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
			return n, fmt.Errorf("deleting an expired sign-in: %w", err)
		}
		n++
	}
	return n, nil
}

// tidySoon deletes, in the background, the sign-ins this replica started
// that expired unused; at most every tidyEvery unless now, and one run at
// a time. It keeps the bound of startedHere true of Secrets, not only of
// memory, without waiting for the leader's hourly sweep.
func (s authStore) tidySoon(ctx context.Context, now bool) {
	ids, ok := s.started.expired(s.now(), now)
	if !ok {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		var deleted []string
		for _, id := range ids {
			sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: authRequestSecretName(id), Namespace: s.namespace}}
			if err := s.client.Delete(ctx, sec); client.IgnoreNotFound(err) == nil {
				deleted = append(deleted, id)
			}
		}
		s.started.tidied(deleted)
	}()
}

// startedHere is the sign-ins one replica started whose Secrets may still
// exist, by id, with when they expire. It bounds them (maxAuthRequests), and
// remembers the ones to delete when they expire unused.
type startedHere struct {
	mu       sync.Mutex
	ids      map[string]time.Time
	lastTidy time.Time
	tidying  bool
}

func (h *startedHere) add(id string, expires time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.ids) >= maxAuthRequests {
		return false
	}
	h.ids[id] = expires
	return true
}

// forget drops id, whose Secret is gone (it has its code).
func (h *startedHere) forget(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.ids, id)
}

// expired takes the expired ids for a tidy run, if one is due (or force)
// and none is running.
func (h *startedHere) expired(now time.Time, force bool) ([]string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.tidying || !force && now.Sub(h.lastTidy) < tidyEvery {
		return nil, false
	}
	h.lastTidy = now
	var ids []string
	for id, exp := range h.ids {
		if !now.Before(exp) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, false
	}
	h.tidying = true
	return ids, true
}

// tidied ends a tidy run: the ids whose Secrets it deleted are forgotten;
// the others are tried again next time.
func (h *startedHere) tidied(deleted []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range deleted {
		delete(h.ids, id)
	}
	h.tidying = false
}
