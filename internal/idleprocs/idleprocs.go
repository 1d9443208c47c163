// Package idleprocs lowers GOMAXPROCS to one while the process is idle and
// gives it the machine's CPUs again as soon as it works.
//
// Why: an idle Go server with several Ps wakes an idle P to spin for work at
// each timer and network event, and an idle control plane is mostly timers.
// Measured on a quiet 2-core machine with no apps (`gantry up`, idle CPU over
// 120 s, one run each): the host's kube-controlplane 2.2 CPU-seconds a minute,
// 1.8 with GOMAXPROCS=1 fixed, 2.0 with this; gantry 0.87, 0.80, 0.82 (under
// load from other processes, GOMAXPROCS=1 saved more: 3.0 to 2.3, 1.0 to 0.78). A fixed GOMAXPROCS=1 would halve
// what a burst (a thousand apps synced) can use; this keeps both. No library
// does it: go.uber.org/automaxprocs and the runtime size GOMAXPROCS to the
// CPU quota, not to the load.
//
// With a busy GOGC, the garbage collector's target follows the same switch:
// the larger target while busy, GOGC's own value back (and the heap's free
// pages returned to the system) once idle. Why: gantry and the host run at
// GOGC=50 for a small idle heap; in a 1,000-app sync the collector took a
// quarter of the host's CPU and an eighth of gantry's, the CPU the whole
// system waits for, and a burst can afford a larger heap for a while.
// Measured (BenchmarkGitOps1000 sync only, host at 150 instead of 50): the
// host's CPU to sync 1,000 apps -17 to -30%, its RSS after the sync +250 MiB.
//
// tools/kube/cmd/kube-controlplane carries a copy of Run (the tools module
// cannot import gantry's internal packages): keep the two alike.
package idleprocs

import (
	"context"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"
)

const (
	// interval is how often the process's CPU time is read.
	interval = time.Second
	// window: idle is under 10% of a CPU over this long (an idle host API
	// server uses 2-8% a second, with peaks near 25% a few times a minute).
	window = 10 * time.Second
	calm   = window / 10
)

// Run adapts GOMAXPROCS (and, with busyGC > 0, GOGC) to the load until ctx
// ends, then restores them.
func Run(ctx context.Context, busyGC int) {
	full := runtime.GOMAXPROCS(0)
	if full < 2 {
		return
	}
	idleGC := -1 // GOGC while idle, once a busy target replaced it
	set := func(procs int) {
		runtime.GOMAXPROCS(procs)
		switch {
		case procs == full && busyGC > 0:
			idleGC = debug.SetGCPercent(busyGC)
		case procs == 1 && idleGC > 0:
			debug.SetGCPercent(idleGC)
			debug.FreeOSMemory()
		}
	}
	set(full) // starting is work
	t := time.NewTicker(interval)
	defer t.Stop()
	s := state{procs: full}
	last := cpuTime()
	for {
		select {
		case <-ctx.Done():
			runtime.GOMAXPROCS(full)
			if idleGC > 0 {
				debug.SetGCPercent(idleGC)
			}
			return
		case <-t.C:
		}
		now := cpuTime()
		if procs := s.next(now-last, full); procs != 0 {
			set(procs)
		}
		last = now
	}
}

// state is the decision's memory: the current GOMAXPROCS and the CPU time
// used so far in the current window.
type state struct {
	procs   int
	seconds int
	used    time.Duration
}

// next takes the CPU time used over the last interval and returns the new
// GOMAXPROCS, or 0 to keep it. Half a CPU used in a second on one P is work
// arriving: every CPU at once. Idle is a whole quiet window, so that a pause
// inside a burst does not shrink it.
func (s *state) next(used time.Duration, full int) int {
	if s.procs == 1 {
		if used > interval/2 {
			s.procs, s.seconds, s.used = full, 0, 0
			return full
		}
		return 0
	}
	s.seconds++
	s.used += used
	if s.seconds*int(interval) < int(window) {
		return 0
	}
	quiet := s.used < calm
	s.seconds, s.used = 0, 0
	if quiet {
		s.procs = 1
		return 1
	}
	return 0
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
