package sso

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"k8s.io/apimachinery/pkg/util/validation"

	"gantry.dev/gantry/internal/identity/rbac"
)

// claims merges the ID token's claims with userinfo's. The ID token wins;
// userinfo is asked only for what it lacks, because many providers leave
// profile, email or groups out of the ID token when they also issue an
// access token (OpenID Connect Core 5.4).
func (h *Handler) claims(ctx context.Context, prov *oidc.Provider, tok *oauth2.Token, idt *oidc.IDToken) (map[string]any, *pageError) {
	var m map[string]any
	if err := idt.Claims(&m); err != nil {
		return nil, upstreamError("its ID token's claims could not be read", err)
	}
	missing := func() bool {
		for _, k := range []string{h.cfg.UsernameClaim, h.cfg.GroupsClaim, "email"} {
			if _, ok := m[k]; !ok {
				return true
			}
		}
		return false
	}
	if !missing() || prov.UserInfoEndpoint() == "" {
		return m, nil
	}
	ui, err := prov.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return nil, upstreamError("its userinfo endpoint failed", err)
	}
	if ui.Subject != idt.Subject {
		// OpenID Connect Core 5.3.2: userinfo of another subject must not be used.
		return nil, upstreamError("its userinfo is about another subject than the ID token", nil)
	}
	var extra map[string]any
	if err := ui.Claims(&extra); err != nil {
		return nil, upstreamError("its userinfo could not be read", err)
	}
	for k, v := range extra {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	return m, nil
}

// login turns verified claims into a Login, or a page saying why not.
func (h *Handler) login(m map[string]any, idt *oidc.IDToken) (Login, *pageError) {
	raw, ok := m[h.cfg.UsernameClaim].(string)
	if !ok || strings.TrimSpace(raw) == "" {
		return Login{}, &pageError{status: http.StatusForbidden, title: "No user name from the identity provider",
			msg: fmt.Sprintf("The identity provider sent no %q claim (as a string) for this account, and gantry takes the user name from it. "+
				"An admin can set usernameClaim in the %s Secret to a claim the provider does send, or have the provider send this one "+
				"(it may need the profile scope).", h.cfg.UsernameClaim, SecretName)}
	}
	name, err := Username(h.cfg.UsernameClaim, raw)
	if err != nil {
		return Login{}, &pageError{status: http.StatusForbidden, title: "Not a valid gantry user name", msg: err.Error()}
	}
	groups, dropped := withoutReserved(groupsOf(m[h.cfg.GroupsClaim]))
	for _, g := range dropped {
		// The group's name only: it is not a secret, and it says what the
		// provider tried to give.
		h.log.Info("SSO: group from the identity provider dropped: its prefix is reserved (system:, or gantry's own)",
			"user", name, "group", g)
	}
	l := Login{Username: name, Groups: groups, Issuer: idt.Issuer, Subject: idt.Subject}
	l.Email, _ = m["email"].(string)
	l.Name, _ = m["name"].(string)
	if v, ok := m["email_verified"].(bool); ok && !v {
		// An unverified address may be anybody's: do not record it as the user's.
		l.Email = ""
	}
	return l, nil
}

// Username maps the value of claim to a gantry user name: lower case, and a
// Kubernetes object name (RFC 1123 subdomain), since it names the User.
func Username(claim, value string) (string, error) {
	name := strings.ToLower(strings.TrimSpace(value))
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", fmt.Errorf("the identity provider's %q claim is %q, which is not a valid gantry user name even in lower case: "+
			"a user name is at most 253 characters of a-z, 0-9, '-' and '.', starting and ending with a letter or digit "+
			"(an email address is not one). An admin can set usernameClaim in the %s Secret to a claim that holds such a name",
			claim, value, SecretName)
	}
	return name, nil
}

// groupsOf reads a groups claim: a list of strings, or one string.
func groupsOf(v any) []string {
	var out []string
	switch v := v.(type) {
	case string:
		out = []string{v}
	case []any:
		for _, g := range v {
			if s, ok := g.(string); ok {
				out = append(out, s)
			}
		}
	}
	out = clean(out)
	slices.Sort(out)
	return out
}

// withoutReserved splits an identity provider's groups into those gantry
// keeps and those it drops: Kubernetes' system: groups (system:masters is
// cluster-admin in every virtual cluster the user is impersonated into) and
// gantry's own prefixes (a group named gantry:project:prod:project-admin must
// grant nothing). Whoever runs the provider, or can name groups in it, must
// not be able to hand out either.
func withoutReserved(groups []string) (kept, dropped []string) {
	for _, g := range groups {
		if _, reserved := rbac.ReservedPrefix(g); reserved {
			dropped = append(dropped, g)
			continue
		}
		kept = append(kept, g)
	}
	return kept, dropped
}

// allowed says whether groups meets AllowedGroups.
func (h *Handler) allowed(groups []string) bool {
	if len(h.cfg.AllowedGroups) == 0 {
		return true
	}
	for _, g := range groups {
		if slices.Contains(h.cfg.AllowedGroups, g) {
			return true
		}
	}
	return false
}
