package source

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

const sshdPath = "/usr/sbin/sshd"

// sshServer is a real OpenSSH sshd on a loopback port, running git-upload-pack
// for the repositories on this machine.
type sshServer struct {
	addr    string // 127.0.0.1:port
	user    string
	hostKey ssh.PublicKey
}

// startSSHD runs sshd for the test, letting in clientKey. It skips the test
// when sshd is not installed (Debian package openssh-server).
func startSSHD(t *testing.T, clientKey ssh.PublicKey) *sshServer {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		t.Skipf("sshd not installed (apt-get install openssh-server): %v", err)
	}
	// sshd refuses to start without its privilege separation directory,
	// which the package's systemd unit would create.
	if _, err := os.Stat("/run/sshd"); err != nil {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Skipf("sshd needs /run/sshd: %v", err)
		}
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	host, hostPEM := newKey(t)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	config := write("sshd_config", fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile %s
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
LogLevel INFO
`, port, write("host_key", hostPEM), write("authorized_keys", string(ssh.MarshalAuthorizedKey(clientKey))), filepath.Join(dir, "sshd.pid")))

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, sshdPath, "-D", "-e", "-f", config)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Ready when sshd says it listens. The reader drains stderr until sshd
	// exits, and Wait runs only after it is done, as os/exec requires.
	ready, drained := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			if !signalled && strings.Contains(sc.Text(), "Server listening on") {
				close(ready)
				signalled = true
			}
		}
		if !signalled {
			close(ready)
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-drained:
		case <-time.After(5 * time.Second): // a lingering session child holds stderr
		}
		_ = cmd.Wait()
	})
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("sshd did not start listening within 10s")
	}
	return &sshServer{addr: fmt.Sprintf("127.0.0.1:%d", port), user: me.Username, hostKey: host.PublicKey()}
}

func (s *sshServer) url(path string) string {
	return "ssh://" + s.user + "@" + s.addr + path
}

func (s *sshServer) knownHosts(key ssh.PublicKey) string {
	_, port, _ := net.SplitHostPort(s.addr)
	return knownHostsLine("[127.0.0.1]:"+port, key) + "\n"
}

func TestSSHRepository(t *testing.T) {
	client, clientPEM := newKey(t)
	srv := startSSHD(t, client.PublicKey())
	r := newRepo(t, t.TempDir(), "app")
	want := r.commit("main", "init", map[string]string{"f": "over ssh"})
	repoURL := srv.url(r.bare)
	ctx := context.Background()

	cache := func(creds Credentials, knownHosts string) *Cache {
		return newTestCache(t, Options{
			Credentials: func(string, string) (Credentials, bool) { return creds, true },
			KnownHosts:  func() string { return knownHosts },
		})
	}

	t.Run("key and known host", func(t *testing.T) {
		c := cache(Credentials{SSHPrivateKey: clientPEM}, srv.knownHosts(srv.hostKey))
		sha, err := c.Resolve(ctx, Repo{URL: repoURL}, "main")
		if err != nil || sha != want {
			t.Fatalf("Resolve = %s, %v; want %s", sha, err, want)
		}
		dir, err := c.Checkout(ctx, Repo{URL: repoURL}, sha)
		if err != nil {
			t.Fatal(err)
		}
		assertFile(t, dir, "f", "over ssh")
	})
	t.Run("insecure without known hosts", func(t *testing.T) {
		c := cache(Credentials{SSHPrivateKey: clientPEM, Insecure: true}, "")
		if _, err := c.Resolve(ctx, Repo{URL: repoURL}, "main"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("host key changed", func(t *testing.T) {
		other, _ := newKey(t)
		c := cache(Credentials{SSHPrivateKey: clientPEM}, srv.knownHosts(other.PublicKey()))
		_, err := c.Resolve(ctx, Repo{URL: repoURL}, "main")
		if ReasonOf(err) != ReasonHostKey || !strings.Contains(err.Error(), "differs from the one in known hosts") {
			t.Fatalf("got %v, want %s", err, ReasonHostKey)
		}
	})
	t.Run("key not authorized", func(t *testing.T) {
		_, strangerPEM := newKey(t)
		c := cache(Credentials{SSHPrivateKey: strangerPEM, Source: "argocd/repo"}, srv.knownHosts(srv.hostKey))
		_, err := c.Resolve(ctx, Repo{URL: repoURL}, "main")
		if ReasonOf(err) != ReasonAuthFailed {
			t.Fatalf("got %v, want %s", err, ReasonAuthFailed)
		}
	})
}
