package cli

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/internal/runstate"
)

func TestConfigContexts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "config.json")
	a := sessionStore{file: path, server: "https://a.example.com"}
	b := sessionStore{file: path, server: "https://b.example.com:8080"}
	if _, err := a.load(); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("no config file: %v, want ErrNotExist", err)
	}
	if err := a.save(cliSession{Username: "alice", Token: "t1", RefreshToken: "r1", CA: "PEM"}, true); err != nil {
		t.Fatal(err)
	}
	if err := b.save(cliSession{Username: "bob", Token: "t2"}, false); err != nil {
		t.Fatal(err)
	}
	// A refresh saves the context again: it stays where it is, and current.
	if err := a.save(cliSession{Username: "alice", Token: "t3", RefreshToken: "r3", CA: "PEM", ExpiresAt: time.Unix(1e9, 0)}, false); err != nil {
		t.Fatal(err)
	}
	cfg, err := readConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Current != a.server || len(cfg.Contexts) != 2 || cfg.Contexts[0].Token != "t3" || cfg.Contexts[0].Server != a.server {
		t.Errorf("config after a refresh: %+v", cfg)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config file mode: %v %v", fi.Mode(), err)
	}
	if err := a.remove(); err != nil {
		t.Fatal(err)
	}
	cfg, _ = readConfig(path)
	if cfg.Current != "" || len(cfg.Contexts) != 1 || cfg.Contexts[0].Username != "bob" {
		t.Errorf("config after logout of a: %+v", cfg)
	}
	if err := a.remove(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("removing a context that is gone: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".config.json") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestNormalizeServer(t *testing.T) {
	for in, want := range map[string]string{
		"https://g.example.com":        "https://g.example.com",
		"https://g.example.com:8080/":  "https://g.example.com:8080",
		"127.0.0.1:8080":               "https://127.0.0.1:8080",
		"http://g.example.com":         "",
		"https://g.example.com/api/v1": "",
	} {
		got, err := normalizeServer(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("normalizeServer(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestTarget: --server, then an explicit --data-dir, then $GANTRY_SERVER, then
// the current context, then the default data directory.
func TestTarget(t *testing.T) {
	tmp := t.TempDir()
	cfgPath := filepath.Join(tmp, "config.json")
	t.Setenv(EnvConfig, cfgPath)
	t.Setenv(EnvServer, "")
	local := filepath.Join(tmp, "data")
	if err := os.MkdirAll(local, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := runstate.Write(local, runstate.State{Pid: os.Getpid(), DataDir: local, HTTPAddr: "127.0.0.1:9443"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvDataDir, local)
	resolve := func(args ...string) target {
		t.Helper()
		root, g := newRoot()
		root.SetOut(io.Discard)
		root.SetArgs(append([]string{"version"}, args...))
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		tg, err := g.target()
		if err != nil {
			t.Fatalf("target %v: %v", args, err)
		}
		return tg
	}
	if tg := resolve(); tg.remote() || tg.server != "https://127.0.0.1:9443" || tg.store.file != filepath.Join(local, "cli-session.json") {
		t.Errorf("nothing given: %+v, want the local gantry", tg)
	}
	if err := (sessionStore{file: cfgPath, server: "https://ctx.example.com"}).save(cliSession{Username: "alice", Token: "t", CA: "PEM"}, true); err != nil {
		t.Fatal(err)
	}
	if tg := resolve(); tg.server != "https://ctx.example.com" || string(tg.ca) != "PEM" || !tg.remote() {
		t.Errorf("with a current context: %+v", tg)
	}
	if tg := resolve("--data-dir", local); tg.remote() {
		t.Errorf("--data-dir given: %+v, want the local gantry", tg)
	}
	t.Setenv(EnvServer, "env.example.com")
	if tg := resolve(); tg.server != "https://env.example.com" {
		t.Errorf("$GANTRY_SERVER: %+v", tg)
	}
	if tg := resolve("--data-dir", local); tg.remote() {
		t.Errorf("--data-dir beats $GANTRY_SERVER: %+v", tg)
	}
	if tg := resolve("--server", "https://flag.example.com", "--data-dir", local); tg.server != "https://flag.example.com" {
		t.Errorf("--server beats everything: %+v", tg)
	}
}
