package source

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// access is everything go-git needs to reach one repository.
type access struct {
	auth       transport.AuthMethod
	insecure   bool // skip TLS verification (HTTPS only; SSH has it in auth)
	clientCert []byte
	clientKey  []byte
	withCreds  bool // credentials were configured: tells classify which advice to give
}

// newAccess builds the transport settings for repoURL from its credentials
// (found or not) and the known_hosts text.
func newAccess(repoURL string, creds Credentials, found bool, hosts *knownHostsCache, knownHostsText string) (access, error) {
	if _, local := localPath(repoURL); local {
		return access{}, nil
	}
	a := access{withCreds: found && creds.hasAuth(), insecure: creds.Insecure}
	if isSSH(repoURL) {
		db, err := hosts.get(knownHostsText)
		if err != nil && !creds.Insecure {
			return access{}, newError(ReasonInvalidCredentials, repoURL, err,
				"SSH known hosts for repository %s cannot be used: %v; fix argocd-ssh-known-hosts-cm", redactURL(repoURL), err)
		}
		auth, err := SSHAuth(repoURL, creds, db)
		if err != nil {
			return access{}, err
		}
		a.auth, a.insecure = auth, false
		return a, nil
	}
	if creds.Username != "" || creds.Password != "" {
		a.auth = &githttp.BasicAuth{Username: creds.Username, Password: creds.Password}
	}
	if creds.TLSClientCertData != "" {
		a.clientCert, a.clientKey = []byte(creds.TLSClientCertData), []byte(creds.TLSClientCertKey)
	}
	return a, nil
}

// SSHAuth builds the go-git auth method for an SSH repository URL: the
// Secret's sshPrivateKey as the client key, the user from the URL ("git" if
// none), and host key checking against known, unless creds.Insecure is set.
// known may be nil when Insecure is set; build it with ParseKnownHosts.
//
// It fails before any connection is tried, with an *Error saying what to
// fix, when there is no key, the key does not parse or is passphrase
// protected, or known has no entry for the host.
func SSHAuth(repoURL string, creds Credentials, known *knownhosts.HostKeyDB) (*gitssh.PublicKeys, error) {
	u := redactURL(repoURL)
	if creds.SSHPrivateKey == "" {
		return nil, newError(ReasonAuthRequired, repoURL, nil,
			"repository %s is an SSH URL and needs credentials: add a repository Secret (label argocd.argoproj.io/secret-type: repository or repo-creds) with sshPrivateKey", u)
	}
	signer, err := ssh.ParsePrivateKey([]byte(creds.SSHPrivateKey))
	if err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, newError(ReasonInvalidCredentials, repoURL, err,
				"sshPrivateKey in Secret %s is protected by a passphrase, which is not supported: store the key without one", creds.Source)
		}
		return nil, newError(ReasonInvalidCredentials, repoURL, err,
			"sshPrivateKey in Secret %s is not a usable private key (%v): paste the whole PEM block, BEGIN and END lines included", creds.Source, err)
	}
	user, host, port := sshUserHostPort(repoURL)
	auth := &gitssh.PublicKeys{User: user, Signer: signer}
	if creds.Insecure {
		auth.HostKeyCallback = ssh.InsecureIgnoreHostKey() //nolint:gosec // the Secret asked for insecure: "true"
		return auth, nil
	}
	hostPort := net.JoinHostPort(host, port)
	var algos []string
	if known != nil {
		algos = known.HostKeyAlgorithms(hostPort)
	}
	if len(algos) == 0 {
		return nil, newError(ReasonHostKey, repoURL, nil,
			"no SSH known hosts entry for %s (repository %s): add the host's public key to argocd-ssh-known-hosts-cm (ssh-keyscan %s prints it), or set insecure: \"true\" in the repository Secret",
			knownhosts.Normalize(hostPort), u, host)
	}
	// Offering only the algorithms known_hosts has keys of makes the server
	// present one of those keys, instead of, say, an RSA key when the file
	// lists the host's ed25519 key, which would fail as a mismatch.
	auth.HostKeyCallback = known.HostKeyCallback()
	auth.HostKeyAlgorithms = algos
	return auth, nil
}

// ParseKnownHosts reads a known_hosts text in OpenSSH format, as kept in
// Argo CD's argocd-ssh-known-hosts-cm under ssh_known_hosts. Errors name the
// line that does not parse.
func ParseKnownHosts(text string) (*knownhosts.HostKeyDB, error) {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if _, _, _, _, _, err := ssh.ParseKnownHosts([]byte(line)); err != nil {
			return nil, fmt.Errorf("known hosts line %d (%.40q): %w: each line must be \"host[,host...] key-type base64-key\"", n, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read known hosts: %w", err)
	}
	// knownhosts reads only files; the text lives in a ConfigMap, so it goes
	// through a short-lived temporary file.
	f, err := os.CreateTemp("", "gantry-known-hosts-*")
	if err != nil {
		return nil, fmt.Errorf("write known hosts to a temporary file: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return nil, fmt.Errorf("write known hosts to a temporary file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write known hosts to a temporary file: %w", err)
	}
	db, err := knownhosts.NewDB(f.Name())
	if err != nil {
		return nil, fmt.Errorf("parse known hosts: %w", err)
	}
	return db, nil
}

// knownHostsCache keeps the parsed known hosts of the last text seen, since
// the ConfigMap changes rarely and every SSH operation needs it.
type knownHostsCache struct {
	mu   sync.Mutex
	text string
	db   *knownhosts.HostKeyDB
	err  error
	ok   bool
}

func (c *knownHostsCache) get(text string) (*knownhosts.HostKeyDB, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ok && c.text == text {
		return c.db, c.err
	}
	c.db, c.err = ParseKnownHosts(text)
	c.text, c.ok = text, true
	return c.db, c.err
}
