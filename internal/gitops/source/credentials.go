package source

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Argo CD's Secret label and its two values for Git credentials
// (operator-manual/declarative-setup.md, "Repositories" and "Repository
// Credentials").
const (
	LabelSecretType      = "argocd.argoproj.io/secret-type"
	SecretTypeRepository = "repository"
	SecretTypeRepoCreds  = "repo-creds"
)

// Credentials are the connection settings of one repository Secret
// (label value "repository") or one credential template (label value
// "repo-creds"), with Argo CD's data keys noted on each field.
type Credentials struct {
	URL     string // url: the repository URL, or a URL prefix for repo-creds
	Type    string // type: "git" (the default); "helm" and "oci" are not Git
	Name    string // name: a display name
	Project string // project: the gantry project whose apps may use them; "" for all

	Username string // username
	Password string // password: a password or an access token
	// SSHPrivateKey (sshPrivateKey) is a PEM private key; passphrases are
	// not supported, as in Argo CD.
	SSHPrivateKey string
	// Insecure (insecure: "true") skips TLS verification for HTTPS and host
	// key verification for SSH. insecureIgnoreHostKey, from Argo CD's older
	// argocd-cm format, sets it too.
	Insecure bool
	// ForceHTTPBasicAuth (forceHttpBasicAuth) is accepted for compatibility;
	// go-git always sends basic auth when a username or password is set.
	ForceHTTPBasicAuth bool
	TLSClientCertData  string // tlsClientCertData: PEM client certificate
	TLSClientCertKey   string // tlsClientCertKey: PEM key of that certificate

	// Source is "namespace/name" of the Secret these came from, for messages.
	Source string
}

// hasAuth reports whether the credentials carry anything to authenticate
// with; a repository Secret without it takes its credentials from the
// matching repo-creds template, as in Argo CD.
func (c Credentials) hasAuth() bool {
	return c.Username != "" || c.Password != "" || c.SSHPrivateKey != "" || c.TLSClientCertData != ""
}

// withAuthFrom returns c with the authentication fields of t.
func (c Credentials) withAuthFrom(t Credentials) Credentials {
	c.Username, c.Password, c.SSHPrivateKey = t.Username, t.Password, t.SSHPrivateKey
	c.TLSClientCertData, c.TLSClientCertKey = t.TLSClientCertData, t.TLSClientCertKey
	c.Source = c.Source + " + " + t.Source
	if t.Project != "" {
		c.Project = t.Project
	}
	return c
}

// CredentialSet answers which credentials a repository URL uses. Build it
// with NewCredentialSet; it is immutable, so rebuild and swap it when the
// Secrets change.
//
// Credentials belong to one project (data key project) or to all: a Secret
// with project X is used only for the apps and ApplicationSets of project X,
// one without a project for everybody's. The Secrets live in gantry-system,
// which only administrators may write, so a global credential is always an
// administrator's decision.
type CredentialSet struct {
	repos     map[string]Credentials // by credentialKey(url) + "\x00" + project
	templates []template             // longest path first, a project's before global ones
}

// template is a repo-creds Secret with the location its url covers.
type template struct {
	Credentials
	loc location
}

// NewCredentialSet reads the Git repository Secrets and repo-creds templates
// among secrets; Secrets without the label, or of a type other than git,
// are ignored. It returns a usable set even when some Secrets are invalid:
// the error then lists each one skipped and why.
func NewCredentialSet(secrets []corev1.Secret) (*CredentialSet, error) {
	set := &CredentialSet{repos: map[string]Credentials{}}
	// Sorted, so that which of two Secrets for one URL wins does not depend
	// on list order.
	sorted := slices.Clone(secrets)
	slices.SortFunc(sorted, func(a, b corev1.Secret) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	var errs []error
	for i := range sorted {
		s := &sorted[i]
		kind := s.Labels[LabelSecretType]
		if kind != SecretTypeRepository && kind != SecretTypeRepoCreds {
			continue
		}
		c, err := credentialsFromSecret(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if c.Type != "" && c.Type != "git" {
			continue
		}
		if kind == SecretTypeRepoCreds {
			loc, ok := parseLocation(c.URL)
			if !ok {
				errs = append(errs, fmt.Errorf("secret %s: url %s is not a repository URL prefix a template can match: "+
					"write scheme://host[:port][/path] (https, http, ssh or git) or user@host:path, without \".\" or \"..\" segments or %%-escapes", c.Source, c.URL))
				continue
			}
			set.templates = append(set.templates, template{c, loc})
			continue
		}
		key := credentialKey(c.URL) + "\x00" + c.Project
		if prev, dup := set.repos[key]; dup {
			errs = append(errs, fmt.Errorf("secret %s: url %s is already configured by secret %s%s, which wins: delete one of them",
				c.Source, c.URL, prev.Source, forProject(c.Project)))
			continue
		}
		set.repos[key] = c
	}
	scoped := func(t template) int {
		if t.Project != "" {
			return 1
		}
		return 0
	}
	slices.SortStableFunc(set.templates, func(a, b template) int {
		return cmp.Or(cmp.Compare(len(b.loc.path), len(a.loc.path)), cmp.Compare(scoped(b), scoped(a)))
	})
	return set, errors.Join(errs...)
}

// Lookup returns the credentials an app of project uses for repoURL (project
// "" for an app outside any project: global credentials only). Among the
// credentials of that project and the global ones: the repository Secret
// whose url equals repoURL (ignoring case, a trailing "/" and ".git"), the
// project's own before a global one, if it has credentials of its own; else
// those of the repo-creds template that covers repoURL with the longest path,
// the project's own first at equal length. A template covers a URL of exactly
// its scheme, host and port whose path is at or below its own at a "/"
// boundary, so that the template for https://github.com/org is not sent to
// https://github.com:x@other.example/org, https://github.com.evil.org/org,
// http://github.com/org, https://github.com:8443/org nor
// https://github.com/org-evil.
func (s *CredentialSet) Lookup(repoURL, project string) (Credentials, bool) {
	if s == nil {
		return Credentials{}, false
	}
	key := credentialKey(repoURL)
	repo, exact := s.repos[key+"\x00"+project]
	if !exact && project != "" {
		repo, exact = s.repos[key+"\x00"]
	}
	if exact && repo.hasAuth() {
		return repo, true
	}
	loc, ok := parseLocation(repoURL)
	for _, t := range s.templates {
		if !ok || t.Project != "" && t.Project != project || !t.loc.covers(loc) {
			continue
		}
		if exact {
			return repo.withAuthFrom(t.Credentials), true
		}
		c := t.Credentials
		c.URL = repoURL
		return c, true
	}
	return repo, exact
}

func forProject(project string) string {
	if project == "" {
		return ""
	}
	return " for project " + project
}

func credentialsFromSecret(s *corev1.Secret) (Credentials, error) {
	get := func(key string) string {
		if v, ok := s.StringData[key]; ok {
			return v
		}
		return string(s.Data[key])
	}
	src := s.Namespace + "/" + s.Name
	c := Credentials{
		URL:               strings.TrimSpace(get("url")),
		Type:              strings.TrimSpace(get("type")),
		Name:              get("name"),
		Project:           get("project"),
		Username:          get("username"),
		Password:          get("password"),
		SSHPrivateKey:     get("sshPrivateKey"),
		TLSClientCertData: get("tlsClientCertData"),
		TLSClientCertKey:  get("tlsClientCertKey"),
		Source:            src,
	}
	if c.URL == "" {
		return Credentials{}, fmt.Errorf("secret %s: data key url is missing: add the repository URL (or URL prefix for repo-creds) under url", src)
	}
	for key, dst := range map[string]*bool{"insecure": &c.Insecure, "insecureIgnoreHostKey": &c.Insecure, "forceHttpBasicAuth": &c.ForceHTTPBasicAuth} {
		v := strings.TrimSpace(get(key))
		if v == "" {
			continue
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Credentials{}, fmt.Errorf("secret %s: data key %s is %q: write \"true\" or \"false\"", src, key, v)
		}
		*dst = *dst || b
	}
	if (c.TLSClientCertData == "") != (c.TLSClientCertKey == "") {
		return Credentials{}, fmt.Errorf("secret %s: tlsClientCertData and tlsClientCertKey must be given together", src)
	}
	return c, nil
}

// credentialKey is the exact-match key of a repository Secret's url: Argo
// CD's normalisation (lower case, no trailing "/" or ".git") but keeping the
// scheme, because credentials for the ssh form are useless over https.
func credentialKey(repoURL string) string {
	s := strings.TrimSpace(repoURL)
	if p, ok := localPath(s); ok {
		return "file://" + p
	}
	s = strings.ToLower(s)
	s = strings.TrimRight(s, "/")
	s = strings.TrimSuffix(s, ".git")
	return strings.TrimRight(s, "/")
}
