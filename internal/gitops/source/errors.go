package source

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Reason classifies a failure so the controller can put it on an
// Application condition as a typed reason, and decide whether retrying helps.
type Reason string

// Reasons a repository operation fails for. They are CamelCase so they can
// be used as a Kubernetes condition reason as they are.
const (
	// ReasonUnreachable: the network or the host did not answer. Transient.
	ReasonUnreachable Reason = "RepositoryUnreachable"
	// ReasonNotFound: the host answered that there is no such repository.
	ReasonNotFound Reason = "RepositoryNotFound"
	// ReasonAuthRequired: the host wants credentials and none were configured.
	ReasonAuthRequired Reason = "AuthenticationRequired"
	// ReasonAuthFailed: credentials were configured and the host refused them.
	ReasonAuthFailed Reason = "AuthenticationFailed"
	// ReasonHostKey: the SSH host key is unknown or changed.
	ReasonHostKey Reason = "HostKeyVerificationFailed"
	// ReasonInvalidCredentials: a repository Secret cannot be used as written
	// (a private key that does not parse, a bad known_hosts line).
	ReasonInvalidCredentials Reason = "InvalidCredentials"
	// ReasonRevisionNotFound: no branch, tag or commit has that name.
	ReasonRevisionNotFound Reason = "RevisionNotFound"
	// ReasonCheckoutFailed: the commit could not be written out safely, for
	// example because a symlink points outside the repository.
	ReasonCheckoutFailed Reason = "CheckoutFailed"
)

// Error is a failure worth showing to the user who owns the Application: its
// message names the repository (with any password redacted), what went
// wrong and what to do about it.
type Error struct {
	Reason  Reason
	RepoURL string
	Message string
	Err     error
}

func (e *Error) Error() string { return e.Message }

func (e *Error) Unwrap() error { return e.Err }

// Transient reports whether retrying later may succeed without anyone
// changing a Secret, a URL or a revision.
func (e *Error) Transient() bool { return e.Reason == ReasonUnreachable }

// ReasonOf returns the Reason of the first *Error in err's chain, or "" when
// err is not one (for example a canceled context).
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func newError(reason Reason, repoURL string, cause error, format string, args ...any) *Error {
	return &Error{Reason: reason, RepoURL: redactURL(repoURL), Message: fmt.Sprintf(format, args...), Err: cause}
}

func revisionNotFound(repoURL, revision string) *Error {
	return newError(ReasonRevisionNotFound, repoURL, nil,
		"revision %q not found in %s: no branch, tag or commit by that name", revision, redactURL(repoURL))
}

// classify turns an error from a go-git transport into an *Error that says
// what the user should do. withCreds tells whether credentials were sent, to
// tell "add a Secret" from "fix the Secret"; project is whose app asked, for
// the advice. A canceled context is returned as it is: the caller went away,
// the repository did nothing wrong.
func classify(err error, repoURL string, withCreds bool, project string) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	u := redactURL(repoURL)
	msg := err.Error()
	switch {
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return newError(ReasonRevisionNotFound, repoURL, err,
			"repository %s is empty: push a first commit", u)
	case errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed),
		strings.Contains(msg, "unable to authenticate"):
		if withCreds {
			return newError(ReasonAuthFailed, repoURL, err,
				"repository %s refused the configured credentials: %v; check the username and password (or token) or sshPrivateKey in its repository Secret", u, err)
		}
		scope := ""
		if project != "" {
			// Saying whether another project has a credential would tell
			// this one what the other reads: the advice is the same either way.
			scope = fmt.Sprintf(" usable by project %s (data key project: %s, or none for all projects; the credentials of other projects are never used)", project, project)
		}
		return newError(ReasonAuthRequired, repoURL, err,
			"repository %s needs credentials: add a repository Secret (label argocd.argoproj.io/secret-type: repository or repo-creds) with username and password, or sshPrivateKey%s", u, scope)
	case strings.Contains(msg, "knownhosts: key mismatch"):
		return newError(ReasonHostKey, repoURL, err,
			"repository %s presented an SSH host key that differs from the one in known hosts: %v; if the host really changed its key, update argocd-ssh-known-hosts-cm", u, err)
	case strings.Contains(msg, "knownhosts: key is unknown"):
		return newError(ReasonHostKey, repoURL, err,
			"repository %s presented an SSH host key that is not in known hosts: add the host's key to argocd-ssh-known-hosts-cm, or set insecure: \"true\" in the repository Secret", u)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return newError(ReasonNotFound, repoURL, err,
			"repository %s not found: check the URL (some hosts also answer \"not found\" for private repositories when no credentials are sent)", u)
	}
	return newError(ReasonUnreachable, repoURL, err,
		"repository %s unreachable: %v; check the URL and the network", u, err)
}
