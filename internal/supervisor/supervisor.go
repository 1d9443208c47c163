package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Spec describes one supervised program.
type Spec struct {
	Name string
	Path string
	Args []string
	// Env is added to gantry's own environment.
	Env []string
	// LogPath receives the program's stdout and stderr (appended).
	LogPath string
	// StopTimeout is how long a stop waits after SIGTERM before SIGKILL (default 10s).
	StopTimeout time.Duration
	// MinBackoff and MaxBackoff bound the delay between restarts (default 250ms and 30s);
	// the delay doubles after each crash and resets after a run of StableAfter (default 30s).
	MinBackoff, MaxBackoff, StableAfter time.Duration
	// OnStart is called with the pid each time the program starts.
	OnStart func(pid int)
	// BeforeRestart, when set, is called before each restart and returns the
	// arguments for it: a program whose arguments name things chosen when it
	// was set up (a free port another process may have taken since) gets fresh
	// ones instead of failing the same way again.
	BeforeRestart func() []string
	// Nice, when positive, is the program's nice value: background work (a spare
	// control plane) then takes only the CPU that what a user waits for leaves.
	Nice int
}

// Status is a snapshot of a supervised program.
type Status struct {
	Name      string    `json:"name"`
	Pid       int       `json:"pid"`
	StartedAt time.Time `json:"startedAt"`
	Restarts  int       `json:"restarts"`
	Ready     bool      `json:"ready"`
	LastExit  string    `json:"lastExit,omitempty"`
	LogPath   string    `json:"logPath,omitempty"`
}

// Process supervises one program. Create it with New and call Run once.
type Process struct {
	spec Spec

	mu     sync.Mutex
	status Status
	// exited is closed when the current child has been reaped.
	exited chan struct{}
}

// New returns a supervisor for spec.
func New(spec Spec) *Process {
	if spec.StopTimeout == 0 {
		spec.StopTimeout = 10 * time.Second
	}
	if spec.MinBackoff == 0 {
		spec.MinBackoff = 250 * time.Millisecond
	}
	if spec.MaxBackoff == 0 {
		spec.MaxBackoff = 30 * time.Second
	}
	if spec.StableAfter == 0 {
		spec.StableAfter = 30 * time.Second
	}
	return &Process{spec: spec, status: Status{Name: spec.Name, LogPath: spec.LogPath}}
}

// Name returns the program's name.
func (p *Process) Name() string { return p.spec.Name }

// Status returns a snapshot.
func (p *Process) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// SetReady records whether the program currently serves; a readiness probe owned by
// the caller sets it, because only the caller knows what "serving" means.
func (p *Process) SetReady(ready bool) {
	p.mu.Lock()
	p.status.Ready = ready
	p.mu.Unlock()
}

// Exited returns a channel closed when the program's current run ends (nil
// before its first start): a caller that checks on it now and then (a
// readiness probe) hears of a crash at once instead of at its next check.
func (p *Process) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// Start starts the program once and returns when it is running (or failed to start).
// Run keeps it running from there. Start reports errors such as a missing binary at
// once, instead of turning them into a restart loop.
func (p *Process) Start() error {
	return p.start()
}

// Run keeps the program running until ctx ends, then stops it and returns once it has
// exited. If the program is not running yet, Run starts it.
func (p *Process) Run(ctx context.Context) error {
	p.mu.Lock()
	running := p.exited != nil
	p.mu.Unlock()
	if !running {
		if err := p.start(); err != nil {
			return err
		}
	}
	backoff := p.spec.MinBackoff
	for {
		p.mu.Lock()
		exited, started := p.exited, p.status.StartedAt
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			p.stop(exited)
			return nil
		case <-exited:
		}
		if time.Since(started) >= p.spec.StableAfter {
			backoff = p.spec.MinBackoff
		}
		p.logf("%s exited (%s); restarting in %s", p.spec.Name, p.Status().LastExit, backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, p.spec.MaxBackoff)
		if p.spec.BeforeRestart != nil {
			p.spec.Args = p.spec.BeforeRestart()
		}
		if err := p.start(); err != nil {
			p.logf("restarting %s failed: %v", p.spec.Name, err)
			// A start error (binary removed, say) is retried with the same backoff:
			// the supervisor's job is to keep trying until told to stop.
			p.mu.Lock()
			p.exited = closedChan()
			p.status.StartedAt = time.Now()
			p.mu.Unlock()
		}
	}
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

func (p *Process) start() error {
	logFile, err := openLog(p.spec.LogPath)
	if err != nil {
		return fmt.Errorf("opening log for %s: %w", p.spec.Name, err)
	}
	cmd := exec.Command(p.spec.Path, p.spec.Args...)
	cmd.Env = append(os.Environ(), p.spec.Env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(logFile, "--- gantry: starting %s at %s\n", p.spec.Name, time.Now().Format(time.RFC3339))
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s (%s): %w", p.spec.Name, p.spec.Path, err)
	}
	if p.spec.Nice > 0 {
		// Linux keeps a nice value per thread: set for the process group (the child
		// alone), it reaches every thread started so far, and what they start inherits it.
		if err := unix.Setpriority(unix.PRIO_PGRP, cmd.Process.Pid, p.spec.Nice); err != nil {
			p.logf("setting the nice value of %s to %d: %v", p.spec.Name, p.spec.Nice, err)
		}
	}
	exited := make(chan struct{})
	p.mu.Lock()
	if p.exited != nil {
		p.status.Restarts++
	}
	p.exited = exited
	p.status.Pid = cmd.Process.Pid
	p.status.StartedAt = time.Now()
	p.status.Ready = false
	p.mu.Unlock()
	if p.spec.OnStart != nil {
		p.spec.OnStart(cmd.Process.Pid)
	}
	go func() {
		err := cmd.Wait()
		logFile.Close()
		p.mu.Lock()
		p.status.LastExit = exitString(err)
		p.status.Pid = 0
		p.status.Ready = false
		p.mu.Unlock()
		close(exited)
	}()
	return nil
}

// stop sends SIGTERM to the child's process group and SIGKILL after the timeout.
func (p *Process) stop(exited chan struct{}) {
	pid := p.Status().Pid
	if pid <= 0 {
		<-exited
		return
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(p.spec.StopTimeout):
		p.logf("%s did not stop within %s; killing it", p.spec.Name, p.spec.StopTimeout)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
	}
}

func (p *Process) logf(format string, args ...any) {
	f, err := openLog(p.spec.LogPath)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "--- gantry: "+format+"\n", args...)
}

func openLog(path string) (*os.File, error) {
	if path == "" {
		return os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}

func exitString(err error) string {
	if err == nil {
		return "exit status 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + ws.Signal().String()
		}
	}
	return err.Error()
}
