// Package idleprocs lowers GOMAXPROCS to one while the process is idle and
// gives it the machine's CPUs again as soon as it works.
//
// Why: an idle Go server with several Ps wakes an idle P to spin for work at
// each timer and network event, and an idle control plane is mostly timers.
// Measured on a 2-core machine with no apps (`gantry up`, 120 s, twice each):
// GOMAXPROCS=1 took gantry from 1.0 to 0.78 CPU-seconds a minute and the
// host's kube-controlplane from 3.0 to 2.3. A fixed GOMAXPROCS=1 would halve
// what a burst (a thousand apps synced) can use; this keeps both. No library
// does it: go.uber.org/automaxprocs and the runtime size GOMAXPROCS to the
// CPU quota, not to the load.
//
// tools/kube/cmd/kube-controlplane carries a copy of Run (the tools module
// cannot import gantry's internal packages): keep the two alike.
package idleprocs

import (
	"context"
	"runtime"
	"syscall"
	"time"
)

const (
	// interval is how often the process's CPU time is read.
	interval = time.Second
	// quietFor: this many quiet intervals in a row (under 5% of a CPU each)
	// make the process idle.
	quietFor = 10
)

// Run adapts GOMAXPROCS to the load until ctx ends, then restores it.
func Run(ctx context.Context) {
	full := runtime.GOMAXPROCS(0)
	if full < 2 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	s := state{procs: full}
	last := cpuTime()
	for {
		select {
		case <-ctx.Done():
			runtime.GOMAXPROCS(full)
			return
		case <-t.C:
		}
		now := cpuTime()
		if procs := s.next(now-last, full); procs != 0 {
			runtime.GOMAXPROCS(procs)
		}
		last = now
	}
}

// state is the decision's memory: the current GOMAXPROCS and how many quiet
// intervals in a row were seen.
type state struct {
	procs, quiet int
}

// next takes the CPU time used over the last interval and returns the new
// GOMAXPROCS, or 0 to keep it. Half a CPU used on one P is work arriving:
// all CPUs at once. Idle is a long quiet, so that a pause inside a burst
// does not shrink it.
func (s *state) next(used time.Duration, full int) int {
	switch {
	case s.procs == 1 && used > interval/2:
		s.procs, s.quiet = full, 0
		return full
	case s.procs > 1 && used < interval/20:
		if s.quiet++; s.quiet >= quietFor {
			s.procs, s.quiet = 1, 0
			return 1
		}
	case s.procs > 1:
		s.quiet = 0
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
