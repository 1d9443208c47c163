package idleprocs

import (
	"math"
	"runtime/debug"
	"runtime/metrics"
)

// Holiday keeps the garbage collector off its timer while the process is
// idle. The runtime forces a collection every two minutes even when nothing
// allocates, and a forced collection marks the whole live heap: for the host's
// kube-controlplane with 1,000 apps (a 400 MiB heap) that is the largest part
// of what it costs when nothing changes (issue 20). GOGC=off stops the timer
// (runtime: a time trigger never fires with GOGC < 0); a memory limit of
// "memory in use now + GOGC percent of the live heap" then starts a collection
// at the same growth GOGC would have, and Follow moves the limit after each
// one. End gives GOGC and the previous limit back. No library does this; the
// runtime offers GOGC and the limit, not "GOGC without the timer".
//
// tools/kube/cmd/kube-controlplane carries a copy (see Run): keep the two alike.
type Holiday struct {
	gogc     int   // GOGC to give back; 0 when not on holiday
	prev     int64 // the memory limit to give back
	gcCycles uint64
}

// Begin takes the holiday: call it right after a collection (FreeOSMemory),
// so that the live heap it reads is current.
func (h *Holiday) Begin() {
	if h.gogc != 0 {
		return
	}
	pct := debug.SetGCPercent(-1)
	if pct <= 0 { // GOGC was off or 0 already: not ours to change
		debug.SetGCPercent(pct)
		return
	}
	h.gogc, h.prev = pct, debug.SetMemoryLimit(-1)
	h.setLimit()
}

// Follow moves the limit after a collection: call it now and then (each
// second) while on holiday.
func (h *Holiday) Follow() {
	if h.gogc == 0 {
		return
	}
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	if s[0].Value.Uint64() != h.gcCycles {
		h.setLimit()
	}
}

// End gives GOGC and the memory limit back.
func (h *Holiday) End() {
	if h.gogc == 0 {
		return
	}
	debug.SetMemoryLimit(h.prev)
	debug.SetGCPercent(h.gogc)
	h.gogc = 0
}

func (h *Holiday) setLimit() {
	s := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}
	metrics.Read(s)
	inUse := s[0].Value.Uint64() - s[1].Value.Uint64()
	limit := inUse + s[2].Value.Uint64()*uint64(h.gogc)/100
	if limit > math.MaxInt64 || int64(limit) > h.prev {
		limit = uint64(h.prev)
	}
	debug.SetMemoryLimit(int64(limit))
	h.gcCycles = s[3].Value.Uint64()
}
