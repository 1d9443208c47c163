package datadir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLockIsExclusive(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if Holder(dir) != os.Getpid() {
		t.Fatalf("holder %d, want %d", Holder(dir), os.Getpid())
	}
	_, err = Open(dir)
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "gantry stop") {
		t.Fatalf("second open: %v", err)
	}
	d.Close()
	if Holder(dir) != 0 {
		t.Fatal("lock still held after Close")
	}
	d2, err := Open(dir)
	if err != nil {
		t.Fatalf("reopen after close: %v", err)
	}
	d2.Close()
}

func TestUnusableDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	_, err := Open(filepath.Join(file, "sub"))
	if err == nil || !strings.Contains(err.Error(), "--data-dir") || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("got %v", err)
	}
}
