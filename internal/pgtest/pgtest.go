// Package pgtest runs a real PostgreSQL server (Debian's, installed by
// hack/test-deps.sh) for a test, as the test's own process. Test support
// only: imported by _test files, never by gantry itself.
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the driver Exec uses
)

// Password is the superuser kine's password on a server Start runs.
const Password = "kine-e2e-pw"

// Start runs PostgreSQL listening on addr (a free host:port; "" picks one on
// 127.0.0.1) with password authentication from anywhere, and returns the DSN
// of its superuser kine on database postgres; stopped by pid when the test
// ends. initdb refuses root: as root it runs as the postgres user, in a
// directory of its own outside the test's private temporary tree.
func Start(t testing.TB, addr string) string {
	t.Helper()
	if addr == "" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = l.Addr().String()
		l.Close()
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	if len(bins) == 0 {
		t.Fatal("no PostgreSQL: hack/test-deps.sh installs Debian's postgresql")
	}
	bin := bins[len(bins)-1]
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		pgUser, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("no postgres user to run PostgreSQL as (initdb refuses root): %v", err)
		}
		uid, _ := strconv.Atoi(pgUser.Uid)
		gid, _ := strconv.Atoi(pgUser.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	dir, err := os.MkdirTemp("", "gantry-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		for _, p := range []string{dir, pwfile} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	command := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
		return cmd
	}
	data := filepath.Join(dir, "data")
	if out, err := command("initdb", "-D", data, "-U", "kine", "--auth=scram-sha-256", "--pwfile="+pwfile).CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	host, port, _ := net.SplitHostPort(addr)
	// Pods reach it on the node's address: password authentication from anywhere.
	hba := "local all all scram-sha-256\nhost all all 0.0.0.0/0 scram-sha-256\n"
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "postgres.log")
	logf, _ := os.Create(logPath)
	cmd := command("postgres", "-D", data, "-p", port, "-k", dir, "-c", "listen_addresses="+host)
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
	for start := time.Now(); ; time.Sleep(200 * time.Millisecond) {
		out, err := exec.Command(filepath.Join(bin, "pg_isready"), "-h", host, "-p", port).CombinedOutput()
		if err == nil {
			break
		}
		if time.Since(start) > 30*time.Second {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("PostgreSQL not accepting connections on %s after 30s: %v %s\n%s", addr, err, out, log)
		}
	}
	return fmt.Sprintf("postgres://kine:%s@%s/postgres?sslmode=disable", Password, addr)
}

// Exec runs SQL statements on the server of dsn, failing the test on the
// first error.
func Exec(t testing.TB, dsn string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// Role makes a login role with password pw and the right to create
// databases, nothing more (what an administrator gives one project), and
// returns its DSN on database postgres of the server of superDSN.
func Role(t testing.TB, superDSN, name, pw string) string {
	t.Helper()
	Exec(t, superDSN, fmt.Sprintf(`CREATE ROLE %q LOGIN CREATEDB PASSWORD '%s'`, name, pw))
	u, err := url.Parse(superDSN)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("postgres://%s:%s@%s/postgres?sslmode=disable", name, pw, u.Host)
}
