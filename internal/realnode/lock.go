package realnode

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// LockPath is the machine-wide lock: kube-proxy's iptables chains (KUBE-*) are
// the machine's, not one gantry's, so two real nodes would overwrite and, on
// stop, delete each other's rules. /run is per boot; /tmp where /run is not
// writable.
func LockPath() string {
	if f, err := os.CreateTemp("/run", ".gantry-probe-"); err == nil {
		f.Close()
		os.Remove(f.Name())
		return "/run/gantry-realnode.lock"
	}
	return "/tmp/gantry-realnode.lock"
}

// Lock is the held machine-wide lock.
type Lock struct{ f *os.File }

// ErrLocked says which gantry holds the machine's real node.
type ErrLocked struct{ Holder string }

func (e *ErrLocked) Error() string {
	return fmt.Sprintf("another gantry (%s) runs this machine's real node; one machine holds one, because kube-proxy's iptables chains are machine-global: this gantry carries on with simulated nodes (stop the other, or pass --real-nodes 0 to either)", e.Holder)
}

// AcquireLock takes the machine-wide lock for the gantry whose data directory
// is dataDir, or returns *ErrLocked naming the gantry that holds it.
func AcquireLock(path, dataDir string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("real node lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		data, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := strings.TrimSpace(string(data))
			if holder == "" {
				holder = "holder unknown, lock " + path
			}
			return nil, &ErrLocked{Holder: holder}
		}
		return nil, fmt.Errorf("real node lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt(fmt.Appendf(nil, "pid %d, data dir %s\n", os.Getpid(), dataDir), 0)
	return &Lock{f: f}, nil
}

// Release gives the lock up.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Truncate(0)
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
}
