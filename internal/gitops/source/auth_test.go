package source

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// No sshd is installed on the build machines, so SSH is tested up to the
// go-git auth method: key parsing, user, host key policy. The host key
// callback is exercised directly with real keys.

func newKey(t *testing.T) (ssh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer, string(pem.EncodeToMemory(block))
}

func knownHostsLine(host string, key ssh.PublicKey) string {
	return host + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

func TestSSHAuth(t *testing.T) {
	client, clientPEM := newKey(t)
	host, _ := newKey(t)
	other, _ := newKey(t)
	known, err := ParseKnownHosts("# argocd-ssh-known-hosts-cm\n\n" +
		knownHostsLine("github.com", host.PublicKey()) + "\n" +
		knownHostsLine("[git.example.com]:2222", host.PublicKey()) + "\n")
	if err != nil {
		t.Fatal(err)
	}
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}

	t.Run("known host", func(t *testing.T) {
		auth, err := SSHAuth("git@github.com:org/repo.git", Credentials{SSHPrivateKey: clientPEM}, known)
		if err != nil {
			t.Fatal(err)
		}
		if auth.User != "git" || string(auth.Signer.PublicKey().Marshal()) != string(client.PublicKey().Marshal()) {
			t.Errorf("auth = user %q key %s, want git and the Secret's key", auth.User, auth.Signer.PublicKey().Type())
		}
		if len(auth.HostKeyAlgorithms) == 0 || auth.HostKeyAlgorithms[0] != ssh.KeyAlgoED25519 {
			t.Errorf("HostKeyAlgorithms = %v, want the ed25519 key's algorithm", auth.HostKeyAlgorithms)
		}
		if err := auth.HostKeyCallback("github.com:22", addr, host.PublicKey()); err != nil {
			t.Errorf("the listed host key was refused: %v", err)
		}
		err = auth.HostKeyCallback("github.com:22", addr, other.PublicKey())
		if err == nil {
			t.Fatal("a different host key was accepted")
		}
		if got := classify(err, "git@github.com:org/repo.git", true, ""); ReasonOf(got) != ReasonHostKey {
			t.Errorf("a changed host key classifies as %v, want %s", got, ReasonHostKey)
		}
	})
	t.Run("port and user from the URL", func(t *testing.T) {
		auth, err := SSHAuth("ssh://deploy@git.example.com:2222/org/repo.git", Credentials{SSHPrivateKey: clientPEM}, known)
		if err != nil {
			t.Fatal(err)
		}
		if auth.User != "deploy" {
			t.Errorf("User = %q, want deploy", auth.User)
		}
		if err := auth.HostKeyCallback("git.example.com:2222", addr, host.PublicKey()); err != nil {
			t.Errorf("host key on port 2222 refused: %v", err)
		}
	})
	t.Run("insecure", func(t *testing.T) {
		auth, err := SSHAuth("git@unknown.example.com:org/repo", Credentials{SSHPrivateKey: clientPEM, Insecure: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := auth.HostKeyCallback("unknown.example.com:22", addr, other.PublicKey()); err != nil {
			t.Errorf("insecure still checks host keys: %v", err)
		}
	})

	encrypted := func() string {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("pw"))
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(block))
	}()
	failures := []struct {
		name, url string
		creds     Credentials
		reason    Reason
		message   string
	}{
		{"no key", "git@github.com:org/repo.git", Credentials{Username: "u", Password: "p"},
			ReasonAuthRequired, "is an SSH URL and needs credentials: add a repository Secret"},
		{"garbage key", "git@github.com:org/repo.git", Credentials{SSHPrivateKey: "not a key", Source: "argocd/repo"},
			ReasonInvalidCredentials, "sshPrivateKey in Secret argocd/repo is not a usable private key"},
		{"truncated key", "git@github.com:org/repo.git", Credentials{SSHPrivateKey: clientPEM[:len(clientPEM)/2], Source: "argocd/repo"},
			ReasonInvalidCredentials, "paste the whole PEM block"},
		{"passphrase", "git@github.com:org/repo.git", Credentials{SSHPrivateKey: encrypted, Source: "argocd/repo"},
			ReasonInvalidCredentials, "is protected by a passphrase, which is not supported"},
		{"unknown host", "git@gitlab.com:org/repo.git", Credentials{SSHPrivateKey: clientPEM},
			ReasonHostKey, "no SSH known hosts entry for gitlab.com (repository git@gitlab.com:org/repo.git): add the host's public key to argocd-ssh-known-hosts-cm"},
		{"known host, other port", "ssh://git@github.com:2222/org/repo.git", Credentials{SSHPrivateKey: clientPEM},
			ReasonHostKey, "no SSH known hosts entry for [github.com]:2222"},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SSHAuth(tc.url, tc.creds, known)
			if ReasonOf(err) != tc.reason || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("got %v (%s), want %s containing %q", err, ReasonOf(err), tc.reason, tc.message)
			}
		})
	}
}

func TestParseKnownHosts(t *testing.T) {
	host, _ := newKey(t)
	_, err := ParseKnownHosts(knownHostsLine("github.com", host.PublicKey()) + "\ngitlab.com ssh-ed25519 AAAA-not-base64\n")
	if err == nil || !strings.Contains(err.Error(), "known hosts line 2") {
		t.Fatalf("got %v, want an error naming line 2", err)
	}
	db, err := ParseKnownHosts("")
	if err != nil {
		t.Fatalf("empty known hosts: %v", err)
	}
	if algos := db.HostKeyAlgorithms("github.com:22"); len(algos) != 0 {
		t.Errorf("empty known hosts knows github.com: %v", algos)
	}
}

// The Cache turns a broken known_hosts ConfigMap into an error on the
// Application, before any connection.
func TestCacheSSHKnownHostsErrors(t *testing.T) {
	_, clientPEM := newKey(t)
	set := func(string, string) (Credentials, bool) { return Credentials{SSHPrivateKey: clientPEM}, true }
	c := newTestCache(t, Options{Credentials: set, KnownHosts: func() string { return "github.com ssh-ed25519 !!!\n" }})
	_, err := c.Resolve(t.Context(), Repo{URL: "git@github.com:org/repo.git"}, "main")
	if ReasonOf(err) != ReasonInvalidCredentials || !strings.Contains(err.Error(), "fix argocd-ssh-known-hosts-cm") {
		t.Fatalf("got %v, want %s about argocd-ssh-known-hosts-cm", err, ReasonInvalidCredentials)
	}
	c = newTestCache(t, Options{Credentials: set})
	_, err = c.Resolve(t.Context(), Repo{URL: "git@github.com:org/repo.git"}, "main")
	if ReasonOf(err) != ReasonHostKey {
		t.Fatalf("no known hosts: got %v, want %s", err, ReasonHostKey)
	}
}
