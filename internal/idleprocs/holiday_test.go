package idleprocs

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

var (
	sink    [][]byte
	garbage []byte
)

// On holiday GOGC is off (no collection on the runtime's timer) and a memory
// limit stands where GOGC would have started one; a collection still comes
// when the heap grows by that much, the limit follows it, and End gives GOGC
// and the limit back.
func TestHoliday(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(50))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	read := func(names ...string) []uint64 {
		s := make([]metrics.Sample, len(names))
		for i, n := range names {
			s[i].Name = n
		}
		metrics.Read(s)
		out := make([]uint64, len(s))
		for i := range s {
			out[i] = s[i].Value.Uint64()
		}
		return out
	}
	// A live heap of about 64 MiB.
	sink = nil
	for range 64 {
		sink = append(sink, make([]byte, 1<<20))
	}
	debug.FreeOSMemory()
	var h Holiday
	h.Begin()
	if pct := debug.SetGCPercent(-1); pct != -1 {
		t.Fatalf("GOGC %d on holiday, want off", pct)
	}
	m := read("/gc/gomemlimit:bytes", "/gc/heap/live:bytes", "/gc/cycles/total:gc-cycles")
	limit, live, cycles := m[0], m[1], m[2]
	if limit == math.MaxInt64 || limit < live+live/2 || limit > live+live/2+64<<20 {
		t.Fatalf("limit %d MiB with a live heap of %d MiB, want about live + 50%%", limit>>20, live>>20)
	}
	// Garbage: twice the live heap in small pieces.
	for i := range 2 * 64 * 16 {
		garbage = make([]byte, 64<<10)
		garbage[0] = byte(i)
	}
	m = read("/gc/cycles/total:gc-cycles")
	if m[0] == cycles {
		t.Fatal("no collection after the heap grew by twice GOGC's share: the limit does not stand in for GOGC")
	}
	sink = append(sink, make([]byte, 32<<20)) // the live heap grows
	runtime.GC()
	h.Follow()
	if m = read("/gc/gomemlimit:bytes"); m[0] <= limit {
		t.Fatalf("the limit stayed at %d MiB after the live heap grew", m[0]>>20)
	}
	h.End()
	if pct := debug.SetGCPercent(50); pct != 50 {
		t.Fatalf("GOGC %d after the holiday, want 50 back", pct)
	}
	if m = read("/gc/gomemlimit:bytes"); m[0] != math.MaxInt64 {
		t.Fatalf("memory limit %d after the holiday, want none", m[0])
	}
	sink = nil
}
