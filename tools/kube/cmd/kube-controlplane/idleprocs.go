package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
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
//
// GANTRY_BUSY_GOGC (gantry sets it for the host) is the garbage collector's
// target while busy; GOGC's own value comes back, and the heap's free pages
// go back to the system, when idle. Why: the host runs at GOGC=50 for a small
// idle heap, and in a 1,000-app sync its collector took a quarter of its CPU,
// the CPU the whole system waits for; a burst can afford a larger heap for a
// while.
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
	busyGC, _ := strconv.Atoi(os.Getenv("GANTRY_BUSY_GOGC"))
	idleGC := -1 // GOGC while idle; -1 until a busy target replaced it
	busy := func() {
		runtime.GOMAXPROCS(full)
		if busyGC > 0 {
			idleGC = debug.SetGCPercent(busyGC)
		}
	}
	idle := func() {
		runtime.GOMAXPROCS(1)
		if idleGC > 0 {
			debug.SetGCPercent(idleGC)
			debug.FreeOSMemory()
		}
	}
	busy() // starting is work
	procs, seconds, inWindow, last := full, 0, time.Duration(0), cpuTime()
	for range time.Tick(interval) {
		now := cpuTime()
		used := now - last
		last = now
		if procs == 1 {
			if used > interval/2 { // work arriving: every CPU at once
				procs, seconds, inWindow = full, 0, 0
				busy()
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
			idle()
		}
		seconds, inWindow = 0, 0
	}
}
