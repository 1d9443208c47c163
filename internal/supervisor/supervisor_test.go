package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRestartsAfterKillAndStopsCleanly(t *testing.T) {
	log := filepath.Join(t.TempDir(), "sleeper.log")
	p := New(Spec{Name: "sleeper", Path: "/bin/sleep", Args: []string{"300"}, LogPath: log, MinBackoff: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()

	waitFor(t, "first start", func() bool { return p.Status().Pid > 0 })
	first := p.Status().Pid
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "restart", func() bool { s := p.Status(); return s.Pid > 0 && s.Pid != first })
	if s := p.Status(); s.Restarts != 1 || !strings.Contains(s.LastExit, "killed") {
		t.Fatalf("after one kill: %+v", s)
	}
	second := p.Status().Pid

	cancel()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if Alive(second) {
		t.Fatalf("pid %d still alive after stop", second)
	}
	data, _ := os.ReadFile(log)
	if !strings.Contains(string(data), "restarting in") {
		t.Fatalf("log does not record the restart:\n%s", data)
	}
}

func TestStopEscalatesToKill(t *testing.T) {
	// A program that ignores SIGTERM must still be gone after StopTimeout.
	p := New(Spec{Name: "stubborn", Path: "/bin/sh", Args: []string{"-c", "trap '' TERM; while true; do sleep 0.05; done"},
		StopTimeout: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, "start", func() bool { return p.Status().Pid > 0 })
	pid := p.Status().Pid
	time.Sleep(100 * time.Millisecond) // let the shell install its trap
	cancel()
	<-done
	if Alive(pid) {
		t.Fatalf("pid %d survived", pid)
	}
	// The sleep children of the shell share its process group and must be gone too.
	// SIGKILL is delivered at once but a loaded machine takes a moment to tear the
	// processes down, so wait a little before calling one a survivor.
	deadline := time.Now().Add(2 * time.Second)
	for {
		survivor := groupMember(pid)
		if survivor == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %s of the stopped group is still alive", survivor)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// groupMember returns a live (not zombie) process of process group pgid, or "".
func groupMember(pgid int) string {
	out, _ := os.ReadDir("/proc")
	for _, e := range out {
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command: state, ppid, pgrp. Zombies are dead already
		// (they wait for a reaper that a container may lack).
		f := strings.Fields(string(data)[strings.LastIndexByte(string(data), ')')+2:])
		if len(f) > 2 && f[0] != "Z" && atoi(f[2]) == pgid {
			return e.Name()
		}
	}
	return ""
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func TestStartErrorIsImmediate(t *testing.T) {
	p := New(Spec{Name: "missing", Path: "/nonexistent/binary"})
	if err := p.Start(); err == nil || !strings.Contains(err.Error(), "/nonexistent/binary") {
		t.Fatalf("got %v", err)
	}
}

func TestRSS(t *testing.T) {
	rss, err := RSS(os.Getpid())
	if err != nil || rss < 1<<20 {
		t.Fatalf("RSS of the test process: %d, %v", rss, err)
	}
	if !Alive(os.Getpid()) || Alive(-1) {
		t.Fatal("Alive is wrong")
	}
}

// Nice lowers the priority of the program and of what it starts later.
func TestNice(t *testing.T) {
	p := New(Spec{Name: "nice", Path: "/bin/sh", Args: []string{"-c", "sleep 0.1; sleep 300 & wait"}, Nice: 10})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "start", func() bool { return p.Status().Pid > 0 })
	pid := p.Status().Pid
	if n := niceOf(t, pid); n != "10" {
		t.Errorf("nice value of the program = %s, want 10", n)
	}
	var child string
	waitFor(t, "the program's child", func() bool { child = childOf(pid); return child != "" })
	if n := niceOf(t, child); n != "10" {
		t.Errorf("nice value of a process it started later = %s, want 10", n)
	}
}

// childOf returns the child of pid that sleeps 300 s, or "".
func childOf(pid int) string {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(data)[strings.LastIndexByte(string(data), ')')+2:])
		cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if len(f) > 1 && atoi(f[1]) == pid && strings.Contains(string(cmd), "300") {
			return e.Name()
		}
	}
	return ""
}

// niceOf reads a process's nice value, field 19 of /proc/<pid>/stat.
func niceOf(t *testing.T, pid any) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%v/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	return fields[16]
}
