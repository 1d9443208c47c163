package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// startPostgres runs Debian's PostgreSQL as this test's own process, listening
// on addr (a free port) with password authentication, and returns a kine DSN
// for it; stopped by pid when the test ends. initdb refuses root: it runs as
// the postgres user, in a directory of its own outside the test's private
// temporary tree.
func startPostgres(t *testing.T, addr string) string {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	if len(bins) == 0 {
		t.Fatal("no PostgreSQL: hack/test-deps.sh installs Debian's postgresql")
	}
	bin := bins[len(bins)-1]
	pgUser, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("no postgres user: %v", err)
	}
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	dir, err := os.MkdirTemp("", "gantry-e2e-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	const password = "kine-e2e-pw"
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, pwfile} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	asPostgres := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, Setpgid: true}
		return cmd
	}
	data := filepath.Join(dir, "data")
	if out, err := asPostgres("initdb", "-D", data, "-U", "kine", "--auth=scram-sha-256", "--pwfile="+pwfile).CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	host, port, _ := net.SplitHostPort(addr)
	// Pods reach it on the node's address: password authentication from anywhere.
	hba := "local all all scram-sha-256\nhost all all 0.0.0.0/0 scram-sha-256\n"
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, _ := os.Create(filepath.Join(dir, "postgres.log"))
	cmd := asPostgres("postgres", "-D", data, "-p", port, "-k", dir, "-c", "listen_addresses="+host)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM) // a smart shutdown; then by pid, hard
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		logf.Close()
	})
	eventually(t, 30*time.Second, "PostgreSQL accepting connections on "+addr, func() error {
		out, err := exec.Command(filepath.Join(bin, "pg_isready"), "-h", host, "-p", port).CombinedOutput()
		if err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			return fmt.Errorf("%v %s\n%s", err, out, log)
		}
		return nil
	})
	return fmt.Sprintf("postgres://kine:%s@%s/postgres?sslmode=disable", password, addr)
}
