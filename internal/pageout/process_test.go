package pageout

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// Process reaches another process's executable mappings (the real node's
// kubelet, here a sleep) and advises them without error.
func TestProcessPagesOutAChild(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("process_madvise needs CAP_SYS_NICE over the target: runs as root")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep(1)")
	}
	cmd := exec.Command(sleep, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var covered int64
	for deadline := time.Now().Add(5 * time.Second); covered == 0 && time.Now().Before(deadline); {
		covered, err = Process(cmd.Process.Pid) // 0 until the exec has happened
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if covered == 0 {
		t.Fatal("no mapping of sleep's executable was advised")
	}
}
