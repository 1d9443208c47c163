package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// EnvConfig names the CLI's config file (see configPath).
const EnvConfig = "GANTRY_CONFIG"

// cliSession is one login: the tokens of a gantry session, and for a remote
// gantry where it is and how to trust it.
type cliSession struct {
	// Server is the gantry's URL (https://host:port): the context's key in the
	// config file; empty in a data directory's session file.
	Server string `json:"server,omitempty"`
	// CA is the PEM of the certificate authority trusted for Server besides the
	// system's roots (gantry login --ca-file).
	CA           string    `json:"ca,omitempty"`
	Username     string    `json:"username"`
	Token        string    `json:"token"`
	RefreshToken string    `json:"refreshToken"`
	ExpiresAt    time.Time `json:"expiresAt,omitzero"`
}

// cliConfig is the CLI's config file: one context per gantry logged in to
// with `gantry login SERVER`, and the current one.
//
//	{"current": "https://gantry.example.com",
//	 "contexts": [{"server": "https://gantry.example.com", "ca": "-----BEGIN CERTIFICATE-----…",
//	               "username": "alice", "token": "…", "refreshToken": "…", "expiresAt": "…"}]}
type cliConfig struct {
	Current  string       `json:"current,omitempty"`
	Contexts []cliSession `json:"contexts"`
}

// configPath is $GANTRY_CONFIG, else $XDG_CONFIG_HOME/gantry/config.json,
// else ~/.config/gantry/config.json.
func configPath() string {
	if p := os.Getenv(EnvConfig); p != "" {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
		return p
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "."
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "gantry", "config.json")
}

// readConfig reads the config file; a missing one is an empty config.
func readConfig(path string) (cliConfig, error) {
	var cfg cliConfig
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return cfg, nil
	} else if err != nil {
		return cfg, err
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cfg, fmt.Errorf("%s is not a gantry CLI config file: %w (remove it and log in again)", path, err)
	}
	return cfg, nil
}

func (c *cliConfig) context(server string) (cliSession, bool) {
	i := slices.IndexFunc(c.Contexts, func(s cliSession) bool { return s.Server == server })
	if i < 0 {
		return cliSession{}, false
	}
	return c.Contexts[i], true
}

func (c *cliConfig) put(s cliSession) {
	if i := slices.IndexFunc(c.Contexts, func(x cliSession) bool { return x.Server == s.Server }); i >= 0 {
		c.Contexts[i] = s
		return
	}
	c.Contexts = append(c.Contexts, s)
}

func (c *cliConfig) remove(server string) {
	c.Contexts = slices.DeleteFunc(c.Contexts, func(s cliSession) bool { return s.Server == server })
	if c.Current == server {
		c.Current = ""
	}
}

// writeFileAtomic replaces path with data (mode 0600): a reader sees the old
// file or the new one, never half of one.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename, nothing to remove
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// sessionStore is where one session is kept: a context of the config file
// (server set), or a data directory's session file (server empty).
type sessionStore struct {
	file   string
	server string
}

// load returns the session; os.ErrNotExist when there is none.
func (s sessionStore) load() (cliSession, error) {
	if s.server == "" {
		data, err := os.ReadFile(s.file)
		if err != nil {
			return cliSession{}, err
		}
		var sess cliSession
		if err := json.Unmarshal(data, &sess); err != nil {
			return cliSession{}, fmt.Errorf("%s: %w", s.file, err)
		}
		return sess, nil
	}
	cfg, err := readConfig(s.file)
	if err != nil {
		return cliSession{}, err
	}
	sess, ok := cfg.context(s.server)
	if !ok {
		return cliSession{}, os.ErrNotExist
	}
	return sess, nil
}

// save stores sess; current makes its context the current one.
func (s sessionStore) save(sess cliSession, current bool) error {
	if s.server == "" {
		data, err := json.Marshal(sess)
		if err != nil {
			return err
		}
		return writeFileAtomic(s.file, data)
	}
	cfg, err := readConfig(s.file)
	if err != nil {
		return err
	}
	sess.Server = s.server
	cfg.put(sess)
	if current {
		cfg.Current = s.server
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.file, append(data, '\n'))
}

// remove forgets the session.
func (s sessionStore) remove() error {
	if s.server == "" {
		return os.Remove(s.file)
	}
	cfg, err := readConfig(s.file)
	if err != nil {
		return err
	}
	if _, ok := cfg.context(s.server); !ok {
		return os.ErrNotExist
	}
	cfg.remove(s.server)
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.file, append(data, '\n'))
}

// lock takes an exclusive lock on the store's file (through a .lock file
// beside it) until unlock: concurrent gantry processes (kubectl runs the exec
// plugin in each) must not use one refresh token twice, which gantry takes
// for theft and answers by ending the session, nor lose each other's writes.
func (s sessionStore) lock() (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(s.file), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(s.file+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
