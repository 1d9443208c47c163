package realnode

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecondGantrySaysWhichHoldsTheMachinesRealNode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	first, err := AcquireLock(path, "/data/first")
	if err != nil {
		t.Fatal(err)
	}
	_, err = AcquireLock(path, "/data/second")
	var locked *ErrLocked
	if !errors.As(err, &locked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	want := fmt.Sprintf("pid %d, data dir /data/first", os.Getpid())
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "simulated") {
		t.Errorf("error %q should name %q and say gantry carries on simulated", err, want)
	}
	first.Release()
	second, err := AcquireLock(path, "/data/second")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	second.Release()
}
