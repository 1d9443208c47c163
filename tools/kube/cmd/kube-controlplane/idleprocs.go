package main

import (
	"runtime"
	"syscall"
	"time"
)

// idleProcs lowers GOMAXPROCS to one while the control plane is idle and
// gives it every CPU again as soon as it works: an idle API server is mostly
// timers, and with several Ps each timer wakes an idle P to spin for work.
// Measured on a quiet 2-core machine, the idle host used 2.2 CPU-seconds a
// minute, 1.8 on one P, 2.0 with this; virtual clusters, idle most of the time,
// gain the same. A copy of gantry's internal/idleprocs (this module cannot
// import gantry's internal packages): keep the two alike.
func idleProcs() {
	const (
		interval = time.Second
		window   = 10 * time.Second // idle: under 10% of a CPU over a window
		calm     = window / 10      // (idle here is 2-8% a second, peaks near 25%)
	)
	full := runtime.GOMAXPROCS(0)
	if full < 2 {
		return
	}
	cpuTime := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return 0
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	procs, seconds, inWindow, last := full, 0, time.Duration(0), cpuTime()
	for range time.Tick(interval) {
		now := cpuTime()
		used := now - last
		last = now
		if procs == 1 {
			if used > interval/2 { // work arriving: every CPU at once
				procs, seconds, inWindow = full, 0, 0
				runtime.GOMAXPROCS(full)
			}
			continue
		}
		seconds++
		inWindow += used
		if time.Duration(seconds)*interval < window {
			continue
		}
		if inWindow < calm {
			procs = 1
			runtime.GOMAXPROCS(1)
		}
		seconds, inWindow = 0, 0
	}
}
