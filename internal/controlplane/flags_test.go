package controlplane

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gantry.dev/gantry/internal/kubebin"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestComponentFlagsGolden pins the command line gantry gives kube-controlplane
// (each component's flags in its section), so a change to them is a reviewed
// change to a golden file.
func TestComponentFlagsGolden(t *testing.T) {
	opts := Options{Name: "golden", Dir: "/data/cp", Scheduler: true, Kubelets: true,
		Binaries:       kubebin.Set{kubebin.ControlPlane: "kc"},
		APIServerFlags: Flags{"v": "2"}}
	if err := opts.setDefaults(); err != nil {
		t.Fatal(err)
	}
	cp := &ControlPlane{opts: opts, apiPort: 6443, healthPorts: map[string]int{kubebin.ControllerManager: 10257, kubebin.Scheduler: 10259}}
	got := strings.Join(cp.args(), "\n") + "\n"
	path := filepath.Join("testdata", kubebin.ControlPlane+".golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(path, []byte(got), 0o644)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("flags changed; if intended, run `go test ./internal/controlplane -run Golden -update`\ngot:\n%s\nwant:\n%s", got, want)
	}
}

func TestFlagsOverride(t *testing.T) {
	f := Flags{"a": "1", "b": "2"}.With(Flags{"b": "3", "c": ""})
	if got := strings.Join(f.Args(), " "); got != "--a=1 --b=3 --c=" {
		t.Fatalf("got %q", got)
	}
}

func TestStorageDSNValidated(t *testing.T) {
	opts := Options{Dir: t.TempDir(), Storage: "not-a-dsn",
		Binaries: kubebin.Set{kubebin.ControlPlane: "kc"}}
	if err := opts.setDefaults(); err == nil || !strings.Contains(err.Error(), "postgres://") {
		t.Fatalf("got %v", err)
	}
}
