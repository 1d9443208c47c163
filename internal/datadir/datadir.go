// Package datadir owns gantry's data directory: it checks that the directory is
// usable, and holds an exclusive lock on it so that two gantry processes never run
// on the same state.
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const lockName = "gantry.lock"

// Dir is an opened, locked data directory.
type Dir struct {
	Path string
	lock *os.File
}

// ErrInUse is returned when another process holds the directory.
var ErrInUse = errors.New("data directory in use")

// Open creates the directory if needed, checks that it is writable, and locks it.
func Open(path string) (*Dir, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s cannot be created: %w; choose another with --data-dir", abs, unwrapPath(err))
	}
	probe := filepath.Join(abs, ".write-test")
	if err := os.WriteFile(probe, []byte("ok"), 0o600); err != nil {
		return nil, fmt.Errorf("data directory %s is not writable: %w; fix its permissions or choose another with --data-dir", abs, unwrapPath(err))
	}
	os.Remove(probe)
	f, err := os.OpenFile(filepath.Join(abs, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", abs, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		pid := Holder(abs)
		who := "another gantry"
		if pid > 0 {
			who = fmt.Sprintf("another gantry (pid %d)", pid)
		}
		return nil, fmt.Errorf("%w: %s is used by %s; stop it first (gantry stop --data-dir %s) or choose another --data-dir",
			ErrInUse, abs, who, abs)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Dir{Path: abs, lock: f}, nil
}

// Close releases the lock.
func (d *Dir) Close() error {
	if d.lock == nil {
		return nil
	}
	_ = d.lock.Truncate(0)
	err := d.lock.Close()
	d.lock = nil
	return err
}

// Holder returns the pid of the gantry that holds the directory, or 0 when none does.
func Holder(path string) int {
	f, err := os.Open(filepath.Join(path, lockName))
	if err != nil {
		return 0
	}
	defer f.Close()
	// If we can take a shared lock, nobody holds the exclusive one.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return 0
	}
	data, _ := os.ReadFile(filepath.Join(path, lockName))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// unwrapPath drops the path from a *PathError, which the caller's message already names.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
