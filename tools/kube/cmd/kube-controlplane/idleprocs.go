package main

import (
	"runtime"
	"syscall"
	"time"
)

// idleProcs lowers GOMAXPROCS to one while the control plane is idle and
// gives it every CPU again as soon as it works: an idle API server is mostly
// timers, and with several Ps each timer wakes an idle P to spin for work.
// Measured on a 2-core machine, the idle host's CPU went from 3.0 to 2.3
// CPU-seconds a minute on one P; virtual clusters, idle most of the time,
// gain the same. A copy of gantry's internal/idleprocs (this module cannot
// import gantry's internal packages): keep the two alike.
func idleProcs() {
	const (
		interval = time.Second
		quietFor = 10 // quiet intervals (under 5% of a CPU) in a row make it idle
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
	procs, quiet, last := full, 0, cpuTime()
	for range time.Tick(interval) {
		now := cpuTime()
		used := now - last
		last = now
		switch {
		case procs == 1 && used > interval/2:
			procs, quiet = full, 0
			runtime.GOMAXPROCS(full)
		case procs > 1 && used < interval/20:
			if quiet++; quiet >= quietFor {
				procs, quiet = 1, 0
				runtime.GOMAXPROCS(1)
			}
		case procs > 1:
			quiet = 0
		}
	}
}
